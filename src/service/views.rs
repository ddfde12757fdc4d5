//! How channels and messages look to clients — in API responses and in event payloads alike
//! (one representation, so a client can apply an event exactly like a fetched object). They also
//! deserialize, as the payloads of events read back from the outbox.

use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    db::entity::{channel, message},
    domain::ChannelKind,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct ChannelView {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub kind: ChannelKind,
    /// `None` for DMs.
    #[oai(nullable)]
    pub name: Option<String>,
    #[oai(nullable)]
    pub description: Option<String>,
    #[oai(nullable)]
    pub topic: Option<String>,
    pub is_private: bool,
    #[oai(nullable)]
    pub created_by: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[oai(nullable)]
    pub archived_at: Option<OffsetDateTime>,
    pub last_seq: i64,
    #[serde(with = "time::serde::rfc3339::option")]
    #[oai(nullable)]
    pub last_message_at: Option<OffsetDateTime>,
    /// DM participants (empty for channels; see the members route).
    pub participant_ids: Vec<Uuid>,
    pub member_count: u64,
    /// Per caller (absent in events).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[oai(nullable, skip_serializing_if_is_none)]
    pub is_member: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[oai(nullable, skip_serializing_if_is_none)]
    pub unread_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[oai(nullable, skip_serializing_if_is_none)]
    pub mention_count: Option<u64>,
    /// Per caller; absent in events and when the caller is not a member.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[oai(nullable, skip_serializing_if_is_none)]
    pub last_read_seq: Option<i64>,
}

