//! The ephemeral key-value port: TTL keys, single-use takes, fixed-window counters and token
//! buckets (rate limits, MFA challenges, tickets). Embedded implementation: redb in the data dir,
//! token buckets in memory.

mod buckets;
mod redb_store;

use std::time::Duration;

use async_trait::async_trait;

pub use buckets::Bucket;
pub use redb_store::RedbKv;

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
    /// Check the backend answers (for `/ready`).
    async fn ping(&self) -> Result<(), KvError>;
}
