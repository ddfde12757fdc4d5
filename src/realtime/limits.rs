//! The per-connection frame-rate limit: a fixed one-second window. Frames over the limit are
//! refused; a connection over the limit in `ABUSE_WINDOWS` windows in a row, or by ten times in
//! one, is closed.

use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(1);
const ABUSE_WINDOWS: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Refuse this frame (answer `rate_limited`).
    Refuse,
    /// Sustained abuse: close the connection.
    Close,
}

pub struct FrameLimiter {
    max: u32,
    window_start: Instant,
    count: u32,
    /// Consecutive windows that went over the limit.
    strikes: u32,
}

impl FrameLimiter {
    pub fn new(max_per_second: u32) -> Self {
        Self {
            max: max_per_second.max(1),
            window_start: Instant::now(),
            count: 0,
            strikes: 0,
        }
    }

    pub fn check(&mut self, now: Instant) -> Verdict {
        let elapsed = now.duration_since(self.window_start);
        if elapsed >= WINDOW {
            let over = self.count > self.max;
            // A quiet window in between ends a streak.
            self.strikes = if over && elapsed < WINDOW * 2 {
                self.strikes + 1
            } else {
                0
            };
            self.window_start = now;
            self.count = 0;
        }
        self.count = self.count.saturating_add(1);
        if self.count <= self.max {
            return Verdict::Allow;
        }
        if self.strikes + 1 >= ABUSE_WINDOWS || self.count > self.max.saturating_mul(10) {
            Verdict::Close
        } else {
            Verdict::Refuse
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_over_the_limit_and_closes_on_floods() {
        let start = Instant::now();
        let mut l = FrameLimiter::new(3);
        l.window_start = start;
        let verdicts: Vec<_> = (0..5).map(|_| l.check(start)).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Allow,
                Verdict::Allow,
                Verdict::Allow,
                Verdict::Refuse,
                Verdict::Refuse
            ]
        );
        assert_eq!(l.check(start + WINDOW), Verdict::Allow, "a new window");
        let mut flood = FrameLimiter::new(3);
        flood.window_start = start;
        let last = (0..31).map(|_| flood.check(start)).last();
        assert_eq!(last, Some(Verdict::Close));
    }

    #[test]
    fn sustained_excess_closes() {
        let start = Instant::now();
        let mut l = FrameLimiter::new(2);
        l.window_start = start;
        let mut last = Verdict::Allow;
        for w in 0..3u32 {
            for _ in 0..3 {
                last = l.check(start + WINDOW * w);
            }
        }
        assert_eq!(last, Verdict::Close);
    }
}
