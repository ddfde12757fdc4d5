//! The `search` scenario (issue 12): message search over the `mix` dataset (its messages are
//! Zipf-distributed words, see `words`), read from `--data-dir`.
//!
//! 1. **Build** (`--rebuild`): the index directory is deleted and the server started; the time
//!    until `/ready` reports the rebuilt index is the build time. Then the index's size on disk.
//! 2. **Queries**: `--queries` searches from `--concurrency` closed-loop clients, each as a random
//!    account of the dataset, over a fixed mix of query kinds (common, mid and rare words, two
//!    words, a phrase, `in:#`, `from:@`, `after:`); latency per kind and over all.
//! 3. **Freshness**: while background senders post at `--rate` messages/s, a probe posts a
//!    message with a unique word every 200 ms and searches for it every 20 ms until found: the
//!    delay from the post's answer to the first search that finds it.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use colink_client::{MessageSearch, NewMessage};
use serde::Serialize;
use serde_json::json;

use super::{
    accounts::Accounts,
    dataset::Manifest,
    rng::Rng,
    words::{self, VOCABULARY},
};
use crate::{
    api,
    report::{self, Latency, ServerInfo},
    server::{Server, TargetArgs},
};

#[derive(Args, Debug)]
pub struct SearchArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Data dir of a `colink-bench mix` run (the dataset is read from its `bench-mix.json`).
    #[arg(long, value_name = "PATH")]
    pub data_dir: PathBuf,

    /// Delete the search index first and time the server's rebuild of it.
    #[arg(long)]
    pub rebuild: bool,

    /// Searches in the query phase.
    #[arg(long, default_value_t = 2000)]
    pub queries: u32,

    /// Concurrent searching clients.
    #[arg(long, default_value_t = 4)]
    pub concurrency: u32,

    /// Messages per second posted during the freshness phase (0 skips the phase).
    #[arg(long, default_value_t = 1000)]
    pub rate: u32,

    /// Seconds of the freshness phase.
    #[arg(long, default_value_t = 20.0)]
    pub probe_secs: f64,

    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Print the report as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct SearchReport {
    scenario: &'static str,
    date: String,
    commit: Option<String>,
    command: String,
    machine: String,
    server: ServerInfo,
    dataset: serde_json::Value,
    build: serde_json::Value,
    queries: BTreeMap<String, KindReport>,
    overall: Option<Latency>,
    errors: u64,
    freshness: serde_json::Value,
}

#[derive(Serialize)]
struct KindReport {
    count: usize,
    mean_hits: f64,
    latency_ms: Option<Latency>,
}

