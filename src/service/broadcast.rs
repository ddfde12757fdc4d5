//! Who may notify a whole channel. In channels with more than `limits.mention_all_max_members`
//! members, `@channel` / `@here` (and `@all`, `@everyone`) are reserved for the channel's owners
//! and admins and for workspace admins; anyone else's message is posted as written, but the
//! mention is not expanded (nobody is notified) and the sender gets a [`Notice`] saying why.

use poem_openapi::Object;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};
use serde::Serialize;
use uuid::Uuid;

use super::Principal;
use crate::{
    db::entity::channel_member,
    domain::{ChannelRole, mentions::Mentions},
    error::AppResult,
};

/// Something the server tells the sender about the message it just stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Object)]
pub struct Notice {
    /// Stable, machine-readable: `broadcast_mention_not_allowed`.
    pub code: String,
    pub message: String,
}

/// Drop `@channel` / `@here` from `parsed` when `principal` may not notify everyone in
/// `channel_id`; the notice to show the sender when that happened.
pub async fn restrict(
    db: &impl ConnectionTrait,
    principal: Principal,
    channel_id: Uuid,
    max_members: u32,
    parsed: &mut Mentions,
) -> AppResult<Option<Notice>> {
    if !(parsed.channel || parsed.here) || principal.is_admin() {
        return Ok(None);
    }
    let members = channel_member::Entity::find()
        .filter(channel_member::Column::ChannelId.eq(channel_id))
        .count(db)
        .await?;
    if members <= u64::from(max_members) {
        return Ok(None);
    }
    let role: Option<ChannelRole> = channel_member::Entity::find()
        .select_only()
        .column(channel_member::Column::Role)
        .filter(channel_member::Column::ChannelId.eq(channel_id))
        .filter(channel_member::Column::UserId.eq(principal.user_id))
        .into_tuple()
        .one(db)
        .await?;
    if role.is_some_and(ChannelRole::manages) {
        return Ok(None);
    }
    parsed.channel = false;
    parsed.here = false;
    Ok(Some(Notice {
        code: "broadcast_mention_not_allowed".into(),
        message: format!(
            "@channel and @here were not expanded: in channels of more than {max_members} \
             members only channel owners and admins may notify everyone ({members} members \
             here)"
        ),
    }))
}
