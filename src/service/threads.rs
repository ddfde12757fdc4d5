//! Threads: replies and reading a thread.
//!
//! A reply is stored by the message writer and takes the channel's next sequence number like any
//! message, but stays out of the channel's top-level list. The root's `reply_count` and
//! `last_reply_at` change with one atomic `UPDATE … SET reply_count = reply_count ± n` inside the
//! replies' (or the deletion's) transaction, so concurrent replies never lose a count; each
//! reply's root `message.updated` event carries the count it made.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use super::{
    Principal, access, broadcast, limits,
    message_writer::{NewMessage, Stored},
    messages::{self, Sent},
    page,
    views::{MentionSet, MessageView},
};
use crate::{
    app::AppState,
    db::entity::message,
    domain::{MessageBody, mentions},
    error::{AppError, AppResult},
};

/// A validated reply on its way to the database.
pub struct NewReply {
    pub body: MessageBody,
    pub client_id: Option<String>,
    pub parsed: mentions::Mentions,
    pub file_ids: Vec<Uuid>,
}

/// Reply in the thread of `root_id` (a reply to a reply goes to its root). Idempotent by
/// `client_id` exactly like a top-level send: a repeat — also a concurrent one — answers with
/// the original and writes nothing. Stored by the message writer like every message, which also
/// counts the reply on its root and emits the root's `message.updated`.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id, channel_id = %channel_id, root_id = %root_id))]
pub async fn reply(
    state: &AppState,
    principal: Principal,
    channel_id: Uuid,
    root_id: Uuid,
    new: NewReply,
) -> AppResult<Sent> {
    limits::spend(state, principal.user_id, limits::Write::Reply).await?;
    let NewReply {
        body,
        client_id,
        mut parsed,
        file_ids,
    } = new;
    // Access first: someone removed from the channel learns nothing by repeating a client id.
    let access = access::readable(&state.db, principal, channel_id).await?;
    if let Some(cid) = &client_id
        && let Some(original) = by_client_id(&state.db, principal.user_id, cid, channel_id).await?
    {
        return Ok(Sent::Existing(
            messages::one(&state.db, principal.user_id, original).await?,
        ));
    }
    access.require_write()?;
    let root = thread_root(&state.db, channel_id, root_id).await?;
    let moderation = super::moderation_rules::screen(state, body.as_str())?;
    if moderation.hides() {
        // Held back: nobody is notified of a message nobody else sees.
        parsed = Default::default();
    }
    let max_members = state.settings.get().limits.mention_all_max_members;
    let notice =
        broadcast::restrict(&state.db, principal, channel_id, max_members, &mut parsed).await?;
    let mentioned =
        messages::resolve_usernames(&state.db, access.channel.workspace_id, &parsed.usernames)
            .await?;
    let files = super::files::for_message(&state.db, principal.user_id, &file_ids).await?;
    let search_terms = state.search.stored_terms(body.as_str());
    let stored = state
        .message_writer
        .submit(NewMessage {
            search_terms,
            workspace_id: access.channel.workspace_id,
            channel_id,
            author: principal.user_id,
            content: body.into_inner(),
            client_id,
            mentions: MentionSet {
                user_ids: mentioned,
                channel: parsed.channel,
                here: parsed.here,
            },
            thread_root_id: Some(root.id),
            files,
            moderation,
            traceparent: crate::telemetry::otlp::current_traceparent(),
        })
        .await?;
    match stored {
        Stored::Created(mut view) => {
            view.notices.extend(notice);
            Ok(Sent::Created(*view))
        }
        Stored::Duplicate(id) => {
            let original = messages::find(&state.db, id).await?;
            Ok(Sent::Existing(
                messages::one(&state.db, principal.user_id, original).await?,
            ))
        }
    }
}

/// Add `delta` to the root's `reply_count` in one statement (never below zero), setting
/// `last_reply_at` when given. `None` when the root is gone or (for a new reply) deleted.
pub async fn bump_root(
    tx: &DatabaseTransaction,
    root_id: Uuid,
    delta: i32,
    last_reply_at: Option<time::OffsetDateTime>,
) -> Result<Option<message::Model>, sea_orm::DbErr> {
    let mut update = message::Entity::update_many()
        .col_expr(
            message::Column::ReplyCount,
            Expr::col(message::Column::ReplyCount).add(delta),
        )
        .filter(message::Column::Id.eq(root_id));
    if let Some(at) = last_reply_at {
        update = update
            .col_expr(message::Column::LastReplyAt, Expr::value(at))
            .filter(message::Column::DeletedAt.is_null());
    }
    if delta < 0 {
        update = update.filter(message::Column::ReplyCount.gte(-delta));
    }
    Ok(update.exec_with_returning(tx).await?.pop())
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
            AppError::new(
                crate::error::ErrorCode::NotFound,
                "thread_root_id: no such message in this conversation",
            )
        })?;
    let root = match m.thread_root_id {
        None => m,
        Some(root_id) => messages::find(db, root_id).await?,
    };
    if root.deleted_at.is_some() {
        return Err(AppError::conflict("the thread's first message was deleted"));
    }
    Ok(root)
}

/// A thread, oldest first: the root, then its replies. Paged by sequence number: the first page
/// starts with the root; the cursor is the `seq` of the last item of the previous page.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id, message_id = %message_id))]
pub async fn thread(
    state: &AppState,
    principal: Principal,
    message_id: Uuid,
    cursor: Option<&str>,
    limit: u64,
) -> AppResult<(Vec<MessageView>, Option<String>)> {
    let after = cursor.map(page::parse_seq).transpose()?;
    let m = messages::find(&state.db, message_id).await?;
    access::readable(&state.db, principal, m.channel_id).await?;
    let root = match m.thread_root_id {
        None => m,
        Some(r) => messages::find(&state.db, r).await?,
    };
    let limit = page::limit(limit);
    let root_id = root.id;
    let mut items = Vec::new();
    if after.is_none() {
        items.push(root);
    }
    // One more than fits, to know whether another page follows.
    let wanted = limit + 1 - items.len() as u64;
    let mut replies = message::Entity::find().filter(message::Column::ThreadRootId.eq(root_id));
    if let Some(after) = after {
        replies = replies.filter(message::Column::Seq.gt(after));
    }
    items.extend(
        replies
            .order_by_asc(message::Column::Seq)
            .limit(wanted)
            .all(&state.db)
            .await?,
    );
    let (items, next) = page::split(items, limit, |m| m.seq.to_string());
    let mut views = messages::decorate(&state.db, Some(principal.user_id), items).await?;
    MessageView::retain_visible(&mut views, principal.user_id, principal.is_admin());
    Ok((views, next))
}
