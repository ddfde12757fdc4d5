//! `[limits.writes]`: per-user token buckets for the write routes (generous for people; the
//! benchmarks raise them). Over a limit the route answers 429 with `Retry-After`.

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::kv::Bucket;

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WriteLimits {
    /// Top-level messages.
    pub messages: Bucket,
    /// Thread replies.
    pub replies: Bucket,
    /// Reactions added.
    pub reactions: Bucket,
    /// Channels and DMs created (opening an existing DM counts too).
    pub conversations: Bucket,
    /// Workspace invites and channel member additions.
    pub invites: Bucket,
    /// WebSocket tickets.
    pub ws_tickets: Bucket,
    /// Uploads started (upload URLs and resumable sessions).
    pub uploads: Bucket,
}

const fn bucket(capacity: u32, per_minute: u32) -> Bucket {
    Bucket {
        capacity,
        per_minute,
    }
}

impl Default for WriteLimits {
    fn default() -> Self {
        Self {
            messages: bucket(60, 300),
            replies: bucket(60, 300),
            reactions: bucket(60, 300),
            conversations: bucket(20, 30),
            invites: bucket(30, 30),
            ws_tickets: bucket(30, 60),
            uploads: bucket(30, 60),
        }
    }
}

impl WriteLimits {
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, b) in [
            ("limits.writes.messages", self.messages),
            ("limits.writes.replies", self.replies),
            ("limits.writes.reactions", self.reactions),
            ("limits.writes.conversations", self.conversations),
            ("limits.writes.invites", self.invites),
            ("limits.writes.ws_tickets", self.ws_tickets),
            ("limits.writes.uploads", self.uploads),
        ] {
            if b.capacity == 0 || b.per_minute == 0 {
                return Err(ConfigError::invalid(
                    key,
                    "capacity and per_minute must be at least 1",
                ));
            }
        }
        Ok(())
    }
}
