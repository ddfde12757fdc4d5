//! `colink-bench upload`: file uploads through a spawned server (or `--url`).
//!
//! 1. One resumable upload of `--size-mib` (default 1 GiB) in `--chunk-mib` chunks, several in
//!    flight: throughput, and the server's peak RSS while it receives and assembles the file
//!    (the target: under 100 MiB — nothing holds a file in memory). The upload starts once the
//!    server has finished its start-up work (no CPU used for 300 ms), so the peak is the
//!    upload's on top of the server's base, not the tail of start-up. The SHA-256 the server
//!    records is compared with the one computed here.
//! 2. `--direct` concurrent direct uploads of `--direct-kib` each (upload URL, PUT, confirm):
//!    the confirm latency.
//!
//! The storage backend is the spawned server's configuration: the local disk by default; S3
//! with `COLINK_STORAGE__BACKEND=s3` and `COLINK_STORAGE__S3__*` in the environment.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Args;
use colink_client::{Client, NewResumable, NewUpload};
use futures_util::{StreamExt, stream};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{
    api, bootstrap,
    process::RssWatcher,
    report::{self, Latency},
    server::{Server, TargetArgs},
};

#[derive(Args, Debug)]
pub struct UploadArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Size of the resumable upload, in MiB.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=2048))]
    pub size_mib: u64,

    /// Chunk size of the resumable upload, in MiB.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub chunk_mib: u64,

    /// Chunks in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub parallel: u32,

    /// Concurrent direct uploads in the second phase (0: skip it).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(0..=10000))]
    pub direct: u32,

    /// Size of each direct upload, in KiB.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1048576))]
    pub direct_kib: u64,

    /// Print the report as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct UploadReport {
    scenario: &'static str,
    date: String,
    commit: Option<String>,
    command: String,
    machine: String,
    storage: String,
    resumable: Resumable,
    direct: Option<Direct>,
}

#[derive(Serialize)]
struct Resumable {
    size_mib: u64,
    chunk_mib: u64,
    parallel: u32,
    elapsed_s: f64,
    mib_per_s: f64,
    /// The server's RSS just before the upload (after start-up and setup).
    server_rss_before_mib: Option<f64>,
    server_peak_rss_mib: Option<f64>,
    sha256_matches: bool,
}

#[derive(Serialize)]
struct Direct {
    uploads: u32,
    kib_each: u64,
    elapsed_s: f64,
    confirm_ms: Option<Latency>,
    errors: u64,
}

const MIB: u64 = 1024 * 1024;

/// Chunk `n`: text (so the type check sees `text/plain`), different in every chunk.
fn chunk_bytes(n: u64, len: u64) -> Bytes {
    let line = format!("chunk {n:08}: colink upload benchmark, the quick brown fox\n");
    let mut out = Vec::with_capacity(len as usize);
    while (out.len() as u64) < len {
        out.extend_from_slice(line.as_bytes());
    }
    out.truncate(len as usize);
    out.into()
}

pub async fn run(args: UploadArgs) -> Result<()> {
    let command = report::command_line();
    let probe = reqwest::Client::builder()
        .no_proxy()
        .build()
        .context("building the HTTP client")?;
    let server = Server::start(&args.target, &probe).await?;
    let pid = server.pid;
    let token = server.setup_token.clone();
    let base = server.base_url.clone();
    let outcome = async {
        let api = api::client(&base, args.direct as usize + args.parallel as usize + 8)?;
        let owner = bootstrap::setup(&api, &token).await?;
        let resumable = resumable(&args, &owner.client, pid).await?;
        let direct = if args.direct > 0 {
            Some(direct(&args, &owner.client).await?)
        } else {
            None
        };
        Ok::<_, anyhow::Error>(UploadReport {
            scenario: "upload",
            date: report::utc_now(),
            commit: report::git_commit(),
            command,
            machine: report::machine(),
            storage: std::env::var("COLINK_STORAGE__BACKEND").unwrap_or_else(|_| "fs".into()),
            resumable,
            direct,
        })
    }
    .await;
    let report = server.finish(outcome).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    if !report.resumable.sha256_matches {
        bail!("the server recorded another SHA-256 than the bytes sent");
    }
    Ok(())
}

