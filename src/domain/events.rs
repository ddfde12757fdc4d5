//! The events (SPEC §7): what services write to the outbox and the bus carries.
//!
//! An [`Event`] is an envelope (id, time, workspace, channel, actor, seq) around [`EventData`],
//! which has one variant per event type with its typed payload; consumers `match` on it. Each
//! type's name (`message.created` …) is declared once, beside its variant, in the `events!`
//! table below, which also derives [`EventKind`] (the type without its payload) from it.
//!
//! The wire format — outbox rows, WebSocket frames, `resume` replays — is fixed and was the same
//! before the payloads were typed (`tests/api/wire_format.rs` compares it with recorded rows):
//! - the envelope is `{"id","type","occurred_at","workspace_id","channel_id","actor_id",
//!   "seq"?,"data"}`, in that order, `seq` only on message events;
//! - `data` is the payload with the keys of every object sorted (it goes through a
//!   `serde_json::Value`, as it always did), so the bytes never depend on field order;
//! - rows written by an older binary deserialize into the same variants.

use serde::{Deserialize, Deserializer, Serialize, Serializer, de, ser};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{ChannelKind, ChannelRole};
use crate::service::views::{ChannelView, FileView, MessageView};

/// Declares [`EventData`] and [`EventKind`] from one table: variant, payload, type name.
macro_rules! events {
    ($( $(#[$doc:meta])* $variant:ident($payload:ty) = $name:literal, )*) => {
        /// An event's payload, by type.
        #[derive(Debug, Clone, PartialEq)]
        pub enum EventData {
            $( $(#[$doc])* $variant($payload), )*
        }

        /// An event's type; [`EventKind::as_str`] is its name on the wire (`message.created`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $( $variant, )*
        }

        impl EventKind {
            /// Every type, in declaration order.
            pub const ALL: &[EventKind] = &[$( EventKind::$variant, )*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $( EventKind::$variant => $name, )*
                }
            }
        }

        impl EventData {
            pub fn kind(&self) -> EventKind {
                match self {
                    $( EventData::$variant(_) => EventKind::$variant, )*
                }
            }

            /// The payload as JSON (objects with sorted keys, see the module docs).
            fn to_json(&self) -> serde_json::Result<Value> {
                match self {
                    $( EventData::$variant(payload) => serde_json::to_value(payload), )*
                }
            }

            fn from_json(kind: EventKind, data: Value) -> serde_json::Result<Self> {
                Ok(match kind {
                    $( EventKind::$variant => EventData::$variant(serde_json::from_value(data)?), )*
                })
            }
        }
    };
}

events! {
    /// A new message (or thread reply), as the API shows it.
    MessageCreated(MessageView) = "message.created",
    /// A message changed: edited, pinned, reacted to or its thread grew; the whole message.
    MessageUpdated(MessageView) = "message.updated",
    MessageDeleted(MessageDeleted) = "message.deleted",
    ReactionAdded(ReactionChange) = "reaction.added",
    ReactionRemoved(ReactionChange) = "reaction.removed",
    /// A channel or DM (with its `participant_ids`) was created.
    ChannelCreated(ChannelView) = "channel.created",
    ChannelUpdated(ChannelView) = "channel.updated",
    ChannelArchived(ChannelArchived) = "channel.archived",
    MemberJoined(MemberChange) = "member.joined",
    MemberLeft(MemberChange) = "member.left",
    /// A read marker moved; private to the reader.
    ConversationRead(ConversationRead) = "conversation.read",
    /// A user followed, unfollowed or read a thread; private to that user, like a read marker.
    ThreadUpdated(ThreadUpdated) = "thread.updated",
    /// A file was confirmed; private to its uploader.
    FileUploaded(FileView) = "file.uploaded",
    /// Internal (never sent to clients): sessions ended; the hub closes their connections.
    SessionRevoked(SessionRevoked) = "session.revoked",
    /// An admin moderated a message (deleted it, restored it, or dismissed its reports); to
    /// every admin's and owner's connections, and to bus consumers.
    ModerationAction(ModerationAction) = "moderation.action",
    /// A person's profile, status, role or standing changed; to everyone in the workspace.
    UserUpdated(UserUpdated) = "user.updated",
    /// Internal (never sent to clients): a public channel became private; the hub ends the
    /// subscriptions of everyone but its members.
    ChannelRestricted(ChannelRestricted) = "channel.restricted",
}

impl std::str::FromStr for EventKind {
    type Err = UnknownEventType;
    fn from_str(s: &str) -> Result<Self, UnknownEventType> {
        EventKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownEventType(s.to_string()))
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type {0:?}")]
pub struct UnknownEventType(pub String);

impl Serialize for EventKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        name.parse().map_err(de::Error::custom)
    }
}

/// `message.deleted`: the message is gone from view (its row stays, see the messages service).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageDeleted {
    pub id: Uuid,
    pub seq: i64,
    pub thread_root_id: Option<Uuid>,
    pub deleted_by: Uuid,
}

/// What a moderator did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModerationKind {
    /// The message was deleted by an admin.
    MessageDeleted,
    /// Its reports were dismissed: the message stays.
    ReportsDismissed,
    /// A message a `hide` rule held back is shown to everyone again; its reports closed.
    MessageRestored,
}

/// `moderation.action`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModerationAction {
    pub action: ModerationKind,
    pub message_id: Uuid,
    /// The message's author.
    pub author_id: Uuid,
    /// Open reports this resolved.
    pub reports_resolved: u64,
}

