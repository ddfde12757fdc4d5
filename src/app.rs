//! Wiring: `Config` → `AppState` (database, kv, keys, mailer, setup gate), background workers,
//! the HTTP server, and graceful shutdown.

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context;
use sea_orm::DatabaseConnection;

use crate::{
    bus::{EventBus, relay},
    config::{BusBackend, Config},
    db::{self, WriteGate, WriteGuard},
    email::Mailer,
    identity::{
        jwt::JwtKeys,
        keys::Keys,
        token_state::{SessionCache, TokenStateCache},
    },
    kv::{Kv, RedbKv},
    realtime::{AudienceJobs, AudienceWorker, HubWorker},
    service::{
        marker_writer::{self, MarkerTask, MarkerWriter},
        message_writer::{self, MessageWriter, WriterTask},
        setup::SetupGate,
    },
    workers::{Periodic, Worker, Workers},
};

#[path = "app_backends.rs"]
mod backends;
use backends::{leader_lease, open_bus, open_kv, open_presence, open_search};

/// Everything a request handler or worker needs; shared behind an `Arc`.
pub struct AppState {
    pub config: Config,
    /// This node's name (`cluster.node_id`, or generated at start): leases, logs, `/ready`.
    pub node_id: String,
    /// Whether this node does the leader-only work (the outbox relay, clean-ups): always with
    /// an in-process bus, while it holds the lease with a shared one (see `cluster`).
    pub leadership: crate::cluster::Leadership,
    pub db: DatabaseConnection,
    pub kv: Arc<dyn Kv>,
    pub keys: Keys,
    pub jwt: JwtKeys,
    pub token_states: TokenStateCache,
    /// Open sessions (refresh-token families), cached like `token_states`.
    pub sessions: SessionCache,
    pub mailer: Arc<Mailer>,
    pub setup: SetupGate,
    pub bus: Arc<dyn EventBus>,
    /// Tells the relay about commits that wrote outbox rows, so it publishes at once.
    pub outbox: relay::OutboxFeed,
    pub write_gate: WriteGate,
    pub message_writer: MessageWriter,
    /// Group commit of read markers (see `service::marker_writer`).
    pub marker_writer: MarkerWriter,
    /// Cached post permissions for the message hot path (see `service::access`).
    pub post_access: crate::service::access::PostAccessCache,
    /// The newest page of each conversation's messages (see `service::latest_page`).
    pub latest_pages: crate::service::latest_page::LatestPages,
    /// WebSocket connections, presence and typing (see `realtime`).
    pub realtime: crate::realtime::Realtime,
    /// File objects: the local disk or S3 (see `storage`).
    pub storage: crate::storage::Storage,
    /// Wakes the file worker (scans, thumbnails) when a file is confirmed.
    pub file_work: crate::service::files::processing::FileWork,
    /// Abandoned uploads collected since start (for the admin stats and metrics).
    pub files_collected: std::sync::atomic::AtomicU64,
    /// Users' last activity, noted per request and stored in batches (see `service::activity`).
    pub activity: crate::service::activity::Activity,
    /// The moderation rules, compiled (see `service::moderation_rules`).
    pub moderation_rules: crate::service::moderation_rules::RuleBook,
    /// The configuration in force: `config` with the run-time settings changed in the admin
    /// console laid over it (see `service::settings`). Run-time keys are read from here.
    pub settings: crate::service::settings::LiveConfig,
    /// When this process started serving (uptime in `GET /admin/system`).
    pub started_at: time::OffsetDateTime,
    /// Message search (see `search`).
    pub search: crate::search::Search,
    /// Prometheus series counted where things happen (see `telemetry::metrics`).
    pub metrics: Arc<crate::telemetry::Metrics>,
    /// Identity providers for sign-in and bearer tokens (see `service::sso`).
    pub sso: crate::identity::oidc::Providers,
}

impl AppState {
    /// Whether other nodes share the event bus (and so the outbox relay, the leader lease and
    /// the realtime signals).
    pub fn bus_is_shared(&self) -> bool {
        self.config.bus.backend != BusBackend::Memory
    }
}

/// What the background workers own besides the state: the receiving ends of the queues that
/// `AppState` holds the sending ends of, and the embedded kv store to purge.
struct WorkerEnds {
    message_writer: WriterTask,
    marker_writer: MarkerTask,
    outbox_feed: relay::FeedReceiver,
    audience_jobs: AudienceJobs,
    redb: Option<RedbKv>,
    /// What keeps the search index current; `None`: search is off.
    search_upkeep: Option<crate::search::Upkeep>,
    /// Takes and renews the leader lease, with a shared bus.
    lease_keeper: Option<crate::cluster::LeaseKeeper>,
}

