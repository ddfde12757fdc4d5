//! Messages: send (idempotent; gapless per-channel sequence assigned in the committing
//! transaction), list, edit, soft delete. Replies: see `threads`.

use std::collections::BTreeSet;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
    sea_query::{Expr, LockType, Query},
};
use uuid::Uuid;

use super::{
    Principal, access, broadcast, events, latest_page, limits,
    message_writer::{NewMessage, Stored},
    moderation_rules, now, threads,
    views::{MentionSet, MessageView},
};
use crate::{
    app::AppState,
    db::entity::{channel, mention, message, pin, user, workspace_member},
    domain::{
        MessageBody,
        events::{EventData, MessageDeleted},
        mentions,
    },
    error::{AppError, AppResult},
};

pub struct SendRequest {
    pub content: String,
    pub client_id: Option<String>,
    pub thread_root_id: Option<Uuid>,
    /// Files to attach: the sender's own, confirmed (see `files::for_message`).
    pub file_ids: Vec<Uuid>,
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

#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id, channel_id = %channel_id))]
pub async fn send(
    state: &AppState,
    principal: Principal,
    channel_id: Uuid,
    req: SendRequest,
) -> AppResult<Sent> {
    let body = MessageBody::parse(&req.content)?;
    let client_id = check_client_id(req.client_id)?;
    let mut parsed = mentions::parse(body.as_str());
    let Some(root_id) = req.thread_root_id else {
        limits::spend(state, principal.user_id, limits::Write::Message).await?;
        // Top-level messages are stored by the group-commit writer.
        let workspace_id = access::postable(state, principal, channel_id).await?;
        let moderation = moderation_rules::screen(state, body.as_str())?;
        if moderation.hides() {
            // Held back: nobody is notified of a message nobody else sees.
            parsed = Default::default();
        }
        let max_members = state.settings.get().limits.mention_all_max_members;
        let notice =
            broadcast::restrict(&state.db, principal, channel_id, max_members, &mut parsed).await?;
        let mentioned = resolve_usernames(&state.db, workspace_id, &parsed.usernames).await?;
        let files = super::files::for_message(&state.db, principal.user_id, &req.file_ids).await?;
        let search_terms = state.search.stored_terms(body.as_str());
        let stored = state
            .message_writer
            .submit(NewMessage {
                search_terms,
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
                thread_root_id: None,
                files,
                moderation,
                traceparent: crate::telemetry::otlp::current_traceparent(),
            })
            .await?;
        return match stored {
            Stored::Created(mut view) => {
                view.notices.extend(notice);
                Ok(Sent::Created(*view))
            }
            Stored::Duplicate(id) => Ok(Sent::Existing(
                one(&state.db, principal.user_id, find(&state.db, id).await?).await?,
            )),
        };
    };
    threads::reply(
        state,
        principal,
        channel_id,
        root_id,
        threads::NewReply {
            body,
            client_id,
            parsed,
            file_ids: req.file_ids,
        },
    )
    .await
}

/// The active users of `workspace_id` with these usernames (names of people elsewhere — or of
/// nobody — are not mentions).
pub(super) async fn resolve_usernames(
    db: &impl ConnectionTrait,
    workspace_id: Uuid,
    names: &BTreeSet<String>,
) -> AppResult<Vec<Uuid>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<&String> = names.iter().take(50).collect();
    let members = Query::select()
        .column(workspace_member::Column::UserId)
        .from(workspace_member::Entity)
        .and_where(workspace_member::Column::WorkspaceId.eq(workspace_id))
        .to_owned();
    Ok(user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Username.is_in(names))
        .filter(user::Column::DeactivatedAt.is_null())
        .filter(user::Column::Id.in_subquery(members))
        .into_tuple()
        .all(db)
        .await?)
}

