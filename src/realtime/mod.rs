//! Realtime: the `/ws` gateway, the connection hub and fan-out, presence and typing. Transport
//! only: it reads the database to authorise and replay, and consumes the event bus; it never
//! changes data.
//!
//! - `gateway.rs`: `GET /ws`, authentication (token or single-use ticket), connection limit.
//! - `connection.rs`: one task per connection: client frames, forwarding, heartbeats, resume.
//! - `hub.rs`: who listens to what; delivery of bus events (serialised once) to bounded queues.
//! - `presence.rs`, `typing.rs`: the ports and their in-memory implementations;
//!   `presence_redis.rs`: presence shared by a cluster; `signals.rs`: typing and presence frames
//!   for connections on other nodes (bus signals).
//! - `protocol.rs`: the frames and close codes; `limits.rs`: the frame-rate limit;
//!   `metrics.rs`: counters; `ticket.rs`: tickets in the kv store; `queries.rs`: database reads.
//!
//! Two workers run here: the hub worker (bus → hub, and the node's caches kept current through
//! `service::cache_sync`; on `Lagged` every connection is closed with 4009, to reconnect and
//! resume, and the caches are dropped), and the audience worker, which does the deliveries that
//! need the database first — presence changes (to users sharing a channel) and mentions of users
//! not subscribed to the channel (after checking they may read it) — and applies the presence
//! timers.

mod connection;
pub mod gateway;
pub mod hub;
pub mod limits;
pub mod metrics;
pub mod presence;
pub mod presence_redis;
pub mod protocol;
mod queries;
pub mod signals;
mod throttle;
pub mod ticket;
pub mod typing;

use std::{collections::HashSet, sync::Arc, time::Duration};

use tokio::sync::mpsc;
use uuid::Uuid;

use self::{
    hub::{CloseReason, Hub, MentionJob},
    metrics::Metrics,
    presence::{Change, MemoryPresence, PresenceStore},
    protocol::{Outbound, ServerFrame, close},
    typing::{MemoryTyping, TypingStore},
};
use crate::{
    app::AppState,
    bus::{Dedup, RecvError},
    config::RealtimeConfig,
    workers::{Shutdown, Worker},
};

/// Work for the audience worker.
pub enum Job {
    /// A user's presence changed. Coalesced per user: the audience is told the status current
    /// when it is sent, so a burst (a reconnect storm) is never dropped or told out of order.
    Presence(Change),
    Mention(MentionJob),
}

/// Mention jobs waiting for the audience worker; past this they are dropped (and counted). The
/// mention itself is stored and counted either way; only its live delivery is lost.
const JOB_QUEUE: usize = 4096;

pub struct Realtime {
    pub hub: Arc<Hub>,
    pub presence: Arc<dyn PresenceStore>,
    pub typing: Arc<dyn TypingStore>,
    pub metrics: Arc<Metrics>,
    jobs: mpsc::Sender<MentionJob>,
    /// Users whose presence changed and whose audience has not been told yet.
    presence_changed: std::sync::Mutex<HashSet<Uuid>>,
    presence_wakeup: tokio::sync::Notify,
}

/// The audience worker's queue: its receiving end, for [`AudienceWorker`].
pub struct AudienceJobs(mpsc::Receiver<MentionJob>);

impl Realtime {
    /// `fanout`: the histogram of fan-out latency (`telemetry::Metrics::fanout`).
    /// `presence`: the store ([`MemoryPresence`] for one node, `presence_redis` for a cluster;
    /// [`Realtime::memory_presence`]).
    pub fn new(
        config: &RealtimeConfig,
        fanout: prometheus::Histogram,
        presence: Arc<dyn PresenceStore>,
    ) -> (Self, AudienceJobs) {
        let metrics = Arc::new(Metrics::default());
        let (jobs, jobs_rx) = mpsc::channel(JOB_QUEUE);
        let realtime = Self {
            hub: Arc::new(Hub::new(
                metrics.clone(),
                fanout,
                config.send_queue,
                config.max_connections_per_user as usize,
            )),
            presence,
            typing: Arc::new(MemoryTyping::new(config.typing_ttl.0)),
            metrics,
            jobs,
            presence_changed: std::sync::Mutex::new(HashSet::new()),
            presence_wakeup: tokio::sync::Notify::new(),
        };
        (realtime, AudienceJobs(jobs_rx))
    }

    /// The presence store of a single node.
    pub fn memory_presence(config: &RealtimeConfig) -> Arc<dyn PresenceStore> {
        Arc::new(MemoryPresence::new(
            config.away_after.0,
            config.offline_grace.0,
        ))
    }

    /// Hand work to the audience worker without waiting.
    pub fn submit(&self, job: Job) {
        match job {
            Job::Presence((user, _)) => {
                self.presence_changed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(user);
                self.presence_wakeup.notify_one();
            }
            Job::Mention(job) => {
                if self.jobs.try_send(job).is_err() {
                    Metrics::add(&self.metrics.frames_dropped, 1);
                    tracing::warn!("realtime audience queue full: a mention delivery was dropped");
                }
            }
        }
    }

    /// The users whose presence changed since the last call.
    fn take_presence_changes(&self) -> Vec<Uuid> {
        let mut changed = self
            .presence_changed
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        changed.drain().collect()
    }

    /// Close every connection (the server is stopping).
    pub fn close_all(&self) {
        self.hub.close_all(CloseReason {
            code: close::GOING_AWAY,
            reason: "server shutting down",
        });
    }
}

