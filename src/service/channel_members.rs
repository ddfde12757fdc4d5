//! A channel's member list: who is in it, with their role, when they joined and their presence.
//! (Joining, leaving, adding and removing people: `channels`.)

use sea_orm::{ColumnTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{Principal, access, page};
use crate::{
    app::AppState,
    db::entity::{channel_member, user},
    domain::ChannelRole,
    error::AppResult,
};

#[derive(Debug, Clone, serde::Serialize, poem_openapi::Object)]
pub struct Member {
    pub user_id: Uuid,
    pub username: String,
    pub display_name: String,
    /// The role in this channel.
    pub role: ChannelRole,
    #[serde(with = "time::serde::rfc3339")]
    pub joined_at: time::OffsetDateTime,
    /// online, away, dnd or offline.
    pub presence: String,
}

/// Members ordered by username; cursor = last username of the previous page. One query joins
/// the memberships with the users and stops at the page.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id, id = %id))]
pub async fn members(
    state: &AppState,
    principal: Principal,
    id: Uuid,
    cursor: Option<&str>,
    limit: u64,
) -> AppResult<(Vec<Member>, Option<String>)> {
    access::readable(&state.db, principal, id).await?;
    let limit = page::limit(limit);
    let mut query = channel_member::Entity::find()
        .select_only()
        .column(channel_member::Column::UserId)
        .column(user::Column::Username)
        .column(user::Column::DisplayName)
        .column(channel_member::Column::Role)
        .column(channel_member::Column::JoinedAt)
        .join(
            JoinType::InnerJoin,
            channel_member::Entity::belongs_to(user::Entity)
                .from(channel_member::Column::UserId)
                .to(user::Column::Id)
                .into(),
        )
        .filter(channel_member::Column::ChannelId.eq(id))
        .order_by_asc(user::Column::Username);
    if let Some(after) = cursor {
        query = query.filter(user::Column::Username.gt(after));
    }
    let rows: Vec<(Uuid, String, String, ChannelRole, time::OffsetDateTime)> =
        query.limit(limit + 1).into_tuple().all(&state.db).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let presence = state.realtime.presence.statuses(&ids).await;
    let members = rows
        .into_iter()
        .zip(presence)
        .map(
            |((user_id, username, display_name, role, joined_at), presence)| Member {
                user_id,
                username,
                display_name,
                role,
                joined_at,
                presence: presence.as_str().into(),
            },
        )
        .collect();
    Ok(page::split(members, limit, |m| m.username.clone()))
}
