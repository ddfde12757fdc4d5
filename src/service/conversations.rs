//! `GET /conversations`: every channel and DM the caller is in, most recent activity first, each
//! with its last top-level message and unread / mention counts.
//!
//! Activity includes thread replies (a reply moves its conversation up, like a message); the
//! last message is the last top-level one; for the counts see `read_state::counts`. A page costs
//! a constant number of queries: the page, the caller's memberships, the last messages (and
//! their reactions and mentions when they have any), and DM participants when there are DMs.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, Select,
    sea_query::{Expr, Func},
};
use uuid::Uuid;

use super::{
    Principal,
    decorate::Flagged,
    messages,
    page::{self, ActivityKey},
    read_state,
    views::{ChannelView, MessageView},
};
use crate::{
    app::AppState,
    db::entity::{channel, message},
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

/// One page of `channels`, most recent activity first (see [`activity`]), ordered and cut in
/// SQL: `COALESCE(last_message_at, created_at) DESC, id DESC`.
pub(super) async fn page_by_activity(
    db: &impl ConnectionTrait,
    channels: Select<channel::Entity>,
    cursor: Option<&str>,
    limit: u64,
) -> AppResult<(Vec<channel::Model>, Option<String>)> {
    let at: Expr = Func::coalesce([
        Expr::col((channel::Entity, channel::Column::LastMessageAt)),
        Expr::col((channel::Entity, channel::Column::CreatedAt)),
    ])
    .into();
    let id = Expr::col((channel::Entity, channel::Column::Id));
    page::newest_first(db, channels, at, id, activity, cursor, limit).await
}

#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id))]
pub async fn list(
    state: &AppState,
    principal: Principal,
    cursor: Option<&str>,
    limit: u64,
) -> AppResult<(Vec<Conversation>, Option<String>)> {
    let channels = channel::Entity::find()
        .filter(channel::Column::Id.in_subquery(read_state::memberships_of(principal.user_id)))
        .filter(channel::Column::ArchivedAt.is_null());
    let (page, next) = page_by_activity(&state.db, channels, cursor, limit).await?;

    let mut last: HashMap<Uuid, MessageView> = messages::decorate_flagged(
        &state.db,
        Some(principal.user_id),
        last_top_level(&state.db, &page).await?,
    )
    .await?
    .into_iter()
    .map(|m| (m.channel_id, m))
    .collect();
    let views = read_state::views_for(&state.db, principal.user_id, page).await?;
    let items = views
        .into_iter()
        .map(|v| Conversation {
            last_message: last.remove(&v.id),
            channel: v,
        })
        .collect();
    Ok((items, next))
}

/// The last top-level message of each channel (replies live in their threads, so a reply never
/// stands for the conversation), found by `channels.last_top_level_seq`: one query, with the
/// flags that spare [`messages::decorate_flagged`] its look-ups for plain messages.
async fn last_top_level(
    db: &impl ConnectionTrait,
    channels: &[channel::Model],
) -> AppResult<Vec<Flagged>> {
    let mut last_of = Condition::any();
    let mut any = false;
    for c in channels.iter().filter(|c| c.last_top_level_seq > 0) {
        last_of = last_of.add(
            Condition::all()
                .add(message::Column::ChannelId.eq(c.id))
                .add(message::Column::Seq.eq(c.last_top_level_seq)),
        );
        any = true;
    }
    if !any {
        return Ok(Vec::new());
    }
    Ok(messages::flagged(message::Entity::find().filter(last_of))
        .all(db)
        .await?)
}
