//! The database reads the gateway needs: replaying a channel for `resume`, who shares a channel
//! with a user (presence audience), and whether a user may read a channel.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Query};
use uuid::Uuid;

use crate::{
    app::AppState,
    db::entity::{channel, channel_member, message, workspace_member},
    domain::events::{Event, EventData},
    error::AppResult,
    identity::jwt::Scope,
    service::{Principal, access, authn, messages},
};

/// Messages per replay page, and the most message text one page carries (at least one message
/// goes out): a `resume` streams its backlog in small pieces, never loading it all at once.
pub const REPLAY_PAGE_ROWS: u64 = 25;
pub const REPLAY_PAGE_BYTES: usize = 256 * 1024;

/// The next page of a replay: `message.created` events for the messages of `channel` with
/// `after_seq < seq <= until`, in seq order, rebuilt from the messages table (so they show each
/// message as it is now: edited content, deletion, reactions). Empty when there are none.
pub async fn replay_page(
    state: &AppState,
    channel: &channel::Model,
    after_seq: i64,
    until: i64,
) -> AppResult<Vec<Event>> {
    let mut rows = message::Entity::find()
        .filter(message::Column::ChannelId.eq(channel.id))
        .filter(message::Column::Seq.gt(after_seq))
        .filter(message::Column::Seq.lte(until))
        .order_by_asc(message::Column::Seq)
        .limit(REPLAY_PAGE_ROWS)
        .all(&state.db)
        .await?;
    let mut bytes = 0;
    let keep = rows
        .iter()
        .position(|m| {
            bytes += m.content.len();
            bytes > REPLAY_PAGE_BYTES
        })
        .map_or(rows.len(), |over| over.max(1));
    rows.truncate(keep);
    let views = messages::decorate(&state.db, None, rows).await?;
    Ok(views
        .into_iter()
        .map(|view| Event {
            id: Uuid::now_v7(),
            occurred_at: view.created_at,
            workspace_id: Some(channel.workspace_id),
            channel_id: Some(channel.id),
            actor_id: Some(view.user_id),
            seq: Some(view.seq),
            traceparent: None,
            data: EventData::MessageCreated(view),
        })
        .collect())
}

/// Everyone who is a member of at least one conversation `user` is a member of (incl. `user`).
pub async fn co_members(state: &AppState, user: Uuid) -> AppResult<Vec<Uuid>> {
    let mine = Query::select()
        .column(channel_member::Column::ChannelId)
        .from(channel_member::Entity)
        .and_where(channel_member::Column::UserId.eq(user))
        .to_owned();
    Ok(channel_member::Entity::find()
        .select_only()
        .column(channel_member::Column::UserId)
        .distinct()
        .filter(channel_member::Column::ChannelId.in_subquery(mine))
        .into_tuple()
        .all(&state.db)
        .await?)
}

/// The most conversations one `subscribe_all` follows (the newest first).
pub const MAX_FOLLOWED: u64 = 5_000;

/// The conversations `user` is a member of, newest first, at most [`MAX_FOLLOWED`].
pub async fn member_channels(state: &AppState, user: Uuid) -> AppResult<Vec<Uuid>> {
    use sea_orm::QueryOrder;
    Ok(channel_member::Entity::find()
        .select_only()
        .column(channel_member::Column::ChannelId)
        .filter(channel_member::Column::UserId.eq(user))
        .order_by_desc(channel_member::Column::ChannelId)
        .limit(MAX_FOLLOWED)
        .into_tuple()
        .all(&state.db)
        .await?)
}

/// Whether `user` (active, with their current role) may read `channel`.
pub async fn can_read(state: &AppState, user: Uuid, channel: Uuid) -> AppResult<bool> {
    let Some(token_state) = authn::token_state(state, user).await? else {
        return Ok(false);
    };
    if !token_state.active {
        return Ok(false);
    }
    let principal = Principal {
        user_id: user,
        role: token_state.role,
        scope: Scope::Full,
        session_id: None,
        expires_at: None,
    };
    Ok(access::readable(&state.db, principal, channel)
        .await
        .is_ok())
}

/// The workspaces `user` belongs to.
pub async fn workspaces_of(state: &AppState, user: Uuid) -> AppResult<Vec<Uuid>> {
    Ok(workspace_member::Entity::find()
        .select_only()
        .column(workspace_member::Column::WorkspaceId)
        .filter(workspace_member::Column::UserId.eq(user))
        .into_tuple()
        .all(&state.db)
        .await?)
}
