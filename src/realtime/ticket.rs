//! Single-use WebSocket tickets, for clients that would rather not put an access token in a URL:
//! `POST /api/v1/ws/ticket` (bearer auth) stores a random ticket in the kv store for
//! `realtime.ticket_ttl`; `/ws?ticket=` takes it (read-and-delete, so it works once). Only the
//! ticket's SHA-256 is stored; the value records the user and their token version, so a ticket
//! dies with the session state that issued it (logout-all, suspension, password reset).

use uuid::Uuid;

use crate::{
    app::AppState,
    error::{AppError, AppResult},
    identity::{jwt::Scope, opaque},
    service::{Principal, authn, limits},
};

fn key(ticket: &str) -> String {
    format!("ws-ticket:{}", opaque::hash(ticket))
}

/// A new ticket for `principal` and its lifetime in seconds.
pub async fn issue(state: &AppState, principal: Principal) -> AppResult<(String, u64)> {
    limits::spend(state, principal.user_id, limits::Write::WsTicket).await?;
    let version = authn::token_state(state, principal.user_id)
        .await?
        .map(|s| s.version)
        .ok_or_else(|| AppError::unauthorized("the access token is invalid"))?;
    let ticket = opaque::generate();
    let ttl = state.config.realtime.ticket_ttl.0;
    // The connection inherits the access token's session and expiry.
    let session = principal
        .session_id
        .map(|s| s.to_string())
        .unwrap_or_default();
    let expires = principal.expires_at.unwrap_or(i64::MAX);
    let value = format!("{}:{version}:{session}:{expires}", principal.user_id);
    state
        .kv
        .set(&key(&ticket), value.as_bytes(), Some(ttl))
        .await?;
    Ok((ticket, ttl.as_secs()))
}

/// The principal a ticket was issued to, once; `None` when unknown, used, expired or revoked.
pub async fn redeem(state: &AppState, ticket: &str) -> AppResult<Option<Principal>> {
    if ticket.is_empty() || ticket.len() > 128 {
        return Ok(None);
    }
    let key = key(ticket);
    // Look first: an unknown ticket costs a read, not a durable write.
    if state.kv.get(&key).await?.is_none() {
        return Ok(None);
    }
    let Some(value) = state.kv.take(&key).await? else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&value);
    let mut parts = text.split(':');
    let (Some(user), Some(version), Some(session), Some(expires)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(None);
    };
    let (Ok(user_id), Ok(version), Ok(expires_at)) = (
        user.parse::<Uuid>(),
        version.parse::<i32>(),
        expires.parse::<i64>(),
    ) else {
        return Ok(None);
    };
    let session_id = session.parse::<Uuid>().ok();
    if let Some(sid) = session_id
        && !authn::session_open(state, sid).await?
    {
        return Ok(None);
    }
    let Some(current) = authn::token_state(state, user_id).await? else {
        return Ok(None);
    };
    if !current.active || current.version != version {
        return Ok(None);
    }
    Ok(Some(Principal {
        user_id,
        role: current.role,
        scope: Scope::Full,
        session_id,
        expires_at: Some(expires_at),
    }))
}
