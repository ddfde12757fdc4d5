//! Password reset and email verification by mailed, single-use links.

use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};

use super::{
    Principal, RequestMeta, accounts, audit, email_tokens, email_tokens::Purpose, guard, limits,
    now,
};
use crate::{
    app::AppState,
    config::RateLimit,
    db::entity::user,
    domain::NewPassword,
    error::{AppError, AppResult},
    identity::{opaque, password},
    kv::Counter,
};

/// Always succeeds (202) whether or not the address has an account: nothing is revealed.
#[tracing::instrument(skip_all)]
pub async fn request_password_reset(
    state: &AppState,
    meta: RequestMeta,
    email: &str,
) -> AppResult<()> {
    let ip = meta.ip_string().unwrap_or_default();
    limits::hit(
        state,
        &format!("password_reset:ip:{ip}"),
        state.settings.get().limits.password_reset_per_ip,
    )
    .await?;
    let Some(user) = accounts::find_by_email(&state.db, email).await? else {
        return Ok(());
    };
    if user.deactivated_at.is_some() || user.role == "bot" {
        return Ok(());
    }
    let limit = state.settings.get().limits.password_reset_per_address;
    if over_mail_limit(state, "password_reset", &user.email, limit)
        .await?
        .is_some()
    {
        // Same answer as ever: the caller must not learn that this address has an account.
        tracing::info!(user_id = %user.id, "password-reset mail limit reached; no mail sent");
        return Ok(());
    }
    let user_id = user.id;
    let token = state
        .write(move |tx| {
            Box::pin(async move { email_tokens::create(tx, user_id, Purpose::PasswordReset).await })
        })
        .await?;
    mail_reset_link(state, &user, &token, ResetReason::Asked);
    Ok(())
}

/// Why a reset link is mailed.
pub enum ResetReason {
    /// The user asked for it ("forgot password").
    Asked,
    /// An admin reset the password: the old one no longer works.
    Admin,
}

/// Mail `user` the link that sets a new password with `token`.
pub fn mail_reset_link(state: &AppState, user: &user::Model, token: &str, reason: ResetReason) {
    let link = format!("{}/reset-password?token={token}", state.config.public_url());
    let body = match reason {
        ResetReason::Asked => format!(
            "Hello {name},\n\nSomeone (hopefully you) asked to reset your CoLink password.\n\
             Open this link within an hour to choose a new one:\n\n{link}\n\n\
             If you did not ask for this, ignore this mail; your password stays as it is.\n",
            name = user.display_name
        ),
        ResetReason::Admin => format!(
            "Hello {name},\n\nAn administrator of CoLink reset your password, and signed you out \
             everywhere.\nOpen this link within an hour to choose a new one:\n\n{link}\n\n\
             When it has expired, ask for a new link with \"Forgot password\" on the sign-in \
             page.\n",
            name = user.display_name
        ),
    };
    state.mailer.send_later(
        user.email.clone(),
        "Reset your CoLink password".into(),
        body,
    );
}

/// Set a new password with a reset token; every session of the user ends.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty))]
pub async fn confirm_password_reset(
    state: &AppState,
    meta: RequestMeta,
    token: &str,
    new_password: &str,
) -> AppResult<()> {
    let token = token.to_string();
    // Check the password before spending the token, so a weak choice can be corrected; the
    // user's own name and address count against it.
    let owner = match email_tokens::peek(&state.db, &token, Purpose::PasswordReset).await? {
        Some(id) => Some(accounts::get(&state.db, id).await?),
        None => None,
    };
    let context: Vec<&str> = owner
        .iter()
        .flat_map(|u| [u.username.as_str(), u.email.as_str()])
        .collect();
    let hash = {
        let candidate =
            NewPassword::parse(new_password, &context).map_err(|e| e.for_field("new_password"))?;
        password::hash(candidate.expose())
            .await
            .map_err(AppError::internal)?
    };
    let user_id = state
        .write(|tx| {
            Box::pin(async move {
                let user_id = email_tokens::consume(tx, &token, Purpose::PasswordReset).await?;
                let user = accounts::get(tx, user_id).await?;
                accounts::set_password(tx, user_id, hash).await?;
                // Following the link proves the address too.
                if user.email_verified_at.is_none() {
                    let mut u = user.into_active_model();
                    u.email_verified_at = Set(Some(now()));
                    u.update(tx).await?;
                }
                audit::record(
                    tx,
                    meta,
                    audit::Entry {
                        actor: Some(user_id),
                        action: audit::action::PASSWORD_RESET,
                        target: Some(("user", user_id)),
                        details: None,
                    },
                )
                .await?;
                Ok(user_id)
            })
        })
        .await?;
    tracing::Span::current().record("user_id", tracing::field::display(user_id));
    state.token_states.forget(&user_id);
    Ok(())
}

