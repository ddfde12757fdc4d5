//! Sessions: an access token (JWT) plus a refresh token that rotates on every use. All refresh
//! tokens descending from one login form a family — the session, whose id (a UUIDv7, so it
//! carries its start time) every access token names in `sid`. Presenting a refresh token that
//! was already rotated means it was stolen or replayed, and revokes the whole family.
//!
//! Ending a session (logout, reuse) or all of a user's (logout-all, password change,
//! suspension, deactivation) refuses their access tokens at once (see `authn`) and writes a
//! `session.revoked` event in the same transaction: the realtime hub closes the matching
//! WebSocket connections (4001) as soon as it is published. A session lasts at most
//! `auth.session_max_age` from its login, however often it is refreshed.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use super::{RequestMeta, accounts, audit, authn, events, now};
pub use crate::domain::events::Revoked;
use crate::{
    app::AppState,
    db::entity::{refresh_token, user},
    domain::events::{Event, EventData, SessionRevoked},
    error::{AppError, AppResult, ErrorCode},
    identity::{
        jwt::{Grant, Scope},
        opaque,
    },
};

#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub scope: Scope,
    /// The session (refresh-token family) these tokens belong to.
    pub session_id: Uuid,
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
        access_token: access_token(state, user, family_id, scope),
        refresh_token: refresh,
        expires_in: state.config.auth.access_ttl.secs(),
        scope,
        session_id: family_id,
    })
}

/// An access token for `user` in `session`, expiring with the session at the latest.
fn access_token(state: &AppState, user: &user::Model, session: Uuid, scope: Scope) -> String {
    let left = Ord::max(seconds_left(state, session), 1);
    state.jwt.issue(Grant {
        user_id: user.id,
        version: user.token_version,
        scope,
        session: Some(session),
        ttl_secs: Ord::min(state.config.auth.access_ttl.secs(), left),
    })
}

/// Seconds until `session` reaches `auth.session_max_age` (0 when it has).
fn seconds_left(state: &AppState, session: Uuid) -> u64 {
    let started = session
        .get_timestamp()
        .map(|t| t.to_unix().0)
        .unwrap_or_default();
    let ends = started.saturating_add(state.config.auth.session_max_age.secs());
    let now = u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0);
    ends.saturating_sub(now)
}

