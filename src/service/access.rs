//! Who may do what in a conversation. One place, so every route asks the same questions.
//!
//! - read (messages, members, pins): members; workspace members for public channels; server
//!   admins for public and private channels (moderation). DMs: participants only.
//! - write (post, react, pin, read markers): members, and the conversation must not be archived.
//! - manage (update, archive, remove members): channel owners/admins and server admins.

use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

use super::{Principal, workspaces};
use crate::{
    db::entity::{channel, channel_member},
    error::{AppError, AppResult, ErrorCode},
};

pub struct Access {
    pub channel: channel::Model,
    pub membership: Option<channel_member::Model>,
    pub principal: Principal,
}

impl Access {
    pub fn is_dm(&self) -> bool {
        matches!(self.channel.kind.as_str(), "dm" | "group_dm")
    }
    pub fn is_member(&self) -> bool {
        self.membership.is_some()
    }
    pub fn is_channel_admin(&self) -> bool {
        matches!(
            self.membership.as_ref().map(|m| m.role.as_str()),
            Some("owner" | "admin")
        )
    }
    /// Server admins moderate channels, not private conversations between people.
    pub fn is_moderator(&self) -> bool {
        self.principal.is_admin() && !self.is_dm()
    }

    pub fn require_write(&self) -> AppResult<()> {
        if !self.is_member() {
            return Err(AppError::forbidden("join the channel first"));
        }
        self.require_not_archived()
    }

    pub fn require_not_archived(&self) -> AppResult<()> {
        if self.channel.archived_at.is_some() {
            return Err(AppError::new(
                ErrorCode::ChannelArchived,
                "the channel is archived and read-only",
            ));
        }
        Ok(())
    }

    pub fn require_manage(&self) -> AppResult<()> {
        if self.is_channel_admin() || self.is_moderator() {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "only channel owners and admins can do that",
            ))
        }
    }
}

/// Load a conversation and check the caller may read it (404 unknown, 403 not allowed).
pub async fn readable(
    db: &impl ConnectionTrait,
    principal: Principal,
    channel_id: Uuid,
) -> AppResult<Access> {
    let channel = channel::Entity::find_by_id(channel_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("channel"))?;
    let membership = channel_member::Entity::find_by_id((channel_id, principal.user_id))
        .one(db)
        .await?;
    let access = Access {
        channel,
        membership,
        principal,
    };
    if access.is_member() || access.is_moderator() {
        return Ok(access);
    }
    if access.channel.kind == "public"
        && workspaces::membership(db, access.channel.workspace_id, principal.user_id)
            .await?
            .is_some()
    {
        return Ok(access);
    }
    Err(AppError::forbidden(
        "you are not a member of this conversation",
    ))
}
