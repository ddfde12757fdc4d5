//! Which access tokens are still good: every request checks the token's version against the
//! user's current one, and its session against the refresh-token family. Lookups are cached so
//! a request does not cost a database round trip; changes made on this node update the cache at
//! once, and entries expire so that changes made by another node are seen within `TTL`.
//!
//! A cache must never keep a stale "allowed": a lookup that read the database before a change
//! committed could otherwise store the old state after the change's `forget`. So every
//! `forget` bumps a generation, and a lookup stores its result only if the generation it saw
//! before reading the database is still current ([`ExpiringCache::put`]).

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{
        RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use uuid::Uuid;

const TTL: Duration = Duration::from_secs(10);
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenState {
    pub version: i32,
    pub active: bool,
    pub role: crate::domain::Role,
}

/// Users' token states.
pub type TokenStateCache = ExpiringCache<Uuid, TokenState>;
/// Whether a session (refresh-token family) is still open.
pub type SessionCache = ExpiringCache<Uuid, bool>;

/// A bounded map whose entries live `ttl` and whose `forget` wins over concurrent lookups.
pub struct ExpiringCache<K, V> {
    entries: RwLock<HashMap<K, (V, Instant)>>,
    generation: AtomicU64,
    ttl: Duration,
    max_entries: usize,
}

impl<K, V> Default for ExpiringCache<K, V> {
    fn default() -> Self {
        Self::new(TTL, MAX_ENTRIES)
    }
}

impl<K, V> ExpiringCache<K, V> {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            ttl,
            max_entries,
        }
    }

    /// Read before looking the value up in the database; pass to [`Self::put`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

impl<K: Hash + Eq, V: Copy> ExpiringCache<K, V> {
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(value, _)| *value)
    }

    /// Store `value`, read from the database after [`Self::generation`] returned `seen` — unless
    /// something was forgotten since, in which case the value may be stale and is dropped.
    pub fn put(&self, key: K, value: V, seen: u64) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        // Checked under the write lock, which `forget` also takes.
        if self.generation.load(Ordering::Acquire) != seen {
            return;
        }
        if entries.len() >= self.max_entries {
            entries.retain(|_, (_, at)| at.elapsed() < self.ttl);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        entries.insert(key, (value, Instant::now()));
    }

    pub fn forget(&self, key: &K) {
        self.forget_where(|k| k == key);
    }

    /// Drop every entry whose key matches (and invalidate lookups in flight).
    pub fn forget_where(&self, matches: impl Fn(&K) -> bool) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|k, _| !matches(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookup_that_raced_a_forget_is_not_stored() {
        let cache: ExpiringCache<u32, bool> = ExpiringCache::default();
        let seen = cache.generation();
        // ... the database is read here, then the change commits and is forgotten ...
        cache.forget(&1);
        cache.put(1, true, seen);
        assert_eq!(cache.get(&1), None, "a stale allowed was cached");
        let seen = cache.generation();
        cache.put(1, false, seen);
        assert_eq!(cache.get(&1), Some(false));
    }

    #[test]
    fn entries_expire() {
        let cache: ExpiringCache<u32, u32> = ExpiringCache::new(Duration::ZERO, 10);
        cache.put(1, 1, cache.generation());
        assert_eq!(cache.get(&1), None);
    }
}
