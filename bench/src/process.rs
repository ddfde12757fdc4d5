//! Readings of a process (the spawned server, or this load generator): resident memory and CPU
//! time from `/proc`, a background RSS peak watcher, waiting for a process to go quiet, and the
//! readings that bracket a measured phase.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow};

use crate::report::ProcSummary;

/// One reading of a process's resident memory and CPU time.
#[derive(Clone, Copy, Debug)]
pub struct ProcSample {
    pub rss_kib: u64,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    pub at: Instant,
}

pub fn clock_ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no preconditions.
    #[allow(unsafe_code, reason = "sysconf(3): no safe wrapper in std")]
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|t| *t > 0).unwrap_or(100)
}

/// Read VmRSS from `/proc/<pid>/status` and utime+stime from `/proc/<pid>/stat`.
pub fn sample(pid: u32) -> Result<ProcSample> {
    let at = Instant::now();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS in /proc/{pid}/status"))?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // Fields after the parenthesised command name start with field 3 (state);
    // utime and stime are fields 14 and 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow!("unexpected /proc/{pid}/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow!("unexpected /proc/{pid}/stat"))
    };
    let cpu_ticks = field(11)? + field(12)?;
    Ok(ProcSample {
        rss_kib,
        cpu_ticks,
        at,
    })
}

/// Wait until process `pid` has used no CPU for `quiet` (the clock-tick resolution: 10 ms per
/// tick), at most `limit`; false when it never went quiet. A spawned server spends its first
/// second or two compressing the web app and hashing the owner's password: a measurement of
/// something else (one upload's memory) waits for that to end instead of adding it in.
pub async fn wait_quiet(pid: u32, quiet: Duration, limit: Duration) -> Result<bool> {
    let deadline = Instant::now() + limit;
    let mut last = sample(pid)?;
    let mut since = last.at;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = sample(pid)?;
        if now.cpu_ticks != last.cpu_ticks {
            since = now.at;
        } else if now.at.duration_since(since) >= quiet {
            return Ok(true);
        }
        last = now;
    }
    Ok(false)
}

/// CPU use between two samples, in percent of one core (200 = two cores busy).
pub fn cpu_percent(before: &ProcSample, after: &ProcSample) -> f64 {
    let secs = after.at.duration_since(before.at).as_secs_f64();
    if secs <= 0.0 {
        return 0.0;
    }
    let ticks = after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64;
    ticks / clock_ticks_per_sec() as f64 / secs * 100.0
}

/// Samples a process's RSS every 100 ms in the background and keeps the maximum.
pub struct RssWatcher {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssWatcher {
    pub fn start(pid: u32) -> RssWatcher {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn({
            let (stop, peak) = (stop.clone(), peak.clone());
            async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(s) = sample(pid) {
                        peak.fetch_max(s.rss_kib, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        });
        RssWatcher { stop, peak, task }
    }

    /// Stop sampling; the peak RSS seen, in KiB.
    pub async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.peak.load(Ordering::Relaxed)
    }
}

/// What the server and this load generator used over a measured phase.
pub struct PhaseUsage {
    /// The server's RSS and CPU, when both of its readings succeeded.
    pub server: Option<ProcSummary>,
    /// This process's CPU (100 = one core).
    pub bench_cpu_percent: Option<f64>,
}

/// Readings taken at the start of a measured phase: the server's and this process's CPU time and
/// RSS, and a watcher for the server's RSS peak until [`PhaseReadings::finish`].
pub struct PhaseReadings {
    server_pid: Option<u32>,
    /// Reads the server process; best effort, so a failure only costs its figures.
    sample_server: fn(u32) -> Option<ProcSample>,
    server_before: Option<ProcSample>,
    watcher: Option<RssWatcher>,
    self_before: Option<ProcSample>,
}

impl PhaseReadings {
    pub fn start(server_pid: Option<u32>, sample_server: fn(u32) -> Option<ProcSample>) -> Self {
        let server_before = server_pid.and_then(sample_server);
        let watcher = server_pid.map(RssWatcher::start);
        let self_before = sample(std::process::id()).ok();
        PhaseReadings {
            server_pid,
            sample_server,
            server_before,
            watcher,
            self_before,
        }
    }

    /// Take the closing readings, stop the RSS watcher, and compare with the start.
    pub async fn finish(self) -> PhaseUsage {
        let self_after = sample(std::process::id()).ok();
        let server_after = self.server_pid.and_then(self.sample_server);
        let rss_peak = match self.watcher {
            Some(w) => Some(w.finish().await),
            None => None,
        };
        let server = match (self.server_before, server_after) {
            (Some(before), Some(after)) => Some(ProcSummary::new(
                &before,
                &after,
                rss_peak.unwrap_or(0).max(after.rss_kib),
            )),
            _ => None,
        };
        let bench_cpu_percent = match (self.self_before, self_after) {
            (Some(b), Some(a)) => Some(cpu_percent(&b, &a)),
            _ => None,
        };
        PhaseUsage {
            server,
            bench_cpu_percent,
        }
    }
}