pub async fn run(args: SearchArgs) -> Result<()> {
    let manifest = Manifest::require(&args.data_dir)?;
    let probe = reqwest::Client::builder()
        .no_proxy()
        .build()
        .context("building the HTTP client")?;
    let index_dir = args.data_dir.join("search");
    if args.rebuild && index_dir.exists() {
        std::fs::remove_dir_all(&index_dir)
            .with_context(|| format!("deleting {}", index_dir.display()))?;
    }
    let started = Instant::now();
    let server = Server::start_in(&args.target, &probe, &args.data_dir, false).await?;
    let outcome = measure(&args, &server, manifest, &probe, started, &index_dir).await;
    let report = server.finish(outcome).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

/// Poll `/ready` until the search index is usable; its document count.
async fn index_ready(http: &reqwest::Client, base: &str) -> Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(3600);
    loop {
        let ready: serde_json::Value = http
            .get(format!("{base}/ready"))
            .send()
            .await?
            .json()
            .await?;
        let search = &ready["checks"]["search"];
        if search["status"] == "ok" {
            return Ok(search["documents"].as_u64().unwrap_or(0));
        }
        if Instant::now() > deadline {
            bail!("the search index was not ready within an hour: {search}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

async fn measure(
    args: &SearchArgs,
    server: &Server,
    manifest: Manifest,
    http: &reqwest::Client,
    started: Instant,
    index_dir: &Path,
) -> Result<SearchReport> {
    let command = report::command_line();
    let documents = index_ready(http, &server.base_url).await?;
    let build_s = started.elapsed().as_secs_f64();
    eprintln!("search index ready: {documents} documents after {build_s:.1} s");
    let build = json!({
        "rebuilt": args.rebuild,
        "seconds_to_ready": build_s,
        "documents": documents,
        "index_bytes": dir_size(index_dir),
    });
    let dataset = json!({
        "accounts": manifest.accounts.len(),
        "channels": manifest.channels.len(),
        "messages": manifest.messages,
        "replies": manifest.replies,
    });
    let api = api::client(&server.base_url, 64)?;
    let accounts = Accounts::log_in(&api, manifest.accounts.clone()).await?;
    let (queries, overall, errors) = run_queries(args, &accounts, &manifest).await;
    let freshness = if args.rate > 0 {
        freshness(args, &accounts, &manifest).await?
    } else {
        json!(null)
    };
    Ok(SearchReport {
        scenario: "search",
        date: report::utc_now(),
        commit: report::git_commit(),
        command,
        machine: report::machine(),
        server: server.info(),
        dataset,
        build,
        queries,
        overall,
        errors,
        freshness,
    })
}

/// The query of kind `kind` for draw `rng`, by a member of the channels `mine` (indexes into
/// the dataset's channels), naming these users.
fn query(kind: &str, rng: &mut Rng, mine: &[u32], usernames: &[String]) -> String {
    match kind {
        "common word" => words::word(rng.below(20)),
        "mid word" => words::word(rng.between(100, 500)),
        "rare word" => words::word(rng.between(2_000, VOCABULARY - 1)),
        "two words" => format!(
            "{} {}",
            words::word(rng.between(20, 200)),
            words::word(rng.between(20, 200))
        ),
        "phrase" => format!(
            "\"{} {}\"",
            words::word(rng.below(10)),
            words::word(rng.below(10))
        ),
        "in:#channel" => format!(
            "{} in:#mix-{}",
            words::word(rng.between(10, 100)),
            mine.get(rng.below(mine.len().max(1))).map_or(1, |c| c + 1)
        ),
        "from:@user" => format!(
            "{} from:@{}",
            words::word(rng.between(10, 100)),
            usernames[rng.below(usernames.len())]
        ),
        // A range filter that every message passes (the dataset was generated after it).
        _ => format!("{} after:2020-01-01", words::word(rng.between(20, 200))),
    }
}

const KINDS: [&str; 8] = [
    "common word",
    "mid word",
    "rare word",
    "two words",
    "phrase",
    "in:#channel",
    "from:@user",
    "after:date",
];

type Samples = BTreeMap<String, (Vec<u64>, u64)>;

async fn run_queries(
    args: &SearchArgs,
    accounts: &Arc<Accounts>,
    manifest: &Manifest,
) -> (BTreeMap<String, KindReport>, Option<Latency>, u64) {
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let total = u64::from(args.queries);
    let mut tasks = tokio::task::JoinSet::new();
    let memberships = Arc::new(manifest.memberships.clone());
    let usernames: Arc<Vec<String>> = Arc::new(
        manifest
            .accounts
            .iter()
            .map(|a| a.username.clone())
            .collect(),
    );
    for _ in 0..args.concurrency {
        let (next, accounts, usernames) = (next.clone(), accounts.clone(), usernames.clone());
        let memberships = memberships.clone();
        let seed = args.seed;
        tasks.spawn(async move {
            let mut samples: Samples = BTreeMap::new();
            let mut errors = 0u64;
            loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if k >= total {
                    break;
                }
                let mut rng = Rng::for_item(seed, 12, k);
                let kind = KINDS[k as usize % KINDS.len()];
                let u = rng.below(accounts.len());
                let mine = memberships.get(u).map_or(&[][..], Vec::as_slice);
                let q = query(kind, &mut rng, mine, &usernames);
                let who = accounts.client(u);
                let began = Instant::now();
                match who.search_messages(&MessageSearch::text(q)).await {
                    Ok(page) => {
                        let e = samples.entry(kind.to_owned()).or_default();
                        e.0.push(began.elapsed().as_micros() as u64);
                        e.1 += page.total;
                    }
                    Err(_) => errors += 1,
                }
            }
            (samples, errors)
        });
    }
    let mut all: Samples = BTreeMap::new();
    let mut errors = 0;
    while let Some(Ok((samples, e))) = tasks.join_next().await {
        errors += e;
        for (kind, (lat, hits)) in samples {
            let entry = all.entry(kind).or_default();
            entry.0.extend(lat);
            entry.1 += hits;
        }
    }
    let mut every: Vec<u64> = all.values().flat_map(|(l, _)| l.iter().copied()).collect();
    every.sort_unstable();
    let kinds = all
        .into_iter()
        .map(|(kind, (mut lat, hits))| {
            lat.sort_unstable();
            let count = lat.len();
            let report = KindReport {
                count,
                mean_hits: hits as f64 / count.max(1) as f64,
                latency_ms: Latency::from_sorted_us(&lat),
            };
            (kind, report)
        })
        .collect();
    (kinds, Latency::from_sorted_us(&every), errors)
}

/// Post at `--rate` in the background; probe how long a new message takes to be found.
async fn freshness(
    args: &SearchArgs,
    accounts: &Arc<Accounts>,
    manifest: &Manifest,
) -> Result<serde_json::Value> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let senders = 32u32;
    let per_sender = Duration::from_secs_f64(f64::from(senders) / f64::from(args.rate));
    let mut tasks = tokio::task::JoinSet::new();
    for s in 0..senders {
        let (stop, sent, accounts) = (stop.clone(), sent.clone(), accounts.clone());
        let memberships = manifest.memberships.clone();
        let channels = manifest.channels.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(per_sender);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let zipf = words::Zipf::default();
            let mut k = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                k += 1;
                let mut rng = Rng::for_item(u64::from(s), 13, k);
                let who = rng.below(accounts.len());
                let Some(&c) = memberships[who].get(rng.below(memberships[who].len())) else {
                    continue;
                };
                let url = accounts.client(who).messages_url(channels[c as usize]);
                let text = zipf.sentence(&mut rng);
                if accounts
                    .client(who)
                    .post_message(&url, &NewMessage::new(&text))
                    .await
                    .is_ok()
                {
                    sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
    }
    let began = Instant::now();
    let prober = accounts.client(0);
    let url = prober.messages_url(
        manifest.channels[*manifest.memberships[0]
            .first()
            .ok_or_else(|| anyhow!("account 0 is in no channel"))?
            as usize],
    );
    let mut delays = Vec::new();
    let mut k = 0;
    while began.elapsed().as_secs_f64() < args.probe_secs {
        k += 1;
        let token = format!("probe{}x{k}", std::process::id());
        prober
            .post_message(&url, &NewMessage::new(&token))
            .await
            .context("posting a probe")?;
        let posted = Instant::now();
        loop {
            let found = prober.search_messages(&MessageSearch::text(&token)).await?;
            if found.total > 0 {
                delays.push(posted.elapsed().as_micros() as u64);
                break;
            }
            if posted.elapsed() > Duration::from_secs(30) {
                bail!("probe {token} not searchable after 30 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    while tasks.join_next().await.is_some() {}
    let elapsed = began.elapsed().as_secs_f64();
    delays.sort_unstable();
    Ok(json!({
        "target_rate": args.rate,
        "achieved_rate": (sent.load(std::sync::atomic::Ordering::Relaxed) as f64 / elapsed).round(),
        "probes": delays.len(),
        "searchable_after_ms": Latency::from_sorted_us(&delays),
    }))
}

fn print_table(r: &SearchReport) {
    println!("search scenario — {}", r.date);
    println!("dataset: {}", r.dataset);
    println!("build:   {}", r.build);
    println!(
        "{:<14} {:>6} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "query kind", "count", "mean hits", "p50 ms", "p95 ms", "p99 ms", "mean ms"
    );
    let row = |name: &str, count: usize, hits: f64, l: &Option<Latency>| {
        if let Some(l) = l {
            println!(
                "{name:<14} {count:>6} {hits:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                l.p50, l.p95, l.p99, l.mean
            );
        }
    };
    for (kind, k) in &r.queries {
        row(kind, k.count, k.mean_hits, &k.latency_ms);
    }
    let n = r.queries.values().map(|k| k.count).sum();
    row("all", n, f64::NAN, &r.overall);
    println!("errors: {}", r.errors);
    println!("freshness: {}", r.freshness);
    println!("command: {}", r.command);
    println!("machine: {}", r.machine);
    println!("commit:  {}", r.commit.as_deref().unwrap_or("?"));
}
