//! Signing in through an identity provider (`[[auth.oidc.providers]]`), for the web app:
//!
//! 1. [`start`]: a new attempt — a random `state`, a PKCE verifier and a nonce, kept in the kv
//!    for [`ATTEMPT_TTL`] under the state; the browser gets the state in a cookie too (the API
//!    layer sets it), and is sent to the provider.
//! 2. [`complete`]: the browser comes back with `code` and `state`. The attempt is taken from
//!    the kv (single use) and must match the cookie — so a code cannot be replayed, nor a
//!    victim's browser be signed in to an attacker's account (login CSRF). The code is
//!    exchanged with the verifier, the ID token verified (`identity::oidc`), the account found,
//!    linked or created (`accounts`), and a session started like a password login's, without
//!    CoLink's own second factor (the provider is responsible for that).
//! 3. The provider's logout: the ID token of the sign-in is kept (kv, for the session's
//!    lifetime) as the `id_token_hint` of [`end_session_url`].
//!
//! Bearer access tokens issued by a provider for its `audience` are `bearer`'s business.

mod accounts;
pub mod bearer;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{RequestMeta, audit, limits, login, sessions::TokenPair};
use crate::{
    app::AppState,
    error::{AppError, AppResult, ErrorCode},
    identity::{
        jwt::Scope,
        oidc::{OidcError, Provider, random_token},
        opaque,
    },
};

/// How long a person may take at the provider.
pub const ATTEMPT_TTL: Duration = Duration::from_secs(600);
/// The longest `state` accepted back (ours are 43 characters).
const MAX_STATE_LEN: usize = 128;
/// The longest `code` accepted back.
const MAX_CODE_LEN: usize = 2048;

fn attempt_key(state: &str) -> String {
    format!("sso:attempt:{}", opaque::hash(state))
}

fn logout_key(session: Uuid) -> String {
    format!("sso:session:{session}")
}

/// What is kept between [`start`] and [`complete`].
#[derive(Serialize, Deserialize)]
struct Attempt {
    provider: String,
    verifier: String,
    nonce: String,
    return_to: String,
}

/// What is kept for the provider's logout.
#[derive(Serialize, Deserialize)]
struct SignedIn {
    provider: String,
    id_token: String,
}

/// The identity providers `user_id` is linked to, oldest link first (the admin console).
pub async fn identities_of(
    db: &impl sea_orm::ConnectionTrait,
    user_id: Uuid,
) -> AppResult<Vec<crate::db::entity::external_identity::Model>> {
    use crate::db::entity::external_identity;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    Ok(external_identity::Entity::find()
        .filter(external_identity::Column::UserId.eq(user_id))
        .order_by_asc(external_identity::Column::CreatedAt)
        .all(db)
        .await?)
}

/// Where the provider sends the person back: registered with the provider.
pub fn redirect_uri(state: &AppState, provider: &str) -> String {
    format!(
        "{}/api/v1/auth/oidc/{provider}/callback",
        state.config.public_url()
    )
}

