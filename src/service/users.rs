//! Profiles, custom status, user search, and the admin actions on users.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, Func, LikeExpr, Query, SelectStatement},
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Principal, RequestMeta, accounts, audit, now, sessions};
use crate::{
    app::AppState,
    db::entity::{channel_member, user, workspace_member},
    domain::{DisplayName, Role, StatusEmoji, StatusText},
    error::{AppError, AppResult},
};

pub const MAX_PAGE: u64 = 200;

/// Users the caller can see: everyone sharing a workspace with them (admins see everyone).
/// The people `principal` may find (as a subquery of user ids, never a bind list): everyone
/// in a workspace they are in; for guests, only the people they share a conversation with.
fn audience(principal: Principal) -> SelectStatement {
    if principal.is_guest() {
        let mine = Query::select()
            .column(channel_member::Column::ChannelId)
            .from(channel_member::Entity)
            .and_where(channel_member::Column::UserId.eq(principal.user_id))
            .to_owned();
        return Query::select()
            .column(channel_member::Column::UserId)
            .from(channel_member::Entity)
            .and_where(channel_member::Column::ChannelId.in_subquery(mine))
            .to_owned();
    }
    let mine = Query::select()
        .column(workspace_member::Column::WorkspaceId)
        .from(workspace_member::Entity)
        .and_where(workspace_member::Column::UserId.eq(principal.user_id))
        .to_owned();
    Query::select()
        .column(workspace_member::Column::UserId)
        .from(workspace_member::Entity)
        .and_where(workspace_member::Column::WorkspaceId.in_subquery(mine))
        .to_owned()
}

/// Whether `principal` may see `target` (see [`audience`]; admins see everyone).
pub async fn visible(
    db: &impl ConnectionTrait,
    principal: Principal,
    target: Uuid,
) -> AppResult<bool> {
    if principal.is_admin() || principal.user_id == target {
        return Ok(true);
    }
    Ok(user::Entity::find_by_id(target)
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Id.in_subquery(audience(principal)))
        .into_tuple::<Uuid>()
        .one(db)
        .await?
        .is_some())
}

#[tracing::instrument(skip_all, fields(user_id = %principal.user_id, target = %id))]
pub async fn get_visible(
    state: &AppState,
    principal: Principal,
    id: Uuid,
) -> AppResult<user::Model> {
    let user = accounts::get(&state.db, id).await?;
    if !visible(&state.db, principal, id).await? {
        return Err(AppError::not_found("user"));
    }
    Ok(user)
}

#[tracing::instrument(skip_all, fields(user_id = %principal.user_id))]
pub async fn update_profile(
    state: &AppState,
    principal: Principal,
    display_name: Option<&str>,
) -> AppResult<user::Model> {
    let user = accounts::get(&state.db, principal.user_id).await?;
    let mut active = user.into_active_model();
    if let Some(name) = display_name {
        active.display_name = Set(DisplayName::parse(name)?.into_inner());
    }
    active.updated_at = Set(now());
    state
        .write(move |tx| Box::pin(async move { Ok(active.update(tx).await?) }))
        .await
}

#[tracing::instrument(skip_all, fields(user_id = %principal.user_id))]
pub async fn set_status(
    state: &AppState,
    principal: Principal,
    text: &str,
    emoji: &str,
    expires_at: Option<OffsetDateTime>,
) -> AppResult<user::Model> {
    let text = StatusText::parse(text)?.into_inner();
    let emoji = StatusEmoji::parse(emoji)?.into_inner();
    let user = accounts::get(&state.db, principal.user_id).await?;
    let mut active = user.into_active_model();
    // A status that has already expired is no status: it clears, as it would have a moment later.
    let expired = expires_at.is_some_and(|at| at <= now());
    let clear = expired || (text.is_empty() && emoji.is_empty());
    active.status_text = Set((!clear).then_some(text));
    active.status_emoji = Set((!clear).then_some(emoji));
    active.status_expires_at = Set(if clear { None } else { expires_at });
    active.updated_at = Set(now());
    state
        .write(move |tx| Box::pin(async move { Ok(active.update(tx).await?) }))
        .await
}

pub struct Page {
    pub items: Vec<user::Model>,
    pub next_cursor: Option<String>,
}

