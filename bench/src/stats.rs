//! The `stats` scenario (issue 13): `GET /admin/stats` over a long, large history.
//!
//! A fresh server gets an owner and `--channels` public channels through the API; then
//! `--messages` messages are written straight into its database with one SQL statement (the
//! `sqlite3` or `psql` command-line tool: through the API, ten million messages would take most
//! of an hour), spread evenly over the last `--days` days and skewed across the channels (channel
//! k gets about twice the messages of channel 2k). The per-day rollup is then rebuilt from the
//! messages with migration 000012's statement (its time is what that migration costs a
//! deployment of this size), and `GET /admin/stats` is timed `--requests` times, one after the
//! other. The answer's 30-day total is checked against a count of the messages table.

use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use colink_client::Client;
use serde::Serialize;

use crate::{
    bootstrap,
    report::{self, Latency},
    server::{Server, TargetArgs},
};

#[derive(Args, Debug)]
pub struct StatsArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Messages to generate.
    #[arg(long, default_value_t = 10_000_000)]
    pub messages: u64,

    /// Public channels they go to.
    #[arg(long, default_value_t = 500)]
    pub channels: u32,

    /// Days of history they are spread over (today included).
    #[arg(long, default_value_t = 365)]
    pub days: u32,

    /// Timed `GET /admin/stats` requests.
    #[arg(long, default_value_t = 200)]
    pub requests: u32,

    /// Print the report as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Report {
    server: report::ServerInfo,
    messages: u64,
    channels: u32,
    days: u32,
    generate_s: f64,
    rollup_rebuild_s: f64,
    rollup_rows: u64,
    latency_ms: Latency,
    requests: u32,
    messages_last_30_days: i64,
}