/// `user.updated`: the person as everyone in their workspaces sees them (no email).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserUpdated {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    /// owner, admin, member, guest or bot.
    pub role: String,
    /// The custom status, when set and not expired.
    pub status_text: Option<String>,
    pub status_emoji: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub status_expires_at: Option<OffsetDateTime>,
    pub suspended: bool,
    pub deactivated: bool,
}

/// `reaction.added` / `reaction.removed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReactionChange {
    /// The reaction's id.
    pub id: Uuid,
    pub message_id: Uuid,
    pub user_id: Uuid,
    pub emoji: String,
}

/// `channel.archived`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelArchived {
    /// RFC 3339, like every time on the wire. Rows written before 2026-11-30 hold the `time`
    /// crate's tuple form (`[2026,334,7,40,32,879921631,0,0,0]`); they still read.
    #[serde(
        serialize_with = "time::serde::rfc3339::option::serialize",
        deserialize_with = "rfc3339_or_tuple"
    )]
    pub archived_at: Option<OffsetDateTime>,
    pub kind: ChannelKind,
}

/// An optional time as RFC 3339, or in the tuple form older rows hold.
fn rfc3339_or_tuple<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<OffsetDateTime>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Time {
        Text(#[serde(with = "time::serde::rfc3339")] OffsetDateTime),
        Tuple(OffsetDateTime),
    }
    Ok(Option::<Time>::deserialize(d)?.map(|t| match t {
        Time::Text(at) | Time::Tuple(at) => at,
    }))
}

/// `member.joined` / `member.left`: who, with which role (the role they had, for a departure).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberChange {
    pub user_id: Uuid,
    pub role: ChannelRole,
    pub channel_kind: ChannelKind,
}

/// `conversation.read`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationRead {
    pub user_id: Uuid,
    pub last_read_seq: i64,
}

/// `thread.updated`: the user's state of one thread, as `GET /threads` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadUpdated {
    pub root_id: Uuid,
    pub user_id: Uuid,
    pub following: bool,
    pub last_read_seq: i64,
    pub unread_replies: u64,
    pub unread_mentions: u64,
}

/// `channel.restricted` (internal).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelRestricted {
    pub channel_id: Uuid,
    /// Who may still listen: the channel's members when it became private.
    pub member_ids: Vec<Uuid>,
}

/// `session.revoked` (internal).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRevoked {
    pub user_id: Uuid,
    /// The session (refresh-token family) that ended; `None`: every session of the user.
    pub session_id: Option<Uuid>,
    pub reason: Revoked,
}

/// Why sessions ended, as the realtime hub needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Revoked {
    /// The credential is no longer valid: sign in again (close 4001).
    Credential,
    /// The user's role changed: reconnect so access is checked again (close 4003).
    Role,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// UUIDv7: unique, time-ordered; consumers dedupe by it.
    pub id: Uuid,
    pub occurred_at: OffsetDateTime,
    pub workspace_id: Option<Uuid>,
    pub channel_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    /// The channel sequence number, for message events.
    pub seq: Option<i64>,
    /// The type and its payload.
    pub data: EventData,
    /// The W3C `traceparent` of the request that caused it, when tracing is on: carried to the
    /// relay and the hub (in memory, and in the outbox row's `traceparent` column) so their spans
    /// join the request's trace. Never sent to clients or written into the payload.
    pub traceparent: Option<String>,
}

impl Event {
    /// A new event in `workspace_id`, with a fresh id, happening now.
    pub fn new(
        workspace_id: Uuid,
        channel_id: Option<Uuid>,
        actor_id: Option<Uuid>,
        data: EventData,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            occurred_at: crate::domain::clock::now(),
            workspace_id: Some(workspace_id),
            channel_id,
            actor_id,
            seq: None,
            data,
            traceparent: None,
        }
    }

    pub fn with_seq(mut self, seq: i64) -> Self {
        self.seq = Some(seq);
        self
    }

    pub fn kind(&self) -> EventKind {
        self.data.kind()
    }
}

/// The envelope as it is written: the type beside the other fields, the payload as JSON.
#[derive(Serialize, Deserialize)]
struct Wire {
    id: Uuid,
    #[serde(rename = "type")]
    kind: EventKind,
    #[serde(with = "time::serde::rfc3339")]
    occurred_at: OffsetDateTime,
    workspace_id: Option<Uuid>,
    channel_id: Option<Uuid>,
    actor_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seq: Option<i64>,
    data: Value,
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Wire {
            id: self.id,
            kind: self.kind(),
            occurred_at: self.occurred_at,
            workspace_id: self.workspace_id,
            channel_id: self.channel_id,
            actor_id: self.actor_id,
            seq: self.seq,
            data: self.data.to_json().map_err(ser::Error::custom)?,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = Wire::deserialize(d)?;
        let data = EventData::from_json(wire.kind, wire.data)
            .map_err(|e| de::Error::custom(format_args!("{} data: {e}", wire.kind)))?;
        Ok(Event {
            id: wire.id,
            occurred_at: wire.occurred_at,
            workspace_id: wire.workspace_id,
            channel_id: wire.channel_id,
            actor_id: wire.actor_id,
            seq: wire.seq,
            data,
            traceparent: None,
        })
    }
}

#[cfg(test)]
impl EventData {
    /// Some payload, for tests that only need an event.
    pub(crate) fn sample(n: i64) -> Self {
        EventData::ConversationRead(ConversationRead {
            user_id: Uuid::nil(),
            last_read_seq: n,
        })
    }
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
