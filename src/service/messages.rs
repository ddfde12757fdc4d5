//! Messages: send (idempotent; gapless per-channel sequence assigned in the committing
//! transaction), list, threads, edit, soft delete.

use std::collections::{BTreeSet, HashMap};

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set, SqlErr,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use super::{
    Principal, access, channels, events,
    message_writer::{NewMessage, Stored},
    now,
    views::{MentionSet, MessageView, ReactionSummary},
};
use crate::{
    app::AppState,
    db::entity::{channel, mention, message, pin, reaction, user},
    domain::{MessageBody, events::kind, mentions},
    error::{AppError, AppResult},
};

pub struct SendRequest {
    pub content: String,
    pub client_id: Option<String>,
    pub thread_root_id: Option<Uuid>,
}

pub enum Sent {
    Created(MessageView),
    /// The same `client_id` was sent before: the original, nothing written.
    Existing(MessageView),
}

fn check_client_id(client_id: Option<String>) -> AppResult<Option<String>> {
    match client_id {
        None => Ok(None),
        Some(id)
            if id.is_empty() || id.len() > 128 || !id.chars().all(|c| c.is_ascii_graphic()) =>
        {
            Err(AppError::validation(
                "client_id: 1 to 128 visible ASCII characters",
            ))
        }
        Some(id) => Ok(Some(id)),
    }
}

async fn by_client_id(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    client_id: &str,
    channel_id: Uuid,
) -> AppResult<Option<message::Model>> {
    let found = message::Entity::find()
        .filter(message::Column::UserId.eq(user_id))
        .filter(message::Column::ClientId.eq(client_id))
        .one(db)
        .await?;
    match found {
        Some(m) if m.channel_id != channel_id => Err(AppError::conflict(
            "client_id was already used for a message in another conversation",
        )),
        other => Ok(other),
    }
}

pub async fn send(
    state: &AppState,
    principal: Principal,
    channel_id: Uuid,
    req: SendRequest,
) -> AppResult<Sent> {
    let body = MessageBody::parse(&req.content)?;
    let client_id = check_client_id(req.client_id)?;
    let parsed = mentions::parse(body.as_str());
    let Some(root_id) = req.thread_root_id else {
        // Top-level messages are stored by the group-commit writer.
        let workspace_id = access::postable(state, principal, channel_id).await?;
        let mentioned = resolve_usernames(&state.db, &parsed.usernames).await?;
        let stored = state
            .message_writer
            .store(NewMessage {
                workspace_id,
                channel_id,
                author: principal.user_id,
                content: body.into_inner(),
                client_id,
                mentions: MentionSet {
                    user_ids: mentioned,
                    channel: parsed.channel,
                    here: parsed.here,
                },
            })
            .await?;
        return match stored {
            Stored::Created(view) => Ok(Sent::Created(*view)),
            Stored::Duplicate(id) => Ok(Sent::Existing(
                one(&state.db, principal.user_id, find(&state.db, id).await?).await?,
            )),
        };
    };
    if let Some(cid) = &client_id
        && let Some(original) = by_client_id(&state.db, principal.user_id, cid, channel_id).await?
    {
        return Ok(Sent::Existing(
            one(&state.db, principal.user_id, original).await?,
        ));
    }
    let access = access::readable(&state.db, principal, channel_id).await?;
    access.require_write()?;
    let root = Some(thread_root(&state.db, channel_id, root_id).await?);
    let mentioned = resolve_usernames(&state.db, &parsed.usernames).await?;

    let (tx, _write) = state.begin_write().await?;
    match insert(
        &tx,
        &access.channel,
        principal.user_id,
        body,
        client_id.clone(),
        root.as_ref(),
        &parsed,
        &mentioned,
    )
    .await
    {
        Ok(view) => {
            events::commit(state, tx).await?;
            Ok(Sent::Created(view))
        }
        // A concurrent retry with the same client_id won the race: answer with its message.
        Err(e) if is_unique_violation(&e) && client_id.is_some() => {
            drop(tx);
            let cid = client_id.unwrap_or_default();
            let original = by_client_id(&state.db, principal.user_id, &cid, channel_id)
                .await?
                .ok_or_else(|| AppError::internal("client_id conflict without an original"))?;
            Ok(Sent::Existing(
                one(&state.db, principal.user_id, original).await?,
            ))
        }
        Err(e) => Err(e.into()),
    }
}

fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// The root of the thread `id` belongs to (replies to a reply go to its root).
async fn thread_root(
    db: &impl ConnectionTrait,
    channel_id: Uuid,
    id: Uuid,
) -> AppResult<message::Model> {
    let m = message::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|m| m.channel_id == channel_id)
        .ok_or_else(|| {
            AppError::validation("thread_root_id: no such message in this conversation")
        })?;
    let root = match m.thread_root_id {
        None => m,
        Some(root_id) => message::Entity::find_by_id(root_id)
            .one(db)
            .await?
            .ok_or_else(|| AppError::not_found("thread"))?,
    };
    if root.deleted_at.is_some() {
        return Err(AppError::conflict("the thread's first message was deleted"));
    }
    Ok(root)
}

async fn resolve_usernames(
    db: &impl ConnectionTrait,
    names: &BTreeSet<String>,
) -> AppResult<Vec<Uuid>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<&String> = names.iter().take(50).collect();
    Ok(user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Username.is_in(names))
        .filter(user::Column::DeactivatedAt.is_null())
        .into_tuple()
        .all(db)
        .await?)
}

#[allow(clippy::too_many_arguments)]
async fn insert(
    tx: &DatabaseTransaction,
    channel: &channel::Model,
    author: Uuid,
    body: MessageBody,
    client_id: Option<String>,
    root: Option<&message::Model>,
    parsed: &mentions::Mentions,
    mentioned: &[Uuid],
) -> Result<MessageView, sea_orm::DbErr> {
    let at = now();
    // The next sequence number, taken under the channel row's write lock: it commits or rolls
    // back together with the message, so sequences have no gaps.
    let seq = channel::Entity::update_many()
        .col_expr(
            channel::Column::LastSeq,
            Expr::col(channel::Column::LastSeq).add(1),
        )
        .col_expr(channel::Column::LastMessageAt, Expr::value(at))
        .filter(channel::Column::Id.eq(channel.id))
        .exec_with_returning(tx)
        .await?
        .pop()
        .map(|c| c.last_seq)
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound("channel".into()))?;
    let msg = message::ActiveModel {
        id: Set(Uuid::now_v7()),
        channel_id: Set(channel.id),
        seq: Set(seq),
        user_id: Set(author),
        content: Set(body.into_inner()),
        thread_root_id: Set(root.map(|r| r.id)),
        reply_count: Set(0),
        last_reply_at: Set(None),
        client_id: Set(client_id),
        edited_at: Set(None),
        deleted_at: Set(None),
        deleted_by: Set(None),
        created_at: Set(at),
    }
    .insert(tx)
    .await?;
    store_mentions(tx, &msg, parsed, mentioned).await?;
    let mut view = MessageView::bare(msg.clone());
    view.mentions = MentionSet {
        user_ids: mentioned.to_vec(),
        channel: parsed.channel,
        here: parsed.here,
    };
    let event = crate::domain::events::Event::new(
        kind::MESSAGE_CREATED,
        channel.workspace_id,
        Some(channel.id),
        Some(author),
        serde_json::to_value(&view).unwrap_or_default(),
    )
    .with_seq(seq);
    events::emit(tx, &event)
        .await
        .map_err(|e| sea_orm::DbErr::Custom(e.detail))?;
    if let Some(root) = root {
        let mut r = root.clone().into_active_model();
        r.reply_count = Set(root.reply_count + 1);
        r.last_reply_at = Set(Some(at));
        let root = r.update(tx).await?;
        let root_view = decorate(tx, None, vec![root])
            .await
            .map_err(|e| sea_orm::DbErr::Custom(e.detail))?;
        if let Some(rv) = root_view.into_iter().next() {
            let event = crate::domain::events::Event::new(
                kind::MESSAGE_UPDATED,
                channel.workspace_id,
                Some(channel.id),
                Some(author),
                serde_json::to_value(&rv).unwrap_or_default(),
            );
            events::emit(tx, &event)
                .await
                .map_err(|e| sea_orm::DbErr::Custom(e.detail))?;
        }
    }
    Ok(view)
}

