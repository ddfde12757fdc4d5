//! Results: latency statistics, the machine and command that produced them, table or JSON.

use std::{
    collections::BTreeMap,
    time::{SystemTime, UNIX_EPOCH},
};

use serde::Serialize;

use crate::process::{self, ProcSample};

#[derive(Serialize)]
pub struct Report {
    pub scenario: &'static str,
    /// UTC, RFC 3339.
    pub date: String,
    /// `git describe --always --dirty` of the current directory, when it is a checkout.
    pub commit: Option<String>,
    pub command: String,
    pub machine: String,
    pub server: ServerInfo,
    pub params: serde_json::Value,
    pub warmup: Option<PhaseSummary>,
    pub measured: PhaseSummary,
    /// The server process over the measured phase (spawned server, or `--server-pid`).
    pub server_process: Option<ProcSummary>,
    /// CPU used by colink-bench itself over the measured phase (100 = one core).
    pub bench_cpu_percent: Option<f64>,
    pub verification: Verification,
    /// The outbox relay over the measured phase (every node's `/metrics`), when they answered.
    pub relay: Option<RelaySummary>,
    /// Whether the scenario's SPEC target was met.
    pub target: Option<String>,
    pub aborted: Option<String>,
}

/// What the outbox relays published over a phase, from the nodes' `outbox_published_events_total`
/// and `outbox_publish_duration_seconds` (summed over the nodes).
#[derive(Serialize)]
pub struct RelaySummary {
    pub events: u64,
    pub batches: u64,
    /// Time spent waiting for the bus to accept the batches.
    pub bus_seconds: f64,
    /// Events published per second of the phase (bounded by what was sent).
    pub events_per_s: f64,
    /// Events per second of bus time: the relay's rate if it never waited for work.
    pub capacity_per_s: Option<f64>,
}

/// The relay's counters on one scrape: (events, batches, seconds publishing).
#[derive(Default, Clone, Copy)]
pub struct RelayCounters {
    pub events: f64,
    pub batches: f64,
    pub seconds: f64,
}

impl RelayCounters {
    /// Read from a Prometheus text scrape.
    pub fn parse(scrape: &str) -> Self {
        let sample = |series: &str| {
            scrape
                .lines()
                .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
                .unwrap_or(0.0)
        };
        Self {
            events: sample("outbox_published_events_total"),
            batches: sample("outbox_publish_duration_seconds_count"),
            seconds: sample("outbox_publish_duration_seconds_sum"),
        }
    }

    pub fn plus(self, other: Self) -> Self {
        Self {
            events: self.events + other.events,
            batches: self.batches + other.batches,
            seconds: self.seconds + other.seconds,
        }
    }

    /// The phase between two readings that took `elapsed_s`.
    pub fn since(self, before: Self, elapsed_s: f64) -> RelaySummary {
        let events = (self.events - before.events).max(0.0);
        let seconds = (self.seconds - before.seconds).max(0.0);
        RelaySummary {
            events: events as u64,
            batches: (self.batches - before.batches).max(0.0) as u64,
            bus_seconds: seconds,
            events_per_s: if elapsed_s > 0.0 {
                events / elapsed_s
            } else {
                0.0
            },
            capacity_per_s: (seconds > 0.0).then(|| events / seconds),
        }
    }
}

#[derive(Serialize)]
pub struct ServerInfo {
    pub target: String,
    pub backend: String,
    pub pid: Option<u32>,
}

#[derive(Serialize)]
pub struct PhaseSummary {
    /// Successful (201) requests.
    pub messages: u64,
    pub attempts: u64,
    pub elapsed_s: f64,
    pub messages_per_s: f64,
    /// Of the successful requests; none when there were none.
    pub latency_ms: Option<Latency>,
    pub errors: u64,
    /// HTTP status, or `transport` / `timeout` / `body`.
    pub errors_by_status: BTreeMap<String, u64>,
    pub first_error: Option<String>,
}

/// Milliseconds, from the full sorted sample (nearest rank).
#[derive(Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    pub fn from_sorted_us(sorted: &[u64]) -> Option<Latency> {
        let last = *sorted.last()?;
        let rank = |p: f64| {
            let idx = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
            sorted[idx.clamp(1, sorted.len()) - 1] as f64 / 1000.0
        };
        let sum: u128 = sorted.iter().map(|&v| u128::from(v)).sum();
        Some(Latency {
            p50: rank(50.0),
            p95: rank(95.0),
            p99: rank(99.0),
            max: last as f64 / 1000.0,
            mean: sum as f64 / sorted.len() as f64 / 1000.0,
        })
    }
}

#[derive(Serialize)]
pub struct ProcSummary {
    pub rss_before_mib: f64,
    /// Highest RSS seen while sampling every 100 ms during the measured phase.
    pub rss_peak_mib: f64,
    pub rss_after_mib: f64,
    /// 100 = one core busy for the whole phase.
    pub cpu_percent: f64,
}

impl ProcSummary {
    pub fn new(before: &ProcSample, after: &ProcSample, peak_kib: u64) -> ProcSummary {
        let mib = |kib: u64| kib as f64 / 1024.0;
        ProcSummary {
            rss_before_mib: mib(before.rss_kib),
            rss_peak_mib: mib(peak_kib),
            rss_after_mib: mib(after.rss_kib),
            cpu_percent: process::cpu_percent(before, after),
        }
    }
}

#[derive(Serialize)]
pub struct Verification {
    /// `ok`, `mismatch`, `skipped` or `error`.
    pub status: &'static str,
    pub detail: String,
}

impl Verification {
    pub fn skipped(why: &str) -> Verification {
        Verification {
            status: "skipped",
            detail: why.to_owned(),
        }
    }

