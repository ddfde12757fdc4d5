//! Followed threads (Slack's and Mattermost's "Threads" view): who follows which thread, a read
//! marker per thread, and the counts measured against it.
//!
//! The rules:
//! - A thread is followed automatically by its root's author, by everyone who replies and by the
//!   users mentioned in the root or a reply (not by `@channel`/`@here`); the message writer
//!   records these follows in the replies' transaction ([`auto`]).
//! - Follow and unfollow are explicit choices that stick: a row with `following = false` is
//!   never turned back on by someone else's reply or mention; only the user's own reply (or an
//!   explicit follow) does.
//! - Unread replies: replies by others after the thread's marker, not deleted. Unread mentions:
//!   such replies that mention the user, `@channel` or `@here` (deleted messages lose their
//!   mentions). The marker is a channel sequence number, like a conversation's.

pub(crate) mod auto;
mod list;

use std::collections::HashMap;

use poem_openapi::Object;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use uuid::Uuid;

pub use list::{ThreadView, list};

use super::{Principal, access, events, messages};
use crate::{
    app::AppState,
    db::entity::{mention, message, thread_follow},
    domain::events::{EventData, ThreadUpdated},
    error::{AppError, AppResult},
};

/// Unread replies and mentions of one thread, for one user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub replies: u64,
    pub mentions: u64,
}

/// The caller's state of one thread (`PUT /messages/{id}/follow`, `POST …/thread/read`).
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct ThreadState {
    pub root_id: Uuid,
    pub following: bool,
    /// Replies up to and including this channel sequence number have been read.
    pub last_read_seq: i64,
    pub unread_replies: u64,
    pub unread_mentions: u64,
}

/// Unread replies and mentions after each `(root, marker)`: two grouped queries for any number
/// of threads (see the module docs for the rule).
pub async fn counts(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    markers: &[(Uuid, i64)],
) -> AppResult<HashMap<Uuid, Counts>> {
    let mut out: HashMap<Uuid, Counts> = HashMap::new();
    for chunk in markers.chunks(200) {
        let mut after = Condition::any();
        for (root, seq) in chunk {
            after = after.add(
                Condition::all()
                    .add(message::Column::ThreadRootId.eq(*root))
                    .add(message::Column::Seq.gt(*seq)),
            );
        }
        let replies: Vec<(Uuid, i64)> = message::Entity::find()
            .select_only()
            .column(message::Column::ThreadRootId)
            .column_as(Expr::col(message::Column::Id).count(), "n")
            .filter(after.clone())
            .filter(message::Column::UserId.ne(user_id))
            .filter(message::Column::DeletedAt.is_null())
            .group_by(message::Column::ThreadRootId)
            .into_tuple()
            .all(db)
            .await?;
        for (root, n) in replies {
            out.entry(root).or_default().replies = u64::try_from(n).unwrap_or(0);
        }
        let mentions: Vec<(Uuid, i64)> = message::Entity::find()
            .select_only()
            .column(message::Column::ThreadRootId)
            .column_as(
                Expr::col((mention::Entity, mention::Column::MessageId)).count_distinct(),
                "n",
            )
            .join(JoinType::InnerJoin, message_mentions())
            .filter(after)
            .filter(message::Column::UserId.ne(user_id))
            .filter(
                Condition::any()
                    .add(mention::Column::UserId.eq(user_id))
                    .add(mention::Column::Kind.is_in(["channel", "here"])),
            )
            .group_by(message::Column::ThreadRootId)
            .into_tuple()
            .all(db)
            .await?;
        for (root, n) in mentions {
            out.entry(root).or_default().mentions = u64::try_from(n).unwrap_or(0);
        }
    }
    Ok(out)
}

/// `messages JOIN mentions ON mentions.message_id = messages.id`.
fn message_mentions() -> sea_orm::RelationDef {
    message::Entity::belongs_to(mention::Entity)
        .from(message::Column::Id)
        .to(mention::Column::MessageId)
        .into()
}

/// The root of the thread `message_id` belongs to, after checking the caller may read it.
async fn readable_root(
    state: &AppState,
    principal: Principal,
    message_id: Uuid,
) -> AppResult<(message::Model, access::Access)> {
    let m = messages::find(&state.db, message_id).await?;
    let access = access::readable(&state.db, principal, m.channel_id).await?;
    let root = match m.thread_root_id {
        None => m,
        Some(root_id) => messages::find(&state.db, root_id).await?,
    };
    Ok((root, access))
}