async fn store_mentions(
    db: &impl ConnectionTrait,
    msg: &message::Model,
    parsed: &mentions::Mentions,
    users: &[Uuid],
) -> Result<(), sea_orm::DbErr> {
    let mut rows = Vec::new();
    let row = |kind: &str, user_id: Option<Uuid>| mention::ActiveModel {
        id: Set(Uuid::now_v7()),
        message_id: Set(msg.id),
        channel_id: Set(msg.channel_id),
        seq: Set(msg.seq),
        author_id: Set(msg.user_id),
        kind: Set(kind.to_string()),
        user_id: Set(user_id),
    };
    for u in users {
        rows.push(row("user", Some(*u)));
    }
    if parsed.channel {
        rows.push(row("channel", None));
    }
    if parsed.here {
        rows.push(row("here", None));
    }
    if !rows.is_empty() {
        mention::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Add reactions, mentions and pin state to messages (three queries for any number).
pub async fn decorate(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    msgs: Vec<message::Model>,
) -> AppResult<Vec<MessageView>> {
    let ids: Vec<Uuid> = msgs.iter().map(|m| m.id).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut reactions: HashMap<Uuid, Vec<reaction::Model>> = HashMap::new();
    for r in reaction::Entity::find()
        .filter(reaction::Column::MessageId.is_in(ids.clone()))
        .order_by_asc(reaction::Column::CreatedAt)
        .all(db)
        .await?
    {
        reactions.entry(r.message_id).or_default().push(r);
    }
    let mut mention_sets: HashMap<Uuid, MentionSet> = HashMap::new();
    for m in mention::Entity::find()
        .filter(mention::Column::MessageId.is_in(ids.clone()))
        .all(db)
        .await?
    {
        let set = mention_sets.entry(m.message_id).or_default();
        match (m.kind.as_str(), m.user_id) {
            ("user", Some(u)) => set.user_ids.push(u),
            ("channel", _) => set.channel = true,
            ("here", _) => set.here = true,
            _ => {}
        }
    }
    let pinned: BTreeSet<Uuid> = pin::Entity::find()
        .select_only()
        .column(pin::Column::MessageId)
        .filter(pin::Column::MessageId.is_in(ids))
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(msgs
        .into_iter()
        .map(|m| {
            let id = m.id;
            let mut view = MessageView::bare(m);
            view.reactions = summarise(reactions.remove(&id).unwrap_or_default(), viewer);
            view.mentions = mention_sets.remove(&id).unwrap_or_default();
            view.pinned = pinned.contains(&id);
            view
        })
        .collect())
}

fn summarise(reactions: Vec<reaction::Model>, viewer: Option<Uuid>) -> Vec<ReactionSummary> {
    let mut out: Vec<ReactionSummary> = Vec::new();
    for r in reactions {
        match out.iter_mut().find(|s| s.emoji == r.emoji) {
            Some(s) => {
                s.count += 1;
                s.user_ids.push(r.user_id);
                s.me |= Some(r.user_id) == viewer;
            }
            None => out.push(ReactionSummary {
                emoji: r.emoji,
                count: 1,
                user_ids: vec![r.user_id],
                me: Some(r.user_id) == viewer,
            }),
        }
    }
    out
}

pub async fn one(
    db: &impl ConnectionTrait,
    viewer: Uuid,
    m: message::Model,
) -> AppResult<MessageView> {
    decorate(db, Some(viewer), vec![m])
        .await?
        .pop()
        .ok_or_else(|| AppError::not_found("message"))
}

/// Top-level messages: newest first, or with `after` the ones after that seq, oldest first.
pub async fn list(
    state: &AppState,
    principal: Principal,
    channel_id: Uuid,
    before: Option<i64>,
    after: Option<i64>,
    limit: u64,
) -> AppResult<(Vec<MessageView>, Option<String>)> {
    access::readable(&state.db, principal, channel_id).await?;
    if before.is_some() && after.is_some() {
        return Err(AppError::validation("use either before or after, not both"));
    }
    let limit = limit.clamp(1, 200);
    let mut q = message::Entity::find()
        .filter(message::Column::ChannelId.eq(channel_id))
        .filter(message::Column::ThreadRootId.is_null());
    q = match (before, after) {
        (_, Some(a)) => q
            .filter(message::Column::Seq.gt(a))
            .order_by_asc(message::Column::Seq),
        (Some(b), _) => q
            .filter(message::Column::Seq.lt(b))
            .order_by_desc(message::Column::Seq),
        _ => q.order_by_desc(message::Column::Seq),
    };
    let mut rows = q.limit(limit + 1).all(&state.db).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next = more
        .then(|| rows.last().map(|m| m.seq.to_string()))
        .flatten();
    Ok((
        decorate(&state.db, Some(principal.user_id), rows).await?,
        next,
    ))
}

/// A thread: the root followed by its replies, oldest first.
pub async fn thread(
    state: &AppState,
    principal: Principal,
    message_id: Uuid,
) -> AppResult<Vec<MessageView>> {
    let m = find(&state.db, message_id).await?;
    access::readable(&state.db, principal, m.channel_id).await?;
    let root = match m.thread_root_id {
        None => m,
        Some(r) => find(&state.db, r).await?,
    };
    let mut all = vec![root.clone()];
    all.extend(
        message::Entity::find()
            .filter(message::Column::ThreadRootId.eq(root.id))
            .order_by_asc(message::Column::Seq)
            .limit(1000)
            .all(&state.db)
            .await?,
    );
    decorate(&state.db, Some(principal.user_id), all).await
}

pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> AppResult<message::Model> {
    message::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("message"))
}

/// Edit (author only).
pub async fn edit(
    state: &AppState,
    principal: Principal,
    message_id: Uuid,
    content: &str,
) -> AppResult<MessageView> {
    let body = MessageBody::parse(content)?;
    let m = find(&state.db, message_id).await?;
    let access = access::readable(&state.db, principal, m.channel_id).await?;
    if m.user_id != principal.user_id {
        return Err(AppError::forbidden("only the author can edit a message"));
    }
    if m.deleted_at.is_some() {
        return Err(AppError::conflict("the message was deleted"));
    }
    access.require_not_archived()?;
    let parsed = mentions::parse(body.as_str());
    let mentioned = resolve_usernames(&state.db, &parsed.usernames).await?;
    let (tx, _write) = state.begin_write().await?;
    let mut active = m.into_active_model();
    active.content = Set(body.into_inner());
    active.edited_at = Set(Some(now()));
    let updated = active.update(&tx).await?;
    mention::Entity::delete_many()
        .filter(mention::Column::MessageId.eq(updated.id))
        .exec(&tx)
        .await?;
    store_mentions(&tx, &updated, &parsed, &mentioned).await?;
    let view = one(&tx, principal.user_id, updated).await?;
    emit_updated(&tx, &access.channel, principal.user_id, &view).await?;
    events::commit(state, tx).await?;
    Ok(view)
}

/// Emit `message.updated` with `view` as everyone sees it (`me` is per viewer, so it is false in
/// events; clients use `user_ids`).
pub async fn emit_updated(
    db: &impl ConnectionTrait,
    channel: &channel::Model,
    actor: Uuid,
    view: &MessageView,
) -> AppResult<()> {
    let mut shared = view.clone();
    shared.reactions.iter_mut().for_each(|r| r.me = false);
    channels::emit(
        db,
        channel,
        kind::MESSAGE_UPDATED,
        actor,
        serde_json::to_value(&shared).unwrap_or_default(),
    )
    .await
}

/// Soft delete: the author, channel owners/admins, or server admins (not in DMs). The content
/// stays in the database; the API shows `deleted: true` and empty content.
pub async fn delete(state: &AppState, principal: Principal, message_id: Uuid) -> AppResult<()> {
    let m = find(&state.db, message_id).await?;
    let access = access::readable(&state.db, principal, m.channel_id).await?;
    let allowed =
        m.user_id == principal.user_id || access.is_channel_admin() || access.is_moderator();
    if !allowed {
        return Err(AppError::forbidden(
            "only the author or a channel admin can delete this message",
        ));
    }
    if m.deleted_at.is_some() {
        return Ok(());
    }
    let (tx, _write) = state.begin_write().await?;
    let seq = m.seq;
    let mut active = m.into_active_model();
    active.deleted_at = Set(Some(now()));
    active.deleted_by = Set(Some(principal.user_id));
    let deleted = active.update(&tx).await?;
    mention::Entity::delete_many()
        .filter(mention::Column::MessageId.eq(deleted.id))
        .exec(&tx)
        .await?;
    pin::Entity::delete_by_id(deleted.id).exec(&tx).await?;
    let data = serde_json::json!({ "id": deleted.id, "seq": seq, "thread_root_id": deleted.thread_root_id, "deleted_by": principal.user_id });
    channels::emit(
        &tx,
        &access.channel,
        kind::MESSAGE_DELETED,
        principal.user_id,
        data,
    )
    .await?;
    events::commit(state, tx).await
}
