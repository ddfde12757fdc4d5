//! The `reads` scenario (issue 9's read targets): the routes the web app calls on every load and
//! channel switch, each driven by `wrk` at full speed as the mix dataset's account in the most
//! conversations. The dataset is the one a `mix` run left in `--data-dir`; `wrk` (Debian package
//! `wrk`) must be on the PATH. Reported per route: requests/s, latency percentiles, non-2xx
//! answers and the server's CPU.

use std::{path::PathBuf, process::Stdio, time::Duration};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde::Serialize;
use serde_json::json;

use super::{accounts::Accounts, dataset::Manifest};
use crate::{
    api, process,
    report::{self, ServerInfo},
    server::{Server, TargetArgs},
};

#[derive(Args, Debug)]
pub struct ReadsArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Data dir of a `colink-bench mix` run (the dataset is read from its `bench-mix.json`).
    #[arg(long, value_name = "PATH")]
    pub data_dir: PathBuf,

    /// Open connections (wrk -c).
    #[arg(long, default_value_t = 16)]
    pub connections: u32,

    /// wrk threads (wrk -t).
    #[arg(long, default_value_t = 1)]
    pub threads: u32,

    /// Seconds per route.
    #[arg(long, default_value_t = 10)]
    pub duration: u32,

    /// The wrk binary.
    #[arg(long, default_value = "wrk")]
    pub wrk: PathBuf,

    /// Print the report as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct RouteRow {
    route: String,
    requests_per_s: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    non_2xx: u64,
    socket_errors: u64,
    server_cpu_percent: Option<f64>,
}

#[derive(Serialize)]
struct ReadsReport {
    scenario: &'static str,
    date: String,
    commit: Option<String>,
    command: String,
    machine: String,
    server: ServerInfo,
    params: serde_json::Value,
    reader: serde_json::Value,
    routes: Vec<RouteRow>,
}

pub async fn run(args: ReadsArgs) -> Result<()> {
    let manifest = Manifest::require(&args.data_dir)?;
    let probe = reqwest::Client::builder()
        .no_proxy()
        .build()
        .context("building the HTTP client")?;
    let server = Server::start_in(&args.target, &probe, &args.data_dir, false).await?;
    let outcome = measure(&args, &server, manifest).await;
    let report = server.finish(outcome).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

async fn measure(args: &ReadsArgs, server: &Server, manifest: Manifest) -> Result<ReadsReport> {
    let command = report::command_line();
    let api = api::client(&server.base_url, 4)?;
    // The account in the most conversations, and its busiest channel (messages were spread with
    // a skew towards the first channels).
    let (who, channels) = manifest
        .memberships
        .iter()
        .enumerate()
        .max_by_key(|(i, m)| (m.len(), std::cmp::Reverse(*i)))
        .ok_or_else(|| anyhow!("the dataset has no accounts"))?;
    let busiest = channels
        .first()
        .map(|&c| manifest.channels[c as usize])
        .ok_or_else(|| anyhow!("the reader is in no channel"))?;
    let accounts = Accounts::log_in(&api, vec![manifest.accounts[who].clone()]).await?;
    let reader = accounts.client(0);
    let token = reader
        .token()
        .ok_or_else(|| anyhow!("no access token"))?
        .to_string();
    let routes = [
        "/api/v1/users/me".to_string(),
        "/api/v1/conversations?limit=50".to_string(),
        "/api/v1/channels?limit=50".to_string(),
        format!("/api/v1/channels/{busiest}/messages?limit=30"),
        "/api/v1/threads?limit=50".to_string(),
    ];
    let mut rows = Vec::new();
    for route in &routes {
        let url = format!("{}{route}", server.base_url);
        check_ok(&url, &token).await?;
        let before = server.pid.map(process::sample).transpose()?;
        let out = wrk(args, &url, &token).await?;
        let after = server.pid.map(process::sample).transpose()?;
        let cpu = before.zip(after).map(|(b, a)| process::cpu_percent(&b, &a));
        let mut row =
            parse_wrk(&out).with_context(|| format!("wrk's output for {route}:\n{out}"))?;
        row.route = format!("GET {}", route.trim_start_matches("/api/v1"));
        row.server_cpu_percent = cpu;
        eprintln!(
            "{}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
            row.route, row.requests_per_s, row.p50_ms, row.p99_ms
        );
        rows.push(row);
    }
    Ok(ReadsReport {
        scenario: "reads",
        date: report::utc_now(),
        commit: report::git_commit(),
        command,
        machine: report::machine(),
        server: server.info(),
        params: json!({
            "connections": args.connections,
            "threads": args.threads,
            "duration_s": args.duration,
        }),
        reader: json!({
            "account": manifest.accounts[who].username,
            "conversations": channels.len(),
            "history_channel": busiest.to_string(),
            "dataset_messages": manifest.messages + manifest.replies,
        }),
        routes: rows,
    })
}

/// One request first: a route that fails would otherwise be measured as fast errors.
async fn check_ok(url: &str, token: &str) -> Result<()> {
    let answer = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()?
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    if !answer.status().is_success() {
        bail!("GET {url} answered {}", answer.status());
    }
    Ok(())
}

async fn wrk(args: &ReadsArgs, url: &str, token: &str) -> Result<String> {
    let out = tokio::process::Command::new(&args.wrk)
        .arg(format!("-t{}", args.threads))
        .arg(format!("-c{}", args.connections))
        .arg(format!("-d{}s", args.duration))
        .arg("--latency")
        .arg("-H")
        .arg(format!("Authorization: Bearer {token}"))
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| {
            format!(
                "running {} (Debian: apt-get install wrk)",
                args.wrk.display()
            )
        })?;
    if !out.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// requests/s, the latency distribution and the errors from wrk's `--latency` output.
fn parse_wrk(out: &str) -> Result<RouteRow> {
    let mut row = RouteRow {
        route: String::new(),
        requests_per_s: 0.0,
        p50_ms: 0.0,
        p90_ms: 0.0,
        p99_ms: 0.0,
        non_2xx: 0,
        socket_errors: 0,
        server_cpu_percent: None,
    };
    let mut seen_rate = false;
    for line in out.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("Requests/sec:"), Some(v)) => {
                row.requests_per_s = v.parse()?;
                seen_rate = true;
            }
            (Some("50%"), Some(v)) => row.p50_ms = millis(v)?,
            (Some("90%"), Some(v)) => row.p90_ms = millis(v)?,
            (Some("99%"), Some(v)) => row.p99_ms = millis(v)?,
            (Some("Non-2xx"), _) => {
                row.non_2xx = line.rsplit(' ').next().unwrap_or("0").parse()?;
            }
            (Some("Socket"), Some("errors:")) => {
                // Socket errors: connect 0, read 0, write 0, timeout 0
                row.socket_errors = line
                    .split(',')
                    .filter_map(|part| part.rsplit(' ').next()?.parse::<u64>().ok())
                    .sum();
            }
            _ => {}
        }
    }
    if !seen_rate {
        bail!("no Requests/sec line");
    }
    Ok(row)
}