/// Search by username / display name / (admins) email, ordered by username; the cursor is the
/// last username of the previous page.
#[tracing::instrument(skip_all, fields(user_id = %principal.user_id, limit))]
pub async fn search(
    state: &AppState,
    principal: Principal,
    query: Option<&str>,
    status: Option<&str>,
    cursor: Option<&str>,
    limit: u64,
) -> AppResult<Page> {
    let limit = limit.clamp(1, MAX_PAGE);
    let mut select = user::Entity::find().order_by_asc(user::Column::Username);
    if let Some(q) = query.map(str::trim).filter(|q| !q.is_empty()) {
        if q.chars().count() > 100 {
            return Err(AppError::validation("query: at most 100 characters"));
        }
        // `%`, `_` and the escape character itself match literally (usernames contain `_`).
        let escaped = q
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = LikeExpr::new(format!("%{escaped}%")).escape('\\');
        // Usernames and emails are stored lowercase; display names keep their case, and LIKE
        // is case-sensitive on PostgreSQL: compare LOWER(display_name).
        let display_name = Expr::from(Func::lower(Expr::col(user::Column::DisplayName)));
        let mut any = Condition::any()
            .add(user::Column::Username.like(pattern.clone()))
            .add(display_name.like(pattern.clone()));
        if principal.is_admin() {
            any = any.add(user::Column::Email.like(pattern));
        }
        select = select.filter(any);
    }
    match status {
        None | Some("all") => {}
        Some("active") => {
            select = select
                .filter(user::Column::SuspendedAt.is_null())
                .filter(user::Column::DeactivatedAt.is_null());
        }
        Some("suspended") => select = select.filter(user::Column::SuspendedAt.is_not_null()),
        Some("deactivated") => select = select.filter(user::Column::DeactivatedAt.is_not_null()),
        Some(_) => {
            return Err(AppError::validation(
                "status: must be all, active, suspended or deactivated",
            ));
        }
    }
    if !principal.is_admin() {
        select = select
            .filter(user::Column::Id.in_subquery(audience(principal)))
            .filter(user::Column::DeactivatedAt.is_null());
    }
    if let Some(after) = cursor {
        select = select.filter(user::Column::Username.gt(after));
    }
    let mut items = select.limit(limit + 1).all(&state.db).await?;
    let next_cursor = if items.len() as u64 > limit {
        items.truncate(limit as usize);
        items.last().map(|u| u.username.clone())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// Change a user's role. Only owners grant or take away ownership; nobody changes their own
/// role; the last owner stays an owner.
#[tracing::instrument(skip_all, fields(user_id = %principal.user_id, target = %target, role))]
pub async fn set_role(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    target: Uuid,
    role: &str,
) -> AppResult<user::Model> {
    require_admin(principal)?;
    let new_role: Role = role.parse()?;
    if target == principal.user_id {
        return Err(AppError::forbidden("you cannot change your own role"));
    }
    let user = accounts::get(&state.db, target).await?;
    let old_role: Role = user.role.parse().unwrap_or(Role::Guest);
    if (old_role == Role::Owner || new_role == Role::Owner) && principal.role != Role::Owner {
        return Err(AppError::forbidden(
            "only owners can grant or remove the owner role",
        ));
    }
    if old_role == Role::Bot || new_role == Role::Bot {
        return Err(AppError::conflict(
            "role: bot accounts are managed through API clients",
        ));
    }
    let updated = state
        .write(|tx| {
            Box::pin(async move {
                let mut active = user.into_active_model();
                active.role = Set(new_role.as_str().to_string());
                active.updated_at = Set(now());
                let updated = active.update(tx).await?;
                if old_role != new_role {
                    // Their live connections reconnect, so access is checked again (4003).
                    sessions::emit_revoked(tx, target, None, sessions::Revoked::Role).await?;
                }
                audit::record(
                tx,
                meta,
                audit::Entry {
                    actor: Some(principal.user_id),
                    action: audit::action::ROLE_CHANGED,
                    target: Some(("user", target)),
                    details: Some(
                        serde_json::json!({ "from": old_role.as_str(), "to": new_role.as_str() }),
                    ),
                },
            )
            .await?;
                Ok(updated)
            })
        })
        .await?;
    state.token_states.forget(&target);
    Ok(updated)
}

/// Suspend (`Some(reason)`) or unsuspend (`None`). Suspension ends every session at once.
#[tracing::instrument(skip_all, fields(user_id = %principal.user_id, target = %target, suspend = reason.is_some()))]
pub async fn set_suspended(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    target: Uuid,
    reason: Option<String>,
) -> AppResult<user::Model> {
    require_admin(principal)?;
    if target == principal.user_id {
        return Err(AppError::forbidden("you cannot suspend yourself"));
    }
    let user = accounts::get(&state.db, target).await?;
    if user.role == Role::Owner.as_str() && principal.role != Role::Owner {
        return Err(AppError::forbidden("only owners can suspend an owner"));
    }
    if let Some(r) = &reason
        && r.chars().count() > 500
    {
        return Err(AppError::validation("reason: at most 500 characters"));
    }
    let suspend = reason.is_some();
    let updated = state
        .write(|tx| {
            Box::pin(async move {
                let mut active = user.into_active_model();
                active.suspended_at = Set(suspend.then(now));
                active.suspended_reason = Set(reason.clone());
                active.updated_at = Set(now());
                let updated = active.update(tx).await?;
                if suspend {
                    sessions::revoke_all(tx, target).await?;
                }
                audit::record(
                    tx,
                    meta,
                    audit::Entry {
                        actor: Some(principal.user_id),
                        action: if suspend {
                            audit::action::SUSPENDED
                        } else {
                            audit::action::UNSUSPENDED
                        },
                        target: Some(("user", target)),
                        details: reason.map(|r| serde_json::json!({ "reason": r })),
                    },
                )
                .await?;
                Ok(updated)
            })
        })
        .await?;
    state.token_states.forget(&target);
    Ok(updated)
}

pub fn require_admin(principal: Principal) -> AppResult<()> {
    if principal.is_admin() {
        Ok(())
    } else {
        Err(AppError::forbidden("this action needs the admin role"))
    }
}
