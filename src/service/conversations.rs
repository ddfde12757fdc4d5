//! `GET /conversations`: every channel and DM the caller is in, most recent activity first, each
//! with its last message and unread / mention counts.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::{
    Principal, messages, read_state,
    views::{ChannelView, MessageView},
};
use crate::{
    app::AppState,
    db::entity::{channel, message},
    error::{AppError, AppResult},
};

pub struct Conversation {
    pub channel: ChannelView,
    pub last_message: Option<MessageView>,
}

/// Sort key: last activity (nanoseconds) then id, both descending. The cursor is the key of the
/// last item of the previous page.
fn key(c: &channel::Model) -> (i128, Uuid) {
    (
        c.last_message_at
            .unwrap_or(c.created_at)
            .unix_timestamp_nanos(),
        c.id,
    )
}

fn parse_cursor(cursor: &str) -> AppResult<(i128, Uuid)> {
    let bad = || AppError::validation("cursor: not a valid cursor");
    let (ts, id) = cursor.split_once('_').ok_or_else(bad)?;
    Ok((
        ts.parse().map_err(|_| bad())?,
        id.parse().map_err(|_| bad())?,
    ))
}

pub async fn list(
    state: &AppState,
    principal: Principal,
    cursor: Option<&str>,
    limit: u64,
) -> AppResult<(Vec<Conversation>, Option<String>)> {
    let limit = limit.clamp(1, 200) as usize;
    let after = cursor.map(parse_cursor).transpose()?;
    let mine = read_state::memberships_of(&state.db, principal.user_id).await?;
    let mut channels = channel::Entity::find()
        .filter(channel::Column::Id.is_in(mine))
        .filter(channel::Column::ArchivedAt.is_null())
        .all(&state.db)
        .await?;
    channels.sort_by_key(|c| std::cmp::Reverse(key(c)));
    let mut page: Vec<channel::Model> = channels
        .into_iter()
        .filter(|c| after.is_none_or(|a| key(c) < a))
        .take(limit + 1)
        .collect();
    let more = page.len() > limit;
    page.truncate(limit);
    let next = more
        .then(|| {
            page.last().map(|c| {
                let (ts, id) = key(c);
                format!("{ts}_{id}")
            })
        })
        .flatten();

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
