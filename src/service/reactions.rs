//! Reactions and pins on messages.

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, Set, SqlErr,
    TryInsertResult,
    sea_query::{Alias, Expr, ExprTrait, Func, LockType, OverStatement, Query, WindowStatement},
};
use uuid::Uuid;

use super::{
    Principal, access, events, latest_page, limits, messages, now,
    page::{self, ActivityKey},
    views::{MessageView, ReactionSummary},
};
use crate::{
    app::AppState,
    db::entity::{message, pin, reaction},
    domain::{
        Emoji,
        events::{EventData, ReactionChange},
    },
    error::{AppError, AppResult},
};

/// Add a reaction: 409 when the caller already reacted with that emoji.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id, message_id = %message_id))]
pub async fn add(
    state: &AppState,
    principal: Principal,
    message_id: Uuid,
    emoji: &str,
) -> AppResult<reaction::Model> {
    let emoji = Emoji::parse(emoji)?;
    limits::spend(state, principal.user_id, limits::Write::Reaction).await?;
    let m = messages::find(&state.db, message_id).await?;
    let access = access::readable(&state.db, principal, m.channel_id).await?;
    access.require_write()?;
    if m.deleted_at.is_some() {
        return Err(AppError::conflict("the message was deleted"));
    }
    let (tx, _write) = state.begin_write().await?;
    messages::lock_live(&tx, m.id, LockType::Share).await?;
    let added = reaction::ActiveModel {
        id: Set(Uuid::now_v7()),
        message_id: Set(m.id),
        user_id: Set(principal.user_id),
        emoji: Set(emoji.as_str().to_string()),
        created_at: Set(now()),
    }
    .insert(&tx)
    .await
    .map_err(|e| match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            AppError::conflict("you already reacted with this emoji")
        }
        _ => e.into(),
    })?;
    let change = ReactionChange {
        id: added.id,
        message_id: m.id,
        user_id: principal.user_id,
        emoji: added.emoji.clone(),
    };
    events::emit_in(
        &tx,
        &access.channel,
        principal.user_id,
        EventData::ReactionAdded(change),
    )
    .await?;
    latest_page::bump(&tx, access.channel.id).await?;
    events::commit(state, tx).await?;
    Ok(added)
}

/// In a message view, at most this many people are listed per emoji (`count` counts them all).
pub const LISTED_USERS: i64 = 20;
/// In a message view, at most this many emoji per message: the first ones used.
pub const LISTED_EMOJI: i64 = 50;

