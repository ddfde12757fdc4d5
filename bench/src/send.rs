//! The `send` scenario: C concurrent senders post messages over HTTP/1.1 keep-alive; every 201 is
//! a durably stored message. Reports throughput and the latency of the 201s.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use clap::Args;
use colink_client::{Error, History, MessagesUrl, NewMessage, StatusCode};
use serde_json::json;
use tokio::task::JoinSet;

use crate::{
    api::{self, Client},
    bootstrap::{self, BenchUser, Fixture},
    process::{self, PhaseReadings, PhaseUsage},
    report::{self, Latency, PhaseSummary, Report, Verification},
    server::{Server, TargetArgs},
};

/// SPEC §9 target for this scenario.
const TARGET_MSGS_PER_S: f64 = 10_000.0;
const TARGET_P99_MS: f64 = 50.0;

#[derive(Args, Debug)]
pub struct SendArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Users that send (registered and logged in before the run).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=9999))]
    pub users: u32,

    /// Public channels; every user joins every channel.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub channels: u32,

    /// Concurrent senders, each with at most one request in flight.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub concurrency: u32,

    /// Messages to send in the measured phase.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub messages: u64,

    /// Seconds of warm-up before the measured phase (sent, not measured; 0: none).
    #[arg(long, default_value_t = 2.0, value_name = "SECS", value_parser = parse_secs)]
    pub warmup: f64,

    /// Measure for this many seconds instead of a number of --messages.
    #[arg(long, value_name = "SECS", conflicts_with = "messages", value_parser = parse_secs)]
    pub duration: Option<f64>,

    /// Print the report as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a number of seconds ≥ 0")),
    }
}

pub async fn run(args: SendArgs) -> Result<()> {
    if args.duration == Some(0.0) {
        bail!("--duration must be > 0");
    }
    let command = report::command_line();
    let probe = reqwest::Client::builder()
        .no_proxy()
        .build()
        .context("building the HTTP client")?;
    let server = Server::start(&args.target, &probe).await?;
    let api = api::client(&server.base_url, args.concurrency as usize + 16)?;

    let outcome = measure(&args, &server, &api, command).await;
    let report = server.finish(outcome).await?;

    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        report.print_table();
    }
    match &report.aborted {
        Some(reason) => bail!(
            "run aborted: {reason}; first: {}",
            report.measured.first_error.as_deref().unwrap_or("?")
        ),
        None => Ok(()),
    }
}

async fn measure(
    args: &SendArgs,
    server: &Server,
    api: &Client,
    command: String,
) -> Result<Report> {
    let fixture = bootstrap::create(
        api,
        &server.setup_token,
        args.users as usize,
        args.channels as usize,
    )
    .await?;
    let refresher = bootstrap::spawn_refresher(api.clone(), &fixture);
    let tag = bootstrap::run_tag();

    // Senders spread over the nodes (one, unless --nodes): ticket k posts through node k mod n.
    let nodes = server
        .base_urls
        .iter()
        .map(|base| api::client(base, args.concurrency as usize + 16))
        .collect::<Result<Vec<_>>>()?;
    let warmup = warm_up(args, &nodes, &fixture, &tag).await?;
    if let Some(w) = &warmup
        && let Some(reason) = &w.aborted
    {
        refresher.abort();
        bail!(
            "warm-up stopped: {reason}; first: {}",
            w.first_error.as_deref().unwrap_or("?")
        );
    }
    let warmup = warmup.map(|w| w.summary());
    let relay_before = relay_counters(server).await;
    let (measured, usage) = measured_phase(args, server, &nodes, &fixture, &tag).await?;
    let relay = match (relay_before, relay_counters(server).await) {
        (Some(before), Some(after)) => Some(after.since(before, measured.elapsed.as_secs_f64())),
        _ => None,
    };
    refresher.abort();

    eprintln!("verifying stored message counts…");
    let created = warmup.as_ref().map_or(0, |w| w.messages) + measured.ok;
    let verification = verify(&fixture, created).await;
    let summary = measured.summary();
    Ok(Report {
        scenario: "send",
        date: report::utc_now(),
        commit: report::git_commit(),
        command,
        machine: report::machine(),
        server: server.info(),
        params: params(args),
        warmup,
        target: verdict(measured.aborted.as_deref(), &summary),
        measured: summary,
        server_process: usage.server,
        bench_cpu_percent: usage.bench_cpu_percent,
        verification,
        relay,
        aborted: measured.aborted,
    })
}

/// The unmeasured warm-up phase, when `--warmup` is not 0.
async fn warm_up(
    args: &SendArgs,
    nodes: &[Client],
    fixture: &Fixture,
    tag: &str,
) -> Result<Option<PhaseResult>> {
    if args.warmup <= 0.0 {
        return Ok(None);
    }
    eprintln!("warm-up: {} s (not measured)…", args.warmup);
    let until = Instant::now() + Duration::from_secs_f64(args.warmup);
    let concurrency = args.concurrency as usize;
    let w = run_phase(nodes, fixture, tag, 'w', Limit::Until(until), concurrency).await?;
    Ok(Some(w))
}

