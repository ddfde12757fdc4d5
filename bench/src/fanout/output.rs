//! The fan-out report: table or JSON, and the SPEC verdict.

use anyhow::{Result, bail};
use serde_json::{Value, json};

use super::{Outcome, TARGET_P99_MS, TARGET_RSS_MIB};
use crate::report::{self, Latency};

/// What the report states beyond the raw outcome: latency statistics, losses and the verdict.
struct Figures {
    latency: Option<Latency>,
    delivered: u64,
    lost: u64,
    /// The SPEC verdict line.
    target: String,
}

impl Outcome {
    /// Print the report (JSON or table); an error when deliveries were lost.
    pub(super) fn print(mut self, command: &str, as_json: bool) -> Result<()> {
        let figures = self.figures();
        let report = self.json_report(command, &figures);
        if as_json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            for (k, v) in self.table_rows(command, &report, &figures) {
                println!("{k:<14}{v}");
            }
        }
        if figures.lost > 0 {
            bail!("{} deliveries lost", figures.lost);
        }
        Ok(())
    }

    /// Sort the latencies and derive the statistics, the losses and the SPEC verdict.
    fn figures(&mut self) -> Figures {
        let latencies = &mut self.deliveries.latencies_us;
        latencies.sort_unstable();
        let latency = Latency::from_sorted_us(latencies);
        let delivered = latencies.len() as u64;
        let lost = self.expected.saturating_sub(delivered);
        let rss_peak = self.process.as_ref().map(|p| p.rss_peak_mib);
        let met = match (&latency, rss_peak) {
            (Some(l), Some(rss)) => Some(
                lost == 0 && self.send_errors == 0 && l.p99 < TARGET_P99_MS && rss < TARGET_RSS_MIB,
            ),
            _ => None,
        };
        let verdict = match met {
            Some(true) => "met",
            Some(false) => "not met",
            None => "unknown",
        };
        let target = format!(
            "{verdict} (SPEC: p99 delivery < {TARGET_P99_MS} ms, RSS < {TARGET_RSS_MIB} MiB, nothing lost)"
        );
        Figures {
            latency,
            delivered,
            lost,
            target,
        }
    }

    /// The report as one JSON object (its keys are read by scripts).
    fn json_report(&self, command: &str, figures: &Figures) -> Value {
        json!({
            "scenario": "fanout",
            "date": report::utc_now(),
            "commit": report::git_commit(),
            "command": command,
            "machine": report::machine(),
            "server": self.server,
            "params": self.params,
            "connected_in_s": self.connected_in_s,
            "messages_sent": self.sent,
            "send_errors": self.send_errors,
            "send_rate": self.actual_rate,
            "deliveries_expected": self.expected,
            "deliveries": figures.delivered,
            "lost": figures.lost,
            "duplicates": self.deliveries.duplicates,
            "unknown": self.deliveries.unknown,
            "connections_dropped": self.deliveries.dropped.len(),
            "first_drop": self.deliveries.dropped.first(),
            "latency_ms": figures.latency,
            "server_rss_connected_mib": self.rss_connected_mib,
            "server_process": self.process,
            "bench_cpu_percent": self.bench_cpu,
            "target": figures.target,
        })
    }

    /// The table: (label, value) rows, the date, commit and parameters taken from `report`.
    fn table_rows(
        &self,
        command: &str,
        report: &Value,
        figures: &Figures,
    ) -> [(&'static str, String); 22] {
        let l = |f: fn(&Latency) -> f64| {
            figures
                .latency
                .as_ref()
                .map(|x| format!("{:.2} ms", f(x)))
                .unwrap_or_else(|| "-".into())
        };
        [
            ("scenario", "fanout".to_owned()),
            ("date", report["date"].as_str().unwrap_or("").to_owned()),
            (
                "commit",
                report["commit"].as_str().unwrap_or("-").to_owned(),
            ),
            ("command", command.to_owned()),
            ("machine", report::machine()),
            ("server", report["server"].as_str().unwrap_or("").to_owned()),
            ("parameters", report["params"].to_string()),
            (
                "connected",
                format!(
                    "{} clients in {:.1} s",
                    report["params"]["clients"], self.connected_in_s
                ),
            ),
            (
                "sent",
                format!(
                    "{} messages (201), {} failed, {:.1}/s",
                    self.sent, self.send_errors, self.actual_rate
                ),
            ),
            (
                "deliveries",
                format!("{} of {} expected", figures.delivered, self.expected),
            ),
            ("lost", figures.lost.to_string()),
            ("duplicates", self.deliveries.duplicates.to_string()),
            ("dropped conns", self.dropped_text()),
            ("delivery p50", l(|x| x.p50)),
            ("delivery p95", l(|x| x.p95)),
            ("delivery p99", l(|x| x.p99)),
            ("delivery max", l(|x| x.max)),
            ("delivery mean", l(|x| x.mean)),
            ("server RSS", self.server_rss_text()),
            ("server CPU", self.server_cpu_text()),
            ("bench CPU", self.bench_cpu_text()),
            ("target", figures.target.clone()),
        ]
    }

    /// `N`, or `N (first: why)`.
    fn dropped_text(&self) -> String {
        let dropped = &self.deliveries.dropped;
        format!(
            "{}{}",
            dropped.len(),
            dropped
                .first()
                .map(|d| format!(" (first: {d})"))
                .unwrap_or_default()
        )
    }

    fn server_rss_text(&self) -> String {
        match (&self.process, self.rss_connected_mib) {
            (Some(p), Some(c)) => format!(
                "{c:.1} MiB connected and idle, peak {:.1} MiB, after {:.1} MiB",
                p.rss_peak_mib, p.rss_after_mib
            ),
            _ => "-".into(),
        }
    }

    fn server_cpu_text(&self) -> String {
        self.process
            .as_ref()
            .map(|p| format!("{:.0} % (100 % = one core)", p.cpu_percent))
            .unwrap_or_else(|| "-".into())
    }

    fn bench_cpu_text(&self) -> String {
        self.bench_cpu
            .map(|c| format!("{c:.0} % (this load generator)"))
            .unwrap_or_else(|| "-".into())
    }
}
