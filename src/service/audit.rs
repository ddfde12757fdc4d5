//! The audit log: security and admin actions, written in the same transaction as the change.
//! Append-only: nothing updates an entry; the only deletion is [`purge`], of entries older than
//! `audit.retention`.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set,
    sea_query::{Order, Query},
};
use uuid::Uuid;

use super::{RequestMeta, now};
use crate::{db::entity::audit_log, error::AppResult};

/// Stable action names (filterable in `GET /admin/audit?action=`).
pub mod action {
    pub const LOGIN_SUCCEEDED: &str = "auth.login_succeeded";
    pub const LOGIN_FAILED: &str = "auth.login_failed";
    pub const TOTP_ENABLED: &str = "auth.totp_enabled";
    pub const TOTP_DISABLED: &str = "auth.totp_disabled";
    pub const PASSWORD_RESET: &str = "auth.password_reset";
    pub const PASSWORD_CHANGED: &str = "auth.password_changed";
    pub const LOGOUT_ALL: &str = "auth.logout_all";
    pub const REFRESH_REUSE: &str = "auth.refresh_token_reuse";
    pub const ROLE_CHANGED: &str = "user.role_changed";
    pub const SUSPENDED: &str = "user.suspended";
    pub const UNSUSPENDED: &str = "user.unsuspended";
    pub const DEACTIVATED: &str = "user.deactivated";
    pub const REACTIVATED: &str = "user.reactivated";
    /// An admin turned a user's 2FA off.
    pub const TOTP_RESET: &str = "auth.totp_reset";
    /// An admin ended one of a user's sessions.
    pub const SESSION_REVOKED: &str = "auth.session_revoked";
    pub const USER_CREATED: &str = "user.created";
    pub const IDENTITY_LINKED: &str = "user.identity_linked";
    pub const CLIENT_CREATED: &str = "client.created";
    pub const CLIENT_REVOKED: &str = "client.revoked";
    pub const CLIENT_SECRET_ROTATED: &str = "client.secret_rotated";
    /// An admin deleted a message (from the queue or directly).
    pub const MESSAGE_DELETED_BY_ADMIN: &str = "moderation.message_deleted";
    /// An admin dismissed a message's reports.
    pub const REPORTS_DISMISSED: &str = "moderation.reports_dismissed";
    /// An admin showed a message a `hide` rule held back again.
    pub const MESSAGE_RESTORED: &str = "moderation.message_restored";
    pub const RULE_ADDED: &str = "moderation.rule_added";
    pub const RULE_REMOVED: &str = "moderation.rule_removed";
    pub const WORKSPACE_CREATED: &str = "workspace.created";
    pub const INVITE_REVOKED: &str = "invite.revoked";
    pub const SETTING_CHANGED: &str = "settings.changed";
    pub const CHANNEL_KIND_CHANGED: &str = "channel.kind_changed";
    pub const SETUP_COMPLETED: &str = "setup.completed";
}

/// Record `entry` in a write transaction of its own (through the write gate), for an action that
/// changes nothing else (a failed login, a detected token reuse).
pub async fn record_alone(
    state: &crate::app::AppState,
    meta: RequestMeta,
    entry: Entry<'static>,
) -> AppResult<()> {
    state
        .write(move |tx| Box::pin(async move { record(tx, meta, entry).await }))
        .await
}

pub struct Entry<'a> {
    pub actor: Option<Uuid>,
    pub action: &'a str,
    pub target: Option<(&'a str, Uuid)>,
    pub details: Option<serde_json::Value>,
}

pub async fn record(
    db: &impl ConnectionTrait,
    meta: RequestMeta,
    entry: Entry<'_>,
) -> AppResult<()> {
    audit_log::ActiveModel {
        id: Set(Uuid::now_v7()),
        actor_id: Set(entry.actor),
        action: Set(entry.action.to_string()),
        target_type: Set(entry.target.map(|(t, _)| t.to_string())),
        target_id: Set(entry.target.map(|(_, id)| id)),
        ip: Set(meta.ip_string()),
        details: Set(entry.details.map(|d| d.to_string())),
        created_at: Set(now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Entries deleted per transaction by [`purge`], so the write lock is held briefly.
const PURGE_BATCH: u64 = 5_000;

/// Delete the entries older than `retention`; returns how many.
pub async fn purge(state: &crate::app::AppState, retention: std::time::Duration) -> AppResult<u64> {
    let cutoff = now() - retention;
    let mut total = 0;
    loop {
        let oldest = Query::select()
            .column(audit_log::Column::Id)
            .from(audit_log::Entity)
            .and_where(audit_log::Column::CreatedAt.lt(cutoff))
            .order_by(audit_log::Column::Id, Order::Asc)
            .limit(PURGE_BATCH)
            .to_owned();
        let deleted = state
            .write(move |tx| {
                Box::pin(async move {
                    Ok(audit_log::Entity::delete_many()
                        .filter(audit_log::Column::Id.in_subquery(oldest))
                        .exec(tx)
                        .await?
                        .rows_affected)
                })
            })
            .await?;
        total += deleted;
        if deleted < PURGE_BATCH {
            return Ok(total);
        }
    }
}
