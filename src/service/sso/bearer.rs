//! Access tokens an identity provider issued for its `audience` (Keycloak's `colink-api`),
//! accepted as `Authorization: Bearer` tokens, so a client that signs in with the provider
//! directly (a mobile app, a script with `client_credentials` on behalf of a person) can call
//! the API. The token is verified against the provider's keys (signature, issuer, audience,
//! expiry); its subject is the linked account — linked or created on first use by the same
//! rules as a web sign-in, and given the roles each token's claims call for (a role the
//! provider took away is gone for the next request, not at the next restart). A suspended or
//! deactivated account is refused at once. Such a token
//! belongs to no CoLink session: it lives as long as the provider made it live.

use serde::Deserialize;

use super::{RequestMeta, accounts, provider_error};
use crate::{
    app::AppState,
    error::{AppError, AppResult, ErrorCode},
    identity::{jwt::Scope, oidc::OidcError},
    service::{Principal, authn},
};

#[derive(Deserialize)]
struct Issuer {
    iss: Option<String>,
}

/// The principal of a provider's access token, and the account's token version (as the
/// WebSocket checks it later); `None` when no provider whose tokens are accepted issued it.
pub async fn verify(state: &AppState, token: &str) -> AppResult<Option<(Principal, i32)>> {
    // Only to choose the provider whose keys then verify everything.
    let Ok(Issuer { iss: Some(iss) }) =
        jsonwebtoken::dangerous::insecure_decode_claims::<Issuer>(token)
    else {
        return Ok(None);
    };
    let Some(provider) = state.sso.bearer_issuer(iss.trim_end_matches('/')) else {
        return Ok(None);
    };
    let claims = match provider.verify_access_token(state.sso.http(), token).await {
        Ok(claims) => claims,
        Err(OidcError::Expired(_)) => {
            return Err(AppError::new(
                ErrorCode::TokenExpired,
                "the access token has expired",
            ));
        }
        Err(OidcError::Rejected(_)) => {
            return Err(AppError::unauthorized("the access token is invalid"));
        }
        Err(e @ OidcError::Unavailable(_)) => return Err(provider_error(e)),
    };
    let name = provider.name();
    let subject = &claims.identity.subject;
    // A cached link skips looking the account up, not the role mapping: a role the provider
    // gave or took away since applies to this request (and is recorded, as at a sign-in).
    let roles_call_for_a_change = |role| {
        claims.identity.roles.as_ref().is_some_and(|roles| {
            accounts::mapped_role(role, roles, &provider.config.admin_roles).is_some()
        })
    };
    let cached = match state.sso.cached_link(name, subject) {
        Some(user_id) => {
            let Some(current) = authn::token_state(state, user_id).await? else {
                return Err(AppError::unauthorized("the access token is invalid"));
            };
            (!roles_call_for_a_change(current.role)).then_some((user_id, current))
        }
        None => None,
    };
    let (user_id, current) = match cached {
        Some(found) => found,
        None => {
            let meta = RequestMeta { ip: None };
            let user = accounts::account_for(state, meta, &provider.config, &claims.identity)
                .await
                .map_err(|e| match e.code {
                    ErrorCode::SsoEmailUnverified | ErrorCode::SsoNoAccount => {
                        AppError::unauthorized(e.detail)
                    }
                    _ => e,
                })?;
            state.sso.cache_link(name, subject, user.id);
            (user.id, authn::token_state_of(&user))
        }
    };
    if !current.active {
        return Err(AppError::new(
            ErrorCode::TokenRevoked,
            "the access token has been revoked",
        ));
    }
    let principal = Principal {
        user_id,
        role: current.role,
        scope: Scope::Full,
        session_id: None,
        expires_at: Some(claims.exp),
    };
    state.activity.touch(user_id);
    Ok(Some((principal, current.version)))
}
