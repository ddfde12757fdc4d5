//! `GET /threads`: the caller's followed threads with replies, newest reply first, in the
//! conversations they can read now. A page takes a constant number of queries: the follows
//! (keyset-paged on `(user_id, following, last_reply_at, root_id)`), their roots, the roots'
//! decorations, the unread counts (two grouped queries) and the participants (one).

use std::collections::HashMap;

use poem_openapi::Object;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait, Query},
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::counts;
use crate::{
    app::AppState,
    db::entity::{channel, message, thread_follow, workspace_member},
    domain::ChannelKind,
    error::AppResult,
    service::{
        Principal, messages,
        page::{self, ActivityKey},
        read_state,
        views::MessageView,
    },
};

/// Most participants listed per thread.
const MAX_PARTICIPANTS: usize = 5;

/// One followed thread, as the caller sees it.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct ThreadView {
    /// The thread's first message.
    pub root: MessageView,
    pub channel_id: Uuid,
    pub reply_count: i32,
    #[serde(with = "time::serde::rfc3339::option")]
    #[oai(nullable)]
    pub last_reply_at: Option<OffsetDateTime>,
    /// The root's author, then repliers in the order of their first reply: at most 5.
    pub participants: Vec<Uuid>,
    /// Replies up to and including this channel sequence number have been read.
    pub last_read_seq: i64,
    /// Replies by others after `last_read_seq`, not deleted.
    pub unread_replies: u64,
    /// Of those, the ones that mention the caller, `@channel` or `@here`.
    pub unread_mentions: u64,
}

/// Channels the caller can read now: theirs, and (unless a guest) the public channels of their
/// workspaces.
fn readable_channels(principal: Principal) -> Condition {
    let mut any = Condition::any().add(
        thread_follow::Column::ChannelId.in_subquery(read_state::memberships_of(principal.user_id)),
    );
    if !principal.is_guest() {
        let workspaces = Query::select()
            .column(workspace_member::Column::WorkspaceId)
            .from(workspace_member::Entity)
            .and_where(workspace_member::Column::UserId.eq(principal.user_id))
            .to_owned();
        let public = Query::select()
            .column(channel::Column::Id)
            .from(channel::Entity)
            .and_where(channel::Column::Kind.eq(ChannelKind::Public))
            .and_where(channel::Column::WorkspaceId.in_subquery(workspaces))
            .to_owned();
        any = any.add(thread_follow::Column::ChannelId.in_subquery(public));
    }
    any
}

/// The caller's followed threads, newest reply first; the cursor is an [`ActivityKey`].
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id))]
pub async fn list(
    state: &AppState,
    principal: Principal,
    cursor: Option<&str>,
    limit: u64,
) -> AppResult<(Vec<ThreadView>, Option<String>)> {
    let db = &state.db;
    let query = thread_follow::Entity::find()
        .filter(thread_follow::Column::UserId.eq(principal.user_id))
        .filter(thread_follow::Column::Following.eq(true))
        .filter(thread_follow::Column::LastReplyAt.is_not_null())
        .filter(readable_channels(principal));
    let at = Expr::col((thread_follow::Entity, thread_follow::Column::LastReplyAt));
    let id = Expr::col((thread_follow::Entity, thread_follow::Column::RootId));
    let key = |f: &thread_follow::Model| {
        ActivityKey::new(
            f.last_reply_at.unwrap_or(OffsetDateTime::UNIX_EPOCH),
            f.root_id,
        )
    };
    let (follows, next) = page::newest_first(db, query, at, id, key, cursor, limit).await?;
    let views = views(db, principal.user_id, follows).await?;
    Ok((views, next))
}

/// The views of `follows`, in order.
async fn views(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    follows: Vec<thread_follow::Model>,
) -> AppResult<Vec<ThreadView>> {
    if follows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = follows.iter().map(|f| f.root_id).collect();
    let roots = message::Entity::find()
        .filter(message::Column::Id.is_in(ids.clone()))
        .all(db)
        .await?;
    let mut roots: HashMap<Uuid, MessageView> = messages::decorate(db, Some(user_id), roots)
        .await?
        .into_iter()
        .map(|v| (v.id, v))
        .collect();
    let markers: Vec<(Uuid, i64)> = follows
        .iter()
        .map(|f| (f.root_id, f.last_read_seq))
        .collect();
    let counts = counts(db, user_id, &markers).await?;
    let mut people = participants(db, &ids).await?;
    Ok(follows
        .into_iter()
        .filter_map(|f| {
            let root = roots.remove(&f.root_id)?;
            let c = counts.get(&f.root_id).copied().unwrap_or_default();
            let mut participants = vec![root.user_id];
            for u in people.remove(&f.root_id).unwrap_or_default() {
                if participants.len() < MAX_PARTICIPANTS && !participants.contains(&u) {
                    participants.push(u);
                }
            }
            Some(ThreadView {
                channel_id: root.channel_id,
                reply_count: root.reply_count,
                last_reply_at: root.last_reply_at,
                participants,
                last_read_seq: f.last_read_seq,
                unread_replies: c.replies,
                unread_mentions: c.mentions,
                root,
            })
        })
        .collect())
}

/// Per root, its repliers in the order of their first (undeleted) reply: one grouped query.
async fn participants(
    db: &impl ConnectionTrait,
    roots: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<Uuid>>> {
    let mut rows: Vec<(Uuid, Uuid, i64)> = message::Entity::find()
        .select_only()
        .column(message::Column::ThreadRootId)
        .column(message::Column::UserId)
        .column_as(Expr::col(message::Column::Seq).min(), "first")
        .filter(message::Column::ThreadRootId.is_in(roots.to_vec()))
        .filter(message::Column::DeletedAt.is_null())
        .group_by(message::Column::ThreadRootId)
        .group_by(message::Column::UserId)
        .into_tuple()
        .all(db)
        .await?;
    rows.sort_by_key(|(_, _, first)| *first);
    let mut out: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (root, user, _) in rows {
        out.entry(root).or_default().push(user);
    }
    Ok(out)
}
