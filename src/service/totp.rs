//! TOTP two-factor authentication: enrollment, recovery codes, and checking a second factor.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, Set,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use super::{Principal, RequestMeta, accounts, audit, guard, now};
use crate::{
    app::AppState,
    db::{
        WriteGate,
        entity::{credential, recovery_code as recovery_code_row},
    },
    error::{AppError, AppResult, ErrorCode},
    identity::{keys::Keys, opaque, recovery_code, totp},
};

const RECOVERY_CODES: usize = 10;

pub struct Enrollment {
    pub secret: String,
    pub otpauth_url: String,
}

/// Start enrollment: a new secret, stored (encrypted) as pending until confirmed with a code.
/// Needs the current password (see [`guard::confirm_password`]).
#[tracing::instrument(skip_all, fields(user_id = %principal.user_id))]
pub async fn setup(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    password: &str,
) -> AppResult<Enrollment> {
    guard::confirm_password(state, meta, principal.user_id, password).await?;
    let user = accounts::get(&state.db, principal.user_id).await?;
    let creds = accounts::credentials(&state.db, user.id).await?;
    if creds.totp_enabled_at.is_some() {
        return Err(AppError::conflict(
            "two-factor authentication is already enabled",
        ));
    }
    let secret = totp::generate_secret();
    let url = totp::otpauth_url(&secret, &user.username).map_err(AppError::internal)?;
    let mut active = creds.into_active_model();
    active.totp_pending_secret = Set(Some(state.keys.encrypt(&secret, user.id.as_bytes())));
    active.updated_at = Set(now());
    state
        .write(move |tx| Box::pin(async move { Ok(active.update(tx).await?) }))
        .await?;
    Ok(Enrollment {
        secret: totp::base32(&secret),
        otpauth_url: url,
    })
}

/// Finish enrollment with a code from the authenticator; returns the recovery codes (shown once).
#[tracing::instrument(skip_all, fields(user_id = %principal.user_id))]
pub async fn confirm(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    code: &str,
) -> AppResult<Vec<String>> {
    let user_id = principal.user_id;
    let creds = accounts::credentials(&state.db, user_id).await?;
    if creds.totp_enabled_at.is_some() {
        return Err(AppError::conflict(
            "two-factor authentication is already enabled",
        ));
    }
    let Some(pending) = creds.totp_pending_secret.clone() else {
        return Err(AppError::conflict("start with POST /auth/totp/setup"));
    };
    let secret = state
        .keys
        .decrypt(&pending, user_id.as_bytes())
        .map_err(AppError::internal)?;
    let step = totp::matching_step(&secret, code, totp::now_unix()).ok_or_else(|| {
        AppError::new(
            ErrorCode::InvalidCode,
            "the code does not match; check the device clock",
        )
    })?;
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| recovery_code::generate())
        .collect();
    let hashes: Vec<String> = codes
        .iter()
        .filter_map(|c| recovery_code::normalize(c))
        .map(|c| recovery_code::stored(&state.keys, &c))
        .collect();
    state
        .write(|tx| {
            Box::pin(async move {
                let mut active = creds.into_active_model();
                active.totp_secret = Set(Some(pending));
                active.totp_pending_secret = Set(None);
                active.totp_enabled_at = Set(Some(now()));
                active.totp_last_step = Set(Some(step));
                active.updated_at = Set(now());
                active.update(tx).await?;
                replace_recovery_codes(tx, user_id, hashes).await?;
                audit::record(
                    tx,
                    meta,
                    audit::Entry {
                        actor: Some(user_id),
                        action: audit::action::TOTP_ENABLED,
                        target: Some(("user", user_id)),
                        details: None,
                    },
                )
                .await
            })
        })
        .await?;
    Ok(codes)
}

/// Turn 2FA off; needs the current password and a current code (or a recovery code). Codes
/// tried here count against the user's second-factor budget ([`guard`]).
#[tracing::instrument(skip_all, fields(user_id = %principal.user_id))]
pub async fn disable(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    password: &str,
    code: &str,
) -> AppResult<()> {
    if state.config.auth.require_totp {
        return Err(AppError::forbidden(
            "two-factor authentication is required on this server",
        ));
    }
    let user_id = principal.user_id;
    let creds = accounts::credentials(&state.db, user_id).await?;
    if creds.totp_enabled_at.is_none() {
        return Err(AppError::conflict(
            "two-factor authentication is not enabled",
        ));
    }
    guard::confirm_password(state, meta, user_id, password).await?;
    guard::second_factor_attempt(state, user_id).await?;
    if !verify_second_factor(state, user_id, code).await? {
        return Err(AppError::new(
            ErrorCode::InvalidCode,
            "the code does not match",
        ));
    }
    guard::second_factor_passed(state, user_id).await?;
    state
        .write(|tx| {
            Box::pin(async move {
                clear(tx, user_id).await?;
                audit::record(
                    tx,
                    meta,
                    audit::Entry {
                        actor: Some(user_id),
                        action: audit::action::TOTP_DISABLED,
                        target: Some(("user", user_id)),
                        details: None,
                    },
                )
                .await
            })
        })
        .await?;
    Ok(())
}