/// The mention rows of `msg`: the one place mention rows are built.
pub(super) fn mention_rows<'a>(
    msg: &'a message::Model,
    set: &'a MentionSet,
) -> impl Iterator<Item = mention::ActiveModel> + 'a {
    let row = |kind: &str, user_id: Option<Uuid>| mention::ActiveModel {
        id: Set(Uuid::now_v7()),
        message_id: Set(msg.id),
        channel_id: Set(msg.channel_id),
        seq: Set(msg.seq),
        author_id: Set(msg.user_id),
        kind: Set(kind.to_string()),
        user_id: Set(user_id),
    };
    let users = set.user_ids.iter().map(move |u| row("user", Some(*u)));
    let channel = set.channel.then(|| row("channel", None));
    let here = set.here.then(|| row("here", None));
    users.chain(channel).chain(here)
}

/// Store the mention rows of `msg` (inside the caller's transaction).
async fn store_mentions(
    db: &impl ConnectionTrait,
    msg: &message::Model,
    set: &MentionSet,
) -> Result<(), sea_orm::DbErr> {
    let rows: Vec<_> = mention_rows(msg, set).collect();
    if !rows.is_empty() {
        mention::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

pub use super::decorate::{decorate, decorate_flagged, flagged};

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

/// Top-level messages: newest first, or with `after` the ones after that seq, oldest first;
/// `before` and `after` together select the window between them.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id, channel_id = %channel_id))]
pub async fn list(
    state: &AppState,
    principal: Principal,
    channel_id: Uuid,
    before: Option<i64>,
    after: Option<i64>,
    limit: u64,
) -> AppResult<(Vec<MessageView>, Option<String>)> {
    let access = access::readable(&state.db, principal, channel_id).await?;
    let limit = limit.clamp(1, 200);
    if before.is_none() && after.is_none() && limit <= latest_page::CACHED {
        let (views, more) = latest_page::newest(
            &state.db,
            &state.latest_pages,
            &access,
            principal.user_id,
            limit,
        )
        .await?;
        let next = more
            .then(|| views.last().map(|m| m.seq.to_string()))
            .flatten();
        let mut views = views;
        MessageView::retain_visible(&mut views, principal.user_id, principal.is_admin());
        return Ok((views, next));
    }
    let mut q = message::Entity::find()
        .filter(message::Column::ChannelId.eq(channel_id))
        .filter(message::Column::ThreadRootId.is_null());
    if let Some(b) = before {
        q = q.filter(message::Column::Seq.lt(b));
    }
    q = match after {
        Some(a) => q
            .filter(message::Column::Seq.gt(a))
            .order_by_asc(message::Column::Seq),
        None => q.order_by_desc(message::Column::Seq),
    };
    let mut rows = flagged(q.limit(limit + 1)).all(&state.db).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next = more
        .then(|| rows.last().map(|m| m.message.seq.to_string()))
        .flatten();
    let mut views = decorate_flagged(&state.db, Some(principal.user_id), rows).await?;
    MessageView::retain_visible(&mut views, principal.user_id, principal.is_admin());
    Ok((views, next))
}

pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> AppResult<message::Model> {
    message::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("message"))
}

/// The message, locked for the rest of the transaction (`FOR UPDATE`, or `FOR SHARE` for
/// changes that may run side by side such as reactions, on PostgreSQL; SQLite's write
/// transactions are serialised anyway), unless it was deleted meanwhile: a change that raced a
/// delete must not bring back its content or announce it again.
pub async fn lock_live(
    db: &impl ConnectionTrait,
    id: Uuid,
    lock: sea_orm::sea_query::LockType,
) -> AppResult<message::Model> {
    let m = message::Entity::find_by_id(id)
        .lock(lock)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("message"))?;
    if m.deleted_at.is_some() {
        return Err(AppError::conflict("the message was deleted"));
    }
    Ok(m)
}

