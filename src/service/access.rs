//! Who may do what in a conversation. One place, so every route asks the same questions.
//!
//! - read (messages, members, pins): members; workspace members for public channels (not
//!   guests: they see only the conversations they were added to); server admins for public and
//!   private channels (moderation). DMs: participants only.
//! - write (post, react, pin, read markers): members, and the conversation must not be archived.
//! - manage (update, archive, remove members): channel owners/admins and server admins.

use sea_orm::{ConnectionTrait, EntityTrait, JoinType};
use uuid::Uuid;

use super::{Principal, latest_page::ContentKey, read_state, workspaces};
use crate::identity::token_state::ExpiringCache;
use crate::{
    db::entity::{channel, channel_member},
    error::{AppError, AppResult, ErrorCode},
};

pub struct Access {
    pub channel: channel::Model,
    pub membership: Option<channel_member::Model>,
    pub principal: Principal,
    /// `channel_versions.version` when the channel was read (see `latest_page`).
    content_version: i64,
}

impl Access {
    /// The state of the conversation's messages when it was read (see `latest_page`).
    pub fn content_key(&self) -> ContentKey {
        ContentKey::of(&self.channel, self.content_version)
    }
    pub fn is_dm(&self) -> bool {
        self.channel.kind.is_dm()
    }
    pub fn is_member(&self) -> bool {
        self.membership.is_some()
    }
    pub fn is_channel_admin(&self) -> bool {
        self.membership.as_ref().is_some_and(|m| m.role.manages())
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
    // The channel, its content version and the caller's membership in one query.
    let caller = principal.user_id;
    let read_state::WithMember {
        seen,
        member: membership,
    } = read_state::with_member(
        channel::Entity::find_by_id(channel_id),
        JoinType::LeftJoin,
        caller,
    )
    .one(db)
    .await?
    .ok_or_else(|| AppError::not_found("channel"))?;
    let content_version = seen.content_version;
    let channel = seen.channel;
    let access = Access {
        channel,
        membership,
        principal,
        content_version,
    };
    if access.is_member() || access.is_moderator() {
        return Ok(access);
    }
    if access.channel.kind.is_public()
        && !principal.is_guest()
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
/// on this node right after their commit; entries expire after 10 s, which bounds how long
/// another node's change can go unseen here.
pub struct PostAccessCache {
    /// (channel, user) → the channel's workspace.
    entries: ExpiringCache<(Uuid, Uuid), Uuid>,
}

impl Default for PostAccessCache {
    fn default() -> Self {
        Self {
            entries: ExpiringCache::new(std::time::Duration::from_secs(10), 200_000),
        }
    }
}

impl PostAccessCache {
    fn get(&self, channel_id: Uuid, user_id: Uuid) -> Option<Uuid> {
        self.entries.get(&(channel_id, user_id))
    }

    /// `user_id` left or was removed from `channel_id`.
    pub fn forget_member(&self, channel_id: Uuid, user_id: Uuid) {
        self.entries.forget(&(channel_id, user_id));
    }

    /// `channel_id` was archived.
    pub fn forget_channel(&self, channel_id: Uuid) {
        self.entries.forget_where(|(c, _)| *c == channel_id);
    }

    /// Everything (changes may have been missed).
    pub fn forget_all(&self) {
        self.entries.forget_where(|_| true);
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
    let seen = state.post_access.entries.generation();
    let access = readable(&state.db, principal, channel_id).await?;
    access.require_write()?;
    state.post_access.entries.put(
        (channel_id, principal.user_id),
        access.channel.workspace_id,
        seen,
    );
    Ok(access.channel.workspace_id)
}
