//! The database reads the gateway needs: replaying a channel for `resume`, who shares a channel
//! with a user (presence audience), and whether a user may read a channel.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Query};
use uuid::Uuid;

use crate::{
    app::AppState,
    db::entity::{channel, channel_member, message, workspace_member},
    domain::events::{Event, kind},
    error::AppResult,
    identity::jwt::Scope,
    service::{Principal, access, authn, messages},
};

/// `message.created` events for every message of `channel` with seq > `after_seq`, in seq
/// order, rebuilt from the messages table (so they show each message as it is now: edited
/// content, deletion, reactions). `None` when more than `max` are missing.
pub async fn replay(
    state: &AppState,
    channel: &channel::Model,
    after_seq: i64,
    max: u64,
) -> AppResult<Option<Vec<Event>>> {
    let rows = message::Entity::find()
        .filter(message::Column::ChannelId.eq(channel.id))
        .filter(message::Column::Seq.gt(after_seq))
        .order_by_asc(message::Column::Seq)
        .limit(max.saturating_add(1))
        .all(&state.db)
        .await?;
    if rows.len() as u64 > max {
        return Ok(None);
    }
    let views = messages::decorate(&state.db, None, rows).await?;
    Ok(Some(
        views
            .into_iter()
            .map(|view| Event {
                id: Uuid::now_v7(),
                kind: kind::MESSAGE_CREATED.to_string(),
                occurred_at: view.created_at,
                workspace_id: Some(channel.workspace_id),
                channel_id: Some(channel.id),
                actor_id: Some(view.user_id),
                seq: Some(view.seq),
                data: serde_json::to_value(&view).unwrap_or_default(),
            })
            .collect(),
    ))
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