/// The hub worker: bus → hub.
pub struct HubWorker {
    pub state: Arc<AppState>,
    /// Made before the server accepted connections; `None`: subscribe when the bus answers.
    pub subscription: Option<Box<dyn crate::bus::Subscription>>,
}

#[async_trait::async_trait]
impl Worker for HubWorker {
    fn name(&self) -> &'static str {
        "realtime-hub"
    }

    async fn run(self: Box<Self>, shutdown: Shutdown) {
        run_hub(self.state, self.subscription, shutdown).await;
    }
}

/// The audience worker: presence changes, mentions of unsubscribed users, presence timers.
pub struct AudienceWorker {
    pub state: Arc<AppState>,
    pub jobs: AudienceJobs,
}

#[async_trait::async_trait]
impl Worker for AudienceWorker {
    fn name(&self) -> &'static str {
        "realtime-audience"
    }

    async fn run(self: Box<Self>, shutdown: Shutdown) {
        let AudienceWorker { state, jobs } = *self;
        run_audience(state, jobs.0, shutdown).await;
    }
}

async fn run_hub(
    state: Arc<AppState>,
    subscribed: Option<Box<dyn crate::bus::Subscription>>,
    mut shutdown: Shutdown,
) {
    let rt = &state.realtime;
    let mut subscription = if let Some(s) = subscribed {
        s
    } else {
        loop {
            match state.bus.subscribe().await {
                Ok(s) => break s,
                Err(e) => {
                    tracing::warn!(error = %e, "realtime: subscribing to the event bus failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shutdown.changed() => return,
                    }
                }
            }
        }
    };
    let mut seen = Dedup::new(4096);
    loop {
        tokio::select! {
            received = subscription.recv() => match received {
                Ok(event) => {
                    if !seen.first_time(event.id) {
                        continue;
                    }
                    crate::service::cache_sync::apply(&state, &event);
                    let delivered = match event.traceparent.as_deref() {
                        // A traced request's event: the fan-out joins its trace.
                        Some(parent) => crate::telemetry::otlp::continued(
                            tracing::debug_span!("websocket.fanout", event = event.kind().as_str()),
                            Some(parent),
                        )
                        .in_scope(|| rt.hub.deliver(&event)),
                        None => rt.hub.deliver(&event),
                    };
                    if let Some(job) = delivered {
                        rt.submit(Job::Mention(job));
                    }
                }
                Err(RecvError::Lagged { skipped }) => {
                    tracing::warn!(skipped, "realtime hub fell behind the bus: clients reconnect and resume");
                    crate::service::cache_sync::forget_all(&state);
                    rt.hub.resync_all();
                }
                Err(RecvError::Closed) => break,
            },
            _ = shutdown.changed() => break,
        }
    }
    rt.close_all();
}

/// How often presence timers are checked: often enough for the shortest of them.
fn sweep_period(config: &RealtimeConfig) -> Duration {
    let shortest = config.away_after.0.min(config.offline_grace.0);
    (shortest / 4).clamp(Duration::from_millis(20), Duration::from_secs(1))
}

async fn run_audience(
    state: Arc<AppState>,
    mut jobs: mpsc::Receiver<MentionJob>,
    mut shutdown: Shutdown,
) {
    let rt = &state.realtime;
    let mut sweep = tokio::time::interval(sweep_period(&state.config.realtime));
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut throttle = throttle::PresenceThrottle::new(state.config.realtime.presence_interval.0);
    loop {
        let next_due = throttle.next_due();
        let wait_due = async {
            match next_due {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            job = jobs.recv() => match job {
                Some(job) => mention(&state, job).await,
                None => break,
            },
            _ = rt.presence_wakeup.notified() => {}
            _ = wait_due => {}
            _ = sweep.tick() => {
                for change in rt.presence.expire().await {
                    rt.submit(Job::Presence(change));
                }
                throttle.prune(std::time::Instant::now());
            }
            _ = shutdown.changed() => break,
        }
        let now = std::time::Instant::now();
        throttle.changed(rt.take_presence_changes(), now);
        let users = throttle.due(now);
        if !users.is_empty() {
            // The status current now: the last state wins.
            let statuses = rt.presence.statuses(&users).await;
            for (user, status) in users.into_iter().zip(statuses) {
                if throttle.tell(user, status, now) {
                    presence_changed(&state, (user, status)).await;
                }
            }
        }
    }
}

/// Tell the connected users who share a channel with `user` (and `user`'s other connections).
async fn presence_changed(state: &Arc<AppState>, (user, status): Change) {
    let audience = match queries::co_members(state, user).await {
        Ok(mut users) => {
            users.push(user);
            users.sort_unstable();
            users.dedup();
            users
        }
        Err(e) => {
            tracing::warn!(error = %e, "realtime: presence audience lookup failed");
            return;
        }
    };
    let hub = &state.realtime.hub;
    let frame = Outbound::plain(
        ServerFrame::Presence {
            user_id: user,
            status,
        }
        .text(),
    );
    if state.bus_is_shared() {
        // Every node delivers to its own connections among the audience.
        signals::to_users(state, audience, &frame);
        return;
    }
    let online = hub.connected_among(&audience);
    if !online.is_empty() {
        hub.to_users(&online, &frame);
    }
}

async fn mention(state: &AppState, job: MentionJob) {
    for user in job.users {
        match queries::can_read(state, user, job.channel_id).await {
            Ok(true) => state
                .realtime
                .hub
                .deliver_mention(user, job.channel_id, &job.frame),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "realtime: mention access check failed"),
        }
    }
}