/// The SHA-256 (hex) of the bytes the resumable upload sends.
fn expected_sha256(size: u64, chunk: u64) -> String {
    let mut hasher = Sha256::new();
    for n in 0..size.div_ceil(chunk) {
        hasher.update(chunk_bytes(n, chunk.min(size - n * chunk)));
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn resumable(args: &UploadArgs, client: &Client, pid: Option<u32>) -> Result<Resumable> {
    let size = args.size_mib * MIB;
    let chunk = args.chunk_mib * MIB;
    let total = size.div_ceil(chunk);
    eprintln!("hashing the {} MiB the upload will send…", args.size_mib);
    let expected = expected_sha256(size, chunk);

    let started = client
        .start_upload(&NewResumable {
            filename: "bench.txt",
            content_type: "text/plain",
            size_bytes: size,
            chunk_size: Some(chunk),
            channel_id: None,
        })
        .await
        .context("starting the resumable upload")?;
    let id = started.upload_id;
    if let Some(pid) = pid
        && !crate::process::wait_quiet(pid, Duration::from_millis(300), Duration::from_secs(15))
            .await?
    {
        eprintln!("the server never went quiet before the upload: its figures include other work");
    }
    let before = pid
        .and_then(|p| crate::process::sample(p).ok())
        .map(|s| s.rss_kib as f64 / 1024.0);
    let rss = pid.map(RssWatcher::start);
    eprintln!(
        "uploading {total} chunks of {} MiB, {} at a time…",
        args.chunk_mib, args.parallel
    );
    let clock = Instant::now();
    let results: Vec<Result<()>> = stream::iter(0..total)
        .map(|n| async move {
            let bytes = chunk_bytes(n, chunk.min(size - n * chunk));
            let put = client.put_chunk(id, n as u32, bytes, None).await?;
            if !put.status.is_success() {
                bail!(
                    "chunk {n}: {} {}",
                    put.status,
                    String::from_utf8_lossy(&put.body)
                );
            }
            Ok(())
        })
        .buffer_unordered(args.parallel as usize)
        .collect()
        .await;
    results.into_iter().collect::<Result<Vec<()>>>()?;
    eprintln!("completing…");
    // Assembling a large file takes longer than the shared client's request timeout.
    let patient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(1800))
        .build()
        .context("building the HTTP client")?;
    let token = client.token().unwrap_or_default().to_string();
    let file = Client::with_http(client.base_url(), patient)
        .with_token(token)
        .complete_upload(id)
        .await
        .context("completing")?;
    let elapsed = clock.elapsed();
    let peak = match rss {
        Some(w) => Some(w.finish().await as f64 / 1024.0),
        None => None,
    };
    Ok(Resumable {
        size_mib: args.size_mib,
        chunk_mib: args.chunk_mib,
        parallel: args.parallel,
        elapsed_s: elapsed.as_secs_f64(),
        mib_per_s: args.size_mib as f64 / elapsed.as_secs_f64().max(1e-9),
        server_rss_before_mib: before,
        server_peak_rss_mib: peak,
        sha256_matches: file.sha256.as_deref() == Some(expected.as_str()),
    })
}

async fn direct(args: &UploadArgs, client: &Client) -> Result<Direct> {
    let len = args.direct_kib * 1024;
    eprintln!(
        "{} concurrent direct uploads of {} KiB…",
        args.direct, args.direct_kib
    );
    let clock = Instant::now();
    let results: Vec<Result<Duration>> = stream::iter(0..u64::from(args.direct))
        .map(|i| async move {
            let bytes = chunk_bytes(i, len);
            let target = client
                .upload_url(&NewUpload {
                    filename: "direct.txt",
                    content_type: "text/plain",
                    size_bytes: len,
                    channel_id: None,
                })
                .await?;
            let put = client.put_upload(&target, bytes).await?;
            if !put.status.is_success() {
                bail!("PUT: {}", put.status);
            }
            let confirm = Instant::now();
            client.confirm_file(target.file_id).await?;
            Ok(confirm.elapsed())
        })
        .buffer_unordered(args.direct as usize)
        .collect()
        .await;
    let elapsed = clock.elapsed();
    let mut errors = 0;
    let mut micros: Vec<u64> = Vec::new();
    for r in results {
        match r {
            Ok(d) => micros.push(d.as_micros() as u64),
            Err(e) => {
                if errors == 0 {
                    eprintln!("first error: {e:#}");
                }
                errors += 1;
            }
        }
    }
    micros.sort_unstable();
    Ok(Direct {
        uploads: args.direct,
        kib_each: args.direct_kib,
        elapsed_s: elapsed.as_secs_f64(),
        confirm_ms: Latency::from_sorted_us(&micros),
        errors,
    })
}

fn print_table(r: &UploadReport) {
    println!("upload benchmark ({} storage) — {}", r.storage, r.machine);
    let u = &r.resumable;
    println!(
        "resumable: {} MiB in {} MiB chunks ({} in flight): {:.1} s, {:.1} MiB/s; server RSS {} before, {} at peak; sha256 {}",
        u.size_mib,
        u.chunk_mib,
        u.parallel,
        u.elapsed_s,
        u.mib_per_s,
        u.server_rss_before_mib
            .map_or_else(|| "?".into(), |m| format!("{m:.1} MiB")),
        u.server_peak_rss_mib
            .map_or_else(|| "?".into(), |m| format!("{m:.1} MiB")),
        if u.sha256_matches {
            "matches"
        } else {
            "DIFFERS"
        }
    );
    if let Some(d) = &r.direct {
        match &d.confirm_ms {
            Some(l) => println!(
                "direct: {} × {} KiB in {:.2} s; confirm p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; errors {}",
                d.uploads, d.kib_each, d.elapsed_s, l.p50, l.p99, l.max, d.errors
            ),
            None => println!("direct: every upload failed ({} errors)", d.errors),
        }
    }
}