/// Follow (`true`) or unfollow the thread of `message_id`; idempotent. A new follow starts with
/// the thread read (the caller is looking at it); an unfollow is remembered, so that replies by
/// others do not follow it again.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id, message_id = %message_id))]
pub async fn set_following(
    state: &AppState,
    principal: Principal,
    message_id: Uuid,
    following: bool,
) -> AppResult<ThreadState> {
    let (root, access) = readable_root(state, principal, message_id).await?;
    let (tx, _write) = state.begin_write().await?;
    let row = thread_follow::ActiveModel {
        user_id: Set(principal.user_id),
        root_id: Set(root.id),
        channel_id: Set(root.channel_id),
        following: Set(following),
        last_read_seq: Set(access.channel.last_seq),
        last_reply_at: Set(root.last_reply_at),
        updated_at: Set(crate::domain::clock::now()),
    };
    let upsert =
        OnConflict::columns([thread_follow::Column::UserId, thread_follow::Column::RootId])
            .update_columns([
                thread_follow::Column::Following,
                thread_follow::Column::UpdatedAt,
            ])
            .to_owned();
    thread_follow::Entity::insert(row)
        .on_conflict(upsert)
        .exec_without_returning(&tx)
        .await?;
    let state_now = current(&tx, principal.user_id, root.id).await?;
    emit(&tx, &access, principal.user_id, &state_now).await?;
    events::commit(state, tx).await?;
    Ok(state_now)
}

/// Move the caller's marker in the thread of `message_id` forward to `seq` (never backwards;
/// clamped to the conversation's last message). Someone who never had this thread creates its
/// row: followed if they wrote or are mentioned in the root, as a reply would have made them.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id, message_id = %message_id))]
pub async fn mark_read(
    state: &AppState,
    principal: Principal,
    message_id: Uuid,
    seq: i64,
) -> AppResult<ThreadState> {
    if seq < 0 {
        return Err(AppError::validation("seq: must not be negative"));
    }
    let (root, access) = readable_root(state, principal, message_id).await?;
    let target = std::cmp::min(seq, access.channel.last_seq);
    let (tx, _write) = state.begin_write().await?;
    let auto = root.user_id == principal.user_id
        || mention::Entity::find()
            .filter(mention::Column::MessageId.eq(root.id))
            .filter(mention::Column::UserId.eq(principal.user_id))
            .one(&tx)
            .await?
            .is_some();
    let row = thread_follow::ActiveModel {
        user_id: Set(principal.user_id),
        root_id: Set(root.id),
        channel_id: Set(root.channel_id),
        following: Set(auto),
        last_read_seq: Set(target),
        last_reply_at: Set(root.last_reply_at),
        updated_at: Set(crate::domain::clock::now()),
    };
    let upsert =
        OnConflict::columns([thread_follow::Column::UserId, thread_follow::Column::RootId])
            .value(
                thread_follow::Column::LastReadSeq,
                auto::greatest_read_seq(),
            )
            .update_column(thread_follow::Column::UpdatedAt)
            .to_owned();
    thread_follow::Entity::insert(row)
        .on_conflict(upsert)
        .exec_without_returning(&tx)
        .await?;
    let state_now = current(&tx, principal.user_id, root.id).await?;
    emit(&tx, &access, principal.user_id, &state_now).await?;
    events::commit(state, tx).await?;
    Ok(state_now)
}

/// The user's state of thread `root_id` as stored now.
async fn current(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    root_id: Uuid,
) -> AppResult<ThreadState> {
    let row = thread_follow::Entity::find_by_id((user_id, root_id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("thread"))?;
    let c = counts(db, user_id, &[(root_id, row.last_read_seq)])
        .await?
        .remove(&root_id)
        .unwrap_or_default();
    Ok(ThreadState {
        root_id,
        following: row.following,
        last_read_seq: row.last_read_seq,
        unread_replies: c.replies,
        unread_mentions: c.mentions,
    })
}

/// `thread.updated` to the user's own connections.
async fn emit(
    db: &impl ConnectionTrait,
    access: &access::Access,
    user_id: Uuid,
    s: &ThreadState,
) -> AppResult<()> {
    let data = EventData::ThreadUpdated(ThreadUpdated {
        root_id: s.root_id,
        user_id,
        following: s.following,
        last_read_seq: s.last_read_seq,
        unread_replies: s.unread_replies,
        unread_mentions: s.unread_mentions,
    });
    events::emit_in(db, &access.channel, user_id, data).await
}
