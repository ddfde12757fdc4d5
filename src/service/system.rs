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
}

impl Probe {
    /// Whether the server cannot serve without it and it failed.
    pub fn failed(&self) -> bool {
        matches!(self.result, Some(Err(_)))
    }
}

async fn timed<F, E>(name: &'static str, kind: &'static str, probe: F) -> Probe
where
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let started = Instant::now();
    let result = probe.await.map_err(|e| e.to_string());
    Probe {
        name,
        kind,
        result: Some(result),
        latency: started.elapsed(),
    }
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
    };
    let (db, kv, files) = tokio::join!(
        timed("database", database, state.db.ping()),
        timed("kv", kv, state.kv.ping()),
        timed("storage", storage, state.storage.check()),
    );
    vec![db, kv, files]
}

/// Every part: the required backends, then those that do not decide readiness.
pub async fn probe_all(state: &AppState) -> Vec<Probe> {
    let mut probes = probe_required(state).await;
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
    });
    probes.push(Probe {
        name: "bus",
        kind: match state.config.bus.backend {
            BusBackend::Memory => "memory",
        },
        result: None,
        latency: Duration::ZERO,
    });
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
    });
    probes
}