/// wrk's durations: `812.00us`, `1.25ms`, `2.01s`, `1.2m`.
fn millis(v: &str) -> Result<f64> {
    let split = v
        .find(|c: char| c.is_ascii_alphabetic())
        .ok_or_else(|| anyhow!("a duration without unit: {v}"))?;
    let (n, unit) = v.split_at(split);
    let n: f64 = n.parse()?;
    Ok(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        other => bail!("unknown unit {other} in {v}"),
    })
}

fn print_table(r: &ReadsReport) {
    println!(
        "reads: {} ({}), reader {} in {} conversations, {} messages; wrk -c{} -t{} {} s per route",
        r.server.target,
        r.server.backend,
        r.reader["account"].as_str().unwrap_or("?"),
        r.reader["conversations"],
        r.reader["dataset_messages"],
        r.params["connections"],
        r.params["threads"],
        r.params["duration_s"],
    );
    println!("| route | req/s | p50 ms | p90 ms | p99 ms | non-2xx | socket errors | server CPU |");
    println!("|---|---|---|---|---|---|---|---|");
    for row in &r.routes {
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} | {} |",
            row.route,
            row.requests_per_s,
            row.p50_ms,
            row.p90_ms,
            row.p99_ms,
            row.non_2xx,
            row.socket_errors,
            row.server_cpu_percent
                .map_or("-".to_string(), |c| format!("{c:.0} %")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrks_latency_output() {
        let out = "Running 10s test @ http://127.0.0.1:8080/api/v1/users/me
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.10ms  300.00us   9.99ms   80.00%
  Latency Distribution
     50%  812.00us
     75%    1.20ms
     90%    1.50ms
     99%    2.01s
  120000 requests in 10.00s, 50.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  12000.50
Transfer/sec:      5.00MB
";
        let row = parse_wrk(out).unwrap();
        assert_eq!(row.requests_per_s, 12000.5);
        assert_eq!(row.p50_ms, 0.812);
        assert_eq!(row.p90_ms, 1.5);
        assert!((row.p99_ms - 2010.0).abs() < 1e-9);
        assert_eq!(row.non_2xx, 7);
        assert_eq!(row.socket_errors, 5);
        assert!(parse_wrk("nothing").is_err());
    }
}
