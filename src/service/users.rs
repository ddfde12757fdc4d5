//! Profiles, custom status, user search, and the admin actions on users.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, Func, LikeExpr, Query, SelectStatement},
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Principal, accounts, events, now};
use crate::{
    app::AppState,
    db::entity::{channel_member, user, workspace_member},
    domain::{
        DisplayName, StatusEmoji, StatusText,
        events::{Event, EventData, UserUpdated},
    },
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
    let actor = principal.user_id;
    state
        .write(move |tx| {
            Box::pin(async move {
                let updated = active.update(tx).await?;
                announce(tx, &updated, actor).await?;
                Ok(updated)
            })
        })
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
    let actor = principal.user_id;
    state
        .write(move |tx| {
            Box::pin(async move {
                let updated = active.update(tx).await?;
                announce(tx, &updated, actor).await?;
                Ok(updated)
            })
        })
        .await
}

/// Emit `user.updated` for `u` (as changed by `actor`) in each workspace they belong to, inside
/// the change's transaction.
pub async fn announce(db: &impl ConnectionTrait, u: &user::Model, actor: Uuid) -> AppResult<()> {
    let workspaces: Vec<Uuid> = workspace_member::Entity::find()
        .select_only()
        .column(workspace_member::Column::WorkspaceId)
        .filter(workspace_member::Column::UserId.eq(u.id))
        .into_tuple()
        .all(db)
        .await?;
    let expired = u.status_expires_at.is_some_and(|at| at <= now());
    let data = UserUpdated {
        id: u.id,
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        role: u.role.clone(),
        status_text: u.status_text.clone().filter(|_| !expired),
        status_emoji: u.status_emoji.clone().filter(|_| !expired),
        status_expires_at: u.status_expires_at.filter(|_| !expired),
        suspended: u.suspended_at.is_some(),
        deactivated: u.deactivated_at.is_some(),
    };
    let actor = (!actor.is_nil()).then_some(actor);
    for workspace in workspaces {
        let data = EventData::UserUpdated(data.clone());
        events::emit(db, &Event::new(workspace, None, actor, data)).await?;
    }
    Ok(())
}

pub struct Page {
    pub items: Vec<user::Model>,
    pub next_cursor: Option<String>,
}

/// Search active people by username / display name / (admins) email, ordered by username; the
/// cursor is the last username of the previous page. Admins find everyone with
/// `people::list`.
#[tracing::instrument(skip_all, fields(user_id = %principal.user_id, limit))]
pub async fn search(
    state: &AppState,
    principal: Principal,
    query: Option<&str>,
    cursor: Option<&str>,
    limit: u64,
) -> AppResult<Page> {
    let limit = limit.clamp(1, MAX_PAGE);
    let mut select = user::Entity::find().order_by_asc(user::Column::Username);
    if let Some(q) = query {
        select = select.filter(text_match(q, principal.is_admin())?);
    }
    select = select
        .filter(user::Column::SuspendedAt.is_null())
        .filter(user::Column::DeactivatedAt.is_null());
    if !principal.is_admin() {
        select = select.filter(user::Column::Id.in_subquery(audience(principal)));
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

/// Users whose username or display name (or, for admins, email) contains `q`, ignoring case.
/// An empty query matches everyone.
pub fn text_match(q: &str, with_email: bool) -> AppResult<Condition> {
    let q = q.trim();
    if q.is_empty() {
        return Ok(Condition::all());
    }
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
    if with_email {
        any = any.add(user::Column::Email.like(pattern));
    }
    Ok(any)
}

pub fn require_admin(principal: Principal) -> AppResult<()> {
    if principal.is_admin() {
        Ok(())
    } else {
        Err(AppError::forbidden("this action needs the admin role"))
    }
}