/// The reactions of each message, per emoji, for message views: in the order each emoji was
/// first used, each with its count, the first [`LISTED_USERS`] people (in reaction order) and
/// whether `viewer` is among all of them; at most [`LISTED_EMOJI`] emoji per message.
///
/// One query, grouped and cut in SQL with window functions, so a message with many reactions
/// costs no more rows than that.
pub async fn summaries(
    db: &impl ConnectionTrait,
    message_ids: &[Uuid],
    viewer: Option<Uuid>,
) -> AppResult<HashMap<Uuid, Vec<ReactionSummary>>> {
    use reaction::Column as R;
    let mut out: HashMap<Uuid, Vec<ReactionSummary>> = HashMap::new();
    if message_ids.is_empty() {
        return Ok(out);
    }
    let per_emoji = || {
        let mut w = WindowStatement::new();
        w.partition_by(R::MessageId).partition_by(R::Emoji);
        w
    };
    let mine: Expr = match viewer {
        Some(v) => Expr::case(Expr::col(R::UserId).eq(v), 1i32)
            .finally(0i32)
            .into(),
        None => Expr::val(0i32),
    };
    let col = |name: &str| Expr::col(Alias::new(name));
    // Every reaction with its rank among its emoji's, the emoji's count, whether the viewer
    // used it, and the id of its first use.
    let ranked = Query::select()
        .columns([R::MessageId, R::Emoji, R::UserId])
        .expr_window_as(
            Func::cust(Alias::new("ROW_NUMBER")),
            per_emoji().order_by(R::Id, Order::Asc).take(),
            Alias::new("user_rank"),
        )
        .expr_window_as(Func::count(Expr::col(R::Id)), per_emoji(), Alias::new("n"))
        .expr_window_as(Func::max(mine), per_emoji(), Alias::new("mine"))
        .expr_window_as(
            Func::cust(Alias::new("FIRST_VALUE")).arg(Expr::col(R::Id)),
            per_emoji().order_by(R::Id, Order::Asc).take(),
            Alias::new("first_id"),
        )
        .from(reaction::Entity)
        .and_where(Expr::col(R::MessageId).is_in(message_ids.iter().copied()))
        .to_owned();
    // The listed people of each emoji, and the emoji's rank in its message.
    let listed = Query::select()
        .columns(["message_id", "emoji", "user_id", "user_rank", "n", "mine"].map(Alias::new))
        .expr_window_as(
            Func::cust(Alias::new("DENSE_RANK")),
            WindowStatement::partition_by(Alias::new("message_id"))
                .order_by(Alias::new("first_id"), Order::Asc)
                .take(),
            Alias::new("emoji_rank"),
        )
        .from_subquery(ranked, Alias::new("ranked"))
        .and_where(col("user_rank").lte(LISTED_USERS))
        .to_owned();
    let select = Query::select()
        .columns(["message_id", "emoji", "user_id", "n", "mine"].map(Alias::new))
        .from_subquery(listed, Alias::new("listed"))
        .and_where(col("emoji_rank").lte(LISTED_EMOJI))
        .order_by(Alias::new("message_id"), Order::Asc)
        .order_by(Alias::new("emoji_rank"), Order::Asc)
        .order_by(Alias::new("user_rank"), Order::Asc)
        .to_owned();
    for row in db.query_all(&select).await? {
        let message_id: Uuid = row.try_get("", "message_id")?;
        let emoji: String = row.try_get("", "emoji")?;
        let user_id: Uuid = row.try_get("", "user_id")?;
        let count: i64 = row.try_get("", "n")?;
        let mine: i32 = row.try_get("", "mine")?;
        let list = out.entry(message_id).or_default();
        match list.last_mut() {
            Some(s) if s.emoji == emoji => s.user_ids.push(user_id),
            _ => list.push(ReactionSummary {
                emoji,
                count: u64::try_from(count).unwrap_or(0),
                user_ids: vec![user_id],
                me: mine != 0,
            }),
        }
    }
    Ok(out)
}

/// Remove one's own reaction.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id))]
pub async fn remove(state: &AppState, principal: Principal, reaction_id: Uuid) -> AppResult<()> {
    let r = reaction::Entity::find_by_id(reaction_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::not_found("reaction"))?;
    let m = messages::find(&state.db, r.message_id).await?;
    let access = access::readable(&state.db, principal, m.channel_id).await?;
    remove_found(state, principal, r, access).await
}

/// Remove one's own reaction with `emoji` from a message (404 when there is none): clients
/// toggle a reaction by message and emoji, as they show it, without knowing its id.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id, message_id = %message_id))]
pub async fn remove_mine(
    state: &AppState,
    principal: Principal,
    message_id: Uuid,
    emoji: &Emoji,
) -> AppResult<()> {
    let m = messages::find(&state.db, message_id).await?;
    let access = access::readable(&state.db, principal, m.channel_id).await?;
    let r = reaction::Entity::find()
        .filter(reaction::Column::MessageId.eq(message_id))
        .filter(reaction::Column::UserId.eq(principal.user_id))
        .filter(reaction::Column::Emoji.eq(emoji.as_str()))
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::not_found("reaction"))?;
    remove_found(state, principal, r, access).await
}

