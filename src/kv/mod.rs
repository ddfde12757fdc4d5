//! The ephemeral key-value port: TTL keys, single-use takes, fixed-window counters and token
//! buckets (rate limits, MFA challenges, tickets). Embedded implementation (`redb_store.rs`):
//! redb in the data dir, token buckets in memory, for one node. Shared implementation
//! (`redis_store.rs`): a Redis server every node of a cluster uses, so limits and single-use
//! values hold across nodes. `contract_tests.rs` checks both against the same contract.

mod buckets;
#[cfg(test)]
mod contract_tests;
mod redb_store;
mod redis_store;

use std::time::Duration;

use async_trait::async_trait;

pub use buckets::Bucket;
pub use redb_store::RedbKv;
pub use redis_store::{RedisKv, connect as connect_redis};

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("kv backend failure: {0}")]
    Backend(String),
}

impl KvError {
    pub fn backend(e: impl std::fmt::Display) -> Self {
        Self::Backend(e.to_string())
    }
}

/// A counter after an increment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    pub count: u64,
    /// Time until the window (and the count) resets.
    pub resets_in: Duration,
}

#[async_trait]
pub trait Kv: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), KvError>;
    /// Read and delete in one step: at most one caller gets the value.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    async fn delete(&self, key: &str) -> Result<(), KvError>;
    /// Add one to a counter; the first increment opens a window of length `window`.
    async fn incr(&self, key: &str, window: Duration) -> Result<Counter, KvError>;
    /// Take one token from the bucket under `key`: `None` when granted, else how long until a
    /// token is back (the caller answers 429 with that `Retry-After`).
    async fn take_token(&self, key: &str, bucket: Bucket) -> Result<Option<Duration>, KvError>;
    /// A counter's current value without counting; `None` when absent or its window is over.
    async fn peek(&self, key: &str) -> Result<Option<Counter>, KvError>;
    /// Hold the lease `key` for `holder` during `ttl` from now: taken when free or expired,
    /// renewed when `holder` has it; `false` when another holder has it. One node at a time
    /// does leader-only work (the outbox relay on a shared bus, clean-ups) under a lease.
    async fn hold_lease(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, KvError>;
    /// Give the lease up, if `holder` has it, so another node takes over at once.
    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), KvError>;
    /// Check the backend answers (for `/ready`).
    async fn ping(&self) -> Result<(), KvError>;
    /// The server behind the store, for the admin console: its version and uptime; `None` for
    /// an embedded store (it runs inside CoLink).
    async fn server(&self) -> Result<Option<(String, Duration)>, KvError> {
        Ok(None)
    }
}