/// Change a signed-in user's password: the current one is confirmed first (as for TOTP
/// changes: 403 `invalid_password`, counted like a failed login). Like every password change,
/// it ends every session of the user, this one too: the client signs in again with the new
/// password.
#[tracing::instrument(skip_all, fields(user_id = %principal.user_id))]
pub async fn change_password(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    current: &str,
    new_password: &str,
) -> AppResult<()> {
    let user_id = principal.user_id;
    guard::confirm_password(state, meta, user_id, current).await?;
    let user = accounts::get(&state.db, user_id).await?;
    let hash = {
        let context = [user.username.as_str(), user.email.as_str()];
        let candidate =
            NewPassword::parse(new_password, &context).map_err(|e| e.for_field("new_password"))?;
        password::hash(candidate.expose())
            .await
            .map_err(AppError::internal)?
    };
    state
        .write(|tx| {
            Box::pin(async move {
                accounts::set_password(tx, user_id, hash).await?;
                audit::record(
                    tx,
                    meta,
                    audit::Entry {
                        actor: Some(user_id),
                        action: audit::action::PASSWORD_CHANGED,
                        target: Some(("user", user_id)),
                        details: None,
                    },
                )
                .await
            })
        })
        .await?;
    state.token_states.forget(&user_id);
    Ok(())
}

/// Counts one mail of `kind` to `address`; the counter when that is over `limit` (then no mail
/// may be sent). Keyed by a hash of the normalised address, so the kv store holds no addresses.
async fn over_mail_limit(
    state: &AppState,
    kind: &str,
    address: &str,
    limit: RateLimit,
) -> AppResult<Option<Counter>> {
    let address = opaque::hash(&address.trim().to_lowercase());
    let counter = limits::count(state, &format!("mail:{kind}:{address}"), limit).await?;
    Ok((counter.count > u64::from(limit.max)).then_some(counter))
}

/// Mail a verification link; 429 when the address has had `limits.verification_per_address`
/// mails already.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn send_verification(state: &AppState, user: &user::Model) -> AppResult<()> {
    let limit = state.settings.get().limits.verification_per_address;
    if let Some(counter) = over_mail_limit(state, "verify_email", &user.email, limit).await? {
        return Err(limits::refused(counter));
    }
    let user_id = user.id;
    let token = state
        .write(move |tx| {
            Box::pin(async move { email_tokens::create(tx, user_id, Purpose::VerifyEmail).await })
        })
        .await?;
    let link = format!("{}/verify-email?token={token}", state.config.public_url());
    let body = format!(
        "Welcome to CoLink, {name}!\n\nConfirm your email address within 24 hours:\n\n{link}\n",
        name = user.display_name
    );
    state.mailer.send_later(
        user.email.clone(),
        "Confirm your email address".into(),
        body,
    );
    Ok(())
}

#[tracing::instrument(skip_all)]
pub async fn verify_email(state: &AppState, token: &str) -> AppResult<()> {
    let token = token.to_string();
    state
        .write(|tx| {
            Box::pin(async move {
                let user_id = email_tokens::consume(tx, &token, Purpose::VerifyEmail).await?;
                let mut u = accounts::get(tx, user_id).await?.into_active_model();
                u.email_verified_at = Set(Some(now()));
                u.updated_at = Set(now());
                u.update(tx).await?;
                Ok(())
            })
        })
        .await?;
    Ok(())
}
