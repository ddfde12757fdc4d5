//! Response shapes shared by several resources.

use poem_openapi::{
    ApiResponse, Object,
    payload::Json,
    types::{ParseFromJSON, ToJSON},
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    db::entity::{user, workspace},
    service::{Principal, sessions::TokenPair},
};

#[derive(Object)]
pub struct UserStatus {
    pub text: String,
    pub emoji: String,
    #[oai(nullable)]
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(Object)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    /// Only shown to the user themself and to admins.
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub email_verified: Option<bool>,
    /// Whether two-factor authentication is on: only in `GET /users/me`.
    #[oai(skip_serializing_if_is_none)]
    pub totp_enabled: Option<bool>,
    #[oai(nullable)]
    pub avatar_url: Option<String>,
    /// owner, admin, member, guest or bot.
    pub role: String,
    #[oai(nullable)]
    pub status: Option<UserStatus>,
    /// online, away, dnd or offline (see the WebSocket protocol).
    pub presence: String,
    pub suspended: bool,
    /// Deactivated by an admin: the account and its messages stay, it cannot sign in.
    pub deactivated: bool,
    pub created_at: OffsetDateTime,
}

impl User {
    /// Shape a user for `viewer` (email only for self and admins; expired statuses hidden).
    pub fn view(u: user::Model, viewer: Option<&Principal>) -> Self {
        let private = viewer.is_none_or(|p| p.user_id == u.id || p.is_admin());
        let now = OffsetDateTime::now_utc();
        let status = match (&u.status_text, &u.status_emoji) {
            (None, None) => None,
            _ if u.status_expires_at.is_some_and(|at| at <= now) => None,
            (text, emoji) => Some(UserStatus {
                text: text.clone().unwrap_or_default(),
                emoji: emoji.clone().unwrap_or_default(),
                expires_at: u.status_expires_at,
            }),
        };
        Self {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            email: private.then_some(u.email),
            email_verified: private.then_some(u.email_verified_at.is_some()),
            totp_enabled: None,
            avatar_url: None,
            role: u.role,
            status,
            presence: "offline".into(),
            suspended: u.suspended_at.is_some(),
            deactivated: u.deactivated_at.is_some(),
            created_at: u.created_at,
        }
    }
}

impl User {
    /// With the user's current presence.
    pub async fn with_presence(mut self, state: &crate::app::AppState) -> Self {
        let statuses = state.realtime.presence.statuses(&[self.id]).await;
        if let Some(status) = statuses.first() {
            self.presence = status.as_str().into();
        }
        self
    }
}

#[derive(Object)]
pub struct Workspace {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub allow_member_invites: bool,
    pub created_at: OffsetDateTime,
}

impl From<workspace::Model> for Workspace {
    fn from(w: workspace::Model) -> Self {
        Self {
            id: w.id,
            name: w.name,
            slug: w.slug,
            allow_member_invites: w.allow_member_invites,
            created_at: w.created_at,
        }
    }
}

#[derive(Object)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
    /// True when the server requires 2FA and this account must enroll before anything else.
    #[oai(skip_serializing_if_is_none)]
    pub totp_enrollment_required: Option<bool>,
}

impl From<TokenPair> for Tokens {
    fn from(p: TokenPair) -> Self {
        Self {
            access_token: p.access_token,
            refresh_token: p.refresh_token,
            token_type: "Bearer".into(),
            expires_in: p.expires_in,
            totp_enrollment_required: (p.scope == crate::identity::jwt::Scope::Enroll)
                .then_some(true),
        }
    }
}

/// One page of a list. `next_cursor` continues it (as `cursor`; for channel history, as
/// `before`, or `after` when reading forward); null on the last page.
#[derive(Object, serde::Serialize)]
pub struct Page<T: ParseFromJSON + ToJSON + Send + Sync> {
    pub items: Vec<T>,
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

/// 201 Created with a JSON body.
#[derive(ApiResponse)]
pub enum Created<T: ToJSON> {
    #[oai(status = 201)]
    Created(Json<T>),
}

/// 204 No Content.
#[derive(ApiResponse)]
pub enum NoContent {
    #[oai(status = 204)]
    NoContent,
}
