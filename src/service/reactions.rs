//! Reactions and pins on messages.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set, SqlErr,
    TryInsertResult, sea_query::LockType,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    Principal, access, events, limits, messages, now,
    page::{self, ActivityKey},
    views::MessageView,
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
    events::commit(state, tx).await?;
    Ok(added)
}

/// Remove one's own reaction.
pub async fn remove(state: &AppState, principal: Principal, reaction_id: Uuid) -> AppResult<()> {
    let r = reaction::Entity::find_by_id(reaction_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::not_found("reaction"))?;
    let m = messages::find(&state.db, r.message_id).await?;
    let access = access::readable(&state.db, principal, m.channel_id).await?;
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
            message_id: m.id,
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
    }
    events::commit(state, tx).await
}

/// Pin or unpin (members; idempotent). Emits `message.updated` with the new `pinned` state.
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
    }
    events::commit(state, tx).await?;
    Ok(view)
}

/// Pinned messages of a conversation, most recently pinned first (paged like the
/// conversations list, by pin time and message id).
pub async fn pins(
    state: &AppState,
    principal: Principal,
    channel_id: Uuid,
    cursor: Option<&str>,
    limit: u64,
) -> AppResult<(Vec<MessageView>, Option<String>)> {
    access::readable(&state.db, principal, channel_id).await?;
    let pinned: Vec<(Uuid, OffsetDateTime)> = pin::Entity::find()
        .select_only()
        .column(pin::Column::MessageId)
        .column(pin::Column::PinnedAt)
        .filter(pin::Column::ChannelId.eq(channel_id))
        .into_tuple()
        .all(&state.db)
        .await?;
    let (pinned, next) =
        page::by_activity(pinned, |(id, at)| ActivityKey::new(*at, *id), cursor, limit)?;
    let ids: Vec<Uuid> = pinned.iter().map(|(id, _)| *id).collect();
    let mut msgs = message::Entity::find()
        .filter(message::Column::Id.is_in(ids.clone()))
        .all(&state.db)
        .await?;
    msgs.sort_by_key(|m| ids.iter().position(|id| *id == m.id));
    Ok((
        messages::decorate(&state.db, Some(principal.user_id), msgs).await?,
        next,
    ))
}
