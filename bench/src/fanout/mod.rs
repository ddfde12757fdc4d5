//! The `fanout` scenario: N WebSocket clients (one bot account each) in channels of M members;
//! messages are posted over HTTP at a fixed rate, round-robin over the channels, and every
//! client records when each message reaches it. Reports the delivery latency (request sent →
//! frame read, per recipient), messages lost, and the server's RSS and CPU.
//!
//! Accounts are bots (`POST /admin/clients` + the client-credentials grant) rather than
//! registered users: a WebSocket client is the same to the server, and it spares 2 × N argon2
//! hashes (~65 ms each) in the bootstrap.

use std::{
    cell::RefCell,
    rc::Rc,
    time::{Duration, Instant},
};

mod clients;
mod output;

use anyhow::{Context, Result, bail};
use clap::Args;
use colink_client::{Client, NewMessage, Uuid};
use serde_json::json;

use crate::{
    api,
    bootstrap::{self, Owner},
    process::{self, PhaseReadings},
    report::{self, ProcSummary},
    server::{Server, TargetArgs},
};

/// SPEC §9 targets for this scenario.
const TARGET_P99_MS: f64 = 100.0;
const TARGET_RSS_MIB: f64 = 1024.0;
/// Concurrent bootstrap writes and WebSocket handshakes.
const SETUP_CONCURRENCY: usize = 32;

#[derive(Args, Debug)]
pub struct FanoutArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// WebSocket clients, each a bot account of its own.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=60_000))]
    pub clients: u32,

    /// Members per channel; the clients are split into clients / members channels.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub members: u32,

    /// Messages per second posted over HTTP (by the owner), round-robin over the channels.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,

    /// Seconds of sending in the measured phase.
    #[arg(long, default_value_t = 30.0)]
    pub duration: f64,

    /// Seconds to wait after the last send for deliveries still under way.
    #[arg(long, default_value_t = 10.0)]
    pub drain: f64,

    /// Print the report as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// What the clients saw, shared by the tasks of this single-threaded process.
#[derive(Default)]
struct Deliveries {
    /// When message k was sent (request started), relative to `start`.
    sent_at: Vec<Option<Duration>>,
    /// Delivery latencies in µs, one per (client, message).
    latencies_us: Vec<u64>,
    /// The same message delivered twice to one client.
    duplicates: u64,
    /// Deliveries of message numbers this run never sent.
    unknown: u64,
    /// Connections that ended before the end of the run, and why.
    dropped: Vec<String>,
}

pub async fn run(args: FanoutArgs) -> Result<()> {
    if !(args.rate > 0.0 && args.duration > 0.0 && args.drain >= 0.0) {
        bail!("--rate and --duration must be > 0, --drain ≥ 0");
    }
    let limit = raise_fd_limit(args.clients as u64)?;
    eprintln!("file descriptor limit: {limit} (this process and the spawned server)");
    let command = report::command_line();
    let probe = reqwest::Client::builder()
        .no_proxy()
        .build()
        .context("building the HTTP client")?;
    let server = Server::start(&args.target, &probe).await?;
    let api = api::client(&server.base_url, SETUP_CONCURRENCY + 16)?;
    let outcome = measure(&args, &server, &api).await;
    let result = server.finish(outcome).await?;
    result.print(&command, args.json)
}

/// A bot client: its access token and the channel it belongs to.
struct Bot {
    token: String,
    channel: usize,
}

async fn create_bots(
    api: &Client,
    owner: &Owner,
    args: &FanoutArgs,
    channels: &[Uuid],
) -> Result<Vec<Bot>> {
    let members = args.members as usize;
    let channels = channels.to_vec();
    bootstrap::run_limited(args.clients as usize, SETUP_CONCURRENCY, |i| {
        let (api, owner) = (api.clone(), owner.client.clone());
        let channel = i / members;
        let channel_id = channels[channel];
        async move {
            let username = format!("fan{:05}", i + 1);
            let created = owner
                .create_bot(&username, &username)
                .await
                .with_context(|| format!("create bot {username}"))?;
            let token = api
                .client_token(&created.client.client_id, &created.client_secret)
                .await
                .with_context(|| format!("token for {username}"))?;
            api.with_token(token.access_token.as_str())
                .join(channel_id)
                .await
                .with_context(|| format!("{username} joins channel {channel_id}"))?;
            Ok(Bot {
                token: token.access_token,
                channel,
            })
        }
    })
    .await
}

struct Outcome {
    params: serde_json::Value,
    server: String,
    connected_in_s: f64,
    sent: u64,
    send_errors: u64,
    expected: u64,
    deliveries: Deliveries,
    rss_connected_mib: Option<f64>,
    process: Option<ProcSummary>,
    bench_cpu: Option<f64>,
    actual_rate: f64,
}

/// Everything created over HTTP before the measurement.
struct Setup {
    owner: Owner,
    channels: Vec<Uuid>,
    bots: Vec<Bot>,
}

/// Set up the server, create the channels and one bot client per WebSocket connection.
async fn set_up(args: &FanoutArgs, api: &Client, setup_token: &str) -> Result<Setup> {
    let owner = bootstrap::setup(api, setup_token).await?;
    let members = args.members as usize;
    let n_channels = (args.clients as usize).div_ceil(members);
    let channels = bootstrap::create_channels(&owner, n_channels).await?;
    eprintln!(
        "creating {} bot clients in {n_channels} channels of {members}…",
        args.clients
    );
    let bots = create_bots(api, &owner, args, &channels).await?;
    Ok(Setup {
        owner,
        channels,
        bots,
    })
}

