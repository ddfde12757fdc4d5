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

/// Who may post where, cached per node for the message hot path. Only positive answers are
/// cached (member of a non-archived conversation). Leaving, removal and archiving clear entries
/// on this node right after their commit; entries expire after `POST_ACCESS_TTL`, which bounds
/// how long another node's change can go unseen here.
#[derive(Default)]
pub struct PostAccessCache {
    entries: std::sync::RwLock<std::collections::HashMap<(Uuid, Uuid), (Uuid, std::time::Instant)>>,
}

const POST_ACCESS_TTL: std::time::Duration = std::time::Duration::from_secs(10);
const POST_ACCESS_MAX: usize = 200_000;

impl PostAccessCache {
    fn get(&self, channel_id: Uuid, user_id: Uuid) -> Option<Uuid> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(&(channel_id, user_id))
            .filter(|(_, at)| at.elapsed() < POST_ACCESS_TTL)
            .map(|(workspace, _)| *workspace)
    }

    fn put(&self, channel_id: Uuid, user_id: Uuid, workspace_id: Uuid) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= POST_ACCESS_MAX {
            entries.retain(|_, (_, at)| at.elapsed() < POST_ACCESS_TTL);
            if entries.len() >= POST_ACCESS_MAX {
                entries.clear();
            }
        }
        entries.insert(
            (channel_id, user_id),
            (workspace_id, std::time::Instant::now()),
        );
    }

    /// `user_id` left or was removed from `channel_id`.
    pub fn forget_member(&self, channel_id: Uuid, user_id: Uuid) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.remove(&(channel_id, user_id));
    }

    /// `channel_id` was archived.
    pub fn forget_channel(&self, channel_id: Uuid) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.retain(|(c, _), _| *c != channel_id);
    }
}

/// The caller may post in `channel_id` (member, not archived); returns its workspace.
pub async fn postable(
    state: &crate::app::AppState,
    principal: Principal,
    channel_id: Uuid,
) -> AppResult<Uuid> {
    if let Some(workspace_id) = state.post_access.get(channel_id, principal.user_id) {
        return Ok(workspace_id);
    }
    let access = readable(&state.db, principal, channel_id).await?;
    access.require_write()?;
    state
        .post_access
        .put(channel_id, principal.user_id, access.channel.workspace_id);
    Ok(access.channel.workspace_id)
}
