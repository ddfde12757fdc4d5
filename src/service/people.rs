//! Administration of people (role admin or owner; the CLI acts as an owner): the list and detail
//! views, role changes, suspension, deactivation, 2FA and password resets, ending one session.
//!
//! Invariants:
//! - Every action is one write transaction that also writes its audit row.
//! - An action that takes access away (suspend, deactivate, reset 2FA, force a password reset)
//!   ends every session of the user in that transaction (`sessions::revoke_all`): the outbox
//!   carries `session.revoked`, on which the hub closes their sockets, and after the commit
//!   `token_states.forget` makes this node refuse their access tokens at once; every other node
//!   (and a server seeing a CLI change) forgets them when that event reaches it over the bus
//!   (`cache_sync`). A role change keeps the sessions but reconnects the sockets, so access is
//!   checked again with the new role.
//! - There is always an active owner: the last one is never demoted, suspended or deactivated.
//!   The owners' rows are locked in id order in the transaction that checks it (PostgreSQL), so
//!   two admins demoting the last two owners at once cannot both succeed.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Set, sea_query::LockType,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Principal, RequestMeta, accounts, audit, now, recovery, sessions, totp, users};
use crate::{
    app::AppState,
    db::entity::user,
    domain::Role,
    error::{AppError, AppResult, ErrorCode},
};

/// Which accounts the list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    All,
    /// Neither suspended nor deactivated.
    Active,
    Suspended,
    Deactivated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// A to Z.
    Username,
    /// Most recently active first; people never seen last (by username).
    LastActive,
}

pub struct ListQuery<'a> {
    pub text: Option<&'a str>,
    pub status: Status,
    pub role: Option<Role>,
    pub sort: Sort,
    pub cursor: Option<&'a str>,
    pub limit: u64,
}

pub struct Page {
    pub items: Vec<user::Model>,
    pub next_cursor: Option<String>,
}

/// Where a page sorted by last activity ends: inside the people seen (`a.<ns>.<id>`) or inside
/// the never-seen ones, by username (`n.<username>`).
enum ActiveCursor {
    Seen(OffsetDateTime, Uuid),
    NeverSeen(String),
}

impl ActiveCursor {
    fn parse(s: &str) -> AppResult<Self> {
        let bad = || AppError::validation("cursor: not a cursor of this list");
        if let Some(name) = s.strip_prefix("n.") {
            return Ok(Self::NeverSeen(name.to_string()));
        }
        let rest = s.strip_prefix("a.").ok_or_else(bad)?;
        let (nanos, id) = rest.split_once('.').ok_or_else(bad)?;
        let nanos: i128 = nanos.parse().map_err(|_| bad())?;
        let at = OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| bad())?;
        Ok(Self::Seen(at, id.parse().map_err(|_| bad())?))
    }

    fn after(u: &user::Model) -> String {
        match u.last_active_at {
            Some(at) => format!("a.{}.{}", at.unix_timestamp_nanos(), u.id),
            None => format!("n.{}", u.username),
        }
    }
}

