//! `colink doctor`: one line per check of what a server needs — the data dir and its key,
//! disk space, each backend as configured, the database's clock — `ok`, `warn` or `fail`, with
//! what to do. Exits 1 when a check fails. Safe beside a running server: it leaves nothing behind
//! (the writability probe is a file created and removed at once; a missing database or files
//! directory is reported, not created) and opens nothing a server holds exclusively.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use sea_orm::{ConnectionTrait, Statement};

use crate::config::{Config, ScannerKind};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    /// Not a check: something worth knowing (whether a server answers).
    Info,
    Warn,
    Fail,
}

struct Check {
    level: Level,
    name: &'static str,
    detail: String,
}

fn ok(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        level: Level::Ok,
        name,
        detail: detail.into(),
    }
}
fn warn(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        level: Level::Warn,
        name,
        detail: detail.into(),
    }
}
fn fail(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        level: Level::Fail,
        name,
        detail: detail.into(),
    }
}

/// Below this much free space the server is about to stop writing.
const DISK_FAIL_BYTES: u64 = 512 << 20;
const DISK_WARN_FRACTION: f64 = 0.10;
/// Tokens and TOTP codes are checked against the clock: nodes and the database must agree.
const CLOCK_WARN: Duration = Duration::from_secs(2);
const PROBE: Duration = Duration::from_secs(5);

pub async fn run(config: &Config) -> anyhow::Result<()> {
    let data_dir = config.data_dir_absolute();
    let mut checks = vec![
        data_dir_check(&data_dir),
        key_check(config, &data_dir),
        disk_check(&data_dir),
    ];
    checks.extend(database_checks(config).await);
    checks.push(storage_check(config).await);
    checks.push(mail_check(config).await);
    if config.storage.scanner == ScannerKind::Clamd {
        checks.push(
            match crate::storage::scanner::ping(&config.storage.clamd_address, PROBE).await {
                Ok(()) => ok(
                    "clamd",
                    format!("answers PING at {}", config.storage.clamd_address),
                ),
                Err(e) => fail(
                    "clamd",
                    format!("{e}: uploads stay pending until it answers"),
                ),
            },
        );
    }
    checks.push(Check {
        level: Level::Info,
        name: "server",
        detail: super::status::server_state(config).await,
    });
    let mut text = String::new();
    for c in &checks {
        let level = match c.level {
            Level::Ok => "ok",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Fail => "fail",
        };
        text.push_str(&format!("{level:<6}{:<10}{}\n", c.name, c.detail));
    }
    let failed = checks.iter().filter(|c| c.level == Level::Fail).count();
    let warned = checks.iter().filter(|c| c.level == Level::Warn).count();
    text.push_str(&format!(
        "{failed} failed, {warned} warnings, {} checks\n",
        checks.len()
    ));
    super::output::print(&text)?;
    if failed > 0 {
        anyhow::bail!("colink doctor: {failed} failed");
    }
    Ok(())
}

fn data_dir_check(dir: &Path) -> Check {
    let meta = match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => m,
        Ok(_) => return fail("data dir", format!("{} is not a directory", dir.display())),
        Err(_) => {
            return warn(
                "data dir",
                format!(
                    "{} does not exist yet: `colink serve` creates it",
                    dir.display()
                ),
            );
        }
    };
    let probe = dir.join(".colink-doctor");
    if let Err(e) = std::fs::write(&probe, b"").and_then(|()| std::fs::remove_file(&probe)) {
        return fail(
            "data dir",
            format!("{} is not writable: {e}", dir.display()),
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return warn(
                "data dir",
                format!(
                    "{} is open to other users (mode {mode:o}); it holds the database and the \
                     key: chmod 700 {0}",
                    dir.display()
                ),
            );
        }
        ok(
            "data dir",
            format!("{} (mode {mode:o}, writable)", dir.display()),
        )
    }
    #[cfg(not(unix))]
    ok("data dir", format!("{} (writable)", dir.display()))
}

fn key_check(config: &Config, dir: &Path) -> Check {
    if config.auth.secret_key.is_some() {
        return ok("key", "auth.secret_key is set in the configuration");
    }
    let path = dir.join("secret.key");
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(_) => {
            return warn(
                "key",
                format!("{} is created on first start", path.display()),
            );
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return fail(
                "key",
                format!(
                    "{} is readable by other users (mode {mode:o}): chmod 600 {0}",
                    path.display()
                ),
            );
        }
    }
    let _ = meta;
    ok("key", format!("{} (owner only)", path.display()))
}

fn disk_check(dir: &Path) -> Check {
    let existing = dir.ancestors().find(|p| p.exists()).unwrap_or(dir);
    let stat = match rustix::fs::statvfs(existing) {
        Ok(s) => s,
        Err(e) => return warn("disk", format!("free space unknown: {e}")),
    };
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    let total = stat.f_blocks.saturating_mul(stat.f_frsize).max(1);
    let fraction = free as f64 / total as f64;
    let detail = format!(
        "{:.1} GiB free of {:.1} GiB ({:.0} %) at {}",
        free as f64 / f64::from(1u32 << 30),
        total as f64 / f64::from(1u32 << 30),
        fraction * 100.0,
        existing.display()
    );
    if free < DISK_FAIL_BYTES {
        fail(
            "disk",
            format!("{detail}: the server will soon fail to write"),
        )
    } else if fraction < DISK_WARN_FRACTION {
        warn("disk", detail)
    } else {
        ok("disk", detail)
    }
}

