//! Rate limits, counted in fixed windows through the `Kv` port (so they survive restarts).

use crate::{
    app::AppState,
    config::RateLimit,
    error::{AppError, AppResult},
};

/// Count one attempt under `key`; refuse with 429 and `Retry-After` once over the limit.
pub async fn hit(state: &AppState, key: &str, limit: RateLimit) -> AppResult<()> {
    let counter = state
        .kv
        .incr(&format!("ratelimit:{key}"), limit.window.0)
        .await?;
    if counter.count > u64::from(limit.max) {
        return Err(AppError::rate_limited(counter.resets_in.as_secs().max(1)));
    }
    Ok(())
}
