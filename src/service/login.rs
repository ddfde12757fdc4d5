//! Password login, the optional second step (TOTP or recovery code), and bot client credentials.

use std::time::Duration;

use uuid::Uuid;

use super::{
    RequestMeta, accounts, audit,
    guard::{self, Account},
    limits, sessions,
    sessions::TokenPair,
    totp,
};
use crate::{
    app::AppState,
    db::entity::{credential, user},
    error::{AppError, AppResult, ErrorCode},
    identity::{jwt::Scope, opaque, password},
};

/// How long the second login step may take.
const MFA_TOKEN_TTL: Duration = Duration::from_secs(300);
/// Wrong codes allowed per MFA token before it is burned.
const MFA_MAX_ATTEMPTS: u64 = 5;

pub enum LoginOutcome {
    Tokens(TokenPair),
    MfaRequired { mfa_token: String },
}

fn invalid_credentials() -> AppError {
    AppError::new(ErrorCode::InvalidCredentials, "invalid login or password")
}

/// Password login. Rate limits and lockout: see [`guard`].
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty))]
pub async fn login(
    state: &AppState,
    meta: RequestMeta,
    login: &str,
    password: &str,
) -> AppResult<LoginOutcome> {
    let ip = meta.ip_string().unwrap_or_default();
    limits::hit(
        state,
        &format!("login:ip:{ip}"),
        state.settings.get().limits.login_per_ip,
    )
    .await?;
    let login_key = login.trim().to_lowercase();
    let (user, creds) = check_password(state, meta, &login_key, password).await?;
    if user.deactivated_at.is_some() {
        record_failure(state, meta, Some(user.id), &login_key, "deactivated").await?;
        return Err(invalid_credentials());
    }
    if user.suspended_at.is_some() {
        record_failure(state, meta, Some(user.id), &login_key, "suspended").await?;
        return Err(AppError::new(
            ErrorCode::AccountSuspended,
            "this account is suspended",
        ));
    }
    if creds.totp_enabled_at.is_some() {
        let mfa_token = opaque::generate();
        state
            .kv
            .set(
                &mfa_key(&mfa_token),
                user.id.as_bytes(),
                Some(MFA_TOKEN_TTL),
            )
            .await?;
        return Ok(LoginOutcome::MfaRequired { mfa_token });
    }
    let scope = if state.config.auth.require_totp {
        Scope::Enroll
    } else {
        Scope::Full
    };
    finish(state, meta, &user, scope, "password")
        .await
        .map(LoginOutcome::Tokens)
}

/// The user and credentials behind `login_key` when `password` is theirs; otherwise the failure
/// is recorded and counted ([`guard`]) and the answer is 401 (429 once the account is locked).
async fn check_password(
    state: &AppState,
    meta: RequestMeta,
    login_key: &str,
    password: &str,
) -> AppResult<(user::Model, credential::Model)> {
    let user = accounts::find_by_login(&state.db, login_key).await?;
    let account = match &user {
        Some(u) => {
            tracing::Span::current().record("user_id", tracing::field::display(u.id));
            Account::User(u.id)
        }
        None => Account::unknown(login_key),
    };
    guard::before_password(state, meta, &account).await?;
    let creds = match &user {
        Some(u) => Some(accounts::credentials(&state.db, u.id).await?),
        None => None,
    };
    let hash = creds.as_ref().and_then(|c| c.password_hash.as_deref());
    let matched = password::verify(password, hash).await;
    match (user, creds, matched) {
        (Some(user), Some(creds), true) => Ok((user, creds)),
        _ => {
            // Not attributed to the account: whoever typed this has not shown they own it.
            record_failure(state, meta, None, login_key, "bad_credentials").await?;
            match guard::password_failed(state, &account).await? {
                Some(refused) => Err(refused),
                None => Err(invalid_credentials()),
            }
        }
    }
}

fn mfa_key(token: &str) -> String {
    format!("mfa:{}", opaque::hash(token))
}

/// Second step: a TOTP code or a recovery code for the user behind `mfa_token`.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty))]
pub async fn login_totp(
    state: &AppState,
    meta: RequestMeta,
    mfa_token: &str,
    code: &str,
) -> AppResult<TokenPair> {
    let key = mfa_key(mfa_token);
    let invalid_token =
        || AppError::unauthorized("the MFA token is invalid or expired; log in again");
    let raw = state.kv.get(&key).await?.ok_or_else(invalid_token)?;
    let user_id = Uuid::from_slice(&raw).map_err(|_| invalid_token())?;
    tracing::Span::current().record("user_id", tracing::field::display(user_id));
    let user = accounts::get(&state.db, user_id).await?;
    guard::second_factor_attempt(state, user_id).await?;
    if super::authn::token_state_of(&user).active
        && totp::verify_second_factor(state, user_id, code).await?
    {
        guard::second_factor_passed(state, user_id).await?;
        // Single use: whoever takes the token first finishes the login.
        if state.kv.take(&key).await?.is_none() {
            return Err(invalid_token());
        }
        return finish(state, meta, &user, Scope::Full, "totp").await;
    }
    let attempts = state
        .kv
        .incr(&format!("{key}:attempts"), MFA_TOKEN_TTL)
        .await?;
    if attempts.count >= MFA_MAX_ATTEMPTS {
        state.kv.delete(&key).await?;
    }
    record_failure(
        state,
        meta,
        Some(user_id),
        &user.username,
        "bad_second_factor",
    )
    .await?;
    Err(AppError::new(ErrorCode::InvalidCredentials, "invalid code"))
}

pub(super) async fn finish(
    state: &AppState,
    meta: RequestMeta,
    user: &user::Model,
    scope: Scope,
    method: &str,
) -> AppResult<TokenPair> {
    // The person just proved who they are: drop this node's cached view of their role and token
    // version, so a change made elsewhere (another node, the CLI) applies from this session on.
    state.token_states.forget(&user.id);
    let (tx, _write) = state.begin_write().await?;
    let pair = sessions::start(state, &tx, user, scope).await?;
    audit::record(
        &tx,
        meta,
        audit::Entry {
            actor: Some(user.id),
            action: audit::action::LOGIN_SUCCEEDED,
            target: Some(("user", user.id)),
            details: Some(serde_json::json!({ "method": method })),
        },
    )
    .await?;
    tx.commit().await?;
    guard::signed_in(state, meta, user.id).await?;
    Ok(pair)
}

async fn record_failure(
    state: &AppState,
    meta: RequestMeta,
    user: Option<Uuid>,
    login: &str,
    reason: &str,
) -> AppResult<()> {
    // Bound what an attacker can make us store.
    let login: String = login.chars().take(254).collect();
    audit::record_alone(
        state,
        meta,
        audit::Entry {
            actor: user,
            action: audit::action::LOGIN_FAILED,
            target: user.map(|id| ("user", id)),
            details: Some(serde_json::json!({ "login": login, "reason": reason })),
        },
    )
    .await
}