/// Where ephemeral state lives.
enum KvChoice {
    /// As configured (the server).
    Configured,
    /// In memory: CLI commands touch no ephemeral state, and must not lock the server's kv file.
    InMemory,
}

impl AppState {
    /// Begin a write transaction (see [`db::begin_write`]); keep the guard until after commit.
    pub async fn begin_write(
        &self,
    ) -> Result<(sea_orm::DatabaseTransaction, WriteGuard), sea_orm::DbErr> {
        db::begin_write(&self.db, &self.write_gate).await
    }

    /// Run `work` in a write transaction (see [`db::write`]), then wake the outbox relay in case
    /// it emitted events (so they are published at once).
    pub async fn write<T, F>(&self, work: F) -> crate::error::AppResult<T>
    where
        F: for<'c> FnOnce(
            &'c sea_orm::DatabaseTransaction,
        ) -> std::pin::Pin<
            Box<dyn Future<Output = crate::error::AppResult<T>> + Send + 'c>,
        >,
    {
        let out = db::write(&self.db, &self.write_gate, work).await?;
        self.outbox.committed();
        Ok(out)
    }

    /// Connect, migrate and open every backend, for the server.
    async fn open(config: Config) -> anyhow::Result<(Self, WorkerEnds)> {
        Self::open_with(config, KvChoice::Configured).await
    }

    /// Like the server's state, but with an in-memory kv so it runs beside a live server. No
    /// workers run: sending a message fails as `unavailable`.
    pub async fn open_for_cli(config: Config) -> anyhow::Result<Self> {
        Ok(Self::open_with(config, KvChoice::InMemory).await?.0)
    }

    async fn open_with(config: Config, kv_choice: KvChoice) -> anyhow::Result<(Self, WorkerEnds)> {
        crate::identity::keys::create_private_dir(&config.data_dir)
            .with_context(|| format!("creating data_dir {}", config.data_dir.display()))?;
        let db = db::connect(&config).await?;
        db::migrate_up(&db).await?;
        let write_gate = WriteGate::for_connection(&db);
        let (kv, redb) = open_kv(&config, &kv_choice).await?;
        let keys = Keys::load(
            config.auth.secret_key.as_ref().map(|s| s.expose()),
            &config.data_dir,
        )?;
        rekey_recovery_codes(&db, &write_gate, &keys).await?;
        let jwt = JwtKeys::new(&keys.jwt);
        let storage = crate::storage::Storage::open(&config, keys.file_urls)?;
        let mailer = Arc::new(Mailer::from_config(&config)?);
        let (search, search_upkeep) = open_search(&config, &kv_choice, &db).await?;
        let setup = SetupGate::init(&db, &config.data_dir).await?;
        let settings = crate::service::settings::LiveConfig::load(config.clone(), &db).await?;
        let moderation_rules = crate::service::moderation_rules::RuleBook::load(&db).await?;
        let metrics = Arc::new(crate::telemetry::Metrics::new()?);
        let node_id = config.node_id();
        let bus = open_bus(&config, &kv_choice, &node_id, &metrics).await?;
        let (outbox, outbox_feed) = relay::feed();
        let (lease_keeper, leadership) = leader_lease(&config, &kv_choice, &kv, &node_id);
        let presence = open_presence(&config, &kv_choice, &node_id).await?;
        let (realtime, audience_jobs) =
            crate::realtime::Realtime::new(&config.realtime, metrics.fanout.clone(), presence);
        let writer_db = db::connect_writer(&config).await?;
        let (message_writer, writer_task) = message_writer::channel(
            writer_db,
            write_gate.clone(),
            outbox.clone(),
            metrics.messages_created.clone(),
        );
        let marker_db = db::connect_writer(&config).await?;
        let (marker_writer, marker_task) =
            marker_writer::channel(marker_db, write_gate.clone(), outbox.clone());
        Ok((
            Self {
                sso: crate::identity::oidc::Providers::new(&config.auth.oidc.providers)?,
                node_id,
                leadership,
                config,
                db,
                kv,
                keys,
                jwt,
                token_states: TokenStateCache::default(),
                sessions: SessionCache::default(),
                mailer,
                setup,
                bus,
                outbox,
                write_gate,
                message_writer,
                marker_writer,
                post_access: Default::default(),
                latest_pages: Default::default(),
                realtime,
                storage,
                file_work: Default::default(),
                files_collected: Default::default(),
                activity: Default::default(),
                moderation_rules,
                settings,
                started_at: time::OffsetDateTime::now_utc(),
                search,
                metrics,
            },
            WorkerEnds {
                message_writer: writer_task,
                marker_writer: marker_task,
                outbox_feed,
                audience_jobs,
                redb,
                search_upkeep,
                lease_keeper,
            },
        ))
    }
}

