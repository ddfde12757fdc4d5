//! The `[realtime]` section: WebSocket gateway limits and timings (presence, typing, heartbeats).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, HumanDuration};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RealtimeConfig {
    /// WebSocket connections one user may hold at once (the next one is refused).
    pub max_connections_per_user: u32,
    /// Client frames per second per connection; excess frames get a `rate_limited` error.
    pub max_frames_per_second: u32,
    /// Frames queued for one connection; a client that falls this far behind is disconnected.
    pub send_queue: usize,
    /// Largest client frame accepted, in bytes.
    pub max_frame_bytes: usize,
    /// How often the server pings; a connection missing `missed_pongs` pongs in a row is closed.
    pub ping_interval: HumanDuration,
    pub missed_pongs: u32,
    /// Presence turns `away` after this long without activity.
    pub away_after: HumanDuration,
    /// Presence turns `offline` this long after the user's last connection closed.
    pub offline_grace: HumanDuration,
    /// A typing indicator lasts this long unless refreshed.
    pub typing_ttl: HumanDuration,
    /// Lifetime of a single-use ticket from `POST /api/v1/ws/ticket`.
    pub ticket_ttl: HumanDuration,
    /// Most messages one `resume` replays; further behind, the client reloads over HTTP.
    pub resume_max_messages: u64,
    /// A user's presence is broadcast at most once per interval (the latest state; 0: at once).
    pub presence_interval: HumanDuration,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        let secs = |s| HumanDuration(Duration::from_secs(s));
        Self {
            max_connections_per_user: 10,
            max_frames_per_second: 10,
            send_queue: 256,
            max_frame_bytes: 64 * 1024,
            ping_interval: secs(30),
            missed_pongs: 2,
            away_after: secs(5 * 60),
            offline_grace: secs(10),
            typing_ttl: secs(5),
            ticket_ttl: secs(30),
            resume_max_messages: 1000,
            presence_interval: secs(3),
        }
    }
}

impl RealtimeConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &'static str, problem: &str| Err(ConfigError::invalid(key, problem));
        let counts: [(&'static str, u64, u64, u64); 6] = [
            (
                "realtime.max_connections_per_user",
                self.max_connections_per_user.into(),
                1,
                1000,
            ),
            (
                "realtime.max_frames_per_second",
                self.max_frames_per_second.into(),
                1,
                10_000,
            ),
            ("realtime.send_queue", self.send_queue as u64, 4, 65_536),
            (
                "realtime.max_frame_bytes",
                self.max_frame_bytes as u64,
                1024,
                16 * 1024 * 1024,
            ),
            ("realtime.missed_pongs", self.missed_pongs.into(), 1, 100),
            (
                "realtime.resume_max_messages",
                self.resume_max_messages,
                1,
                100_000,
            ),
        ];
        for (key, value, min, max) in counts {
            if !(min..=max).contains(&value) {
                return invalid(key, &format!("must be between {min} and {max}"));
            }
        }
        for (key, d) in [
            ("realtime.ping_interval", self.ping_interval),
            ("realtime.away_after", self.away_after),
            ("realtime.offline_grace", self.offline_grace),
            ("realtime.typing_ttl", self.typing_ttl),
            ("realtime.ticket_ttl", self.ticket_ttl),
        ] {
            if d.0.is_zero() {
                return invalid(key, "must be positive");
            }
        }
        Ok(())
    }
}