/// The measured phase (`--messages` or `--duration`), and the server's and this process's
/// resource use over it.
async fn measured_phase(
    args: &SendArgs,
    server: &Server,
    nodes: &[Client],
    fixture: &Fixture,
    tag: &str,
) -> Result<(PhaseResult, PhaseUsage)> {
    let concurrency = args.concurrency as usize;
    let limit = match args.duration {
        Some(secs) => {
            eprintln!("measuring for {secs} s with {concurrency} senders…");
            Limit::Until(Instant::now() + Duration::from_secs_f64(secs))
        }
        None => {
            eprintln!(
                "measuring {} messages with {concurrency} senders…",
                args.messages
            );
            Limit::Count(args.messages)
        }
    };
    let readings = PhaseReadings::start(server.pid, sample_server);
    let measured = run_phase(nodes, fixture, tag, 'm', limit, concurrency).await?;
    let usage = readings.finish().await;
    Ok((measured, usage))
}

/// The outbox relay's counters summed over the nodes; `None` when a node's `/metrics` does not
/// answer (served apart, or not at all).
async fn relay_counters(server: &Server) -> Option<report::RelayCounters> {
    let http = reqwest::Client::new();
    let mut total = report::RelayCounters::default();
    for base in &server.base_urls {
        let scrape = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .ok()?
            .error_for_status()
            .ok()?
            .text()
            .await
            .ok()?;
        total = total.plus(report::RelayCounters::parse(&scrape));
    }
    Some(total)
}

/// The run's parameters, as the report shows them.
fn params(args: &SendArgs) -> serde_json::Value {
    json!({
        "users": args.users,
        "channels": args.channels,
        "concurrency": args.concurrency,
        "messages": if args.duration.is_some() { None } else { Some(args.messages) },
        "duration_s": args.duration,
        "warmup_s": args.warmup,
    })
}

/// The SPEC verdict, when the measured phase ran to its end and had successful requests.
fn verdict(aborted: Option<&str>, measured: &PhaseSummary) -> Option<String> {
    match (aborted, &measured.latency_ms) {
        (None, Some(l)) => Some(target_verdict(measured.messages_per_s, l.p99)),
        _ => None,
    }
}

/// Best effort: a failed reading only costs the RSS/CPU figures.
fn sample_server(pid: u32) -> Option<process::ProcSample> {
    process::sample(pid)
        .map_err(|e| eprintln!("warning: server process {pid}: {e:#}"))
        .ok()
}

fn target_verdict(msgs_per_s: f64, p99_ms: f64) -> String {
    let met = msgs_per_s >= TARGET_MSGS_PER_S && p99_ms < TARGET_P99_MS;
    format!(
        "{} (SPEC: ≥ {TARGET_MSGS_PER_S} msgs/s at p99 < {TARGET_P99_MS} ms with 64 senders on \
         SQLite, 2 cores)",
        if met { "met" } else { "not met" }
    )
}

enum Limit {
    /// Stop after this many requests were started.
    Count(u64),
    /// Start no request after this instant.
    Until(Instant),
}

/// State shared by the senders of one phase.
struct Phase {
    users: Arc<Vec<Arc<BenchUser>>>,
    /// `POST` URL per node and channel.
    urls: Vec<Vec<MessagesUrl>>,
    tag: String,
    phase: char,
    limit: Limit,
    tickets: AtomicU64,
    attempts: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
    first_error: Mutex<Option<String>>,
}

#[derive(Default)]
struct SenderResult {
    latencies_us: Vec<u64>,
    ok: u64,
    errors: BTreeMap<String, u64>,
}

struct PhaseResult {
    latencies_us: Vec<u64>,
    ok: u64,
    attempts: u64,
    errors: BTreeMap<String, u64>,
    elapsed: Duration,
    aborted: Option<String>,
    first_error: Option<String>,
}

