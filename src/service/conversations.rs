//! `GET /conversations`: every channel and DM the caller is in, most recent activity first, each
//! with its last top-level message and unread / mention counts.
//!
//! Activity includes thread replies (a reply moves its conversation up, like a message); the
//! last message is the last top-level one; for the counts see `read_state::counts`. A page costs
//! a constant number of queries: the page with the caller's member rows and the content keys;
//! the last messages not kept in memory (`latest_page`), with their reactions and mentions when
//! they have any; the caller's own reactions on them; DM participants when there are DMs.

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, JoinType, QueryFilter,
    sea_query::{Expr, Func},
};
use uuid::Uuid;

use super::{
    Principal,
    latest_page::{self, Versioned},
    page::{self, ActivityKey},
    read_state,
    views::{ChannelView, MessageView},
};
use crate::{
    app::AppState,
    db::entity::{channel, channel_member},
    error::AppResult,
};

pub struct Conversation {
    pub channel: ChannelView,
    pub last_message: Option<MessageView>,
}

/// Sort key: last activity (a message or reply; creation before the first), then id.
fn activity(c: &channel::Model) -> ActivityKey {
    ActivityKey::new(c.last_message_at.unwrap_or(c.created_at), c.id)
}

/// The SQL of [`activity`]: `COALESCE(last_message_at, created_at)`, then `id`.
fn activity_order() -> (Expr, Expr) {
    let at: Expr = Func::coalesce([
        Expr::col((channel::Entity, channel::Column::LastMessageAt)),
        Expr::col((channel::Entity, channel::Column::CreatedAt)),
    ])
    .into();
    (at, Expr::col((channel::Entity, channel::Column::Id)))
}

#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id))]
pub async fn list(
    state: &AppState,
    principal: Principal,
    cursor: Option<&str>,
    limit: u64,
) -> AppResult<(Vec<Conversation>, Option<String>)> {
    let (page, next) = memberships_by_activity(
        &state.db,
        principal.user_id,
        channel::Column::ArchivedAt.is_null().into(),
        cursor,
        limit,
    )
    .await?;
    let mut last = latest_page::last_messages(
        &state.db,
        &state.latest_pages,
        principal.user_id,
        page.iter().map(|(v, _)| v),
    )
    .await?;
    last.retain(|_, m| m.visible_to(principal.user_id, principal.is_admin()));
    let rows = page
        .into_iter()
        .map(|(v, m)| (v.channel, Some(m)))
        .collect();
    let views = read_state::member_views(&state.db, rows).await?;
    let items = views
        .into_iter()
        .map(|v| Conversation {
            last_message: last.remove(&v.id),
            channel: v,
        })
        .collect();
    Ok((items, next))
}

/// One page of the conversations `user_id` is in that match `which`, most recent activity first
/// (see [`activity`]), each with its content version and the member row: one query, ordered and
/// cut in SQL (`COALESCE(last_message_at, created_at) DESC, id DESC`).
pub(super) async fn memberships_by_activity(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    which: Condition,
    cursor: Option<&str>,
    limit: u64,
) -> AppResult<(Vec<(Versioned, channel_member::Model)>, Option<String>)> {
    let (at, id) = activity_order();
    let query =
        page::newest_first_query(channel::Entity::find().filter(which), at, id, cursor, limit)?;
    let rows: Vec<(Versioned, channel_member::Model)> =
        read_state::with_member(query, JoinType::InnerJoin, user_id)
            .all(db)
            .await?
            .into_iter()
            .filter_map(|r| Some((r.seen, r.member?)))
            .collect();
    Ok(page::split(rows, page::limit(limit), |(v, _)| {
        activity(&v.channel).encode()
    }))
}
