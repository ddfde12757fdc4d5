//! The mix report: per request kind and per action, the WebSocket traffic, the verdict against
//! Mattermost's thresholds; as a table or one JSON object.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{actions::WEIGHTS, search, step::StepResult};
use crate::report::{Latency, ProcSummary, ServerInfo};

#[derive(Serialize)]
pub struct MixReport {
    pub scenario: &'static str,
    pub date: String,
    pub commit: Option<String>,
    pub command: String,
    pub machine: String,
    pub server: ServerInfo,
    pub params: serde_json::Value,
    pub dataset: serde_json::Value,
    pub steps: Vec<StepReport>,
    /// With `--find-max`: the largest number of simulated users within the thresholds.
    pub max_users: Option<u32>,
}

#[derive(Serialize)]
pub struct RequestRow {
    pub request: &'static str,
    pub count: u64,
    pub latency_ms: Option<Latency>,
    pub errors: u64,
    pub errors_by_status: BTreeMap<String, u64>,
    /// 409 answers that are no error (already reacted).
    pub conflicts: u64,
}

#[derive(Serialize)]
pub struct StepReport {
    pub users: usize,
    pub elapsed_s: f64,
    pub connect_s: f64,
    pub requests: Vec<RequestRow>,
    /// Over every request of the step.
    pub overall: RequestRow,
    pub requests_per_s: f64,
    pub error_percent: f64,
    pub actions: BTreeMap<&'static str, u64>,
    pub skipped: BTreeMap<&'static str, u64>,
    pub ws_frames: u64,
    pub ws_closed_early: u64,
    pub server_process: Option<ProcSummary>,
    pub bench_cpu_percent: Option<f64>,
    /// `ok`, or why the step missed Mattermost's thresholds.
    pub verdict: String,
    pub first_error: Option<String>,
}

impl StepReport {
    pub fn passed(&self) -> bool {
        self.verdict == "ok"
    }
}

pub fn step_report(r: StepResult) -> StepReport {
    let mut all = Vec::new();
    let mut all_errors = BTreeMap::new();
    let mut requests = Vec::new();
    for (label, s) in &r.tally.requests {
        all.extend_from_slice(&s.latencies_us);
        for (k, v) in &s.errors {
            *all_errors.entry(k.clone()).or_insert(0) += v;
        }
        requests.push(RequestRow {
            request: label,
            count: s.latencies_us.len() as u64 + s.errors.values().sum::<u64>(),
            latency_ms: Latency::from_sorted_us(&s.latencies_us),
            errors: s.errors.values().sum(),
            errors_by_status: s.errors.clone(),
            conflicts: s.conflicts,
        });
    }
    all.sort_unstable();
    let errors: u64 = all_errors.values().sum();
    let count = all.len() as u64 + errors;
    let overall = RequestRow {
        request: "all requests",
        count,
        latency_ms: Latency::from_sorted_us(&all),
        errors,
        errors_by_status: all_errors,
        conflicts: requests.iter().map(|r| r.conflicts).sum(),
    };
    let (avg, p99) = overall
        .latency_ms
        .as_ref()
        .map_or((f64::INFINITY, f64::INFINITY), |l| (l.mean, l.p99));
    let verdict = match search::check(avg, p99, count, errors) {
        Ok(()) => "ok".to_owned(),
        Err(why) => why,
    };
    let secs = r.elapsed.as_secs_f64();
    StepReport {
        users: r.users,
        elapsed_s: secs,
        connect_s: r.connect_s,
        requests,
        requests_per_s: count as f64 / secs.max(1e-9),
        error_percent: if count == 0 {
            0.0
        } else {
            errors as f64 * 100.0 / count as f64
        },
        overall,
        actions: r
            .tally
            .actions
            .iter()
            .map(|(a, n)| (a.name(), *n))
            .collect(),
        skipped: r
            .tally
            .skipped
            .iter()
            .map(|(a, n)| (a.name(), *n))
            .collect(),
        ws_frames: r.frames,
        ws_closed_early: r.closed,
        server_process: r.usage.server,
        bench_cpu_percent: r.usage.bench_cpu_percent,
        verdict,
        first_error: r.tally.first_error,
    }
}