    pub fn error(why: &str) -> Verification {
        Verification {
            status: "error",
            detail: why.to_owned(),
        }
    }

    pub fn compare(sum_of_seq: u64, created: u64) -> Verification {
        let detail = format!("sum of newest seq per channel {sum_of_seq}, 201 answers {created}");
        Verification {
            status: if sum_of_seq == created {
                "ok"
            } else {
                "mismatch"
            },
            detail,
        }
    }

    fn line(&self) -> String {
        match self.status {
            "ok" => format!("OK ({})", self.detail),
            "mismatch" => format!("MISMATCH ({})", self.detail),
            "skipped" => format!("verification skipped ({})", self.detail),
            _ => format!("verification failed: {}", self.detail),
        }
    }
}

/// Table rows: (label, value).
type Rows = Vec<(&'static str, String)>;

impl Report {
    pub fn print_table(&self) {
        let rows = self.table_rows();
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in rows {
            println!("{k:<width$}  {v}");
        }
    }

    /// The rows in print order; rows without a value (no warm-up, no target…) are left out.
    fn table_rows(&self) -> Rows {
        let mut rows = self.run_rows();
        if let Some(w) = &self.warmup {
            rows.push((
                "warm-up",
                format!(
                    "{} messages in {:.1} s (not measured)",
                    w.messages, w.elapsed_s
                ),
            ));
        }
        self.measured.push_rows(&mut rows);
        self.push_resource_rows(&mut rows);
        if let Some(r) = &self.relay {
            rows.push((
                "outbox relay",
                format!(
                    "{} events in {} batches, {:.0} events/s; bus busy {:.2} s{}",
                    r.events,
                    r.batches,
                    r.events_per_s,
                    r.bus_seconds,
                    r.capacity_per_s
                        .map(|c| format!(" → {c:.0} events/s per second of bus time"))
                        .unwrap_or_default()
                ),
            ));
        }
        rows.push(("durability", self.verification.line()));
        if let Some(t) = &self.target {
            rows.push(("target", t.clone()));
        }
        if let Some(a) = &self.aborted {
            rows.push(("ABORTED", a.clone()));
        }
        rows
    }

    /// What ran, where and when.
    fn run_rows(&self) -> Rows {
        vec![
            ("scenario", self.scenario.to_owned()),
            ("date", self.date.clone()),
            ("commit", self.commit.clone().unwrap_or_else(|| "-".into())),
            ("command", self.command.clone()),
            ("machine", self.machine.clone()),
            (
                "server",
                format!("{} ({})", self.server.target, self.server.backend),
            ),
            ("parameters", params_line(&self.params)),
        ]
    }

    /// The server's RSS and CPU, and this load generator's CPU.
    fn push_resource_rows(&self, rows: &mut Rows) {
        match &self.server_process {
            Some(p) => {
                rows.push((
                    "server RSS",
                    format!(
                        "before {:.1} MiB, peak {:.1} MiB, after {:.1} MiB",
                        p.rss_before_mib, p.rss_peak_mib, p.rss_after_mib
                    ),
                ));
                rows.push((
                    "server CPU",
                    format!("{:.0} % (100 % = one core)", p.cpu_percent),
                ));
            }
            None if self.server.pid.is_some() => {
                rows.push((
                    "server RSS/CPU",
                    "unavailable (see the warnings above)".into(),
                ));
            }
            None => rows.push(("server RSS/CPU", "unknown (pass --server-pid)".into())),
        }
        if let Some(cpu) = self.bench_cpu_percent {
            rows.push(("bench CPU", format!("{cpu:.0} % (this load generator)")));
        }
    }
}

impl PhaseSummary {
    /// Throughput, latency and errors of the phase.
    fn push_rows(&self, rows: &mut Rows) {
        rows.push(("messages", format!("{} (201)", self.messages)));
        rows.push(("elapsed", format!("{:.2} s", self.elapsed_s)));
        rows.push(("messages/s", format!("{:.0}", self.messages_per_s)));
        match &self.latency_ms {
            Some(l) => {
                rows.push(("latency p50", format!("{:.2} ms", l.p50)));
                rows.push(("latency p95", format!("{:.2} ms", l.p95)));
                rows.push(("latency p99", format!("{:.2} ms", l.p99)));
                rows.push(("latency max", format!("{:.2} ms", l.max)));
                rows.push(("latency mean", format!("{:.2} ms", l.mean)));
            }
            None => rows.push(("latency", "no successful requests".into())),
        }
        let by_status = self
            .errors_by_status
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        rows.push((
            "errors",
            if self.errors == 0 {
                "0".into()
            } else {
                format!("{} ({by_status})", self.errors)
            },
        ));
        if let Some(first) = &self.first_error {
            rows.push(("first error", first.clone()));
        }
    }
}

fn params_line(params: &serde_json::Value) -> String {
    match params.as_object() {
        Some(map) => map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
        None => params.to_string(),
    }
}

/// The command line as typed, shell-quoted, with passwords in URLs hidden.
pub fn command_line() -> String {
    std::env::args()
        .map(|a| {
            let a = hide_url_password(&a);
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
            if plain {
                a
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn hide_url_password(arg: &str) -> String {
    let Some(scheme_end) = arg.find("://") else {
        return arg.to_owned();
    };
    let rest = &arg[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return arg.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &arg[..scheme_end + 3],
            &rest[..colon],
            &rest[at..]
        ),
        None => arg.to_owned(),
    }
}

/// `N CPU (model), X GiB RAM, Linux <release>`.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "?".into());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|kib| format!("{:.1} GiB RAM", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown RAM".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpus} CPU ({model}), {mem}, Linux {}", kernel.trim())
}

pub fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=12"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !s.is_empty()).then_some(s)
}

/// Now, UTC, as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
