//! `colink-bench`: a load generator for CoLink, run as its own process against a release server.
//!
//! Every scenario is a subcommand that shares the same pieces:
//! - [`server`]: spawn a `colink serve` on a fresh data dir (or use `--url`), wait for `/ready`,
//!   sample the server's RSS and CPU time from `/proc`;
//! - [`bootstrap`]: owner setup, invite, users (register + login), channels, memberships;
//! - [`report`]: latency statistics, machine description, table or JSON output.
//!
//! Scenarios: `send` (durable message sends over HTTP), `fanout` (WebSocket delivery latency),
//! `mix` (a Mattermost-style action mix of simulated users over a generated dataset) and
//! `upload` (file uploads: throughput, server memory, confirm latency).

mod api;
mod bootstrap;
mod fanout;
mod mix;
mod process;
mod report;
mod send;
mod server;
mod stats;
mod upload;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "colink-bench",
    version,
    about = "Load generator for a CoLink server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Durable message sends: C concurrent senders POST /api/v1/channels/{id}/messages.
    Send(send::SendArgs),
    /// WebSocket fan-out: N clients in channels of M members receive messages posted over HTTP
    /// at a fixed rate; delivery latency per recipient, losses, server RSS and CPU.
    Fanout(fanout::FanoutArgs),
    /// Mattermost-style action mix: simulated users with think time over a generated dataset;
    /// per-request latency and errors; `--find-max` finds the most users within thresholds.
    Mix(mix::MixArgs),
    /// The sidebar and history routes at full speed (wrk) as the `mix` dataset's account in
    /// the most conversations: requests/s and latency per route.
    Reads(mix::reads::ReadsArgs),
    /// File uploads: one large resumable upload (throughput, server peak RSS) and many
    /// concurrent direct uploads (confirm latency).
    Upload(upload::UploadArgs),
    /// Message search over the `mix` dataset: index build time and size, latency per query
    /// kind, and how soon a new message is found while sends run.
    Search(mix::text_search::SearchArgs),
    /// The admin stats (`GET /admin/stats`) over millions of generated messages spread over a
    /// year: latency, and the time to rebuild the per-day rollup.
    Stats(stats::StatsArgs),
}

// One thread: on the 2-core target machine the load generator must leave the server as much CPU
// as possible. Measured against a trivial server, a single-threaded runtime needs ~20 µs of CPU
// per request versus ~30 µs with the multi-threaded one (cross-thread wake-ups), and it caps
// colink-bench at one core. It still drives > 40,000 requests/s, far above the targets.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // reqwest builds its TLS configuration with every client, even for plain HTTP.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Send(args) => send::run(args).await,
        Command::Fanout(args) => fanout::run(args).await,
        Command::Mix(args) => mix::run(args).await,
        Command::Reads(args) => mix::reads::run(args).await,
        Command::Upload(args) => upload::run(args).await,
        Command::Search(args) => mix::text_search::run(args).await,
        Command::Stats(args) => stats::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("colink-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
