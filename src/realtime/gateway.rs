//! `GET /ws`: authenticate (`?token=` access JWT or `?ticket=` single-use ticket), enforce the
//! per-user connection limit, upgrade, and hand the socket to [`connection::run`].
//!
//! A refused credential still completes the upgrade and then closes with 4001, so browsers (which
//! hide HTTP errors on WebSocket handshakes) see why. Credentials are never logged: the access
//! log records the path only.

use std::sync::Arc;

use futures_util::SinkExt;
use poem::{
    IntoResponse, Request, Response, handler,
    web::{
        Data,
        websocket::{CloseCode, Message, WebSocket, WebSocketConfig},
    },
};

use super::{
    connection::{self, Identity},
    protocol::{ServerFrame, close, code},
    ticket,
};
use crate::{
    app::AppState,
    domain::Role,
    error::{AppError, ErrorCode},
    service::{accounts, authn},
};

enum Credential {
    Token(String),
    Ticket(String),
    Missing,
}

fn credential(query: Option<&str>) -> Credential {
    let mut found = Credential::Missing;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "token" => found = Credential::Token(value.into_owned()),
            "ticket" if matches!(found, Credential::Missing) => {
                found = Credential::Ticket(value.into_owned())
            }
            _ => {}
        }
    }
    found
}

/// Why a connection is refused.
enum Refusal {
    /// Missing, invalid, expired or revoked credential.
    Credential,
    /// The check itself failed (database or kv trouble): try again.
    Unavailable,
}

fn refusal(e: &AppError) -> Refusal {
    match e.code {
        ErrorCode::Internal | ErrorCode::Unavailable => Refusal::Unavailable,
        _ => Refusal::Credential,
    }
}

async fn authenticate(state: &AppState, credential: Credential) -> Result<Identity, Refusal> {
    let checked_at = crate::domain::clock::now();
    let principal = match credential {
        Credential::Token(token) => authn::authenticate(state, &token)
            .await
            .map_err(|e| refusal(&e))?,
        Credential::Ticket(t) => ticket::redeem(state, &t)
            .await
            .map_err(|e| refusal(&e))?
            .ok_or(Refusal::Credential)?,
        Credential::Missing => return Err(Refusal::Credential),
    };
    if !principal.scope.reads() {
        return Err(Refusal::Credential);
    }
    let token_version = authn::token_state(state, principal.user_id)
        .await
        .map_err(|e| refusal(&e))?
        .ok_or(Refusal::Credential)?
        .version;
    let username = accounts::get(&state.db, principal.user_id)
        .await
        .map_err(|e| refusal(&e))?
        .username;
    // Guests hear only about the conversations they were added to, not a workspace's public
    // channels.
    let workspaces = if principal.role == Role::Guest {
        Vec::new()
    } else {
        super::queries::workspaces_of(state, principal.user_id)
            .await
            .map_err(|e| refusal(&e))?
    };
    Ok(Identity {
        principal,
        token_version,
        username,
        workspaces,
        checked_at,
    })
}

/// Per-connection socket read buffer (frames larger than this are still read, in pieces).
const READ_BUFFER_BYTES: usize = 4096;
/// Bytes a connection may have waiting in its write buffer when the socket is not writable.
const WRITE_BUFFER_MAX_BYTES: usize = 1 << 20;
/// Frames are gathered in the write buffer up to this size before a write to the socket; a
/// burst from the hub is flushed at its end (`connection::Conn::forward`), every other frame at
/// once. Small, because the buffer keeps its size per connection once it has grown.
const WRITE_BUFFER_BYTES: usize = 8 << 10;

#[handler]
pub async fn ws(req: &Request, ws: WebSocket, state: Data<&Arc<AppState>>) -> Response {
    let state = state.0.clone();
    let limits = &state.config.realtime;
    let ws = ws.config(
        WebSocketConfig::default()
            .max_message_size(Some(limits.max_frame_bytes))
            .max_frame_size(Some(limits.max_frame_bytes))
            // tungstenite allocates a 128 KiB read buffer per connection up front and lets the
            // write buffer grow to 128 KiB before writing: 1.4 GiB for 10,000 idle connections.
            // Client frames are small; server frames are written at once or at the end of a
            // burst, up to 8 KiB at a time.
            .read_buffer_size(READ_BUFFER_BYTES)
            .write_buffer_size(WRITE_BUFFER_BYTES)
            .max_write_buffer_size(limits.max_frame_bytes.max(WRITE_BUFFER_MAX_BYTES)),
    );
    let rt = &state.realtime;
    let who = match authenticate(&state, credential(req.uri().query())).await {
        Ok(who) => who,
        Err(refused) => {
            super::metrics::Metrics::add(&rt.metrics.rejected_connections, 1);
            let (code, reason) = match refused {
                Refusal::Credential => (
                    close::UNAUTHORIZED,
                    "invalid, expired or revoked credential",
                ),
                Refusal::Unavailable => (close::UNAVAILABLE, "try again later"),
            };
            tracing::debug!(code, "WebSocket refused");
            return ws
                .on_upgrade(move |socket| refuse(socket, None, code, reason))
                .into_response();
        }
    };
    let Some(registration) = rt.hub.register_checked_at(
        who.principal.user_id,
        who.principal.session_id,
        &who.workspaces,
        who.principal.role,
        who.checked_at,
    ) else {
        super::metrics::Metrics::add(&rt.metrics.rejected_connections, 1);
        return ws
            .on_upgrade(|socket| {
                refuse(
                    socket,
                    Some(code::RATE_LIMITED),
                    close::LIMIT,
                    "too many connections for this user",
                )
            })
            .into_response();
    };
    ws.on_upgrade(move |socket| connection::run(socket, state, who, registration))
        .into_response()
}

/// Complete the upgrade only to say why the connection ends.
async fn refuse(
    mut socket: poem::web::websocket::WebSocketStream,
    error: Option<&'static str>,
    code: u16,
    reason: &'static str,
) {
    let send = async {
        if let Some(error) = error {
            socket
                .send(Message::Text(
                    ServerFrame::error(error, reason).text().to_string(),
                ))
                .await?;
        }
        socket
            .send(Message::Close(Some((CloseCode::from(code), reason.into()))))
            .await
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), send).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_comes_from_the_query() {
        assert!(matches!(credential(Some("token=a.b.c")), Credential::Token(t) if t == "a.b.c"));
        assert!(matches!(credential(Some("ticket=xyz")), Credential::Ticket(t) if t == "xyz"));
        assert!(matches!(
            credential(Some("ticket=x&token=y")),
            Credential::Token(t) if t == "y"
        ));
        assert!(matches!(credential(None), Credential::Missing));
    }
}
