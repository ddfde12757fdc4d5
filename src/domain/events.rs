//! The event envelope (SPEC §7): what services write to the outbox and the bus carries.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// Event type names.
pub mod kind {
    pub const MESSAGE_CREATED: &str = "message.created";
    pub const MESSAGE_UPDATED: &str = "message.updated";
    pub const MESSAGE_DELETED: &str = "message.deleted";
    pub const REACTION_ADDED: &str = "reaction.added";
    pub const REACTION_REMOVED: &str = "reaction.removed";
    pub const CHANNEL_CREATED: &str = "channel.created";
    pub const CHANNEL_UPDATED: &str = "channel.updated";
    pub const CHANNEL_ARCHIVED: &str = "channel.archived";
    pub const MEMBER_JOINED: &str = "member.joined";
    pub const MEMBER_LEFT: &str = "member.left";
    pub const CONVERSATION_READ: &str = "conversation.read";
    /// Internal (never sent to clients): sessions ended; the hub closes their connections.
    pub const SESSION_REVOKED: &str = "session.revoked";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// UUIDv7: unique, time-ordered; consumers dedupe by it.
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub workspace_id: Option<Uuid>,
    pub channel_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    /// The channel sequence number, for message events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    pub data: serde_json::Value,
}

impl Event {
    pub fn new(
        kind: &str,
        workspace_id: Uuid,
        channel_id: Option<Uuid>,
        actor_id: Option<Uuid>,
        data: serde_json::Value,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            kind: kind.to_string(),
            occurred_at: crate::domain::clock::now(),
            workspace_id: Some(workspace_id),
            channel_id,
            actor_id,
            seq: None,
            data,
        }
    }

    pub fn with_seq(mut self, seq: i64) -> Self {
        self.seq = Some(seq);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_shape() {
        let e = Event::new(
            kind::MESSAGE_CREATED,
            Uuid::now_v7(),
            Some(Uuid::now_v7()),
            None,
            serde_json::json!({"x": 1}),
        )
        .with_seq(7);
        let v = serde_json::to_value(&e).unwrap();
        for key in [
            "id",
            "type",
            "occurred_at",
            "workspace_id",
            "channel_id",
            "actor_id",
            "seq",
            "data",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert_eq!(v["type"], "message.created");
        assert!(v["occurred_at"].as_str().unwrap().ends_with('Z'));
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }
}
