//! Sessions: an access token (JWT) plus a refresh token that rotates on every use. All refresh
//! tokens descending from one login form a family; presenting one that was already rotated
//! means it was stolen or replayed, and revokes the whole family.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use super::{RequestMeta, accounts, audit, authn, now};
use crate::{
    app::AppState,
    db::entity::{refresh_token, user},
    error::{AppError, AppResult, ErrorCode},
    identity::{jwt::Scope, opaque},
};

#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub scope: Scope,
}

/// Start a new session (a new refresh-token family) for `user`.
#[tracing::instrument(skip_all, fields(user_id = %user.id, scope = ?scope))]
pub async fn start(
    state: &AppState,
    db: &impl ConnectionTrait,
    user: &user::Model,
    scope: Scope,
) -> AppResult<TokenPair> {
    issue(state, db, user, Uuid::now_v7(), scope).await
}

async fn issue(
    state: &AppState,
    db: &impl ConnectionTrait,
    user: &user::Model,
    family_id: Uuid,
    scope: Scope,
) -> AppResult<TokenPair> {
    let refresh = opaque::generate();
    let at = now();
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user.id),
        family_id: Set(family_id),
        token_hash: Set(opaque::hash(&refresh)),
        created_at: Set(at),
        expires_at: Set(at + state.config.auth.refresh_ttl.0),
        rotated_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(TokenPair {
        access_token: access_token(state, user, scope),
        refresh_token: refresh,
        expires_in: state.config.auth.access_ttl.secs(),
        scope,
    })
}

pub fn access_token(state: &AppState, user: &user::Model, scope: Scope) -> String {
    state.jwt.issue(
        user.id,
        user.token_version,
        scope,
        state.config.auth.access_ttl.secs(),
    )
}

fn invalid_refresh() -> AppError {
    AppError::new(
        ErrorCode::TokenRevoked,
        "the refresh token is invalid, expired or revoked",
    )
}

/// Exchange a refresh token for a new pair.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty))]
pub async fn refresh(state: &AppState, meta: RequestMeta, presented: &str) -> AppResult<TokenPair> {
    let hash = opaque::hash(presented);
    let (tx, _write) = state.begin_write().await?;
    let outcome: Result<TokenPair, Uuid> = {
        let tx = &tx;
        async {
            let Some(token) = refresh_token::Entity::find()
                .filter(refresh_token::Column::TokenHash.eq(hash))
                .one(tx)
                .await?
            else {
                return Err(invalid_refresh());
            };
            if token.revoked_at.is_some() || token.expires_at <= now() {
                return Err(invalid_refresh());
            }
            // Claim the token: only one request can rotate it.
            let claimed = refresh_token::Entity::update_many()
                .col_expr(refresh_token::Column::RotatedAt, Expr::value(now()))
                .filter(refresh_token::Column::Id.eq(token.id))
                .filter(refresh_token::Column::RotatedAt.is_null())
                .exec(tx)
                .await?;
            if claimed.rows_affected == 0 {
                revoke_family(tx, token.family_id).await?;
                return Ok(Err(token.user_id));
            }
            let user = accounts::get(tx, token.user_id).await?;
            tracing::Span::current().record("user_id", tracing::field::display(user.id));
            let current = authn::token_state_of(&user);
            if !current.active {
                return Err(invalid_refresh());
            }
            // The user row was just read: refresh this node's view of their role and version.
            state.token_states.put(user.id, current);
            let scope = if state.config.auth.require_totp
                && accounts::credentials(tx, user.id)
                    .await?
                    .totp_enabled_at
                    .is_none()
            {
                Scope::Enroll
            } else {
                Scope::Full
            };
            Ok::<_, AppError>(Ok(issue(state, tx, &user, token.family_id, scope).await?))
        }
        .await?
    };
    tx.commit().await?;
    match outcome {
        Ok(pair) => Ok(pair),
        Err(user_id) => {
            tracing::warn!(user_id = %user_id, "refresh token reuse detected; session family revoked");
            audit::record(
                &state.db,
                meta,
                audit::Entry {
                    actor: Some(user_id),
                    action: audit::action::REFRESH_REUSE,
                    target: Some(("user", user_id)),
                    details: None,
                },
            )
            .await?;
            Err(invalid_refresh())
        }
    }
}

async fn revoke_family(db: &impl ConnectionTrait, family_id: Uuid) -> AppResult<()> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now()))
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// End the session the refresh token belongs to. Unknown tokens are ignored (idempotent).
#[tracing::instrument(skip_all)]
pub async fn revoke(state: &AppState, presented: &str) -> AppResult<()> {
    if let Some(token) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(opaque::hash(presented)))
        .one(&state.db)
        .await?
    {
        revoke_family(&state.db, token.family_id).await?;
    }
    Ok(())
}

/// Revoke every session of `user_id` and invalidate every access token issued so far. Used by
/// logout-all, password reset, suspension and deactivation. After the transaction commits, the
/// caller must `state.token_states.forget(user_id)` (see [`logout_all`]) so this node sees the
/// change at once; clearing the cache before the commit could let a concurrent request re-cache
/// the old version.
pub async fn revoke_all(db: &impl ConnectionTrait, user_id: Uuid) -> AppResult<()> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now()))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    user::Entity::update_many()
        .col_expr(
            user::Column::TokenVersion,
            Expr::col(user::Column::TokenVersion).add(1),
        )
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// `POST /auth/logout-all`.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn logout_all(state: &AppState, meta: RequestMeta, user_id: Uuid) -> AppResult<()> {
    state
        .write(|tx| {
            Box::pin(async move {
                revoke_all(tx, user_id).await?;
                audit::record(
                    tx,
                    meta,
                    audit::Entry {
                        actor: Some(user_id),
                        action: audit::action::LOGOUT_ALL,
                        target: Some(("user", user_id)),
                        details: None,
                    },
                )
                .await
            })
        })
        .await?;
    state.token_states.forget(user_id);
    Ok(())
}