/// Remove `r` (read access to its message already checked).
async fn remove_found(
    state: &AppState,
    principal: Principal,
    r: reaction::Model,
    access: access::Access,
) -> AppResult<()> {
    if r.user_id != principal.user_id {
        return Err(AppError::forbidden(
            "you can only remove your own reactions",
        ));
    }
    access.require_not_archived()?;
    let (tx, _write) = state.begin_write().await?;
    let removed = reaction::Entity::delete_by_id(r.id).exec(&tx).await?;
    if removed.rows_affected == 1 {
        let change = ReactionChange {
            id: r.id,
            message_id: r.message_id,
            user_id: r.user_id,
            emoji: r.emoji,
        };
        events::emit_in(
            &tx,
            &access.channel,
            principal.user_id,
            EventData::ReactionRemoved(change),
        )
        .await?;
        latest_page::bump(&tx, access.channel.id).await?;
    }
    events::commit(state, tx).await
}

/// Pin or unpin (members; idempotent). Emits `message.updated` with the new `pinned` state.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id, message_id = %message_id))]
pub async fn set_pinned(
    state: &AppState,
    principal: Principal,
    message_id: Uuid,
    pinned: bool,
) -> AppResult<MessageView> {
    let m = messages::find(&state.db, message_id).await?;
    let access = access::readable(&state.db, principal, m.channel_id).await?;
    access.require_write()?;
    if m.deleted_at.is_some() {
        return Err(AppError::conflict("the message was deleted"));
    }
    let (tx, _write) = state.begin_write().await?;
    let m = messages::lock_live(&tx, m.id, LockType::Update).await?;
    // Insert-or-nothing / delete: only the request that changed the pin state announces it, so
    // concurrent identical requests all succeed and emit one event.
    let changed = if pinned {
        let inserted = pin::Entity::insert(pin::ActiveModel {
            message_id: Set(m.id),
            channel_id: Set(m.channel_id),
            pinned_by: Set(principal.user_id),
            pinned_at: Set(now()),
        })
        .on_conflict_do_nothing()
        .exec_without_returning(&tx)
        .await?;
        matches!(inserted, TryInsertResult::Inserted(n) if n > 0)
    } else {
        pin::Entity::delete_by_id(m.id)
            .exec(&tx)
            .await?
            .rows_affected
            > 0
    };
    let view = messages::one(&tx, principal.user_id, m).await?;
    if changed {
        messages::emit_updated(&tx, &access.channel, principal.user_id, &view).await?;
        latest_page::bump(&tx, access.channel.id).await?;
    }
    events::commit(state, tx).await?;
    Ok(view)
}

/// Pinned messages of a conversation, most recently pinned first (paged like the
/// conversations list, by pin time and message id).
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id, channel_id = %channel_id))]
pub async fn pins(
    state: &AppState,
    principal: Principal,
    channel_id: Uuid,
    cursor: Option<&str>,
    limit: u64,
) -> AppResult<(Vec<MessageView>, Option<String>)> {
    access::readable(&state.db, principal, channel_id).await?;
    let (pinned, next) = page::newest_first(
        &state.db,
        pin::Entity::find().filter(pin::Column::ChannelId.eq(channel_id)),
        Expr::col((pin::Entity, pin::Column::PinnedAt)),
        Expr::col((pin::Entity, pin::Column::MessageId)),
        |p| ActivityKey::new(p.pinned_at, p.message_id),
        cursor,
        limit,
    )
    .await?;
    let ids: Vec<Uuid> = pinned.iter().map(|p| p.message_id).collect();
    let mut msgs = message::Entity::find()
        .filter(message::Column::Id.is_in(ids.clone()))
        .all(&state.db)
        .await?;
    msgs.sort_by_key(|m| ids.iter().position(|id| *id == m.id));
    let mut views = messages::decorate(&state.db, Some(principal.user_id), msgs).await?;
    MessageView::retain_visible(&mut views, principal.user_id, principal.is_admin());
    Ok((views, next))
}
