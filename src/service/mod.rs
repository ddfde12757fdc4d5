//! Use cases, one file per area. Every function takes the state it needs and returns
//! [`AppResult`]; none knows about HTTP.

pub mod access;
pub mod accounts;
pub mod activity;
pub mod admin_channels;
pub mod audit;
pub mod audit_export;
pub mod audit_query;
pub mod authn;
pub mod broadcast;
pub mod cache_sync;
pub mod channel_members;
pub mod channels;
pub mod clients;
pub mod conversations;
pub mod decorate;
pub mod dms;
pub mod email_tokens;
pub mod events;
pub mod files;
pub mod followed_threads;
pub mod group_commit;
pub mod guard;
pub mod invites;
pub mod latest_page;
pub mod limits;
pub mod login;
pub mod marker_writer;
pub mod message_writer;
pub mod messages;
pub mod moderation;
pub mod moderation_rules;
pub mod page;
pub mod people;
pub mod reactions;
pub mod read_counts;
pub mod read_state;
pub mod recovery;
pub mod registration;
pub mod search;
pub mod sessions;
pub mod settings;
pub mod setup;
pub mod sso;
pub mod stats;
pub mod system;
pub mod threads;
pub mod totp;
pub mod users;
pub mod views;
pub mod workspaces;

use std::net::IpAddr;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::{domain::Role, identity::jwt::Scope};

/// The authenticated caller.
#[derive(Debug, Clone, Copy)]
pub struct Principal {
    pub user_id: Uuid,
    pub role: Role,
    pub scope: Scope,
    /// The session (refresh-token family) of the caller's access token; `None` for bot tokens
    /// and the CLI.
    pub session_id: Option<Uuid>,
    /// When the caller's credential expires (unix seconds); `None` for the CLI.
    pub expires_at: Option<i64>,
}

impl Principal {
    /// The audit actor: the user, or nobody for the CLI (whose principal has the nil id).
    pub fn audit_actor(&self) -> Option<Uuid> {
        (!self.user_id.is_nil()).then_some(self.user_id)
    }

    pub fn is_admin(&self) -> bool {
        self.role.is_admin()
    }
    /// Guests see and join only the conversations they were added to, and find only the people
    /// they share one with.
    pub fn is_guest(&self) -> bool {
        self.role == Role::Guest
    }
}

/// Facts about the request a use case may record (audit) or limit on (rate limits).
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestMeta {
    pub ip: Option<IpAddr>,
}

impl RequestMeta {
    pub fn ip_string(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }
}

/// The current time, for storing (see [`crate::domain::clock::now`]).
pub fn now() -> OffsetDateTime {
    crate::domain::clock::now()
}