pub struct App {
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    addr: std::net::SocketAddr,
    /// `telemetry.metrics_bind`'s listener, when metrics are served apart.
    metrics_listener: Option<(tokio::net::TcpListener, std::net::SocketAddr)>,
    worker_ends: WorkerEnds,
    /// The hub's bus subscription, made before the server accepts connections.
    hub_subscription: Option<Box<dyn crate::bus::Subscription>>,
    /// The plugins' worker, subscribed before the server accepts connections too.
    plugin_worker: Option<crate::plugins::PluginWorker>,
}

impl App {
    /// Open backends, start workers and bind the listener (`server.bind`; port 0 picks a free one).
    pub async fn build(mut config: Config) -> anyhow::Result<Self> {
        let bind = config.server.bind;
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("binding server.bind = {bind}"))?;
        let addr = listener.local_addr().unwrap_or(bind);
        let metrics_listener = match config.telemetry.metrics_bind {
            Some(bind) => {
                let listener = tokio::net::TcpListener::bind(bind)
                    .await
                    .with_context(|| format!("binding telemetry.metrics_bind = {bind}"))?;
                let addr = listener.local_addr().unwrap_or(bind);
                Some((listener, addr))
            }
            None => None,
        };
        if config.server.public_url.is_none() {
            config.server.public_url = url::Url::parse(&format!("http://{addr}")).ok();
        }
        let (state, worker_ends) = AppState::open(config).await?;
        let state = Arc::new(state);
        let hub_subscription = subscribe_hub(&state).await;
        let plugin_worker = crate::plugins::PluginWorker::start(&state).await?;

        if let Some(token) = state.setup.pending_token().await {
            // The web app's setup page takes the token from its query string; scripts can use
            // POST /api/v1/setup with it (see the README, Quick start).
            let url = format!("{}/setup?token={token}", state.config.public_url());
            tracing::warn!(
                setup_token = %token,
                setup_url = %url,
                file = %state.config.data_dir.join("setup-token").display(),
                "no account exists yet: open this page to create the owner account (setup_url; \
                 scripts: POST /api/v1/setup with this setup_token)"
            );
        }
        Ok(Self {
            state,
            listener,
            addr,
            metrics_listener,
            worker_ends,
            hub_subscription,
            plugin_worker,
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The port `/metrics` is served on apart (`telemetry.metrics_bind`), if it is.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_listener.as_ref().map(|(_, addr)| addr.port())
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Start the background workers, serve until `shutdown` resolves, then drain requests and
    /// stop the workers (the relay publishes what was committed before it stops).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let workers = Workers::start(background_workers(
            &self.state,
            self.worker_ends,
            self.hub_subscription,
            self.plugin_worker,
        ));
        let routes = crate::api::routes(self.state.clone(), self.addr.port());
        tracing::info!(addr = %self.addr, port = self.addr.port(), "CoLink listening");
        let server = &self.state.config.server;
        let limits = crate::server::ConnectionLimits {
            max_connections: server.max_connections,
            header_read_timeout: server.header_read_timeout.0,
            write_timeout: server.write_timeout.0,
        };
        let (stopping, stop_rx) = tokio::sync::watch::channel(false);
        let metrics_server = self.metrics_listener.map(|(listener, addr)| {
            tracing::info!(addr = %addr, "metrics listening");
            let mut stop_rx = stop_rx.clone();
            tokio::spawn(crate::server::serve(
                listener,
                crate::api::metrics_routes(self.state.clone()),
                crate::server::ConnectionLimits {
                    max_connections: 64,
                    ..limits
                },
                async move {
                    let _ = stop_rx.wait_for(|stop| *stop).await;
                },
                Duration::from_secs(1),
            ))
        });
        // WebSocket connections would hold the graceful shutdown open: close them first.
        let state = self.state.clone();
        let timeout = server.shutdown_timeout.0;
        let deadline = Arc::new(std::sync::OnceLock::new());
        let stop_at = deadline.clone();
        let shutdown = async move {
            shutdown.await;
            crate::supervisor::stopping();
            let _ = stop_at.set(tokio::time::Instant::now() + timeout);
            let _ = stopping.send(true);
            state.realtime.close_all();
        };
        // Requests get most of the time; the workers' flush (normally milliseconds) the rest.
        let grace = timeout.mul_f64(0.75);
        crate::supervisor::ready(self.addr);
        crate::server::serve(self.listener, routes, limits, shutdown, grace)
            .await
            .context("HTTP server")?;
        if let Some(metrics_server) = metrics_server {
            let _ = metrics_server.await;
        }
        let deadline = deadline
            .get()
            .copied()
            .unwrap_or_else(|| tokio::time::Instant::now() + timeout);
        if tokio::time::timeout_at(deadline, workers.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                timeout_ms = timeout.as_millis() as u64,
                "background work did not finish within server.shutdown_timeout; exiting \
                 (the outbox is published on the next start)"
            );
        }
        self.state.db.clone().close().await.ok();
        tracing::info!("CoLink stopped");
        Ok(())
    }
}

