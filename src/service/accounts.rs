//! Creating accounts (setup, registration, CLI, bots) and finding them.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
    SqlErr,
};
use uuid::Uuid;

use super::now;
use crate::{
    db::entity::{credential, user},
    domain::{DisplayName, Email, Role, Username},
    error::{AppError, AppResult},
};

pub struct NewAccount {
    pub username: Username,
    pub email: Email,
    pub display_name: Option<DisplayName>,
    /// argon2id hash; `None` for bots (they authenticate with client credentials).
    pub password_hash: Option<String>,
    pub role: Role,
    pub email_verified: bool,
}

/// Insert a user and their credentials. Duplicate username or email → 409.
#[tracing::instrument(skip_all, fields(role = new.role.as_str()))]
pub async fn create(db: &impl ConnectionTrait, new: NewAccount) -> AppResult<user::Model> {
    ensure_available(db, &new.username, &new.email).await?;
    let at = now();
    let id = Uuid::now_v7();
    let display_name = new
        .display_name
        .map(DisplayName::into_inner)
        .unwrap_or_else(|| new.username.as_str().to_string());
    let user = user::ActiveModel {
        id: Set(id),
        username: Set(new.username.as_str().to_string()),
        email: Set(new.email.as_str().to_string()),
        display_name: Set(display_name),
        role: Set(new.role.as_str().to_string()),
        status_text: Set(None),
        status_emoji: Set(None),
        status_expires_at: Set(None),
        email_verified_at: Set(new.email_verified.then_some(at)),
        suspended_at: Set(None),
        suspended_reason: Set(None),
        deactivated_at: Set(None),
        token_version: Set(0),
        last_active_at: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(db)
    .await
    .map_err(unique_to_conflict)?;
    credential::ActiveModel {
        user_id: Set(id),
        password_hash: Set(new.password_hash),
        totp_secret: Set(None),
        totp_pending_secret: Set(None),
        totp_enabled_at: Set(None),
        totp_last_step: Set(None),
        updated_at: Set(at),
    }
    .insert(db)
    .await?;
    Ok(user)
}

async fn ensure_available(
    db: &impl ConnectionTrait,
    username: &Username,
    email: &Email,
) -> AppResult<()> {
    if username.is_reserved() {
        return Err(AppError::conflict("username is reserved"));
    }
    if find_by_username(db, username.as_str()).await?.is_some() {
        return Err(AppError::conflict("username is already taken"));
    }
    if find_by_email(db, email.as_str()).await?.is_some() {
        return Err(AppError::conflict(
            "an account with this email already exists",
        ));
    }
    Ok(())
}

/// A unique-constraint violation that slipped past the pre-check (a concurrent insert) is still
/// a conflict, not a server error.
pub fn unique_to_conflict(e: sea_orm::DbErr) -> AppError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => AppError::conflict("already exists"),
        _ => e.into(),
    }
}

pub async fn find_by_username(
    db: &impl ConnectionTrait,
    username: &str,
) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Username.eq(username.trim().to_lowercase()))
        .one(db)
        .await?)
}

pub async fn find_by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email.trim().to_lowercase()))
        .one(db)
        .await?)
}

/// By username or email, as typed at the login prompt.
pub async fn find_by_login(
    db: &impl ConnectionTrait,
    login: &str,
) -> AppResult<Option<user::Model>> {
    if login.contains('@') {
        find_by_email(db, login).await
    } else {
        find_by_username(db, login).await
    }
}

pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> AppResult<user::Model> {
    user::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("user"))
}

/// Replace a user's password, end every session they have (refresh tokens revoked, access
/// tokens invalidated through the token version) and void every outstanding reset link. Every
/// password change goes through here.
pub async fn set_password(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    password_hash: String,
) -> AppResult<()> {
    replace_password(db, user_id, Some(password_hash)).await
}

/// Like [`set_password`], leaving no password at all: nothing logs in until a reset link sets
/// one (an admin's forced reset).
pub async fn clear_password(db: &impl ConnectionTrait, user_id: Uuid) -> AppResult<()> {
    replace_password(db, user_id, None).await
}

async fn replace_password(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    password_hash: Option<String>,
) -> AppResult<()> {
    let mut creds: credential::ActiveModel = credentials(db, user_id).await?.into();
    creds.password_hash = Set(password_hash);
    creds.updated_at = Set(now());
    creds.update(db).await?;
    super::email_tokens::void_all(db, user_id, super::email_tokens::Purpose::PasswordReset).await?;
    super::sessions::revoke_all(db, user_id).await
}

pub async fn credentials(db: &impl ConnectionTrait, user_id: Uuid) -> AppResult<credential::Model> {
    credential::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal(format!("user {user_id} has no credentials row")))
}

/// Whether the user has two-factor authentication on (bots have no credentials: false).
pub async fn totp_enabled(db: &impl ConnectionTrait, user_id: Uuid) -> AppResult<bool> {
    Ok(credential::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .is_some_and(|c| c.totp_enabled_at.is_some()))
}

/// Which of `users` have two-factor authentication on (one query).
pub async fn totp_enabled_among(
    db: &impl ConnectionTrait,
    users: &[Uuid],
) -> AppResult<std::collections::HashSet<Uuid>> {
    Ok(credential::Entity::find()
        .select_only()
        .column(credential::Column::UserId)
        .filter(credential::Column::UserId.is_in(users.iter().copied()))
        .filter(credential::Column::TotpEnabledAt.is_not_null())
        .into_tuple::<Uuid>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

pub async fn count(db: &impl ConnectionTrait) -> AppResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(user::Entity::find().count(db).await?)
}
