//! Turning a bearer access token into a [`Principal`]: signature and expiry, then the user's
//! current token version and status (cached, see `identity::token_state`).

use sea_orm::EntityTrait;
use uuid::Uuid;

use super::Principal;
use crate::{
    app::AppState,
    db::entity::user,
    domain::Role,
    error::{AppError, AppResult, ErrorCode},
    identity::{jwt::TokenError, token_state::TokenState},
};

pub async fn authenticate(state: &AppState, bearer: &str) -> AppResult<Principal> {
    let claims = state.jwt.verify(bearer).map_err(|e| match e {
        TokenError::Expired => {
            AppError::new(ErrorCode::TokenExpired, "the access token has expired")
        }
        TokenError::Invalid => AppError::unauthorized("the access token is invalid"),
    })?;
    let current = token_state(state, claims.sub).await?;
    let Some(current) = current else {
        return Err(AppError::unauthorized("the access token is invalid"));
    };
    if !current.active || current.version != claims.ver {
        return Err(AppError::new(
            ErrorCode::TokenRevoked,
            "the access token has been revoked",
        ));
    }
    Ok(Principal {
        user_id: claims.sub,
        role: current.role,
        scope: claims.scope,
    })
}

/// The user's token state, from the cache or the database.
pub async fn token_state(state: &AppState, user_id: Uuid) -> AppResult<Option<TokenState>> {
    if let Some(cached) = state.token_states.get(user_id) {
        return Ok(Some(cached));
    }
    let Some(user) = user::Entity::find_by_id(user_id).one(&state.db).await? else {
        return Ok(None);
    };
    let fresh = token_state_of(&user);
    state.token_states.put(user_id, fresh);
    Ok(Some(fresh))
}

pub fn token_state_of(user: &user::Model) -> TokenState {
    TokenState {
        version: user.token_version,
        active: user.suspended_at.is_none() && user.deactivated_at.is_none(),
        role: user.role.parse().unwrap_or(Role::Guest),
    }
}
