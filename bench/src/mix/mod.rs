//! The `mix` scenario (issue 9): simulated users doing Mattermost's action mix — switch channel,
//! scroll, post, unread check, threads view, reactions — with think time, each holding a
//! WebSocket subscribed to its channels, over a generated dataset (1,000 users, 500 channels,
//! 1,000,000 messages by default). Reports per-request latency and errors, and with
//! `--find-max` searches for the most users within Mattermost's thresholds.

pub mod accounts;
mod actions;
pub mod dataset;
mod generate;
mod output;
pub mod reads;
pub mod rng;
mod search;
mod step;
mod tally;
pub mod text_search;
mod vuser;
pub mod words;

use std::{
    path::PathBuf,
    sync::{Arc, atomic::AtomicBool},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use clap::Args;
use colink_client::Client;
use serde_json::json;

use self::{
    accounts::Accounts,
    dataset::{Manifest, Want},
    output::{MixReport, StepReport},
    search::Search,
    vuser::ThinkTime,
};
use crate::{
    api, report,
    server::{Server, TargetArgs},
};

#[derive(Args, Debug)]
pub struct MixArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Persistent data dir of the spawned server: the dataset is generated there once (and
    /// described in `bench-mix.json`), later runs with the same dir reuse it.
    #[arg(long, value_name = "PATH", conflicts_with = "url")]
    pub data_dir: Option<PathBuf>,

    /// Accounts in the dataset.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub users: u32,

    /// Public channels in the dataset; every account is in 20–100 of them.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub channels: u32,

    /// Make the channels private, each account a member of 10–50 of them (the readers of
    /// issue 12's search benchmark) instead of reading every public channel.
    #[arg(long)]
    pub private_channels: bool,

    /// Messages in the dataset (thread replies included).
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: u64,

    /// Seed of the dataset and of the simulated users' choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Concurrent writers while generating messages.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub gen_concurrency: u32,

    /// Simulated users of a single run (without --find-max).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub mix_users: u32,

    /// Mean think time between two actions of a user, ms. Each pause is drawn uniformly from
    /// [--min-think-ms, 2 × this − --min-think-ms), as Mattermost's simulcontroller does; its
    /// defaults (`MinIdleTimeMs` 1000, `AvgIdleTimeMs` 5000) are these.
    #[arg(long, default_value_t = 5000)]
    pub think_ms: u64,

    /// Shortest think time, ms (at most --think-ms).
    #[arg(long, default_value_t = 1000)]
    pub min_think_ms: u64,

    /// Seconds of a single run.
    #[arg(long, default_value_t = 60.0)]
    pub duration: f64,

    /// Search for the most simulated users within Mattermost's thresholds (avg ≤ 100 ms,
    /// p99 ≤ 2 s, errors ≤ 0.025 %): double from --start-users, then bisect.
    #[arg(long)]
    pub find_max: bool,

    /// Seconds of each --find-max step.
    #[arg(long, default_value_t = 30.0)]
    pub step_secs: f64,

    /// First --find-max step.
    #[arg(long, default_value_t = 100)]
    pub start_users: u32,

    /// Most users --find-max tries.
    #[arg(long, default_value_t = 10_000)]
    pub max_users: u32,

    /// --find-max stops when the bracket is within this share of the passing count.
    #[arg(long, default_value_t = 0.1)]
    pub precision: f64,

    /// Print the report as one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: MixArgs) -> Result<()> {
    if !(args.duration > 0.0 && args.step_secs > 0.0) {
        bail!("--duration and --step-secs must be > 0");
    }
    if args.min_think_ms > args.think_ms {
        bail!("--min-think-ms must be at most --think-ms");
    }
    let most = if args.find_max {
        args.max_users
    } else {
        args.mix_users
    };
    crate::fanout::raise_fd_limit(u64::from(most))?;
    let command = report::command_line();
    let probe = reqwest::Client::builder()
        .no_proxy()
        .build()
        .context("building the HTTP client")?;
    let existing = match &args.data_dir {
        Some(dir) => Manifest::load(dir)?,
        None => None,
    };
    let server = match &args.data_dir {
        Some(dir) => Server::start_in(&args.target, &probe, dir, existing.is_none()).await?,
        None => Server::start(&args.target, &probe).await?,
    };
    let outcome = measure(&args, &server, existing, command).await;
    let report = server.finish(outcome).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        report.print_table();
    }
    Ok(())
}