/// Reachability (and latency), pending migrations and, for PostgreSQL, the clock.
async fn database_checks(config: &Config) -> Vec<Check> {
    use migration::{Migrator, MigratorTrait};
    if let Some(file) = config.sqlite_path()
        && !file.exists()
    {
        // Connecting would create it: doctor changes nothing.
        return vec![warn(
            "database",
            format!(
                "no database yet at {}: `colink serve` creates it",
                file.display()
            ),
        )];
    }
    let started = Instant::now();
    let db = match tokio::time::timeout(PROBE, crate::db::connect(config)).await {
        Ok(Ok(db)) => db,
        Ok(Err(e)) => {
            return vec![fail(
                "database",
                format!("{}: {e:#}", config.database_location()),
            )];
        }
        Err(_) => {
            return vec![fail(
                "database",
                format!(
                    "{}: no answer within {} s",
                    config.database_location(),
                    PROBE.as_secs()
                ),
            )];
        }
    };
    let mut checks = vec![ok(
        "database",
        format!(
            "{} ({} ms)",
            config.database_location(),
            started.elapsed().as_millis()
        ),
    )];
    checks.push(match Migrator::get_pending_migrations(&db).await {
        Ok(p) if p.is_empty() => ok("schema", "no pending migrations"),
        Ok(p) => warn(
            "schema",
            format!(
                "{} pending migrations: `colink serve` or `colink migrate up` applies them",
                p.len()
            ),
        ),
        Err(e) => fail("schema", format!("reading the migrations: {e}")),
    });
    if !config.is_sqlite() {
        checks.push(clock_check(&db).await);
    }
    db.close().await.ok();
    checks
}

async fn clock_check(db: &sea_orm::DatabaseConnection) -> Check {
    let sql = "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) AS ms";
    let before = time::OffsetDateTime::now_utc();
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await;
    let after = time::OffsetDateTime::now_utc();
    let db_ms = match row.map(|r| r.map(|r| r.try_get::<i64>("", "ms"))) {
        Ok(Some(Ok(ms))) => ms,
        _ => return warn("clock", "could not read the database's clock"),
    };
    let local_ms =
        ((before.unix_timestamp_nanos() + after.unix_timestamp_nanos()) / 2 / 1_000_000) as i64;
    let skew = Duration::from_millis(db_ms.abs_diff(local_ms));
    let detail = format!("{} ms from the database's clock", skew.as_millis());
    if skew > CLOCK_WARN {
        warn(
            "clock",
            format!("{detail}: sync this host with NTP (tokens and TOTP codes depend on it)"),
        )
    } else {
        ok("clock", detail)
    }
}

async fn storage_check(config: &Config) -> Check {
    if config.storage.backend == crate::config::StorageBackend::Fs && !config.files_root().exists()
    {
        return warn(
            "storage",
            format!(
                "{} does not exist yet: `colink serve` creates it",
                config.files_root().display()
            ),
        );
    }
    // The check signs no URL: a throwaway key, so that nothing is read or created.
    let keys = crate::identity::keys::Keys::derive(b"colink doctor: signs nothing");
    let storage = match crate::storage::Storage::open(config, keys.file_urls) {
        Ok(s) => s,
        Err(e) => return fail("storage", format!("{e:#}")),
    };
    let started = Instant::now();
    match tokio::time::timeout(PROBE, storage.check()).await {
        Ok(Ok(())) => ok(
            "storage",
            format!(
                "{} ({} ms)",
                storage_name(config),
                started.elapsed().as_millis()
            ),
        ),
        Ok(Err(e)) => fail("storage", format!("{}: {e}", storage_name(config))),
        Err(_) => fail(
            "storage",
            format!(
                "{}: no answer within {} s",
                storage_name(config),
                PROBE.as_secs()
            ),
        ),
    }
}

fn storage_name(config: &Config) -> String {
    match config.storage.backend {
        crate::config::StorageBackend::Fs => format!("files in {}", config.files_root().display()),
        crate::config::StorageBackend::S3 => format!("S3 bucket {}", config.storage.s3.bucket),
    }
}

/// SMTP: the server accepts a connection (nothing is sent).
async fn mail_check(config: &Config) -> Check {
    let Some(smtp) = &config.email.smtp_url else {
        return ok(
            "mail",
            format!(
                "written to {}",
                config.data_dir_absolute().join("mailbox").display()
            ),
        );
    };
    let Ok(url) = url::Url::parse(smtp.expose()) else {
        return fail("mail", "email.smtp_url is not a URL");
    };
    let host = url.host_str().unwrap_or("localhost").to_owned();
    let port = url
        .port()
        .unwrap_or(if url.scheme() == "smtps" { 465 } else { 25 });
    match tokio::time::timeout(PROBE, tokio::net::TcpStream::connect((host.as_str(), port))).await {
        Ok(Ok(_)) => ok(
            "mail",
            format!("SMTP server {host}:{port} accepts connections"),
        ),
        Ok(Err(e)) => fail("mail", format!("SMTP server {host}:{port}: {e}")),
        Err(_) => fail(
            "mail",
            format!(
                "SMTP server {host}:{port}: no answer within {} s",
                PROBE.as_secs()
            ),
        ),
    }
}
