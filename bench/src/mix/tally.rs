//! What the simulated users measured: per request kind, latencies of the answers that count as
//! successful and errors by status; per action, how often it ran or was skipped.

use std::collections::BTreeMap;

use colink_client::Error;

use super::actions::Action;

#[derive(Default)]
pub struct RequestStats {
    pub latencies_us: Vec<u64>,
    /// By HTTP status, or `timeout` / `transport` / `decode`.
    pub errors: BTreeMap<String, u64>,
    /// Answers that are expected and not errors (409: already reacted with that emoji).
    pub conflicts: u64,
}

#[derive(Default)]
pub struct Tally {
    /// By request label, e.g. `SwitchChannel: GET latest 30`.
    pub requests: BTreeMap<&'static str, RequestStats>,
    pub actions: BTreeMap<Action, u64>,
    /// Actions chosen but not run (no such route on this server), and why.
    pub skipped: BTreeMap<Action, u64>,
    pub first_error: Option<String>,
}

impl Tally {
    pub fn ok(&mut self, label: &'static str, micros: u64) {
        self.requests
            .entry(label)
            .or_default()
            .latencies_us
            .push(micros);
    }

    pub fn error(&mut self, label: &'static str, e: &Error) {
        let key = error_key(e);
        *self
            .requests
            .entry(label)
            .or_default()
            .errors
            .entry(key)
            .or_default() += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("{label}: {e}"));
        }
    }

    pub fn conflict(&mut self, label: &'static str, micros: u64) {
        let r = self.requests.entry(label).or_default();
        r.latencies_us.push(micros);
        r.conflicts += 1;
    }

    pub fn action(&mut self, a: Action) {
        *self.actions.entry(a).or_default() += 1;
    }

    pub fn skip(&mut self, a: Action) {
        *self.skipped.entry(a).or_default() += 1;
    }

    pub fn merge(&mut self, other: Tally) {
        for (label, r) in other.requests {
            let mine = self.requests.entry(label).or_default();
            mine.latencies_us.extend_from_slice(&r.latencies_us);
            for (k, v) in r.errors {
                *mine.errors.entry(k).or_default() += v;
            }
            mine.conflicts += r.conflicts;
        }
        for (a, n) in other.actions {
            *self.actions.entry(a).or_default() += n;
        }
        for (a, n) in other.skipped {
            *self.skipped.entry(a).or_default() += n;
        }
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

fn error_key(e: &Error) -> String {
    match e {
        Error::Api(api) => api.status.as_u16().to_string(),
        Error::Transport { source, .. } if source.is_timeout() => "timeout".into(),
        Error::Transport { .. } => "transport".into(),
        _ => "other".into(),
    }
}
