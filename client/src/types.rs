//! The API's request bodies and responses, field for field as in the OpenAPI document
//! (`colink openapi`): nullable fields are `Option`, ids are [`Uuid`], times RFC 3339.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// One page of a cursor-paginated list (every list route: `?cursor=&limit=`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `None` on the last one.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

// ---- setup, auth, users ----

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupStatus {
    pub needs_setup: bool,
}

/// `POST /setup`: the owner account and the first workspace.
#[derive(Debug, Clone, Serialize)]
pub struct Setup<'a> {
    pub setup_token: &'a str,
    pub email: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    pub workspace_name: &'a str,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetupDone {
    pub user: User,
    pub workspace: Workspace,
    pub tokens: Tokens,
}

/// `POST /auth/register`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Register<'a> {
    pub email: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_token: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: u64,
    #[serde(default)]
    pub totp_enrollment_required: bool,
}

/// The answer to `POST /auth/login`: tokens, or a second-factor challenge.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LoginResponse {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub token_type: Option<String>,
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub totp_enrollment_required: bool,
    #[serde(default)]
    pub mfa_required: bool,
    pub mfa_token: Option<String>,
}

/// A [`LoginResponse`] as the two cases it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    Tokens(Tokens),
    /// Continue with [`crate::Client::login_totp`].
    MfaRequired {
        mfa_token: String,
    },
}

impl LoginResponse {
    pub fn into_login(self) -> Option<Login> {
        if self.mfa_required {
            return self
                .mfa_token
                .map(|mfa_token| Login::MfaRequired { mfa_token });
        }
        Some(Login::Tokens(Tokens {
            access_token: self.access_token?,
            refresh_token: self.refresh_token?,
            token_type: self.token_type?,
            expires_in: self.expires_in?,
            totp_enrollment_required: self.totp_enrollment_required,
        }))
    }
}

/// `POST /auth/token` (client credentials, for bots).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientToken {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpEnrollment {
    pub secret: String,
    pub otpauth_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    /// Only for the user themselves and admins.
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: Option<bool>,
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// `owner`, `admin`, `member`, `guest` or `bot`.
    pub role: String,
    #[serde(default)]
    pub status: Option<UserStatus>,
    pub presence: String,
    pub suspended: bool,
    /// Deactivated by an admin (the account and its messages stay).
    #[serde(default)]
    pub deactivated: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserStatus {
    pub text: String,
    pub emoji: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

// ---- workspaces, invites, bots, audit ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workspace {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub allow_member_invites: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `POST /workspaces/{id}/invites`; both limits optional.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct NewInvite {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_hours: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invite {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub token: String,
    pub url: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(default)]
    pub max_uses: Option<i32>,
}

/// A bot account (OAuth2 client) as `GET /admin/clients` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotClient {
    pub id: Uuid,
    pub client_id: String,
    pub name: String,
    pub bot_user_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub revoked: bool,
}

/// `POST /admin/clients`: the bot, with its secret (shown once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedBot {
    #[serde(flatten)]
    pub client: BotClient,
    pub client_secret: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: Uuid,
    #[serde(default)]
    pub actor_id: Option<Uuid>,
    pub action: String,
    #[serde(default)]
    pub target_type: Option<String>,
    #[serde(default)]
    pub target_id: Option<Uuid>,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub details: Option<serde_json::Value>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

// ---- channels, DMs, conversations ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Public,
    Private,
    Dm,
    GroupDm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelRole {
    Owner,
    Admin,
    Member,
}

/// A channel or DM (`ChannelView` in the document).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub kind: ChannelKind,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub topic: Option<String>,
    pub is_private: bool,
    #[serde(default)]
    pub created_by: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub archived_at: Option<OffsetDateTime>,
    pub last_seq: i64,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_message_at: Option<OffsetDateTime>,
    pub participant_ids: Vec<Uuid>,
    pub member_count: u64,
    #[serde(default)]
    pub is_member: Option<bool>,
    #[serde(default)]
    pub unread_count: Option<u64>,
    #[serde(default)]
    pub mention_count: Option<u64>,
    #[serde(default)]
    pub last_read_seq: Option<i64>,
}

