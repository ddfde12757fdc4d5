//! `GET /conversations`: every channel and DM the caller is in, most recent activity first, each
//! with its last message and unread / mention counts.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};
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
pub(super) fn activity(c: &channel::Model) -> ActivityKey {
    ActivityKey::new(c.last_message_at.unwrap_or(c.created_at), c.id)
}

pub async fn list(
    state: &AppState,
    principal: Principal,
    cursor: Option<&str>,
    limit: u64,
) -> AppResult<(Vec<Conversation>, Option<String>)> {
    // Every conversation row of the caller, ordered here (see `page::ActivityKey`).
    let channels = channel::Entity::find()
        .filter(channel::Column::Id.in_subquery(read_state::memberships_of(principal.user_id)))
        .filter(channel::Column::ArchivedAt.is_null())
        .all(&state.db)
        .await?;
    let (page, next) = page::by_activity(channels, activity, cursor, limit)?;

    let mut last_of = Condition::any();
    for c in page.iter().filter(|c| c.last_seq > 0) {
        last_of = last_of.add(
            Condition::all()
                .add(message::Column::ChannelId.eq(c.id))
                .add(message::Column::Seq.eq(c.last_seq)),
        );
    }
    let last_rows = if page.iter().any(|c| c.last_seq > 0) {
        message::Entity::find()
            .filter(last_of)
            .all(&state.db)
            .await?
    } else {
        Vec::new()
    };
    let mut last: HashMap<Uuid, MessageView> =
        messages::decorate(&state.db, Some(principal.user_id), last_rows)
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