/// A path of this site to land on after signing in; anything else (another site, `//host`,
/// a backslash trick) becomes `/`.
pub fn safe_return_to(raw: Option<&str>) -> String {
    match raw {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && path.len() <= 2048
                && !path.chars().any(char::is_control) =>
        {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

pub fn provider(state: &AppState, name: &str) -> AppResult<std::sync::Arc<Provider>> {
    state
        .sso
        .get(name)
        .ok_or_else(|| AppError::not_found("identity provider"))
}

/// A provider failure as an API error (its detail is safe to show: no tokens in it).
pub fn provider_error(e: OidcError) -> AppError {
    match e {
        OidcError::Unavailable(detail) => {
            tracing::warn!(error = %detail, "identity provider unavailable");
            AppError::new(
                ErrorCode::SsoUnavailable,
                "the identity provider could not be reached; try again later",
            )
        }
        OidcError::Rejected(detail) | OidcError::Expired(detail) => {
            AppError::new(ErrorCode::SsoRejected, detail)
        }
    }
}

/// A started sign-in: send the browser to `redirect`, with `state` in a cookie.
pub struct Started {
    pub redirect: String,
    pub state: String,
}

#[tracing::instrument(skip_all, fields(provider = %name))]
pub async fn start(
    state: &AppState,
    meta: RequestMeta,
    name: &str,
    return_to: Option<&str>,
) -> AppResult<Started> {
    let provider = provider(state, name)?;
    limit(state, meta, "start").await?;
    let attempt_state = random_token();
    let authorization = provider
        .authorize(state.sso.http(), &redirect_uri(state, name), &attempt_state)
        .await
        .map_err(provider_error)?;
    let attempt = Attempt {
        provider: name.to_string(),
        verifier: authorization.verifier,
        nonce: authorization.nonce,
        return_to: safe_return_to(return_to),
    };
    let value = serde_json::to_vec(&attempt).map_err(AppError::internal)?;
    state
        .kv
        .set(&attempt_key(&attempt_state), &value, Some(ATTEMPT_TTL))
        .await?;
    Ok(Started {
        redirect: authorization.url,
        state: attempt_state,
    })
}

/// Sign-ins per address are limited like password logins (`limits.login_per_ip`), each step
/// on its own count: a start costs the provider a request and the kv an entry, a callback a
/// code exchange.
async fn limit(state: &AppState, meta: RequestMeta, step: &str) -> AppResult<()> {
    let ip = meta.ip_string().unwrap_or_default();
    limits::hit(
        state,
        &format!("sso:{step}:ip:{ip}"),
        state.settings.get().limits.login_per_ip,
    )
    .await
}

/// The query the provider sends the browser back with.
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

/// A finished sign-in: the session, and where to land.
pub struct Completed {
    pub pair: TokenPair,
    pub return_to: String,
}

#[tracing::instrument(skip_all, fields(provider = %name, user_id = tracing::field::Empty))]
pub async fn complete(
    state: &AppState,
    meta: RequestMeta,
    name: &str,
    callback: Callback,
    cookie_state: Option<&str>,
) -> AppResult<Completed> {
    let provider = provider(state, name)?;
    limit(state, meta, "callback").await?;
    let attempt = take_attempt(state, name, callback.state.as_deref(), cookie_state).await?;
    if let Some(error) = callback.error {
        let error: String = error.chars().take(64).collect();
        failed(state, meta, name, &format!("provider: {error}")).await?;
        return Err(AppError::new(
            ErrorCode::SsoRejected,
            format!("the identity provider did not sign you in ({error})"),
        ));
    }
    let code = callback
        .code
        .filter(|c| !c.is_empty() && c.len() <= MAX_CODE_LEN)
        .ok_or_else(|| AppError::new(ErrorCode::SsoRejected, "the provider sent no code"))?;
    let signed_in = match provider
        .sign_in(
            state.sso.http(),
            &redirect_uri(state, name),
            &code,
            &attempt.verifier,
            &attempt.nonce,
        )
        .await
    {
        Ok(signed_in) => signed_in,
        Err(e) => {
            failed(state, meta, name, &e.to_string()).await?;
            return Err(provider_error(e));
        }
    };
    let user = match accounts::account_for(state, meta, &provider.config, &signed_in.identity).await
    {
        Ok(user) => user,
        Err(e) => {
            failed(state, meta, name, e.code.as_str()).await?;
            return Err(e);
        }
    };
    tracing::Span::current().record("user_id", tracing::field::display(user.id));
    if user.deactivated_at.is_some() {
        failed(state, meta, name, "deactivated").await?;
        return Err(AppError::new(
            ErrorCode::SsoNoAccount,
            "this account is deactivated",
        ));
    }
    if user.suspended_at.is_some() {
        failed(state, meta, name, "suspended").await?;
        return Err(AppError::new(
            ErrorCode::AccountSuspended,
            "this account is suspended",
        ));
    }
    let pair = login::finish(state, meta, &user, Scope::Full, &format!("sso:{name}")).await?;
    if let Some(id_token) = signed_in.id_token {
        remember_sign_in(state, pair.session_id, name, id_token).await;
    }
    Ok(Completed {
        pair,
        return_to: attempt.return_to,
    })
}

/// The attempt `state` names, taken (single use); it must be this browser's (the cookie) and
/// this provider's.
async fn take_attempt(
    state: &AppState,
    name: &str,
    returned: Option<&str>,
    cookie: Option<&str>,
) -> AppResult<Attempt> {
    let expired = || {
        AppError::new(
            ErrorCode::SsoExpired,
            "this sign-in attempt expired or was not started in this browser: start again",
        )
    };
    let returned = returned
        .filter(|s| !s.is_empty() && s.len() <= MAX_STATE_LEN)
        .ok_or_else(expired)?;
    let raw = state
        .kv
        .take(&attempt_key(returned))
        .await?
        .ok_or_else(expired)?;
    let same_browser =
        cookie.is_some_and(|c| opaque::constant_time_eq(c.as_bytes(), returned.as_bytes()));
    let attempt: Attempt = serde_json::from_slice(&raw).map_err(|_| expired())?;
    if !same_browser || attempt.provider != name {
        return Err(expired());
    }
    Ok(attempt)
}

async fn failed(state: &AppState, meta: RequestMeta, name: &str, reason: &str) -> AppResult<()> {
    let reason: String = reason.chars().take(300).collect();
    audit::record_alone(
        state,
        meta,
        audit::Entry {
            actor: None,
            action: audit::action::LOGIN_FAILED,
            target: None,
            details: Some(serde_json::json!({ "method": format!("sso:{name}"), "reason": reason })),
        },
    )
    .await
}

/// Keep the ID token for the provider's logout. Losing it only means the provider's own
/// session is not ended at logout, so a kv failure is logged, not returned.
async fn remember_sign_in(state: &AppState, session: Uuid, provider: &str, id_token: String) {
    let signed_in = SignedIn {
        provider: provider.to_string(),
        id_token,
    };
    let Ok(value) = serde_json::to_vec(&signed_in) else {
        return;
    };
    let ttl = state.config.auth.session_max_age.0;
    if let Err(e) = state.kv.set(&logout_key(session), &value, Some(ttl)).await {
        tracing::warn!(error = %e, "the provider's logout hint was not kept");
    }
}

/// Where to send the browser after ending `session` so the provider ends its session too
/// (`None`: the session did not come from a provider with a logout endpoint).
pub async fn end_session_url(state: &AppState, session: Uuid) -> Option<String> {
    let raw = state.kv.take(&logout_key(session)).await.ok()??;
    let signed_in: SignedIn = serde_json::from_slice(&raw).ok()?;
    let provider = state.sso.get(&signed_in.provider)?;
    let back = format!("{}/login", state.config.public_url());
    provider
        .end_session_url(state.sso.http(), Some(&signed_in.id_token), &back)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_landed_on() {
        assert_eq!(safe_return_to(Some("/c/general?x=1")), "/c/general?x=1");
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "javascript:alert(1)",
            "",
            "/a\nb",
        ] {
            assert_eq!(safe_return_to(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_return_to(None), "/");
    }
}