fn row_line(r: &RequestRow) -> String {
    let (p50, p99, avg) = r
        .latency_ms
        .as_ref()
        .map_or(("-".into(), "-".into(), "-".into()), |l| {
            (
                format!("{:.2}", l.p50),
                format!("{:.2}", l.p99),
                format!("{:.2}", l.mean),
            )
        });
    let errors = if r.errors == 0 {
        "0".to_owned()
    } else {
        let by: Vec<String> = r
            .errors_by_status
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        format!("{} ({})", r.errors, by.join(", "))
    };
    let conflicts = if r.conflicts > 0 {
        format!(" [{} × 409 already reacted]", r.conflicts)
    } else {
        String::new()
    };
    format!(
        "{:<36} {:>9} {:>9} {:>9} {:>9}  {errors}{conflicts}",
        r.request, r.count, p50, p99, avg
    )
}

impl StepReport {
    pub fn print(&self) {
        println!(
            "\n{} simulated users, {:.1} s (WebSockets connected in {:.1} s)",
            self.users, self.elapsed_s, self.connect_s
        );
        println!(
            "{:<36} {:>9} {:>9} {:>9} {:>9}  errors",
            "request", "count", "p50 ms", "p99 ms", "avg ms"
        );
        for r in &self.requests {
            println!("{}", row_line(r));
        }
        println!("{}", row_line(&self.overall));
        println!(
            "throughput: {:.0} requests/s; error rate {:.4} %",
            self.requests_per_s, self.error_percent
        );
        let actions: Vec<String> = WEIGHTS
            .iter()
            .filter_map(|(a, _)| {
                self.actions
                    .get(a.name())
                    .map(|n| format!("{} {n}", a.name()))
            })
            .collect();
        println!("actions: {}", actions.join(", "));
        if !self.skipped.is_empty() {
            let skipped: Vec<String> = self
                .skipped
                .iter()
                .map(|(a, n)| format!("{a} {n}"))
                .collect();
            println!(
                "skipped: {} (ViewGlobalThreads: GET /threads answered 404; AddReaction: no message \
                 loaded)",
                skipped.join(", ")
            );
        }
        self.print_resources();
        if let Some(e) = &self.first_error {
            println!("first error: {e}");
        }
        println!(
            "Mattermost thresholds (avg ≤ 100 ms, p99 ≤ 2 s, errors ≤ 0.025 %): {}",
            self.verdict
        );
    }

    fn print_resources(&self) {
        println!(
            "WebSocket: {} connections, {} frames received ({:.0}/s), {} closed early",
            self.users,
            self.ws_frames,
            self.ws_frames as f64 / self.elapsed_s.max(1e-9),
            self.ws_closed_early
        );
        if let Some(p) = &self.server_process {
            println!(
                "server: CPU {:.0} % (100 % = one core), RSS peak {:.1} MiB",
                p.cpu_percent, p.rss_peak_mib
            );
        }
        if let Some(cpu) = self.bench_cpu_percent {
            println!("bench CPU: {cpu:.0} % (this load generator)");
        }
    }
}

impl MixReport {
    pub fn print_table(&self) {
        println!("scenario    mix");
        println!("date        {}", self.date);
        println!("commit      {}", self.commit.as_deref().unwrap_or("-"));
        println!("command     {}", self.command);
        println!(
            "machine     {} (server, database and load generator share it)",
            self.machine
        );
        println!(
            "server      {} ({})",
            self.server.target, self.server.backend
        );
        println!("parameters  {}", self.params);
        println!("dataset     {}", self.dataset);
        for s in &self.steps {
            s.print();
        }
        if let Some(n) = self.max_users {
            println!("\nlargest number of simulated users within Mattermost's thresholds: {n}");
        }
    }
}
