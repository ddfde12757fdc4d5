//! Counters of the realtime gateway: plain atomics, read by `/metrics` (when it lands) and tests.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
