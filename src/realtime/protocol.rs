//! The WebSocket frames of SPEC §6: JSON text frames tagged by `"type"`, and the close codes.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::presence::{ChosenStatus, Status};
use crate::domain::events::Event;

/// Close codes (4000–4999 are the application's; browsers see them in `CloseEvent.code`).
pub mod close {
    /// The credential was missing, invalid, expired or revoked (also when revoked later).
    pub const UNAUTHORIZED: u16 = 4001;
    /// No pong for `realtime.missed_pongs` pings in a row.
    pub const HEARTBEAT_TIMEOUT: u16 = 4002;
    /// The user's role changed (e.g. an admin was demoted): reconnect, so that subscriptions
    /// are checked again.
    pub const PERMISSIONS_CHANGED: u16 = 4003;
    /// The client did not read fast enough: its send queue filled up. Reconnect and `resume`.
    pub const TOO_SLOW: u16 = 4008;
    /// The server fell behind the event bus and missed events. Reconnect and `resume`.
    pub const MISSED_EVENTS: u16 = 4009;
    /// Too many connections for this user, or sustained frame-rate abuse.
    pub const LIMIT: u16 = 4029;
    /// The server is shutting down. Reconnect and `resume`.
    pub const GOING_AWAY: u16 = 1001;
    /// The server could not check the credential (database trouble). Reconnect later.
    pub const UNAVAILABLE: u16 = 1011;
}

/// What a client may send.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    Subscribe {
        channel_id: Uuid,
    },
    Unsubscribe {
        channel_id: Uuid,
    },
    /// Every conversation the user is a member of (for live sidebar counts); membership
    /// changes afterwards follow through `member.joined` / `member.left`.
    SubscribeAll,
    Typing {
        channel_id: Uuid,
    },
    Presence {
        status: ChosenStatus,
    },
    Ping,
    Resume {
        channel_id: Uuid,
        after_seq: i64,
    },
    /// A fresh access token of the same user, sent before the current one expires.
    Auth {
        token: String,
    },
}

/// What the server sends.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    Subscribed {
        channel_id: Uuid,
    },
    /// The answer to `subscribe_all`: how many conversations the connection now follows.
    SubscribedAll {
        count: usize,
    },
    Event {
        event: &'a Event,
    },
    Typing {
        channel_id: Uuid,
        user_id: Uuid,
        username: &'a str,
    },
    Presence {
        user_id: Uuid,
        status: Status,
    },
    Pong,
    /// The answer to an `auth` frame: the connection now lasts until `expires_at` (unix seconds).
    Authenticated {
        expires_at: i64,
    },
    Error {
        code: &'a str,
        message: &'a str,
        /// The channel the error is about, when there is one.
        #[serde(skip_serializing_if = "Option::is_none")]
        channel_id: Option<Uuid>,
    },
}

impl ServerFrame<'_> {
    /// Serialise once; the text is shared by every recipient.
    pub fn text(&self) -> Arc<str> {
        // Serialising these plain structs cannot fail; an empty frame would be skipped anyway.
        Arc::from(serde_json::to_string(self).unwrap_or_default())
    }

    pub fn error(code: &'static str, message: &'static str) -> Self {
        ServerFrame::Error {
            code,
            message,
            channel_id: None,
        }
    }
}

/// Error codes in `error` frames.
pub mod code {
    pub const BAD_REQUEST: &str = "bad_request";
    pub const FORBIDDEN: &str = "forbidden";
    pub const NOT_FOUND: &str = "not_found";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// Events were missed: resume every subscribed channel from its last seq.
    pub const RESYNC: &str = "resync";
    pub const INTERNAL: &str = "internal";
}

/// One frame queued for a connection: the shared text, plus what the connection needs to drop
/// duplicates at a resume seam (message events carry their channel and seq).
#[derive(Debug, Clone)]
pub struct Outbound {
    pub channel_id: Option<Uuid>,
    pub seq: Option<i64>,
    pub text: Arc<str>,
}

impl Outbound {
    pub fn plain(text: Arc<str>) -> Self {
        Self {
            channel_id: None,
            seq: None,
            text,
        }
    }

    pub fn event(event: &Event) -> Self {
        Self {
            channel_id: event.channel_id,
            seq: event.seq,
            text: ServerFrame::Event { event }.text(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_parse_by_type() {
        let id = Uuid::now_v7();
        let f: ClientFrame = serde_json::from_str(&format!(
            r#"{{"type":"resume","channel_id":"{id}","after_seq":3}}"#
        ))
        .unwrap();
        assert_eq!(
            f,
            ClientFrame::Resume {
                channel_id: id,
                after_seq: 3
            }
        );
        let f: ClientFrame = serde_json::from_str(r#"{"type":"presence","status":"dnd"}"#).unwrap();
        assert_eq!(
            f,
            ClientFrame::Presence {
                status: ChosenStatus::Dnd
            }
        );
        for bad in [
            r#"{"type":"nope"}"#,
            r#"{"type":"subscribe"}"#,
            r#"{"type":"presence","status":"offline"}"#,
            "not json",
        ] {
            assert!(serde_json::from_str::<ClientFrame>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_frames_have_the_spec_shape() {
        let id = Uuid::now_v7();
        let v: serde_json::Value =
            serde_json::from_str(&ServerFrame::Subscribed { channel_id: id }.text()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type": "subscribed", "channel_id": id})
        );
        let v: serde_json::Value = serde_json::from_str(&ServerFrame::Pong.text()).unwrap();
        assert_eq!(v, serde_json::json!({"type": "pong"}));
        let v: serde_json::Value =
            serde_json::from_str(&ServerFrame::error(code::BAD_REQUEST, "x").text()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type": "error", "code": "bad_request", "message": "x"})
        );
    }
}