async fn measure(args: &FanoutArgs, server: &Server, api: &Client) -> Result<Outcome> {
    let started = Instant::now();
    let Setup {
        owner,
        channels,
        bots,
    } = set_up(args, api, &server.setup_token).await?;
    eprintln!("bootstrap done in {:.1} s", started.elapsed().as_secs_f64());

    let total = (args.rate * args.duration).ceil() as usize;
    let start = Instant::now();
    let shared = Rc::new(RefCell::new(Deliveries {
        sent_at: vec![None; total],
        latencies_us: Vec::with_capacity(total * args.members as usize),
        ..Deliveries::default()
    }));
    let (stop, stopped) = tokio::sync::watch::channel(false);

    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let nodes = server
                .base_urls
                .iter()
                .map(|base| api::client(base, SETUP_CONCURRENCY + 16))
                .collect::<Result<Vec<_>>>()?;
            let connected_in_s =
                clients::connect_all(&nodes, bots, channels.clone(), start, &shared, &stopped)
                    .await?;
            // Let the readers drain what connecting produced (presence frames) before measuring.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let rss_connected_mib = server
                .pid
                .and_then(|pid| process::sample(pid).ok())
                .map(|s| s.rss_kib as f64 / 1024.0);
            let readings = PhaseReadings::start(server.pid, |pid| process::sample(pid).ok());

            eprintln!(
                "sending {total} messages at {}/s for {} s…",
                args.rate, args.duration
            );
            let (sent, send_errors, send_elapsed) =
                send_at_rate(&owner, &channels, args.rate, total, start, &shared).await;
            let expected = expected_deliveries(&shared.borrow(), args, channels.len());
            wait_for_deliveries(&shared, expected, args.drain).await;
            let usage = readings.finish().await;
            let _ = stop.send(true);
            let deliveries = std::mem::take(&mut *shared.borrow_mut());
            Ok(Outcome {
                params: params(args, channels.len()),
                server: format!("{} ({})", server.describe, server.backend),
                connected_in_s,
                sent,
                send_errors,
                expected,
                deliveries,
                rss_connected_mib,
                process: usage.server,
                bench_cpu: usage.bench_cpu_percent,
                actual_rate: sent as f64 / send_elapsed.max(1e-9),
            })
        })
        .await
}

/// The run's parameters, as the report shows them.
fn params(args: &FanoutArgs, n_channels: usize) -> serde_json::Value {
    json!({
        "clients": args.clients,
        "members": args.members,
        "channels": n_channels,
        "rate": args.rate,
        "duration_s": args.duration,
        "drain_s": args.drain,
    })
}

/// Deliveries due for the messages actually sent: one per member of the message's channel.
fn expected_deliveries(deliveries: &Deliveries, args: &FanoutArgs, n_channels: usize) -> u64 {
    let (members, clients) = (args.members as usize, args.clients as usize);
    deliveries
        .sent_at
        .iter()
        .enumerate()
        .filter(|(_, sent_at)| sent_at.is_some())
        .map(|(k, _)| members_of(k % n_channels, n_channels, members, clients))
        .sum()
}

/// Wait until `expected` deliveries arrived, for at most `drain` seconds.
async fn wait_for_deliveries(shared: &RefCell<Deliveries>, expected: u64, drain: f64) {
    let deadline = Instant::now() + Duration::from_secs_f64(drain);
    while (shared.borrow().latencies_us.len() as u64) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clients in channel `c` (the last channel may be smaller).
fn members_of(c: usize, n_channels: usize, members: usize, clients: usize) -> u64 {
    if c + 1 < n_channels {
        members as u64
    } else {
        (clients - members * (n_channels - 1)) as u64
    }
}

/// Post `total` messages, one every 1/rate s (open loop: a slow answer does not delay the next
/// send). Returns (201 answers, failures, time from first to last send).
async fn send_at_rate(
    owner: &Owner,
    channels: &[Uuid],
    rate: f64,
    total: usize,
    start: Instant,
    shared: &Rc<RefCell<Deliveries>>,
) -> (u64, u64, f64) {
    let urls: std::sync::Arc<[_]> = channels
        .iter()
        .map(|id| owner.client.messages_url(*id))
        .collect();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut requests = tokio::task::JoinSet::new();
    let first = Instant::now();
    for k in 0..total {
        ticker.tick().await;
        let (client, urls) = (owner.client.clone(), urls.clone());
        shared.borrow_mut().sent_at[k] = Some(start.elapsed());
        requests.spawn(async move {
            let content = format!("fanout {k}");
            let url = &urls[k % urls.len()];
            // The answer is not decoded: only its status counts.
            client
                .post_message(url, &NewMessage::new(&content))
                .await
                .is_ok()
        });
    }
    let elapsed = first.elapsed().as_secs_f64();
    let (mut ok, mut failed) = (0, 0);
    while let Some(joined) = requests.join_next().await {
        match joined {
            Ok(true) => ok += 1,
            _ => failed += 1,
        }
    }
    (ok, failed, elapsed)
}

/// Raise this process's open-file limit to its hard limit (children inherit it); refuse to run
/// when it cannot cover `clients` connections plus some headroom.
pub(crate) fn raise_fd_limit(clients: u64) -> Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    #[allow(unsafe_code, reason = "getrlimit/setrlimit: no safe wrapper in std")]
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            bail!("getrlimit(RLIMIT_NOFILE) failed");
        }
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            bail!("setrlimit(RLIMIT_NOFILE) failed");
        }
    }
    let needed = clients + 1024;
    if limit.rlim_cur < needed {
        bail!(
            "the open-file limit is {} but {clients} clients need about {needed}: raise the hard \
             limit (e.g. `ulimit -Hn 65536` as root, or LimitNOFILE in a systemd unit)",
            limit.rlim_cur
        );
    }
    Ok(limit.rlim_cur)
}