/// The dataset: the one in `--data-dir`, or generated now (and saved there).
async fn dataset(
    args: &MixArgs,
    api: &Client,
    server: &Server,
    existing: Option<Manifest>,
) -> Result<(Manifest, serde_json::Value)> {
    if let Some(m) = existing {
        eprintln!(
            "reusing the dataset in the data dir: {} accounts, {} channels, {} messages + {} \
             replies (its own sizes and seed; --users/--channels/--messages are ignored)",
            m.accounts.len(),
            m.channels.len(),
            m.messages,
            m.replies
        );
        let info = dataset_info(&m, "reused");
        return Ok((m, info));
    }
    let want = Want {
        users: args.users as usize,
        channels: args.channels as usize,
        messages: args.messages,
        seed: args.seed,
        concurrency: args.gen_concurrency as usize,
        private_channels: args.private_channels,
    };
    let started = Instant::now();
    let m = dataset::generate(api, &server.setup_token, &want).await?;
    eprintln!("dataset ready in {:.1} s", started.elapsed().as_secs_f64());
    if let Some(dir) = &args.data_dir {
        m.save(dir)?;
    }
    let info = dataset_info(&m, "generated");
    Ok((m, info))
}

fn dataset_info(m: &Manifest, how: &str) -> serde_json::Value {
    let memberships: usize = m.memberships.iter().map(Vec::len).sum();
    json!({
        "how": how,
        "accounts": m.accounts.len(),
        "channels": m.channels.len(),
        "memberships": memberships,
        "messages": m.messages,
        "replies": m.replies,
        "reactions": m.reactions,
        "seed": m.seed,
        "generation_msgs_per_s": m.generation_rate.round(),
    })
}

async fn measure(
    args: &MixArgs,
    server: &Server,
    existing: Option<Manifest>,
    command: String,
) -> Result<MixReport> {
    let most = if args.find_max {
        args.max_users
    } else {
        args.mix_users
    };
    let api = api::client(&server.base_url, (most as usize).clamp(64, 4096))?;
    let (manifest, info) = dataset(args, &api, server, existing).await?;
    let accounts = Accounts::log_in(&api, manifest.accounts).await?;
    let refresher = accounts.spawn_refresher(api.clone());
    let setup = step::Setup {
        api: api.clone(),
        accounts,
        channels: Arc::new(manifest.channels),
        memberships: Arc::new(manifest.memberships),
        think: ThinkTime {
            min: Duration::from_millis(args.min_think_ms),
            mean: Duration::from_millis(args.think_ms),
        },
        seed: args.seed,
        no_threads: Arc::new(AtomicBool::new(false)),
    };
    let result = if args.find_max {
        find_max(args, &setup, server).await
    } else {
        let r = step::run(&setup, server, args.mix_users as usize, args.duration).await?;
        Ok((vec![output::step_report(r)], None))
    };
    refresher.abort();
    let (steps, max_users) = result?;
    Ok(MixReport {
        scenario: "mix",
        date: report::utc_now(),
        commit: report::git_commit(),
        command,
        machine: report::machine(),
        server: server.info(),
        params: params(args),
        dataset: info,
        steps,
        max_users,
    })
}

fn params(args: &MixArgs) -> serde_json::Value {
    json!({
        "mix_users": (!args.find_max).then_some(args.mix_users),
        "duration_s": (!args.find_max).then_some(args.duration),
        "think_ms": args.think_ms,
        "min_think_ms": args.min_think_ms,
        "find_max": args.find_max,
        "step_s": args.find_max.then_some(args.step_secs),
        "start_users": args.find_max.then_some(args.start_users),
        "max_users": args.find_max.then_some(args.max_users),
    })
}

/// Steps of `--step-secs` each, sized by [`Search`]; every step is reported.
async fn find_max(
    args: &MixArgs,
    setup: &step::Setup,
    server: &Server,
) -> Result<(Vec<StepReport>, Option<u32>)> {
    let mut search = Search::new(args.start_users, args.max_users, args.precision);
    let mut steps = Vec::new();
    while let Some(users) = search.next() {
        let r = step::run(setup, server, users as usize, args.step_secs).await?;
        let s = output::step_report(r);
        let (avg, p99) = s
            .overall
            .latency_ms
            .as_ref()
            .map_or((0.0, 0.0), |l| (l.mean, l.p99));
        eprintln!(
            "step {users} users: {:.0} req/s, avg {avg:.1} ms, p99 {p99:.1} ms, errors {:.4} % → {}",
            s.requests_per_s, s.error_percent, s.verdict
        );
        search.record(users, s.passed());
        steps.push(s);
    }
    Ok((steps, Some(search.result())))
}