/// Edit (author only).
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id, message_id = %message_id))]
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
    let moderation = moderation_rules::screen(state, body.as_str())?;
    let mut parsed = mentions::parse(body.as_str());
    if moderation.hides() || m.hidden_at.is_some() {
        // Held back: nobody is notified of a message nobody else sees.
        parsed = Default::default();
    }
    let mentioned =
        resolve_usernames(&state.db, access.channel.workspace_id, &parsed.usernames).await?;
    let (tx, _write) = state.begin_write().await?;
    let locked = lock_live(&tx, m.id, LockType::Update).await?;
    let hidden_at = locked.hidden_at.or_else(|| moderation.hides().then(now));
    let mut active = locked.into_active_model();
    // Terms for the new text (or none: stale terms would find the old text).
    active.search_terms = Set(state.search.stored_terms(body.as_str()));
    active.content = Set(body.into_inner());
    active.edited_at = Set(Some(now()));
    active.hidden_at = Set(hidden_at);
    let updated = active.update(&tx).await?;
    moderation_rules::file_reports(&tx, &moderation, updated.id, updated.channel_id).await?;
    let before = super::read_counts::stored_mentions(&tx, updated.id).await?;
    mention::Entity::delete_many()
        .filter(mention::Column::MessageId.eq(updated.id))
        .exec(&tx)
        .await?;
    let set = MentionSet {
        user_ids: mentioned,
        channel: parsed.channel,
        here: parsed.here,
    };
    store_mentions(&tx, &updated, &set).await?;
    let (c, seq, author) = (updated.channel_id, updated.seq, updated.user_id);
    super::read_counts::on_mentions_changed(&tx, c, seq, author, &before, &set).await?;
    let view = one(&tx, principal.user_id, updated).await?;
    emit_updated(&tx, &access.channel, principal.user_id, &view).await?;
    latest_page::bump(&tx, access.channel.id).await?;
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
    events::emit_in(db, channel, actor, EventData::MessageUpdated(shared)).await
}

/// Soft delete: the author, channel owners/admins, or server admins (not in DMs). The content
/// stays in the database; the API shows `deleted: true` and empty content. Deleting a reply takes
/// it off its root's `reply_count` (atomically, once even under concurrent deletes).
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id, message_id = %message_id))]
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
    access.require_not_archived()?;
    if m.deleted_at.is_some() {
        return Ok(());
    }
    let (tx, _write) = state.begin_write().await?;
    remove(&tx, &access.channel, principal.user_id, m.id).await?;
    events::commit(state, tx).await
}

/// Delete message `id` of `channel` as `actor`, in `tx`: the row stays with `deleted_at`, its
/// mentions, pin and counts go, `message.deleted` (and the thread root's update) is emitted.
/// Only the first of concurrent deletes changes anything: `None` when another one won.
pub async fn remove(
    tx: &sea_orm::DatabaseTransaction,
    channel: &channel::Model,
    actor: Uuid,
    id: Uuid,
) -> AppResult<Option<message::Model>> {
    let Some(deleted) = message::Entity::update_many()
        .col_expr(message::Column::DeletedAt, Expr::value(Some(now())))
        .col_expr(message::Column::DeletedBy, Expr::value(Some(actor)))
        .filter(message::Column::Id.eq(id))
        .filter(message::Column::DeletedAt.is_null())
        .exec_with_returning(tx)
        .await?
        .pop()
    else {
        return Ok(None);
    };
    let mentioned = super::read_counts::stored_mentions(tx, deleted.id).await?;
    mention::Entity::delete_many()
        .filter(mention::Column::MessageId.eq(deleted.id))
        .exec(tx)
        .await?;
    super::read_counts::on_delete(tx, &deleted, &mentioned).await?;
    pin::Entity::delete_by_id(deleted.id).exec(tx).await?;
    let gone = MessageDeleted {
        id: deleted.id,
        seq: deleted.seq,
        thread_root_id: deleted.thread_root_id,
        deleted_by: actor,
    };
    events::emit_in(tx, channel, actor, EventData::MessageDeleted(gone)).await?;
    if let Some(root_id) = deleted.thread_root_id
        && let Some(root) = threads::bump_root(tx, root_id, -1, None).await?
    {
        let view = one(tx, actor, root).await?;
        emit_updated(tx, channel, actor, &view).await?;
    }
    latest_page::bump(tx, channel.id).await?;
    Ok(Some(deleted))
}
