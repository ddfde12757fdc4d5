//! Rate limits through the `Kv` port: fixed windows for sign-in attempts (they survive restarts),
//! per-user token buckets for writes ([`spend`]).

use crate::{
    app::AppState,
    config::RateLimit,
    error::{AppError, AppResult},
    kv::Counter,
};

/// Count one attempt under `key`; refuse with 429 and `Retry-After` once over the limit.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn hit(state: &AppState, key: &str, limit: RateLimit) -> AppResult<()> {
    let counter = count(state, key, limit).await?;
    if counter.count > u64::from(limit.max) {
        return Err(refused(counter));
    }
    Ok(())
}

/// A write people make often enough to need a per-user limit (`[limits.writes]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Message,
    Reply,
    Reaction,
    Conversation,
    Invite,
    WsTicket,
    Upload,
}

impl Write {
    fn name(self) -> &'static str {
        match self {
            Write::Message => "messages",
            Write::Reply => "replies",
            Write::Reaction => "reactions",
            Write::Conversation => "conversations",
            Write::Invite => "invites",
            Write::WsTicket => "ws_tickets",
            Write::Upload => "uploads",
        }
    }

    fn bucket(self, limits: &crate::config::WriteLimits) -> crate::kv::Bucket {
        match self {
            Write::Message => limits.messages,
            Write::Reply => limits.replies,
            Write::Reaction => limits.reactions,
            Write::Conversation => limits.conversations,
            Write::Invite => limits.invites,
            Write::WsTicket => limits.ws_tickets,
            Write::Upload => limits.uploads,
        }
    }
}

/// Spend one of `user`'s tokens for `write`; 429 with `Retry-After` when none is left.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn spend(state: &AppState, user: uuid::Uuid, write: Write) -> AppResult<()> {
    let bucket = write.bucket(&state.settings.get().limits.writes);
    let key = format!("bucket:{}:{user}", write.name());
    match state.kv.take_token(&key, bucket).await? {
        None => Ok(()),
        Some(wait) => {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            Err(AppError {
                detail: format!(
                    "too many {} (at most {} a minute); try again in {} s",
                    write.name().replace('_', " "),
                    bucket.per_minute,
                    secs.max(1)
                ),
                ..AppError::rate_limited(secs)
            })
        }
    }
}

/// Count one event under `key` (the first opens a window of `limit.window`); the counter after.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn count(state: &AppState, key: &str, limit: RateLimit) -> AppResult<Counter> {
    Ok(state
        .kv
        .incr(&format!("ratelimit:{key}"), limit.window.0)
        .await?)
}

/// The counter under `key` when it has reached `limit.max` in its current window, without
/// counting anything.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn exhausted(
    state: &AppState,
    key: &str,
    limit: RateLimit,
) -> AppResult<Option<Counter>> {
    Ok(state
        .kv
        .peek(&format!("ratelimit:{key}"))
        .await?
        .filter(|c| c.count >= u64::from(limit.max)))
}

/// Start the window of `key` afresh.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn reset(state: &AppState, key: &str) -> AppResult<()> {
    Ok(state.kv.delete(&format!("ratelimit:{key}")).await?)
}

/// The 429 for a counter that is over its limit.
pub fn refused(counter: Counter) -> AppError {
    AppError::rate_limited(counter.resets_in.as_secs().max(1))
}
