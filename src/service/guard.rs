//! Brute-force protection for what only an account's owner should know: the password and the
//! second factor. Limits are in `[limits]`; counters live in the kv store (fixed windows, so they
//! survive restarts) and are keyed by the resolved user id, never by what was typed.
//!
//! **Per address** (`login_per_ip`): every login attempt from one client address counts, before
//! anything is checked. (It guards the server's CPU as much as the accounts.)
//!
//! **Per account** (`login_per_account`) counts only attempts whose password was checked and was
//! wrong — a login refused earlier (per-address limit, unparsable body) costs the account nothing.
//! `alice` and `alice@example.com` resolve to one user and share one budget; a login naming no
//! account gets a budget of its own (keyed by a hash of the name) and the same answers, so the
//! limit does not reveal which accounts exist.
//!
//! - Below `max` failures in the window every attempt is checked: right → in, wrong → counted.
//! - At `max` the account is locked until the window ends, with one exception: an address this
//!   account signed in from successfully (tokens issued, so past any second factor) within
//!   `auth.refresh_ttl` is still checked. There the owner's correct password gets through, and
//!   wrong ones keep being counted and are answered 429. From any other address the request is
//!   answered 429 before the password is looked at.
//!
//! So an attacker who does not know the password can use up the budget, but cannot lock the
//! owner out of the places they use. Letting a correct password through from *anywhere* instead
//! would make the per-account limit limit nothing: every guess would still be checked and a right
//! one would still succeed, leaving only the per-address limit between a botnet and the account.
//! The price: during an attack the owner cannot sign in from a new address until the window
//! ends (a password reset by mail still works).
//!
//! A wrong current password given to TOTP setup or removal counts against the same budget and
//! follows the same rule (answered 403 `invalid_password`, 429 once locked).
//!
//! **Second factor** (`second_factor_per_user`): every code tried for a user (login step two,
//! TOTP removal) is counted before it is checked, and a correct one clears the count. More than
//! `max` codes without a correct one → 429 until the window ends, whatever `mfa_token` is used
//! (a fresh one does not help). Counting before checking keeps concurrent guesses within `max`.

use uuid::Uuid;

use super::{RequestMeta, accounts, audit, limits};
use crate::{
    app::AppState,
    error::{AppError, AppResult, ErrorCode},
    identity::{opaque, password},
};

/// Whose password budget an attempt is charged to.
#[derive(Debug, Clone)]
pub enum Account {
    User(Uuid),
    /// A login that names no account (the key is a hash of the normalised name).
    Unknown(String),
}

impl Account {
    pub fn unknown(login: &str) -> Self {
        Self::Unknown(opaque::hash(login))
    }

    fn failures_key(&self) -> String {
        match self {
            Account::User(id) => format!("login:failures:{id}"),
            Account::Unknown(hash) => format!("login:failures:unknown:{hash}"),
        }
    }
}

fn known_address_key(user_id: Uuid, meta: RequestMeta) -> String {
    format!(
        "login:known:{user_id}:{}",
        meta.ip_string().unwrap_or_default()
    )
}

/// Before checking a password: refuse (429) when the account is locked and this address is not
/// one it signed in from.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn before_password(
    state: &AppState,
    meta: RequestMeta,
    account: &Account,
) -> AppResult<()> {
    let limit = state.settings.get().limits.login_per_account;
    let Some(counter) = limits::exhausted(state, &account.failures_key(), limit).await? else {
        return Ok(());
    };
    let known = match account {
        Account::User(id) => state.kv.get(&known_address_key(*id, meta)).await?.is_some(),
        Account::Unknown(_) => false,
    };
    if known {
        return Ok(());
    }
    Err(limits::refused(counter))
}

/// After a wrong password: count it. Returns the error to answer instead of the usual one when
/// the account is now over its budget (429).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn password_failed(state: &AppState, account: &Account) -> AppResult<Option<AppError>> {
    let limit = state.settings.get().limits.login_per_account;
    let counter = limits::count(state, &account.failures_key(), limit).await?;
    Ok((counter.count > u64::from(limit.max)).then(|| limits::refused(counter)))
}

/// After a completed sign-in: remember the address, so a locked account still admits its owner
/// from here.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
pub async fn signed_in(state: &AppState, meta: RequestMeta, user_id: Uuid) -> AppResult<()> {
    state
        .kv
        .set(
            &known_address_key(user_id, meta),
            b"1",
            Some(state.config.auth.refresh_ttl.0),
        )
        .await?;
    Ok(())
}

/// Check the current password of a signed-in user (before security changes such as TOTP setup
/// and removal), under the same budget and rules as a login. Wrong → 403 `invalid_password`
/// (429 once the budget is used up), recorded as a failed login.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
pub async fn confirm_password(
    state: &AppState,
    meta: RequestMeta,
    user_id: Uuid,
    candidate: &str,
) -> AppResult<()> {
    let account = Account::User(user_id);
    before_password(state, meta, &account).await?;
    let creds = accounts::credentials(&state.db, user_id).await?;
    if candidate.len() <= 1024 && password::verify(candidate, creds.password_hash.as_deref()).await
    {
        return Ok(());
    }
    audit::record_alone(
        state,
        meta,
        audit::Entry {
            actor: Some(user_id),
            action: audit::action::LOGIN_FAILED,
            target: Some(("user", user_id)),
            details: Some(serde_json::json!({ "reason": "bad_current_password" })),
        },
    )
    .await?;
    if let Some(refused) = password_failed(state, &account).await? {
        return Err(refused);
    }
    Err(AppError::new(
        ErrorCode::InvalidPassword,
        "the current password is wrong",
    ))
}

fn second_factor_key(user_id: Uuid) -> String {
    format!("second_factor:{user_id}")
}

/// Count a second-factor code about to be checked for `user_id`; 429 when over the budget.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
pub async fn second_factor_attempt(state: &AppState, user_id: Uuid) -> AppResult<()> {
    limits::hit(
        state,
        &second_factor_key(user_id),
        state.settings.get().limits.second_factor_per_user,
    )
    .await
}

/// A correct code: the count starts afresh.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
pub async fn second_factor_passed(state: &AppState, user_id: Uuid) -> AppResult<()> {
    limits::reset(state, &second_factor_key(user_id)).await
}
