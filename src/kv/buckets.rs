//! Token buckets kept in memory, for the embedded kv (one node: a restart refills them, which
//! only ever errs on the generous side). A clustered kv keeps them in the shared store.
//!
//! A bucket holds up to `capacity` tokens and gains `per_minute / 60` tokens a second; an action
//! takes one token or is refused with the time until one is back. Buckets that have refilled
//! completely carry no information and are dropped by [`Buckets::purge`].

use std::{
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    sync::Mutex,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};

/// The shape of a limit: `capacity` actions at once, `per_minute` sustained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    pub capacity: u32,
    pub per_minute: u32,
}

impl Bucket {
    fn per_second(self) -> f64 {
        f64::from(self.per_minute.max(1)) / 60.0
    }
}

struct Level {
    tokens: f64,
    at: Instant,
    capacity: f64,
    per_second: f64,
}

impl Level {
    fn refilled(&self, now: Instant) -> f64 {
        let gained = now.saturating_duration_since(self.at).as_secs_f64() * self.per_second;
        (self.tokens + gained).min(self.capacity)
    }
}

const SHARDS: usize = 16;

pub struct Buckets {
    hasher: RandomState,
    shards: [Mutex<HashMap<String, Level>>; SHARDS],
}

impl Default for Buckets {
    fn default() -> Self {
        Self {
            hasher: RandomState::new(),
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
        }
    }
}

impl Buckets {
    fn shard(&self, key: &str) -> std::sync::MutexGuard<'_, HashMap<String, Level>> {
        let index = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Take a token: `None` when granted, else how long until one is back.
    pub fn take(&self, key: &str, bucket: Bucket, now: Instant) -> Option<Duration> {
        let capacity = f64::from(bucket.capacity.max(1));
        let per_second = bucket.per_second();
        let mut shard = self.shard(key);
        let level = shard.entry(key.to_owned()).or_insert(Level {
            tokens: capacity,
            at: now,
            capacity,
            per_second,
        });
        // A changed configuration applies at once.
        level.capacity = capacity;
        level.per_second = per_second;
        level.tokens = level.refilled(now);
        level.at = now;
        if level.tokens >= 1.0 {
            level.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64((1.0 - level.tokens) / per_second))
        }
    }

    /// Drop buckets that are full again; returns how many went.
    pub fn purge(&self, now: Instant) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
                let before = shard.len();
                shard.retain(|_, level| level.refilled(now) < level.capacity);
                before - shard.len()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUCKET: Bucket = Bucket {
        capacity: 3,
        per_minute: 60,
    };

    #[test]
    fn a_burst_up_to_capacity_then_one_per_refill_interval() {
        let buckets = Buckets::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(buckets.take("u", BUCKET, t0), None);
        }
        let wait = buckets
            .take("u", BUCKET, t0)
            .expect("the fourth is refused");
        assert_eq!(wait, Duration::from_secs(1));
        // Half a second later: half a token, still refused, half a second to go.
        let wait = buckets
            .take("u", BUCKET, t0 + Duration::from_millis(500))
            .expect("refused");
        assert_eq!(wait.as_millis(), 500);
        assert_eq!(buckets.take("u", BUCKET, t0 + Duration::from_secs(1)), None);
        // Keys are independent.
        assert_eq!(buckets.take("v", BUCKET, t0), None);
    }

    #[test]
    fn refill_stops_at_capacity_and_full_buckets_are_purged() {
        let buckets = Buckets::default();
        let t0 = Instant::now();
        assert_eq!(buckets.take("u", BUCKET, t0), None);
        assert_eq!(buckets.purge(t0), 0, "a bucket in use is kept");
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(buckets.purge(later), 1);
        for _ in 0..3 {
            assert_eq!(buckets.take("u", BUCKET, later), None);
        }
        assert!(buckets.take("u", BUCKET, later).is_some());
    }
}