/// An entry of `GET /conversations`: the channel and its newest message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    #[serde(flatten)]
    pub channel: Channel,
    #[serde(default)]
    pub last_message: Option<Message>,
}

/// `POST /channels`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NewChannel<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub is_private: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: ChannelRole,
    #[serde(with = "time::serde::rfc3339")]
    pub joined_at: OffsetDateTime,
    pub presence: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadState {
    pub last_read_seq: i64,
    pub unread_count: u64,
    pub mention_count: u64,
}

// ---- messages ----

/// `GET /threads`: one of the caller's followed threads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowedThread {
    pub root: Message,
    pub channel_id: Uuid,
    pub reply_count: i32,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_reply_at: Option<OffsetDateTime>,
    /// The root's author, then repliers by first reply: at most 5.
    pub participants: Vec<Uuid>,
    pub last_read_seq: i64,
    pub unread_replies: u64,
    pub unread_mentions: u64,
}

/// The caller's state of one thread (`POST /messages/{id}/thread/read`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadState {
    pub root_id: Uuid,
    pub following: bool,
    pub last_read_seq: i64,
    pub unread_replies: u64,
    pub unread_mentions: u64,
}

/// `POST /channels/{id}/messages`: borrowed, so a hot loop serialises without copying.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct NewMessage<'a> {
    pub content: &'a str,
    /// Idempotency: the same `client_id` from the same user returns the original message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_root_id: Option<Uuid>,
    /// Files to attach (uploaded and confirmed by the sender).
    #[serde(skip_serializing_if = "<[Uuid]>::is_empty")]
    pub file_ids: &'a [Uuid],
}

impl<'a> NewMessage<'a> {
    pub fn new(content: &'a str) -> Self {
        NewMessage {
            content,
            ..NewMessage::default()
        }
    }

    pub fn client_id(self, client_id: &'a str) -> Self {
        NewMessage {
            client_id: Some(client_id),
            ..self
        }
    }
}

/// A message (`MessageView` in the document). Deleted messages have `content: ""`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: Uuid,
    pub channel_id: Uuid,
    pub seq: i64,
    pub user_id: Uuid,
    pub content: String,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub thread_root_id: Option<Uuid>,
    pub reply_count: i32,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_reply_at: Option<OffsetDateTime>,
    pub reactions: Vec<ReactionSummary>,
    pub mentions: MentionSet,
    #[serde(default)]
    pub files: Vec<crate::File>,
    pub pinned: bool,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub edited_at: Option<OffsetDateTime>,
    pub deleted: bool,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Held back by a `hide` moderation rule: only its author and admins see it.
    #[serde(default)]
    pub hidden: bool,
    /// Things the sender should know (e.g. mentioned people who cannot see the channel).
    #[serde(default)]
    pub notices: Vec<Notice>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionSummary {
    pub emoji: String,
    pub count: u64,
    pub user_ids: Vec<Uuid>,
    pub me: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MentionSet {
    pub user_ids: Vec<Uuid>,
    pub channel: bool,
    pub here: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reaction {
    pub id: Uuid,
    pub message_id: Uuid,
    pub user_id: Uuid,
    pub emoji: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `GET /channels/{id}/messages`: newest first unless `after` is given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct History {
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub limit: Option<u32>,
}

/// `?cursor=&limit=` of the list routes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageQuery {
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub ticket: String,
    pub expires_in: u64,
}

/// `GET /admin/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminStats {
    pub users: UserStats,
    pub messages_today: i64,
    /// The last 30 UTC days, oldest first.
    pub messages_per_day: Vec<DayCount>,
    /// People active on each of the last 30 UTC days, oldest first.
    pub active_users_per_day: Vec<DayActive>,
    pub files: u64,
    pub storage_bytes: i64,
    pub open_reports: u64,
    pub top_channels: Vec<ChannelCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserStats {
    pub total: u64,
    pub active_today: u64,
    pub active_30_days: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCount {
    /// YYYY-MM-DD (UTC).
    pub day: String,
    pub messages: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayActive {
    /// YYYY-MM-DD (UTC).
    pub day: String,
    pub users: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelCount {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub messages: i64,
}
