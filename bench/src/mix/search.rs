//! Mattermost's pass criteria for a load step, and the search for the largest passing number of
//! simulated users: double until a step fails, then bisect between the last pass and the first
//! failure.

/// Mattermost's thresholds: average ≤ 100 ms, p99 ≤ 2 s, errors ≤ 0.025 %.
pub const MAX_AVG_MS: f64 = 100.0;
pub const MAX_P99_MS: f64 = 2000.0;
pub const MAX_ERROR_PERCENT: f64 = 0.025;

/// Whether a step with these overall figures passes; otherwise the reason.
pub fn check(avg_ms: f64, p99_ms: f64, requests: u64, errors: u64) -> Result<(), String> {
    let error_percent = if requests == 0 {
        100.0
    } else {
        errors as f64 * 100.0 / requests as f64
    };
    let mut failed = Vec::new();
    if requests == 0 {
        failed.push("no requests".to_owned());
    }
    if avg_ms > MAX_AVG_MS {
        failed.push(format!("average {avg_ms:.1} ms > {MAX_AVG_MS} ms"));
    }
    if p99_ms > MAX_P99_MS {
        failed.push(format!("p99 {p99_ms:.0} ms > {MAX_P99_MS} ms"));
    }
    if error_percent > MAX_ERROR_PERCENT {
        failed.push(format!(
            "errors {error_percent:.3} % > {MAX_ERROR_PERCENT} %"
        ));
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join(", "))
    }
}

/// The search state: the largest count that passed and the smallest that failed so far.
#[derive(Debug, Clone)]
pub struct Search {
    pub passed: Option<u32>,
    pub failed: Option<u32>,
    /// Stop bisecting when the bracket is this close, relative to the passing count.
    precision: f64,
    cap: u32,
    next: Option<u32>,
}

impl Search {
    /// Start at `start` users, never go above `cap`; stop when failed − passed ≤
    /// max(1, precision × passed).
    pub fn new(start: u32, cap: u32, precision: f64) -> Search {
        Search {
            passed: None,
            failed: None,
            precision,
            cap: cap.max(1),
            next: Some(start.clamp(1, cap.max(1))),
        }
    }

    /// The user count to try next, or `None` when the search is over.
    pub fn next(&self) -> Option<u32> {
        self.next
    }

    /// Record the outcome of the step at `users`.
    pub fn record(&mut self, users: u32, passed: bool) {
        if passed {
            self.passed = Some(self.passed.map_or(users, |p| p.max(users)));
        } else {
            self.failed = Some(self.failed.map_or(users, |f| f.min(users)));
        }
        self.next = self.choose();
    }

    fn choose(&self) -> Option<u32> {
        match (self.passed, self.failed) {
            // Nothing passed yet: halve, down to one user.
            (None, Some(f)) => (f > 1).then_some(f / 2),
            (Some(p), None) => (p < self.cap).then(|| p.saturating_mul(2).min(self.cap)),
            (Some(p), Some(f)) => {
                let close = f.saturating_sub(p) as f64 <= (self.precision * p as f64).max(1.0);
                (!close).then_some(p + (f - p) / 2)
            }
            (None, None) => self.next,
        }
    }

    /// The answer: the largest count that passed (0 when none did).
    pub fn result(&self) -> u32 {
        self.passed.unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run the search against a system that passes up to `limit` users.
    fn run(limit: u32, start: u32, cap: u32) -> (u32, Vec<u32>) {
        let mut s = Search::new(start, cap, 0.05);
        let mut tried = Vec::new();
        while let Some(n) = s.next() {
            assert!(tried.len() < 64, "the search does not end: {tried:?}");
            tried.push(n);
            s.record(n, n <= limit);
        }
        (s.result(), tried)
    }

    #[test]
    fn doubles_then_bisects_to_within_the_precision() {
        let (found, tried) = run(730, 50, 100_000);
        assert_eq!(&tried[..6], &[50, 100, 200, 400, 800, 600]);
        assert!(found <= 730 && found as f64 >= 730.0 * 0.95, "{found}");
    }

    #[test]
    fn finds_exact_small_limits_and_zero() {
        assert_eq!(run(1, 8, 1000).0, 1);
        assert_eq!(run(0, 8, 1000).0, 0);
        assert_eq!(run(13, 1, 1000).0, 13);
    }

    #[test]
    fn stops_at_the_cap() {
        let (found, tried) = run(10_000, 100, 1000);
        assert_eq!(found, 1000);
        assert_eq!(tried, vec![100, 200, 400, 800, 1000]);
    }

    #[test]
    fn thresholds_are_mattermosts() {
        assert!(check(100.0, 2000.0, 40_000, 10).is_ok());
        assert!(check(100.1, 10.0, 1000, 0).is_err());
        assert!(check(10.0, 2001.0, 1000, 0).is_err());
        let err = check(10.0, 10.0, 40_000, 11).unwrap_err();
        assert!(err.contains("errors"), "{err}");
        assert!(check(1.0, 1.0, 0, 0).is_err());
    }
}
