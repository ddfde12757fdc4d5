//! Turning a bearer access token into a [`Principal`]: signature and expiry, then the user's
//! current token version and status (cached, see `identity::token_state`).

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::Principal;
use crate::{
    app::AppState,
    db::entity::{refresh_token, user},
    domain::Role,
    error::{AppError, AppResult, ErrorCode},
    identity::{jwt::TokenError, token_state::TokenState},
};

#[tracing::instrument(level = "debug", skip_all)]
pub async fn authenticate(state: &AppState, bearer: &str) -> AppResult<Principal> {
    Ok(verify(state, bearer).await?.0)
}

/// Like [`authenticate`], also returning the token version the credential was checked
/// against (the WebSocket compares it with the current one later). A token that is not ours
/// may be an identity provider's (`service::sso::bearer`).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn verify(state: &AppState, bearer: &str) -> AppResult<(Principal, i32)> {
    let claims = match state.jwt.verify(bearer) {
        Ok(claims) => claims,
        Err(TokenError::Expired) => {
            return Err(AppError::new(
                ErrorCode::TokenExpired,
                "the access token has expired",
            ));
        }
        Err(TokenError::Invalid) => {
            if state.sso.accepts_bearer()
                && let Some(external) = super::sso::bearer::verify(state, bearer).await?
            {
                return Ok(external);
            }
            return Err(AppError::unauthorized("the access token is invalid"));
        }
    };
    let current = token_state(state, claims.sub).await?;
    let Some(current) = current else {
        return Err(AppError::unauthorized("the access token is invalid"));
    };
    let session_open = match claims.sid {
        Some(sid) => session_open(state, sid).await?,
        None => true,
    };
    if !current.active || current.version != claims.ver || !session_open {
        return Err(AppError::new(
            ErrorCode::TokenRevoked,
            "the access token has been revoked",
        ));
    }
    let principal = Principal {
        user_id: claims.sub,
        role: current.role,
        scope: claims.scope,
        session_id: claims.sid,
        expires_at: Some(claims.exp),
    };
    state.activity.touch(claims.sub);
    Ok((principal, claims.ver))
}

/// Whether the session (refresh-token family) `sid` is still open, from the cache or the
/// database.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn session_open(state: &AppState, sid: Uuid) -> AppResult<bool> {
    if let Some(open) = state.sessions.get(&sid) {
        return Ok(open);
    }
    let seen = state.sessions.generation();
    let open = refresh_token::Entity::find()
        .select_only()
        .column(refresh_token::Column::Id)
        .filter(refresh_token::Column::FamilyId.eq(sid))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .into_tuple::<Uuid>()
        .one(&state.db)
        .await?
        .is_some();
    state.sessions.put(sid, open, seen);
    Ok(open)
}

/// The user's token state, from the cache or the database.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
pub async fn token_state(state: &AppState, user_id: Uuid) -> AppResult<Option<TokenState>> {
    if let Some(cached) = state.token_states.get(&user_id) {
        return Ok(Some(cached));
    }
    let seen = state.token_states.generation();
    let Some(user) = user::Entity::find_by_id(user_id).one(&state.db).await? else {
        return Ok(None);
    };
    let fresh = token_state_of(&user);
    state.token_states.put(user_id, fresh, seen);
    Ok(Some(fresh))
}

pub fn token_state_of(user: &user::Model) -> TokenState {
    TokenState {
        version: user.token_version,
        active: user.suspended_at.is_none() && user.deactivated_at.is_none(),
        role: user.role.parse().unwrap_or(Role::Guest),
    }
}
