//! Rate limits, counted in fixed windows through the `Kv` port (so they survive restarts).

use crate::{
    app::AppState,
    config::RateLimit,
    error::{AppError, AppResult},
    kv::Counter,
};

/// Count one attempt under `key`; refuse with 429 and `Retry-After` once over the limit.
pub async fn hit(state: &AppState, key: &str, limit: RateLimit) -> AppResult<()> {
    let counter = count(state, key, limit).await?;
    if counter.count > u64::from(limit.max) {
        return Err(refused(counter));
    }
    Ok(())
}

/// Count one event under `key` (the first opens a window of `limit.window`); the counter after.
pub async fn count(state: &AppState, key: &str, limit: RateLimit) -> AppResult<Counter> {
    Ok(state
        .kv
        .incr(&format!("ratelimit:{key}"), limit.window.0)
        .await?)
}

/// The counter under `key` when it has reached `limit.max` in its current window, without
/// counting anything.
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
pub async fn reset(state: &AppState, key: &str) -> AppResult<()> {
    Ok(state.kv.delete(&format!("ratelimit:{key}")).await?)
}

/// The 429 for a counter that is over its limit.
pub fn refused(counter: Counter) -> AppError {
    AppError::rate_limited(counter.resets_in.as_secs().max(1))
}
