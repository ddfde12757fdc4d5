//! `GET /conversations`: every channel and DM the caller is in, most recent activity first, each
//! with its last top-level message and unread / mention counts.
//!
//! Activity includes thread replies (a reply moves its conversation up, like a message); the
//! last message is the last top-level one; for the counts see `read_state::counts`.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Select,
    sea_query::{Expr, Func},
};
use uuid::Uuid;

use super::{
    Principal, messages,
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

    let mut last: HashMap<Uuid, MessageView> = messages::decorate(
        &state.db,
        Some(principal.user_id),
        last_top_level(&state.db, &page).await?,
    )
    .await?
    .into_iter()
    .map(|m| (m.channel_id, m))
    .collect();
    let mut views = read_state::views(&state.db, page).await?;
    read_state::personalise(&state.db, principal.user_id, &mut views).await?;
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
/// stands for the conversation). Usually the channel's last message is top-level: one query
/// fetches those; a channel whose last message is a reply gets one indexed look-up backwards.
async fn last_top_level(
    db: &impl ConnectionTrait,
    channels: &[channel::Model],
) -> AppResult<Vec<message::Model>> {
    let with_messages: Vec<&channel::Model> = channels.iter().filter(|c| c.last_seq > 0).collect();
    if with_messages.is_empty() {
        return Ok(Vec::new());
    }
    let mut last_of = Condition::any();
    for c in &with_messages {
        last_of = last_of.add(
            Condition::all()
                .add(message::Column::ChannelId.eq(c.id))
                .add(message::Column::Seq.eq(c.last_seq)),
        );
    }
    let (mut found, replies): (Vec<message::Model>, Vec<message::Model>) = message::Entity::find()
        .filter(last_of)
        .all(db)
        .await?
        .into_iter()
        .partition(|m| m.thread_root_id.is_none());
    for reply in replies {
        if let Some(m) = message::Entity::find()
            .filter(message::Column::ChannelId.eq(reply.channel_id))
            .filter(message::Column::ThreadRootId.is_null())
            .filter(message::Column::Seq.lt(reply.seq))
            .order_by_desc(message::Column::Seq)
            .one(db)
            .await?
        {
            found.push(m);
        }
    }
    Ok(found)
}