impl ChannelView {
    pub fn of(c: channel::Model, participant_ids: Vec<Uuid>, member_count: u64) -> Self {
        Self {
            id: c.id,
            workspace_id: c.workspace_id,
            is_private: !c.kind.is_public(),
            kind: c.kind,
            name: c.name,
            description: c.description,
            topic: c.topic,
            created_by: c.created_by,
            created_at: c.created_at,
            archived_at: c.archived_at,
            last_seq: c.last_seq,
            last_message_at: c.last_message_at,
            participant_ids,
            member_count,
            is_member: None,
            unread_count: None,
            mention_count: None,
            last_read_seq: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct ReactionSummary {
    pub emoji: String,
    /// Everyone who reacted with this emoji.
    pub count: u64,
    /// The first people who reacted with it, in order: at most 20 (`count` has them all).
    pub user_ids: Vec<Uuid>,
    /// Whether the caller reacted with this emoji, listed or not (always false in events).
    pub me: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Object)]
pub struct MentionSet {
    pub user_ids: Vec<Uuid>,
    pub channel: bool,
    pub here: bool,
}

impl MentionSet {
    /// Add what one stored mention row says (`user`, `channel` or `here`).
    pub fn add(&mut self, row: &crate::db::entity::mention::Model) {
        match (row.kind.as_str(), row.user_id) {
            ("user", Some(u)) => self.user_ids.push(u),
            ("channel", _) => self.channel = true,
            ("here", _) => self.here = true,
            _ => {}
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct MessageView {
    pub id: Uuid,
    pub channel_id: Uuid,
    /// Gapless, strictly increasing per channel; assigned when the message commits.
    pub seq: i64,
    pub user_id: Uuid,
    /// Empty when deleted.
    pub content: String,
    #[oai(nullable)]
    pub client_id: Option<String>,
    #[oai(nullable)]
    pub thread_root_id: Option<Uuid>,
    pub reply_count: i32,
    #[serde(with = "time::serde::rfc3339::option")]
    #[oai(nullable)]
    pub last_reply_at: Option<OffsetDateTime>,
    /// Per emoji, in the order each was first used; at most 50 emoji.
    pub reactions: Vec<ReactionSummary>,
    pub mentions: MentionSet,
    /// Attached files, in the order they were attached (infected and deleted ones left out);
    /// absent when there are none (so events of messages without files read as before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[oai(default, skip_serializing_if_is_empty)]
    pub files: Vec<FileView>,
    pub pinned: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    #[oai(nullable)]
    pub edited_at: Option<OffsetDateTime>,
    pub deleted: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    #[oai(nullable)]
    pub deleted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Held for review by a `hide` moderation rule: only its author and admins see it, until an
    /// admin restores it. Absent when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[oai(default, skip_serializing_if = "is_false")]
    pub hidden: bool,
    /// Only in the answer to the sender's own post: what the server did differently from what
    /// was asked (e.g. an `@channel` it did not expand). Never in events or lists.
    #[serde(skip_serializing_if = "Vec::is_empty", skip_deserializing)]
    #[oai(default, skip_serializing_if_is_empty)]
    pub notices: Vec<super::broadcast::Notice>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl MessageView {
    /// Leave out of `views` the messages `viewer` may not see (see [`MessageView::visible_to`]).
    pub fn retain_visible(views: &mut Vec<MessageView>, viewer: Uuid, admin: bool) {
        views.retain(|v| v.visible_to(viewer, admin));
    }

    /// Whether `viewer` (an admin or not) may see this message: a hidden one only its author
    /// and admins.
    pub fn visible_to(&self, viewer: Uuid, admin: bool) -> bool {
        !self.hidden || admin || self.user_id == viewer
    }

    /// A message without its reactions/mentions/pin (filled in by the caller).
    pub fn bare(m: message::Model) -> Self {
        let deleted = m.deleted_at.is_some();
        let hidden = m.hidden_at.is_some();
        Self {
            id: m.id,
            channel_id: m.channel_id,
            seq: m.seq,
            user_id: m.user_id,
            content: if deleted { String::new() } else { m.content },
            client_id: m.client_id,
            thread_root_id: m.thread_root_id,
            reply_count: m.reply_count,
            last_reply_at: m.last_reply_at,
            reactions: Vec::new(),
            mentions: MentionSet::default(),
            files: Vec::new(),
            pinned: false,
            edited_at: m.edited_at,
            deleted,
            deleted_at: m.deleted_at,
            created_at: m.created_at,
            hidden,
            notices: Vec::new(),
        }
    }
}

/// Where a file is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, poem_openapi::Enum)]
#[serde(rename_all = "lowercase")]
#[oai(rename_all = "lowercase")]
pub enum FileStatus {
    /// An upload URL was handed out; the bytes are not confirmed yet.
    Uploading,
    /// Confirmed, waiting for the virus scanner: not downloadable yet.
    Pending,
    /// Scanned (or scanning is off): downloadable.
    Clean,
    /// The scanner found malware: never served.
    Infected,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Uploading => "uploading",
            FileStatus::Pending => "pending",
            FileStatus::Clean => "clean",
            FileStatus::Infected => "infected",
        }
    }

    /// A stored status (an unknown one reads as `pending`: never served).
    pub fn parse(text: &str) -> Self {
        match text {
            "uploading" => FileStatus::Uploading,
            "clean" => FileStatus::Clean,
            "infected" => FileStatus::Infected,
            _ => FileStatus::Pending,
        }
    }
}

/// A file's metadata, as the file routes, messages and `file.uploaded` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct FileView {
    pub id: Uuid,
    /// The name to show (cleaned of paths and control characters; never a storage path).
    pub filename: String,
    /// The stored type (checked against the file's bytes at confirm).
    pub content_type: String,
    pub size_bytes: u64,
    pub status: FileStatus,
    /// Hex SHA-256 of the content, once confirmed.
    #[oai(nullable)]
    pub sha256: Option<String>,
    /// Images: pixel dimensions.
    #[oai(nullable)]
    pub width: Option<u32>,
    #[oai(nullable)]
    pub height: Option<u32>,
    /// Whether a thumbnail can be fetched (`GET /files/{id}/download-url?thumbnail=true`).
    pub has_thumbnail: bool,
    /// Why the last scan failed, while it is retried.
    #[oai(nullable)]
    pub scan_error: Option<String>,
    pub uploader_id: Uuid,
    /// The conversation it was uploaded for, when one was named.
    #[oai(nullable)]
    pub channel_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl FileView {
    pub fn of(f: crate::db::entity::file::Model) -> Self {
        let dimension = |v: Option<i32>| v.and_then(|v| u32::try_from(v).ok());
        Self {
            id: f.id,
            filename: f.filename,
            content_type: f.content_type,
            size_bytes: u64::try_from(f.size_bytes).unwrap_or(0),
            status: FileStatus::parse(&f.status),
            sha256: f.sha256,
            width: dimension(f.width),
            height: dimension(f.height),
            has_thumbnail: f.thumbnail == "ready",
            scan_error: f.scan_error,
            uploader_id: f.uploader_id,
            channel_id: f.channel_id,
            created_at: f.created_at,
        }
    }
}