/// Everyone, filtered and sorted as asked, one page at a time.
#[tracing::instrument(skip_all, fields(limit = q.limit))]
pub async fn list(state: &AppState, q: ListQuery<'_>) -> AppResult<Page> {
    // Last activity noted on this server since the worker's last flush shows too.
    state.activity.flush(state).await?;
    let limit = q.limit.clamp(1, users::MAX_PAGE);
    let mut filter = Condition::all();
    if let Some(text) = q.text {
        filter = filter.add(users::text_match(text, true)?);
    }
    filter = match q.status {
        Status::All => filter,
        Status::Active => filter
            .add(user::Column::SuspendedAt.is_null())
            .add(user::Column::DeactivatedAt.is_null()),
        Status::Suspended => filter.add(user::Column::SuspendedAt.is_not_null()),
        Status::Deactivated => filter.add(user::Column::DeactivatedAt.is_not_null()),
    };
    if let Some(role) = q.role {
        filter = filter.add(user::Column::Role.eq(role.as_str()));
    }
    let mut items = match q.sort {
        Sort::Username => {
            let after = match q.cursor {
                Some(name) => Condition::all().add(user::Column::Username.gt(name)),
                None => Condition::all(),
            };
            user::Entity::find()
                .filter(filter)
                .filter(after)
                .limit(limit + 1)
                .order_by_asc(user::Column::Username)
                .all(&state.db)
                .await?
        }
        Sort::LastActive => {
            let cursor = q.cursor.map(ActiveCursor::parse).transpose()?;
            by_last_activity(state, filter, cursor, limit + 1).await?
        }
    };
    let next_cursor = if items.len() as u64 > limit {
        items.truncate(limit as usize);
        items.last().map(|u| match q.sort {
            Sort::Username => u.username.clone(),
            Sort::LastActive => ActiveCursor::after(u),
        })
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// Up to `n` people matching `filter` after `cursor`, most recently active first, then the
/// never-active by username.
async fn by_last_activity(
    state: &AppState,
    filter: Condition,
    cursor: Option<ActiveCursor>,
    n: u64,
) -> AppResult<Vec<user::Model>> {
    let mut items = Vec::new();
    let seen_after = match &cursor {
        None => Some(Condition::all()),
        Some(ActiveCursor::Seen(at, id)) => Some(
            Condition::any()
                .add(user::Column::LastActiveAt.lt(*at))
                .add(
                    Condition::all()
                        .add(user::Column::LastActiveAt.eq(*at))
                        .add(user::Column::Id.lt(*id)),
                ),
        ),
        Some(ActiveCursor::NeverSeen(_)) => None,
    };
    if let Some(after) = seen_after {
        items = user::Entity::find()
            .filter(filter.clone())
            .filter(user::Column::LastActiveAt.is_not_null())
            .filter(after)
            .order_by_desc(user::Column::LastActiveAt)
            .order_by_desc(user::Column::Id)
            .limit(n)
            .all(&state.db)
            .await?;
    }
    let room = n.saturating_sub(items.len() as u64);
    if room > 0 {
        let mut never = Condition::all().add(user::Column::LastActiveAt.is_null());
        if let Some(ActiveCursor::NeverSeen(name)) = cursor {
            never = never.add(user::Column::Username.gt(name));
        }
        items.extend(
            user::Entity::find()
                .filter(filter)
                .filter(never)
                .order_by_asc(user::Column::Username)
                .limit(room)
                .all(&state.db)
                .await?,
        );
    }
    Ok(items)
}

/// What an admin sees of one person.
pub struct Detail {
    pub user: user::Model,
    pub totp_enabled: bool,
    /// Whether the account has a password (accounts made by an identity provider have none).
    pub has_password: bool,
    /// The identity providers it is linked to.
    pub identities: Vec<crate::db::entity::external_identity::Model>,
    pub sessions: Vec<sessions::SessionInfo>,
}

pub async fn detail(state: &AppState, id: Uuid) -> AppResult<Detail> {
    state.activity.flush(state).await?;
    let user = accounts::get(&state.db, id).await?;
    // Bots have no credentials row.
    let credentials = crate::db::entity::credential::Entity::find_by_id(id)
        .one(&state.db)
        .await?;
    Ok(Detail {
        totp_enabled: credentials
            .as_ref()
            .is_some_and(|c| c.totp_enabled_at.is_some()),
        has_password: credentials.is_some_and(|c| c.password_hash.is_some()),
        identities: super::sso::identities_of(&state.db, id).await?,
        sessions: sessions::list(state, id).await?,
        user,
    })
}

/// Look `target` up for an action by `principal`: it exists, it is not the caller, and only
/// owners act on owners.
async fn target_of(
    state: &AppState,
    principal: Principal,
    target: Uuid,
    what: &str,
) -> AppResult<user::Model> {
    users::require_admin(principal)?;
    if target == principal.user_id {
        return Err(AppError::forbidden(format!("you cannot {what} yourself")));
    }
    let user = accounts::get(&state.db, target).await?;
    if user.role == Role::Owner.as_str() && principal.role != Role::Owner {
        return Err(AppError::forbidden(format!(
            "only owners can {what} an owner"
        )));
    }
    Ok(user)
}

/// Refuse (409 `last_owner`) to take away the last active owner. Call in the transaction that
/// makes the change; it locks every active owner's row, in id order.
async fn keep_an_owner(db: &impl ConnectionTrait, target: Uuid) -> AppResult<()> {
    let owners: Vec<Uuid> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Role.eq(Role::Owner.as_str()))
        .filter(user::Column::SuspendedAt.is_null())
        .filter(user::Column::DeactivatedAt.is_null())
        .order_by_asc(user::Column::Id)
        .lock(LockType::Update)
        .into_tuple()
        .all(db)
        .await?;
    if owners.contains(&target) && owners.len() == 1 {
        return Err(AppError::new(
            ErrorCode::LastOwner,
            "this is the last active owner: make someone else an owner first",
        ));
    }
    Ok(())
}

/// Change a user's role. Only owners grant or take away ownership; nobody changes their own
/// role; the last owner stays an owner; bot accounts keep theirs.
#[tracing::instrument(skip_all, fields(target = %target, role = new_role.as_str()))]
pub async fn set_role(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    target: Uuid,
    new_role: Role,
) -> AppResult<user::Model> {
    let user = target_of(state, principal, target, "change the role of").await?;
    let old_role: Role = user.role.parse().unwrap_or(Role::Guest);
    if new_role == Role::Owner && principal.role != Role::Owner {
        return Err(AppError::forbidden("only owners can grant the owner role"));
    }
    if old_role == Role::Bot || new_role == Role::Bot {
        return Err(AppError::conflict(
            "role: bot accounts are managed through API clients",
        ));
    }
    let updated = state
        .write(|tx| {
            Box::pin(async move {
                if old_role == Role::Owner && new_role != Role::Owner {
                    keep_an_owner(tx, target).await?;
                }
                let change = RoleChange {
                    actor: principal.audit_actor(),
                    new_role,
                    source: None,
                };
                apply_role(tx, meta, user, change).await
            })
        })
        .await?;
    state.token_states.forget(&target);
    Ok(updated)
}

/// Who changes a role to what, and through what (an identity provider's name, for the audit).
pub struct RoleChange {
    pub actor: Option<Uuid>,
    pub new_role: Role,
    pub source: Option<String>,
}

/// The one write path of a role: the row, the `user.updated` event, the close of the user's
/// sockets (they reconnect, so access is checked again: 4003) and the audit entry. The caller
/// checks who may do it, keeps an owner, and forgets the token state after the commit.
pub async fn apply_role(
    tx: &impl ConnectionTrait,
    meta: RequestMeta,
    user: user::Model,
    change: RoleChange,
) -> AppResult<user::Model> {
    let old_role: Role = user.role.parse().unwrap_or(Role::Guest);
    let target = user.id;
    let mut active = user.into_active_model();
    active.role = Set(change.new_role.as_str().to_string());
    active.updated_at = Set(now());
    let updated = active.update(tx).await?;
    users::announce(tx, &updated, change.actor.unwrap_or_default()).await?;
    if old_role != change.new_role {
        sessions::emit_revoked(tx, target, None, sessions::Revoked::Role).await?;
    }
    let mut details =
        serde_json::json!({ "from": old_role.as_str(), "to": change.new_role.as_str() });
    if let Some(source) = change.source {
        details["source"] = serde_json::Value::String(source);
    }
    audit::record(
        tx,
        meta,
        audit::Entry {
            actor: change.actor,
            action: audit::action::ROLE_CHANGED,
            target: Some(("user", target)),
            details: Some(details),
        },
    )
    .await?;
    Ok(updated)
}

/// Suspend (`Some(reason)`) or unsuspend (`None`). Suspension ends every session at once.
#[tracing::instrument(skip_all, fields(target = %target, suspend = reason.is_some()))]
pub async fn set_suspended(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    target: Uuid,
    reason: Option<String>,
) -> AppResult<user::Model> {
    let user = target_of(state, principal, target, "suspend").await?;
    if let Some(r) = &reason
        && r.chars().count() > 500
    {
        return Err(AppError::validation("reason: at most 500 characters"));
    }
    let suspend = reason.is_some();
    let updated = state
        .write(|tx| {
            Box::pin(async move {
                if suspend {
                    keep_an_owner(tx, target).await?;
                }
                let mut active = user.into_active_model();
                active.suspended_at = Set(suspend.then(now));
                active.suspended_reason = Set(reason.clone());
                active.updated_at = Set(now());
                let updated = active.update(tx).await?;
                users::announce(tx, &updated, principal.user_id).await?;
                if suspend {
                    sessions::revoke_all(tx, target).await?;
                }
                let action = if suspend {
                    audit::action::SUSPENDED
                } else {
                    audit::action::UNSUSPENDED
                };
                let details = reason.map(|r| serde_json::json!({ "reason": r }));
                record(tx, meta, principal, action, target, details).await?;
                Ok(updated)
            })
        })
        .await?;
    state.token_states.forget(&target);
    Ok(updated)
}

/// Deactivate (`true`: the account stays, with its messages, shown as deactivated; it cannot
/// log in and every session ends) or reactivate (`false`).
#[tracing::instrument(skip_all, fields(target = %target, deactivate))]
pub async fn set_deactivated(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    target: Uuid,
    deactivate: bool,
) -> AppResult<user::Model> {
    let user = target_of(state, principal, target, "deactivate").await?;
    if user.deactivated_at.is_some() == deactivate {
        // Already so: nothing to do, nothing to audit.
        return Ok(user);
    }
    let updated = state
        .write(|tx| {
            Box::pin(async move {
                if deactivate {
                    keep_an_owner(tx, target).await?;
                }
                let mut active = user.into_active_model();
                active.deactivated_at = Set(deactivate.then(now));
                active.updated_at = Set(now());
                let updated = active.update(tx).await?;
                users::announce(tx, &updated, principal.user_id).await?;
                if deactivate {
                    sessions::revoke_all(tx, target).await?;
                }
                let action = if deactivate {
                    audit::action::DEACTIVATED
                } else {
                    audit::action::REACTIVATED
                };
                record(tx, meta, principal, action, target, None).await?;
                Ok(updated)
            })
        })
        .await?;
    state.token_states.forget(&target);
    Ok(updated)
}

/// Turn a user's 2FA off (they lost their device and their recovery codes) and end their
/// sessions; they log in with their password alone and may enrol again.
#[tracing::instrument(skip_all, fields(target = %target))]
pub async fn reset_totp(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    target: Uuid,
) -> AppResult<()> {
    target_of(
        state,
        principal,
        target,
        "reset the two-factor authentication of",
    )
    .await?;
    if !accounts::totp_enabled(&state.db, target).await? {
        return Err(AppError::conflict(
            "two-factor authentication is not enabled for this user",
        ));
    }
    state
        .write(|tx| {
            Box::pin(async move {
                totp::clear(tx, target).await?;
                sessions::revoke_all(tx, target).await?;
                record(tx, meta, principal, audit::action::TOTP_RESET, target, None).await
            })
        })
        .await?;
    state.token_states.forget(&target);
    Ok(())
}

/// Force a password reset: the current password stops working, every session ends, and the user
/// is mailed a link to choose a new one.
#[tracing::instrument(skip_all, fields(target = %target))]
pub async fn force_password_reset(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    target: Uuid,
) -> AppResult<()> {
    let user = target_of(state, principal, target, "reset the password of").await?;
    if user.role == Role::Bot.as_str() {
        return Err(AppError::conflict("bots have no password"));
    }
    if user.deactivated_at.is_some() {
        return Err(AppError::conflict("the account is deactivated"));
    }
    let token = state
        .write(|tx| {
            Box::pin(async move {
                accounts::clear_password(tx, target).await?;
                let token = super::email_tokens::create(
                    tx,
                    target,
                    super::email_tokens::Purpose::PasswordReset,
                )
                .await?;
                let details = serde_json::json!({ "forced": true });
                record(
                    tx,
                    meta,
                    principal,
                    audit::action::PASSWORD_RESET,
                    target,
                    Some(details),
                )
                .await?;
                Ok(token)
            })
        })
        .await?;
    state.token_states.forget(&target);
    recovery::mail_reset_link(state, &user, &token, recovery::ResetReason::Admin);
    Ok(())
}

/// End one of a user's sessions (a lost laptop); 404 when it is not theirs or already over.
#[tracing::instrument(skip_all, fields(target = %target, session = %session))]
pub async fn end_session(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    target: Uuid,
    session: Uuid,
) -> AppResult<()> {
    users::require_admin(principal)?;
    let user = accounts::get(&state.db, target).await?;
    if user.role == Role::Owner.as_str() && principal.role != Role::Owner {
        return Err(AppError::forbidden(
            "only owners can end an owner's sessions",
        ));
    }
    let entry = audit::Entry {
        actor: principal.audit_actor(),
        action: audit::action::SESSION_REVOKED,
        target: Some(("user", target)),
        details: Some(serde_json::json!({ "session_id": session })),
    };
    sessions::end_recorded(state, target, session, Some((meta, entry))).await
}

async fn record(
    tx: &impl ConnectionTrait,
    meta: RequestMeta,
    principal: Principal,
    action: &'static str,
    target: Uuid,
    details: Option<serde_json::Value>,
) -> AppResult<()> {
    audit::record(
        tx,
        meta,
        audit::Entry {
            actor: principal.audit_actor(),
            action,
            target: Some(("user", target)),
            details,
        },
    )
    .await
}