/// How long start-up waits for the hub's bus subscription before it serves without one.
const HUB_SUBSCRIBE_WAIT: Duration = Duration::from_secs(10);

/// Subscribe the hub to the bus before the server accepts connections: a client that connects
/// (and resumes from the database) must not miss what is published before the hub listens. A
/// Kafka subscription takes round trips to the brokers, which is time enough to lose events to.
/// A bus that does not answer within `HUB_SUBSCRIBE_WAIT` does not hold the start (messages are
/// still accepted into the outbox): the hub keeps trying in the background.
async fn subscribe_hub(state: &AppState) -> Option<Box<dyn crate::bus::Subscription>> {
    let subscribed = match tokio::time::timeout(HUB_SUBSCRIBE_WAIT, state.bus.subscribe()).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!(
            "no answer within {} s",
            HUB_SUBSCRIBE_WAIT.as_secs()
        )),
    };
    subscribed
        .inspect_err(|e| {
            tracing::warn!(error = %e, "the event bus did not answer at start-up; serving, and subscribing in the background");
        })
        .ok()
}

/// Every background task, in start order; shutdown stops them in the same order, each finishing
/// before the next is told (the writer stores what is queued before the relay's last pass).
fn background_workers(
    state: &Arc<AppState>,
    ends: WorkerEnds,
    hub_subscription: Option<Box<dyn crate::bus::Subscription>>,
    plugin_worker: Option<crate::plugins::PluginWorker>,
) -> Vec<Box<dyn Worker>> {
    let mut workers: Vec<Box<dyn Worker>> = Vec::new();
    if let Some(store) = ends.redb {
        workers.push(Box::new(Periodic::new(
            "kv-purge",
            Duration::from_secs(60),
            move || {
                let store = store.clone();
                async move {
                    if let Err(e) = store.purge_expired().await {
                        tracing::warn!(error = %e, "purging expired kv entries failed");
                    }
                }
            },
        )));
    }
    workers.push(Box::new(ends.message_writer));
    workers.push(Box::new(ends.marker_writer));
    workers.push(Box::new(relay::Relay {
        db: state.db.clone(),
        bus: state.bus.clone(),
        feed: ends.outbox_feed,
        gate: state.write_gate.clone(),
        metrics: state.metrics.clone(),
        leadership: state.leadership.clone(),
    }));
    // Stopped after the relay, so that the relay's last pass still leads.
    if let Some(keeper) = ends.lease_keeper {
        workers.push(Box::new(keeper));
    }
    workers.push(Box::new(HubWorker {
        state: state.clone(),
        subscription: hub_subscription,
    }));
    workers.push(Box::new(crate::realtime::signals::SignalWorker(
        state.clone(),
    )));
    workers.push(Box::new(crate::service::files::processing::FileWorker(
        state.clone(),
    )));
    match ends.search_upkeep {
        Some(crate::search::Upkeep::Indexer { index, start }) => {
            workers.push(Box::new(crate::search::indexer::Indexer {
                state: state.clone(),
                index,
                start,
            }));
        }
        Some(crate::search::Upkeep::Backfill { index, backfill }) => {
            workers.push(Box::new(crate::search::postgres_index::BackfillWorker {
                state: state.clone(),
                index,
                backfill,
            }));
        }
        None => {}
    }
    if let Some(worker) = plugin_worker {
        workers.push(Box::new(worker));
    }
    workers.push(Box::new(AudienceWorker {
        state: state.clone(),
        jobs: ends.audience_jobs,
    }));
    workers.extend(upkeep_workers(state));
    workers
}

