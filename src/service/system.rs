//! What a server is made of and whether each part answers: `GET /ready` and `GET /admin/system`
//! probe the backends the same way, here.

use std::time::{Duration, Instant};

use crate::{
    app::AppState,
    config::{BusBackend, KvBackend, SearchBackend, StorageBackend},
};

/// One backend and how its probe went.
pub struct Probe {
    /// database, kv, storage, bus, search or email.
    pub name: &'static str,
    /// Which implementation is configured (sqlite, postgres, embedded, memory, fs, s3, …).
    pub kind: &'static str,
    /// `Ok` or why it failed; `None` for parts that are not probed (the in-process bus, mail).
    pub result: Option<Result<(), String>>,
    /// How long the probe took.
    pub latency: Duration,
    /// The server's own version, for a backend that runs as a server of its own.
    pub version: Option<String>,
    /// How long that server has been up.
    pub uptime: Option<Duration>,
}

impl Probe {
    /// Whether the server cannot serve without it and it failed.
    pub fn failed(&self) -> bool {
        matches!(self.result, Some(Err(_)))
    }
}

/// Longest a probe may take: a backend slower than this counts as down, so `/ready` answers
/// within a Kubernetes probe's default one-second timeout even when a backend hangs.
const PROBE_TIMEOUT: Duration = Duration::from_millis(900);

async fn timed<F, E>(name: &'static str, kind: &'static str, probe: F) -> Probe
where
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let started = Instant::now();
    let result = match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
        Ok(answered) => answered.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", PROBE_TIMEOUT.as_millis())),
    };
    Probe {
        name,
        kind,
        result: Some(result),
        latency: started.elapsed(),
        version: None,
        uptime: None,
    }
}

/// The database's version (`SQLite 3.x`, `PostgreSQL 15.x`) and, for PostgreSQL, how long the
/// server has been up (SQLite runs inside CoLink: as long as CoLink).
async fn database_info(state: &AppState) -> Result<(String, Option<Duration>), sea_orm::DbErr> {
    use sea_orm::{ConnectionTrait, Statement};
    let sql = if state.config.is_sqlite() {
        "SELECT 'SQLite ' || sqlite_version() AS version, CAST(NULL AS BIGINT) AS uptime"
    } else {
        "SELECT 'PostgreSQL ' || current_setting('server_version') AS version, \
         CAST(EXTRACT(EPOCH FROM now() - pg_postmaster_start_time()) AS BIGINT) AS uptime"
    };
    let row = state
        .db
        .query_one_raw(Statement::from_string(state.db.get_database_backend(), sql))
        .await?
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound("database version".into()))?;
    let version: String = row.try_get("", "version")?;
    let uptime: Option<i64> = row.try_get("", "uptime")?;
    Ok((
        version,
        uptime
            .and_then(|s| u64::try_from(s).ok())
            .map(Duration::from_secs),
    ))
}

/// The backends the server needs to answer requests (readiness): database, kv, storage.
pub async fn probe_required(state: &AppState) -> Vec<Probe> {
    let database = if state.config.is_sqlite() {
        "sqlite"
    } else {
        "postgres"
    };
    let storage = match state.config.storage.backend {
        StorageBackend::Fs => "fs",
        StorageBackend::S3 => "s3",
    };
    let kv = match state.config.kv.backend {
        KvBackend::Embedded => "embedded",
        KvBackend::Redis => "redis",
    };
    let (db, kv, files) = tokio::join!(
        timed("database", database, state.db.ping()),
        timed("kv", kv, state.kv.ping()),
        timed("storage", storage, state.storage.check()),
    );
    vec![db, kv, files]
}

/// The event bus: probed when it is a server of its own. Not required: while it is down,
/// changes are still accepted and wait in the outbox (`/ready` says `degraded`).
pub async fn probe_bus(state: &AppState) -> Probe {
    match state.config.bus.backend {
        BusBackend::Memory => Probe {
            name: "bus",
            kind: "memory",
            result: None,
            latency: Duration::ZERO,
            version: None,
            uptime: None,
        },
        BusBackend::Redis => timed("bus", "redis", state.bus.ping()).await,
        BusBackend::Kafka => timed("bus", "kafka", state.bus.ping()).await,
    }
}

/// Every part: the required backends, then those that do not decide readiness.
pub async fn probe_all(state: &AppState) -> Vec<Probe> {
    let mut probes = probe_required(state).await;
    if let Some(database) = probes.iter_mut().find(|p| p.name == "database") {
        match database_info(state).await {
            Ok((version, uptime)) => {
                database.version = Some(version);
                database.uptime = uptime;
            }
            Err(e) => tracing::warn!(error = %e, "reading the database's version failed"),
        }
    }
    if let Some(kv) = probes.iter_mut().find(|p| p.name == "kv" && !p.failed())
        && let Ok(Some((version, uptime))) = state.kv.server().await
    {
        kv.version = Some(version);
        kv.uptime = Some(uptime);
    }
    let search = match (state.config.search.enabled, state.config.search.backend) {
        (false, _) => "off",
        (true, SearchBackend::Tantivy) => "tantivy",
        (true, SearchBackend::Postgres) => "postgres",
    };
    let search_result = match state.search.progress() {
        crate::search::Progress::Off => None,
        crate::search::Progress::Rebuilding { done, total } => {
            Some(Err(format!("rebuilding the index: {done} of {total}")))
        }
        _ => Some(Ok(())),
    };
    probes.push(Probe {
        name: "search",
        kind: search,
        result: search_result,
        latency: Duration::ZERO,
        version: None,
        uptime: None,
    });
    probes.push(probe_bus(state).await);
    let email = if state.config.email.smtp_url.is_some() {
        "smtp"
    } else {
        "mailbox"
    };
    probes.push(Probe {
        name: "email",
        kind: email,
        result: None,
        latency: Duration::ZERO,
        version: None,
        uptime: None,
    });
    probes
}

/// What `/metrics` reads at scrape time (see `telemetry::metrics`). A part that does not answer
/// is left out of the scrape rather than failing it.
pub async fn reading(state: &AppState) -> crate::telemetry::metrics::Reading {
    use crate::telemetry::metrics::{People, Reading};
    let now = crate::domain::clock::now();
    let today = now
        .to_offset(time::UtcOffset::UTC)
        .replace_time(time::Time::MIDNIGHT);
    let (pending, people) = tokio::join!(
        state.outbox.pending(&state.db),
        crate::service::stats::people(&state.db, now, today),
    );
    let search_lag = match state.search.progress() {
        crate::search::Progress::Ready { lag, .. } => Some(lag),
        _ => None,
    };
    Reading {
        websocket: state.realtime.metrics.snapshot(),
        outbox_pending: pending
            .inspect_err(
                |e| tracing::warn!(error = %e, "metrics: counting the outbox backlog failed"),
            )
            .ok(),
        search_lag,
        db_pool: crate::db::pool_usage(&state.db),
        uploads_cleaned: state
            .files_collected
            .load(std::sync::atomic::Ordering::Relaxed),
        users: people
            .inspect_err(|e| tracing::warn!(error = %e, "metrics: counting people failed"))
            .ok()
            .map(|(total, active_today, active_30_days)| People {
                total,
                active_today,
                active_30_days,
            }),
    }
}