pub async fn run(args: StatsArgs) -> Result<()> {
    let http = reqwest::Client::new();
    let server = Server::start(&args.target, &http).await?;
    let outcome = scenario(&args, &server, &http).await;
    let report = server.finish(outcome).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

async fn scenario(args: &StatsArgs, server: &Server, http: &reqwest::Client) -> Result<Report> {
    ensure!(
        args.channels > 0 && args.days > 0,
        "--channels and --days: at least 1"
    );
    let db = Database::of(args, server)?;
    let api = Client::with_http(&server.base_url, http.clone());
    let owner = bootstrap::setup(&api, &server.setup_token).await?;
    let channels = bootstrap::create_channels(&owner, args.channels as usize).await?;
    eprintln!(
        "{} channels; generating {} messages…",
        channels.len(),
        args.messages
    );
    let me = owner.client.me().await?.id;

    let started = Instant::now();
    db.run(&db.generate(args, me))?;
    let generate_s = started.elapsed().as_secs_f64();
    eprintln!("generated in {generate_s:.1} s; rebuilding the rollup…");
    let started = Instant::now();
    db.run(&db.rebuild_rollup())?;
    let rollup_rebuild_s = started.elapsed().as_secs_f64();
    let rollup_rows: u64 = db.query("SELECT COUNT(*) FROM message_counts")?.parse()?;
    let last_30: i64 = db.query(&db.count_last_30_days())?.parse()?;
    // Generating takes longer than an access token lives: sign in again.
    let fresh = api.login("benchowner", &owner.password).await?;
    let admin = api.with_token(fresh.access_token.context("login: no access token")?);

    let mut samples = Vec::with_capacity(args.requests as usize);
    let mut seen = None;
    for _ in 0..args.requests {
        let t = Instant::now();
        let stats = admin.admin_stats().await?;
        samples.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
        seen = Some(stats);
    }
    let Some(stats) = seen else {
        bail!("--requests: at least 1");
    };
    let total: i64 = stats.messages_per_day.iter().map(|d| d.messages).sum();
    ensure!(
        total == last_30,
        "the stats count {total} messages in 30 days, the messages table {last_30}"
    );
    Ok(Report {
        server: server.info(),
        messages: args.messages,
        channels: args.channels,
        days: args.days,
        generate_s,
        rollup_rebuild_s,
        rollup_rows,
        latency_ms: {
            samples.sort_unstable();
            Latency::from_sorted_us(&samples).context("no samples")?
        },
        requests: args.requests,
        messages_last_30_days: last_30,
    })
}

/// The spawned server's database, reached with its command-line tool.
enum Database {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Database {
    fn of(args: &StatsArgs, server: &Server) -> Result<Database> {
        match &args.target.database_url {
            Some(url) if url.starts_with("postgres") => Ok(Database::Postgres(url.clone())),
            Some(_) => bail!("--database-url: only PostgreSQL (or the default SQLite)"),
            None => {
                let dir = server
                    .data_dir()
                    .context("the stats scenario spawns its server (no --url)")?;
                Ok(Database::Sqlite(dir.join("colink.db")))
            }
        }
    }

    /// One INSERT … SELECT: message g (from 0) goes to channel ⌊C·u²⌋ for u = frac(g·φ) (a
    /// low-discrepancy sequence: the same skew on every run), `days·(1 − g/N)` days ago, with a
    /// seq unique in the whole table (beyond any the API gave out) and an id that grows with g
    /// (`00000000-0000-7000-8000-<g>`, below every real UUIDv7), so the rows append to the
    /// primary key's B-tree as a server's time-ordered ids do, instead of landing at random.
    fn generate(&self, args: &StatsArgs, author: colink_client::Uuid) -> String {
        let (n, c, days) = (args.messages, args.channels, f64::from(args.days));
        let seconds = days * 86_400.0;
        match self {
            Database::Postgres(_) => format!(
                "WITH ch AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM channels \
                 WHERE name LIKE 'bench-%') \
                 INSERT INTO messages (id, channel_id, seq, user_id, content, reply_count, created_at) \
                 SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, ch.id, \
                 1000000000 + g, '{author}', 'generated', 0, \
                 now() - make_interval(secs => {seconds} * (1.0 - g::float8 / {n})) \
                 FROM generate_series(0, {n} - 1) g \
                 JOIN ch ON ch.k = floor({c} * power((g * 0.6180339887498949) - floor(g * 0.6180339887498949), 2))"
            ),
            Database::Sqlite(_) => format!(
                "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=60000; \
                 CREATE TEMP TABLE ch AS SELECT id, (row_number() OVER (ORDER BY id)) - 1 AS k \
                 FROM channels WHERE name LIKE 'bench-%'; \
                 WITH RECURSIVE gen(g) AS (SELECT 0 UNION ALL SELECT g + 1 FROM gen WHERE g < {n} - 1) \
                 INSERT INTO messages (id, channel_id, seq, user_id, content, reply_count, created_at) \
                 SELECT printf('00000000-0000-7000-8000-%012x', g), ch.id, 1000000000 + g, \
                 '{author}', 'generated', 0, \
                 strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('-%f seconds', {seconds} * (1.0 - g * 1.0 / {n}))) \
                 FROM gen JOIN ch ON ch.k = CAST({c} * ((g * 0.6180339887498949) - CAST(g * 0.6180339887498949 AS INTEGER)) \
                 * ((g * 0.6180339887498949) - CAST(g * 0.6180339887498949 AS INTEGER)) AS INTEGER);"
            ),
        }
    }

    /// Migration 000012's statement, after emptying the table.
    fn rebuild_rollup(&self) -> String {
        let day = match self {
            Database::Postgres(_) => "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
            Database::Sqlite(_) => "substr(created_at, 1, 10)",
        };
        format!(
            "DELETE FROM message_counts; \
             INSERT INTO message_counts (day, channel_id, count) \
             SELECT {day}, channel_id, COUNT(*) FROM messages GROUP BY {day}, channel_id; \
             {}",
            match self {
                Database::Postgres(_) => "ANALYZE;",
                Database::Sqlite(_) => "",
            }
        )
    }

    /// The messages of the last 30 UTC days (today included), counted the slow way.
    fn count_last_30_days(&self) -> String {
        match self {
            Database::Postgres(_) => "SELECT COUNT(*) FROM messages WHERE created_at >= \
                 date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '29 days'"
                .into(),
            Database::Sqlite(_) => "SELECT COUNT(*) FROM messages WHERE substr(created_at, 1, 10) >= \
                 date('now', '-29 days')"
                .into(),
        }
    }

    fn run(&self, sql: &str) -> Result<()> {
        self.query(sql).map(drop)
    }

    /// Run `sql` with the command-line tool; its output, trimmed.
    fn query(&self, sql: &str) -> Result<String> {
        let output = match self {
            Database::Sqlite(path) => command("sqlite3", &[path.as_os_str(), sql.as_ref()])?,
            Database::Postgres(url) => command(
                "psql",
                &[url, "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql].map(std::ffi::OsStr::new),
            )?,
        };
        Ok(output.trim().to_owned())
    }
}

fn command(tool: &str, args: &[&std::ffi::OsStr]) -> Result<String> {
    let out = std::process::Command::new(tool)
        .args(args)
        .output()
        .with_context(|| format!("running {tool} (install it: apt-get install {tool})"))?;
    ensure!(
        out.status.success(),
        "{tool} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn print_table(r: &Report) {
    println!("stats scenario ({}, {})", r.server.backend, r.server.target);
    println!(
        "  {} messages in {} channels over {} days: generated in {:.1} s",
        r.messages, r.channels, r.days, r.generate_s
    );
    println!(
        "  rollup rebuilt from the messages (migration 000012) in {:.1} s: {} rows",
        r.rollup_rebuild_s, r.rollup_rows
    );
    println!(
        "  GET /admin/stats x{}: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        r.requests, r.latency_ms.p50, r.latency_ms.p95, r.latency_ms.p99, r.latency_ms.max
    );
    println!(
        "  30-day total {} (checked against the messages table)",
        r.messages_last_30_days
    );
}