/// Recovery codes stored in a former format get the current keyed hash (once, at start).
async fn rekey_recovery_codes(
    db: &sea_orm::DatabaseConnection,
    write_gate: &WriteGate,
    keys: &Keys,
) -> anyhow::Result<()> {
    let rekeyed = crate::service::totp::rekey_legacy_recovery_codes(db, write_gate, keys)
        .await
        .map_err(|e| anyhow::anyhow!("re-keying recovery codes: {e}"))?;
    if rekeyed > 0 {
        tracing::info!(rekeyed, "recovery codes of the former format re-keyed");
    }
    Ok(())
}

/// What each node reloads from the database every few seconds, so changes made on another node
/// (or with the CLI) apply here: the moderation rules and the run-time settings.
fn reload_workers(state: &Arc<AppState>) -> [Box<dyn Worker>; 2] {
    let rules_state = state.clone();
    let rules = Periodic::new(
        "moderation-rules",
        crate::service::moderation_rules::RELOAD_EVERY,
        move || {
            let state = rules_state.clone();
            async move {
                match state.moderation_rules.reload(&state.db).await {
                    Ok(false) => {}
                    Ok(true) => tracing::info!("moderation rules reloaded"),
                    Err(e) => tracing::warn!(error = %e, "reloading the moderation rules failed"),
                }
            }
        },
    );
    let settings_state = state.clone();
    let settings = Periodic::new(
        "settings",
        crate::service::settings::RELOAD_EVERY,
        move || {
            let state = settings_state.clone();
            async move {
                match state.settings.reload(&state.db).await {
                    Ok(false) => {}
                    Ok(true) => tracing::info!("run-time settings reloaded"),
                    Err(e) => tracing::warn!(error = %e, "reloading the run-time settings failed"),
                }
            }
        },
    );
    [Box::new(rules), Box::new(settings)]
}

/// The periodic upkeep of stored data: users' last activity, the audit log's and the outbox's
/// retention, SQLite's checkpoints.
fn upkeep_workers(state: &Arc<AppState>) -> Vec<Box<dyn Worker>> {
    let mut workers: Vec<Box<dyn Worker>> = Vec::new();
    workers.push(Box::new(crate::service::activity::ActivityWorker(
        state.clone(),
    )));
    workers.extend(reload_workers(state));
    let audit_state = state.clone();
    workers.push(Box::new(Periodic::new(
        "audit-purge",
        Duration::from_secs(3600),
        move || {
            let state = audit_state.clone();
            async move {
                if !state.leadership.is_leader() {
                    return;
                }
                let retention = state.settings.get().audit.retention.0;
                match crate::service::audit::purge(&state, retention).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(entries = n, "purged audit entries past retention"),
                    Err(e) => tracing::warn!(error = %e, "purging the audit log failed"),
                }
            }
        },
    )));
    if state.config.is_sqlite() {
        let db = state.db.clone();
        workers.push(Box::new(Periodic::new(
            "sqlite-checkpoint",
            Duration::from_secs(1),
            move || {
                let db = db.clone();
                async move {
                    if let Err(e) = db::checkpoint(&db).await {
                        tracing::warn!(error = %e, "SQLite checkpoint failed");
                    }
                }
            },
        )));
    }
    let (db, gate) = (state.db.clone(), state.write_gate.clone());
    let (retention, leadership) = (
        state.config.bus.outbox_retention.0,
        state.leadership.clone(),
    );
    workers.push(Box::new(Periodic::new(
        "outbox-prune",
        Duration::from_secs(300),
        move || {
            let (db, gate, leads) = (db.clone(), gate.clone(), leadership.is_leader());
            async move {
                if !leads {
                    return;
                }
                match relay::prune(&db, &gate, retention).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(rows = n, "pruned published outbox rows"),
                    Err(e) => tracing::warn!(error = %e, "pruning the outbox failed"),
                }
            }
        },
    )));
    workers
}