impl PhaseResult {
    fn summary(&self) -> PhaseSummary {
        let secs = self.elapsed.as_secs_f64();
        PhaseSummary {
            messages: self.ok,
            attempts: self.attempts,
            elapsed_s: secs,
            messages_per_s: if secs > 0.0 {
                self.ok as f64 / secs
            } else {
                0.0
            },
            latency_ms: Latency::from_sorted_us(&self.latencies_us),
            errors: self.errors.values().sum(),
            errors_by_status: self.errors.clone(),
            first_error: self.first_error.clone(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Phase {
    /// Count an error; stop the phase once errors exceed 1 % of at least 100 attempts.
    fn error(&self, kind: String, detail: impl FnOnce() -> String) {
        let errors = self.errors.fetch_add(1, Ordering::Relaxed) + 1;
        let attempts = self.attempts.load(Ordering::Relaxed);
        lock(&self.first_error).get_or_insert_with(|| format!("{kind}: {}", detail()));
        if attempts >= 100 && errors * 100 > attempts {
            self.stop.store(true, Ordering::Relaxed);
        }
    }
}

/// One sender: takes tickets until the phase ends; ticket k posts as user k mod N into channel
/// (k + k / N) mod M, so consecutive requests spread over users and channels alike.
async fn sender(p: Arc<Phase>) -> SenderResult {
    let mut out = SenderResult::default();
    let n_users = p.users.len() as u64;
    let (n_nodes, n_channels) = (p.urls.len() as u64, p.urls[0].len() as u64);
    loop {
        if p.stop.load(Ordering::Relaxed) {
            break;
        }
        let k = p.tickets.fetch_add(1, Ordering::Relaxed);
        match p.limit {
            Limit::Count(total) if k >= total => break,
            Limit::Until(t) if Instant::now() >= t => break,
            _ => {}
        }
        let user = &p.users[(k % n_users) as usize];
        let url = &p.urls[(k % n_nodes) as usize][((k + k / n_users) % n_channels) as usize];
        let client_id = format!("{}-{}{k}", p.tag, p.phase);
        let content = format!(
            "bench message {k} from {}: the quick brown fox jumps over the lazy dog",
            user.username
        );
        let client = user.client();
        p.attempts.fetch_add(1, Ordering::Relaxed);

        let started = Instant::now();
        let message = NewMessage {
            content: &content,
            client_id: Some(&client_id),
            thread_root_id: None,
            file_ids: &[],
        };
        let sent = client.post_message(url, &message).await;
        let micros = started.elapsed().as_micros() as u64;
        let (key, detail): (String, String) = match sent {
            Ok(sent) if sent.status == StatusCode::CREATED => {
                out.latencies_us.push(micros);
                out.ok += 1;
                continue;
            }
            // A 2xx other than 201 (200: a repeated client id) is no new message.
            Ok(sent) => (
                sent.status.as_u16().to_string(),
                format!(
                    "POST {} answered {}: {}",
                    url.as_str(),
                    sent.status,
                    api::truncate(&String::from_utf8_lossy(&sent.body), 500)
                ),
            ),
            Err(Error::Api(e)) => (e.status.as_u16().to_string(), e.to_string()),
            Err(Error::Transport { source, .. }) if source.is_timeout() => (
                "timeout".into(),
                format!("POST {}: {}", url.as_str(), api::chain(&source)),
            ),
            Err(Error::Transport { source, .. }) if source.is_body() => (
                "body".into(),
                format!(
                    "reading the answer of {}: {}",
                    url.as_str(),
                    api::chain(&source)
                ),
            ),
            Err(e) => ("transport".into(), format!("POST {}: {e}", url.as_str())),
        };
        *out.errors.entry(key.clone()).or_default() += 1;
        p.error(key, || detail);
    }
    out
}

async fn run_phase(
    nodes: &[Client],
    fixture: &Fixture,
    tag: &str,
    phase: char,
    limit: Limit,
    concurrency: usize,
) -> Result<PhaseResult> {
    let expected = match limit {
        Limit::Count(n) => (n as usize / concurrency.max(1)) + 16,
        Limit::Until(_) => 4096,
    };
    let p = Arc::new(Phase {
        users: fixture.users.clone(),
        urls: nodes
            .iter()
            .map(|node| {
                fixture
                    .channels
                    .iter()
                    .map(|id| node.messages_url(*id))
                    .collect()
            })
            .collect(),
        tag: tag.to_owned(),
        phase,
        limit,
        tickets: AtomicU64::new(0),
        attempts: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        first_error: Mutex::new(None),
    });
    let started = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..concurrency {
        let p = p.clone();
        set.spawn(async move {
            let mut r = sender(p).await;
            r.latencies_us.shrink_to_fit();
            r
        });
    }
    let mut latencies_us = Vec::with_capacity(expected * concurrency);
    let mut ok = 0;
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    while let Some(joined) = set.join_next().await {
        let r = joined.context("a sender task panicked")?;
        latencies_us.extend_from_slice(&r.latencies_us);
        ok += r.ok;
        for (k, v) in r.errors {
            *errors.entry(k).or_default() += v;
        }
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();

    let attempts = p.attempts.load(Ordering::Relaxed);
    let n_errors: u64 = errors.values().sum();
    let first_error = lock(&p.first_error).clone();
    let aborted = (p.stop.load(Ordering::Relaxed) || n_errors * 100 > attempts)
        .then(|| format!("{n_errors} errors in {attempts} requests (more than 1 %)"));
    Ok(PhaseResult {
        latencies_us,
        ok,
        attempts,
        errors,
        elapsed,
        aborted,
        first_error,
    })
}

/// Cheap durability check: the newest `seq` of every channel, summed, must equal the number
/// of 201 answers (warm-up included).
async fn verify(fixture: &Fixture, created: u64) -> Verification {
    let Some(user) = fixture.users.first() else {
        return Verification::skipped("no users");
    };
    let client = user.client();
    let newest = History {
        limit: Some(1),
        ..History::default()
    };
    let mut sum = 0;
    for id in fixture.channels.iter() {
        match client.messages(*id, &newest).await {
            Ok(page) => sum += page.items.first().map_or(0, |m| m.seq as u64),
            Err(e) if e.is_not_found() => {
                return Verification::skipped(&format!(
                    "GET /api/v1/channels/{id}/messages answered 404"
                ));
            }
            Err(e) => return Verification::error(&format!("{e:#}")),
        }
    }
    Verification::compare(sum, created)
}
