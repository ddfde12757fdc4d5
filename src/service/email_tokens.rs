//! Single-use, expiring tokens sent by mail (password reset, email verification), hashed at rest.

use std::time::Duration;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, sea_query::Expr,
};
use uuid::Uuid;

use super::now;
use crate::{
    db::entity::email_token,
    error::{AppError, AppResult, ErrorCode},
    identity::opaque,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    PasswordReset,
    VerifyEmail,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::PasswordReset => "password_reset",
            Purpose::VerifyEmail => "verify_email",
        }
    }
    pub fn lifetime(self) -> Duration {
        match self {
            Purpose::PasswordReset => Duration::from_secs(3600),
            Purpose::VerifyEmail => Duration::from_secs(24 * 3600),
        }
    }
}

pub async fn create(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    purpose: Purpose,
) -> AppResult<String> {
    let token = opaque::generate();
    let at = now();
    email_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        purpose: Set(purpose.as_str().to_string()),
        token_hash: Set(opaque::hash(&token)),
        created_at: Set(at),
        expires_at: Set(at + purpose.lifetime()),
        used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// Use up every outstanding token of `purpose` for `user_id` (e.g. reset links once the password
/// has changed).
pub async fn void_all(db: &impl ConnectionTrait, user_id: Uuid, purpose: Purpose) -> AppResult<()> {
    email_token::Entity::update_many()
        .col_expr(email_token::Column::UsedAt, Expr::value(now()))
        .filter(email_token::Column::UserId.eq(user_id))
        .filter(email_token::Column::Purpose.eq(purpose.as_str()))
        .filter(email_token::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// The user a still-valid token belongs to, without using it up.
pub async fn peek(
    db: &impl ConnectionTrait,
    presented: &str,
    purpose: Purpose,
) -> AppResult<Option<Uuid>> {
    Ok(email_token::Entity::find()
        .filter(email_token::Column::TokenHash.eq(opaque::hash(presented.trim())))
        .filter(email_token::Column::Purpose.eq(purpose.as_str()))
        .filter(email_token::Column::UsedAt.is_null())
        .filter(email_token::Column::ExpiresAt.gt(now()))
        .one(db)
        .await?
        .map(|t| t.user_id))
}

/// Use a token once: returns its user, or 400 `invalid_token` if unknown, expired or used.
pub async fn consume(
    db: &impl ConnectionTrait,
    presented: &str,
    purpose: Purpose,
) -> AppResult<Uuid> {
    let invalid = || {
        AppError::new(
            ErrorCode::InvalidToken,
            "the link is invalid, expired or already used",
        )
    };
    let Some(token) = email_token::Entity::find()
        .filter(email_token::Column::TokenHash.eq(opaque::hash(presented.trim())))
        .filter(email_token::Column::Purpose.eq(purpose.as_str()))
        .one(db)
        .await?
    else {
        return Err(invalid());
    };
    let at = now();
    let used = email_token::Entity::update_many()
        .col_expr(email_token::Column::UsedAt, Expr::value(at))
        .filter(email_token::Column::Id.eq(token.id))
        .filter(email_token::Column::UsedAt.is_null())
        .filter(email_token::Column::ExpiresAt.gt(at))
        .exec(db)
        .await?;
    if used.rows_affected != 1 {
        return Err(invalid());
    }
    Ok(token.user_id)
}
