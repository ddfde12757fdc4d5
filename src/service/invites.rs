//! Managing a workspace's invite links after they were made (`workspaces::create_invite` makes
//! them, `workspaces::redeem_invite` spends them): the list and revocation.
//!
//! Invariants: a link's token is stored hashed, so the list never shows a link again (it was
//! shown once, at creation); a revoked link is refused at redemption from the moment of the
//! revoking commit (`redeem_invite` filters on `revoked_at`); server admins and the workspace's
//! owners and admins manage links, and each revocation writes one audit row.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Principal, RequestMeta, audit, now, workspaces};
use crate::{
    app::AppState,
    db::entity::invite,
    error::{AppError, AppResult},
};

/// The most links the list shows (newest first).
pub const MAX_LISTED: u64 = 200;

/// Where a link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteState {
    Active,
    Expired,
    UsedUp,
    Revoked,
}

impl InviteState {
    pub fn of(i: &invite::Model, at: OffsetDateTime) -> Self {
        if i.revoked_at.is_some() {
            Self::Revoked
        } else if i.expires_at <= at {
            Self::Expired
        } else if i.max_uses.is_some_and(|max| i.uses >= max) {
            Self::UsedUp
        } else {
            Self::Active
        }
    }
}

/// Server admins, and the workspace's owners and admins.
async fn require_manager(
    state: &AppState,
    principal: Principal,
    workspace_id: Uuid,
) -> AppResult<()> {
    let ws = workspaces::get(state, principal, workspace_id).await?;
    if principal.is_admin() {
        return Ok(());
    }
    let role = workspaces::membership(&state.db, ws.id, principal.user_id)
        .await?
        .map(|m| m.role);
    if matches!(role.as_deref(), Some("owner" | "admin")) {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "only workspace admins manage invite links",
        ))
    }
}

/// The workspace's links, newest first (at most [`MAX_LISTED`]).
#[tracing::instrument(skip_all, fields(user_id = %principal.user_id, workspace_id = %workspace_id))]
pub async fn list(
    state: &AppState,
    principal: Principal,
    workspace_id: Uuid,
) -> AppResult<Vec<invite::Model>> {
    require_manager(state, principal, workspace_id).await?;
    Ok(invite::Entity::find()
        .filter(invite::Column::WorkspaceId.eq(workspace_id))
        .order_by_desc(invite::Column::CreatedAt)
        .order_by_desc(invite::Column::Id)
        .limit(MAX_LISTED)
        .all(&state.db)
        .await?)
}

/// Revoke a link: nobody joins with it from now on. Revoking a revoked link changes nothing.
#[tracing::instrument(skip_all, fields(user_id = %principal.user_id, invite_id = %invite_id))]
pub async fn revoke(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    workspace_id: Uuid,
    invite_id: Uuid,
) -> AppResult<()> {
    require_manager(state, principal, workspace_id).await?;
    state
        .write(move |tx| {
            Box::pin(async move {
                let found = invite::Entity::find_by_id(invite_id)
                    .filter(invite::Column::WorkspaceId.eq(workspace_id))
                    .one(tx)
                    .await?
                    .ok_or_else(|| AppError::not_found("invite"))?;
                if found.revoked_at.is_some() {
                    return Ok(());
                }
                let uses = found.uses;
                let mut row: invite::ActiveModel = found.into();
                row.revoked_at = Set(Some(now()));
                row.update(tx).await?;
                audit::record(
                    tx,
                    meta,
                    audit::Entry {
                        actor: principal.audit_actor(),
                        action: audit::action::INVITE_REVOKED,
                        target: Some(("invite", invite_id)),
                        details: Some(serde_json::json!({
                            "workspace_id": workspace_id,
                            "uses": uses,
                        })),
                    },
                )
                .await
            })
        })
        .await
}