/// Turn 2FA off: forget the secret (and any enrolment in progress) and the recovery codes.
pub async fn clear(db: &impl ConnectionTrait, user_id: Uuid) -> AppResult<()> {
    let mut active = accounts::credentials(db, user_id)
        .await?
        .into_active_model();
    active.totp_secret = Set(None);
    active.totp_pending_secret = Set(None);
    active.totp_enabled_at = Set(None);
    active.totp_last_step = Set(None);
    active.updated_at = Set(now());
    active.update(db).await?;
    replace_recovery_codes(db, user_id, Vec::new()).await
}

async fn replace_recovery_codes(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    hashes: Vec<String>,
) -> AppResult<()> {
    recovery_code_row::Entity::delete_many()
        .filter(recovery_code_row::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    for hash in hashes {
        recovery_code_row::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user_id),
            code_hash: Set(hash),
            used_at: Set(None),
            created_at: Set(now()),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// True when `code` is a current TOTP code not used before, or an unused recovery code (which
/// is then spent). Both claims are conditional updates through the write gate, so a code works
/// once even under concurrent requests.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn verify_second_factor(state: &AppState, user_id: Uuid, code: &str) -> AppResult<bool> {
    let code = code.trim();
    if code.len() > 64 {
        return Ok(false);
    }
    let creds = accounts::credentials(&state.db, user_id).await?;
    let Some(sealed) = creds
        .totp_secret
        .as_deref()
        .filter(|_| creds.totp_enabled_at.is_some())
    else {
        return Ok(false);
    };
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        let secret = state
            .keys
            .decrypt(sealed, user_id.as_bytes())
            .map_err(AppError::internal)?;
        let Some(step) = totp::matching_step(&secret, code, totp::now_unix()) else {
            return Ok(false);
        };
        let claim = credential::Entity::update_many()
            .col_expr(credential::Column::TotpLastStep, Expr::value(step))
            .filter(credential::Column::UserId.eq(user_id))
            .filter(
                credential::Column::TotpLastStep
                    .is_null()
                    .or(credential::Column::TotpLastStep.lt(step)),
            );
        let claimed = state
            .write(move |tx| Box::pin(async move { Ok(claim.exec(tx).await?) }))
            .await?;
        return Ok(claimed.rows_affected == 1);
    }
    spend_recovery_code(state, user_id, code).await
}

/// Spend `code` if it is one of the user's unused recovery codes. The stored forms are compared
/// in constant time (all of them, whatever matches), then the matching row is claimed
/// atomically, so a code works once even under concurrent requests.
async fn spend_recovery_code(state: &AppState, user_id: Uuid, code: &str) -> AppResult<bool> {
    let candidates = recovery_code::candidates(&state.keys, code);
    if candidates.is_empty() {
        return Ok(false);
    }
    let unused = recovery_code_row::Entity::find()
        .filter(recovery_code_row::Column::UserId.eq(user_id))
        .filter(recovery_code_row::Column::UsedAt.is_null())
        .all(&state.db)
        .await?;
    let mut matched = None;
    for row in &unused {
        for candidate in &candidates {
            if opaque::constant_time_eq(row.code_hash.as_bytes(), candidate.as_bytes()) {
                matched = Some(row.id);
            }
        }
    }
    let Some(id) = matched else {
        return Ok(false);
    };
    let claim = recovery_code_row::Entity::update_many()
        .col_expr(recovery_code_row::Column::UsedAt, Expr::value(now()))
        .filter(recovery_code_row::Column::Id.eq(id))
        .filter(recovery_code_row::Column::UsedAt.is_null());
    let spent = state
        .write(move |tx| Box::pin(async move { Ok(claim.exec(tx).await?) }))
        .await?;
    Ok(spent.rows_affected == 1)
}

/// Re-key recovery codes stored in the former plain-SHA-256 form (see
/// `identity::recovery_code`). Run at start-up, through the write gate; returns how many rows
/// changed.
pub async fn rekey_legacy_recovery_codes(
    db: &DatabaseConnection,
    gate: &WriteGate,
    keys: &Keys,
) -> AppResult<u64> {
    let legacy: Vec<(Uuid, String, String)> = recovery_code_row::Entity::find()
        .filter(recovery_code_row::Column::CodeHash.not_like("v%:%"))
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            let rekeyed = recovery_code::rekeyed_legacy(keys, &row.code_hash);
            (row.id, row.code_hash, rekeyed)
        })
        .collect();
    if legacy.is_empty() {
        return Ok(0);
    }
    crate::db::write(db, gate, move |tx| {
        Box::pin(async move {
            let mut changed = 0;
            for (id, old, rekeyed) in legacy {
                changed += recovery_code_row::Entity::update_many()
                    .col_expr(recovery_code_row::Column::CodeHash, Expr::value(rekeyed))
                    .filter(recovery_code_row::Column::Id.eq(id))
                    .filter(recovery_code_row::Column::CodeHash.eq(old))
                    .exec(tx)
                    .await?
                    .rows_affected;
            }
            Ok(changed)
        })
    })
    .await
}
