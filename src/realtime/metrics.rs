//! Counters of the realtime gateway: plain atomics, read by `/metrics` (`telemetry::metrics`),
//! the admin console and tests.

use std::sync::{
    Mutex,
    atomic::{AtomicI64, AtomicU64, Ordering},
};

#[derive(Debug, Default)]
pub struct Metrics {
    /// Messages created (as the hub saw their events), for the admin console's live counter.
    pub messages: MessageRate,
    /// Open WebSocket connections (gauge).
    pub connections: AtomicI64,
    /// Frames queued for a connection (events, typing, presence).
    pub frames_delivered: AtomicU64,
    /// Frames that could not be queued (the connection was full or closing).
    pub frames_dropped: AtomicU64,
    /// Connections closed because they stopped reading (send queue full).
    pub slow_disconnects: AtomicU64,
    /// Times the hub fell behind the bus and told every connection to resync.
    pub lag_resyncs: AtomicU64,
    /// Client frames refused by the per-connection rate limit.
    pub rate_limited_frames: AtomicU64,
    /// Connections refused: bad credential or too many for the user.
    pub rejected_connections: AtomicU64,
}

/// A point-in-time copy of [`Metrics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub connections: i64,
    pub frames_delivered: u64,
    pub frames_dropped: u64,
    pub slow_disconnects: u64,
    pub lag_resyncs: u64,
    pub rate_limited_frames: u64,
    pub rejected_connections: u64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            connections: self.connections.load(Ordering::Relaxed),
            frames_delivered: get(&self.frames_delivered),
            frames_dropped: get(&self.frames_dropped),
            slow_disconnects: get(&self.slow_disconnects),
            lag_resyncs: get(&self.lag_resyncs),
            rate_limited_frames: get(&self.rate_limited_frames),
            rejected_connections: get(&self.rejected_connections),
        }
    }
}

/// How many messages were created in the last minute: sixty one-second buckets, each stamped
/// with its second, so a bucket left from an earlier minute counts for nothing.
#[derive(Debug)]
pub struct MessageRate {
    buckets: Mutex<[(i64, u64); 60]>,
}

impl Default for MessageRate {
    fn default() -> Self {
        Self {
            buckets: Mutex::new([(i64::MIN, 0); 60]),
        }
    }
}

impl MessageRate {
    /// One message created at `unix_second`.
    pub fn note(&self, unix_second: i64) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let slot = &mut buckets[usize::try_from(unix_second.rem_euclid(60)).unwrap_or(0)];
        if slot.0 != unix_second {
            *slot = (unix_second, 0);
        }
        slot.1 += 1;
    }

    /// Messages noted in the 60 seconds up to and including `unix_second`.
    pub fn last_minute(&self, unix_second: i64) -> u64 {
        let buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        buckets
            .iter()
            .filter(|(at, _)| {
                unix_second
                    .checked_sub(*at)
                    .is_some_and(|ago| (0..60).contains(&ago))
            })
            .map(|(_, n)| n)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::MessageRate;

    #[test]
    fn the_rate_counts_the_last_sixty_seconds_only() {
        let rate = MessageRate::default();
        rate.note(1_000);
        rate.note(1_000);
        rate.note(1_030);
        rate.note(1_059);
        assert_eq!(rate.last_minute(1_059), 4);
        // 1,000 is now more than a minute ago; its bucket is reused by 1,060.
        rate.note(1_060);
        assert_eq!(rate.last_minute(1_060), 3);
        assert_eq!(rate.last_minute(1_089), 3);
        assert_eq!(rate.last_minute(1_090), 2);
        assert_eq!(rate.last_minute(1_200), 0);
    }
}