/// Write the `session.revoked` event for `user`'s `session` (all of them when `None`).
pub async fn emit_revoked(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    session: Option<Uuid>,
    reason: Revoked,
) -> AppResult<()> {
    let event = Event {
        id: Uuid::now_v7(),
        occurred_at: now(),
        workspace_id: None,
        channel_id: None,
        actor_id: Some(user_id),
        seq: None,
        traceparent: None,
        data: EventData::SessionRevoked(SessionRevoked {
            user_id,
            session_id: session,
            reason,
        }),
    };
    events::emit(db, &event).await
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
    let seen = state.token_states.generation();
    let (tx, write) = state.begin_write().await?;
    let outcome: Result<TokenPair, (Uuid, Uuid)> = {
        let tx = &tx;
        async {
            let Some(token) = refresh_token::Entity::find()
                .filter(refresh_token::Column::TokenHash.eq(hash))
                .one(tx)
                .await?
            else {
                return Err(invalid_refresh());
            };
            if token.revoked_at.is_some()
                || token.expires_at <= now()
                || seconds_left(state, token.family_id) == 0
            {
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
                revoke_family(tx, token.user_id, token.family_id).await?;
                return Ok(Err((token.user_id, token.family_id)));
            }
            let user = accounts::get(tx, token.user_id).await?;
            tracing::Span::current().record("user_id", tracing::field::display(user.id));
            let current = authn::token_state_of(&user);
            if !current.active {
                return Err(invalid_refresh());
            }
            // The user row was just read: refresh this node's view of their role and version.
            state.token_states.put(user.id, current, seen);
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
    events::commit(state, tx).await?;
    // The audit entry below takes the write gate itself.
    drop(write);
    match outcome {
        Ok(pair) => Ok(pair),
        Err((user_id, session)) => {
            state.sessions.forget(&session);
            tracing::warn!(user_id = %user_id, "refresh token reuse detected; session family revoked");
            audit::record_alone(
                state,
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

async fn revoke_family(db: &impl ConnectionTrait, user_id: Uuid, family_id: Uuid) -> AppResult<()> {
    let revoked = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now()))
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if revoked.rows_affected > 0 {
        emit_revoked(db, user_id, Some(family_id), Revoked::Credential).await?;
    }
    Ok(())
}

/// A session (one login: a refresh-token family) as its owner sees it.
pub struct SessionInfo {
    pub id: Uuid,
    pub started_at: time::OffsetDateTime,
    /// The last refresh (or the login): the session was in use then.
    pub last_active_at: time::OffsetDateTime,
    pub expires_at: time::OffsetDateTime,
}

/// The most sessions `GET /auth/sessions` lists.
pub const MAX_LISTED: u64 = 200;

/// The user's live sessions, most recently active first: each family's current refresh token
/// (neither rotated, revoked nor expired).
pub async fn list(state: &AppState, user_id: Uuid) -> AppResult<Vec<SessionInfo>> {
    use sea_orm::{QueryOrder, QuerySelect};
    let now = now();
    let live = refresh_token::Entity::find()
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .filter(refresh_token::Column::RotatedAt.is_null())
        .filter(refresh_token::Column::ExpiresAt.gt(now))
        .order_by_desc(refresh_token::Column::CreatedAt)
        .limit(MAX_LISTED)
        .all(&state.db)
        .await?;
    Ok(live
        .into_iter()
        .map(|t| {
            let started_at = t
                .family_id
                .get_timestamp()
                .and_then(|ts| {
                    let (secs, nanos) = ts.to_unix();
                    let secs = i64::try_from(secs).ok()?;
                    time::OffsetDateTime::from_unix_timestamp(secs)
                        .ok()
                        .map(|at| at + time::Duration::nanoseconds(i64::from(nanos)))
                })
                .unwrap_or(t.created_at);
            let session_end = started_at
                + time::Duration::seconds(
                    i64::try_from(state.config.auth.session_max_age.secs()).unwrap_or(i64::MAX),
                );
            SessionInfo {
                id: t.family_id,
                started_at,
                last_active_at: t.created_at,
                expires_at: Ord::min(t.expires_at, session_end),
            }
        })
        .collect())
}

/// End one of the user's own sessions (its sockets close, its access tokens stop working);
/// 404 when it is not theirs or already over.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn end(state: &AppState, user_id: Uuid, session: Uuid) -> AppResult<()> {
    end_recorded(state, user_id, session, None).await
}

/// [`end`], writing `recorded` (an admin ending someone's session) in the same transaction.
pub async fn end_recorded(
    state: &AppState,
    user_id: Uuid,
    session: Uuid,
    recorded: Option<(RequestMeta, audit::Entry<'static>)>,
) -> AppResult<()> {
    let live = refresh_token::Entity::find()
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::FamilyId.eq(session))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .one(&state.db)
        .await?;
    if live.is_none() {
        return Err(AppError::not_found("session"));
    }
    let (tx, _write) = state.begin_write().await?;
    revoke_family(&tx, user_id, session).await?;
    if let Some((meta, entry)) = recorded {
        audit::record(&tx, meta, entry).await?;
    }
    events::commit(state, tx).await?;
    state.sessions.forget(&session);
    Ok(())
}

/// End the session the refresh token `presented` belongs to; that session's id. Unknown tokens
/// are ignored (idempotent: `None`).
#[tracing::instrument(skip_all)]
pub async fn revoke(state: &AppState, presented: &str) -> AppResult<Option<Uuid>> {
    let Some(token) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(opaque::hash(presented)))
        .one(&state.db)
        .await?
    else {
        return Ok(None);
    };
    let (tx, _write) = state.begin_write().await?;
    revoke_family(&tx, token.user_id, token.family_id).await?;
    events::commit(state, tx).await?;
    state.sessions.forget(&token.family_id);
    Ok(Some(token.family_id))
}

/// Revoke every session of `user_id` and invalidate every access token issued so far. Used by
/// logout-all, password reset, suspension and deactivation. After the transaction commits, the
/// caller must `state.token_states.forget(user_id)` (see [`logout_all`]) so this node sees the
/// change at once; clearing the cache before the commit could let a concurrent request re-cache
/// the old version.
pub async fn revoke_all(db: &impl ConnectionTrait, user_id: Uuid) -> AppResult<()> {
    emit_revoked(db, user_id, None, Revoked::Credential).await?;
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
    state.token_states.forget(&user_id);
    Ok(())
}
