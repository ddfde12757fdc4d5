//! Plugins: programs outside the server that receive its events. The one kind today is the
//! outgoing webhook (`[[plugins.webhooks]]`, [`webhook`]); the [`Plugin`] port is what another
//! kind implements.
//!
//! **One delivery per deployment.** The [`PluginWorker`] is a *work consumer*
//! ([`EventBus::work`](crate::bus::EventBus::work)): with Kafka, the nodes of a cluster share one
//! consumer group and each event is delivered by the node holding its partition, in channel
//! order, at least once (a node that dies mid-delivery leaves the event to the next holder);
//! with the in-process bus (one node) or Redis pub/sub, every node receives every event and
//! only the leader delivers, so an event in flight while leadership moves (or while a single
//! node restarts) is not delivered. Receivers dedupe by `X-CoLink-Delivery` (the event id).
//!
//! **Attempts.** A delivery that fails is tried again after `plugins.retry_delay`, then after
//! twice that; after [`ATTEMPTS`] failures the event is set aside for that plugin (Kafka: a copy
//! in `<prefix>dlq` naming the plugin, the error and the attempts; every bus:
//! `bus_dlq_events_total{reason="work_failed"}` and an error in the log) and the events behind
//! it go on. Other plugins' deliveries of the same event are not repeated.

pub mod webhook;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;

use crate::{
    app::AppState,
    bus::{Dedup, RecvError, WorkSubscription},
    domain::events::{Event, EventKind},
    telemetry::metrics::DeadLetter,
    workers::{Shutdown, Worker},
};

/// Deliveries of one event to one plugin before it is set aside (SPEC §7).
pub const ATTEMPTS: u32 = 3;
/// The work consumers' group on the bus.
const GROUP: &str = "plugins";
/// Wait before subscribing again after the bus refused.
const RESUBSCRIBE: Duration = Duration::from_secs(5);
/// How long start-up waits for the subscription.
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(10);
/// How long shutdown waits for the subscription to close.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// A receiver of events.
#[async_trait]
pub trait Plugin: Send + Sync {
    /// Its configured name (logs, metrics, the DLQ).
    fn name(&self) -> &str;
    /// Whether it receives events of this type.
    fn wants(&self, kind: EventKind) -> bool;
    /// Deliver one event, `payload` being its JSON envelope (the bus's wire format). An error
    /// says why it failed; the delivery is tried again.
    async fn deliver(&self, event: &Event, payload: &[u8]) -> Result<(), String>;
}

/// The plugins of `state.config`, ready to deliver.
fn configured(state: &AppState) -> anyhow::Result<Vec<Arc<dyn Plugin>>> {
    let plugins = &state.config.plugins;
    plugins
        .webhooks
        .iter()
        .map(|config| {
            let hook = webhook::Webhook::new(config, plugins.timeout.0)?;
            Ok(Arc::new(hook) as Arc<dyn Plugin>)
        })
        .collect()
}

/// Delivers every event to the plugins that want it (see the module docs).
pub struct PluginWorker {
    delivery: Delivery,
    /// Made at start-up, before the server accepts connections (so no event sent through this
    /// node is missed); made in the background when the bus did not answer then.
    subscription: Option<Box<dyn WorkSubscription>>,
}

#[async_trait]
impl Worker for PluginWorker {
    fn name(&self) -> &'static str {
        "plugins"
    }

    async fn run(self: Box<Self>, mut shutdown: Shutdown) {
        let PluginWorker {
            delivery,
            subscription,
        } = *self;
        let subscription = match subscription {
            Some(subscription) => Some(subscription),
            None => delivery.subscribe(&mut shutdown).await,
        };
        let Some(mut subscription) = subscription else {
            return;
        };
        let mut dedup = Dedup::new(65_536);
        loop {
            let received = tokio::select! {
                _ = shutdown.changed() => break,
                received = subscription.recv() => received,
            };
            match received {
                Ok(event) => {
                    let ours = subscription.shared() || delivery.state.leadership.is_leader();
                    if ours && dedup.first_time(event.id) {
                        let finished = delivery
                            .handle(&event, subscription.as_mut(), &mut shutdown)
                            .await;
                        if !finished {
                            // Stopped mid-delivery: not done, so Kafka hands it out again.
                            break;
                        }
                    }
                    subscription.done();
                }
                Err(RecvError::Lagged { skipped }) => {
                    tracing::warn!(
                        skipped,
                        "plugins fell behind the event bus: events were not delivered"
                    );
                }
                Err(RecvError::Closed) => break,
            }
        }
        // Leaving a Kafka group commits the positions and tells the group's coordinator, which
        // waits for brokers that may be away: on a thread of its own, for a few seconds at most.
        let closing = tokio::task::spawn_blocking(move || drop(subscription));
        if tokio::time::timeout(CLOSE_WAIT, closing).await.is_err() {
            tracing::warn!("plugins: leaving the consumer group did not finish in time");
        }
    }
}

impl PluginWorker {
    /// The worker for the configured plugins, subscribed (waiting up to [`SUBSCRIBE_WAIT`]);
    /// `None` when none are configured.
    pub async fn start(state: &Arc<AppState>) -> anyhow::Result<Option<Self>> {
        if state.config.plugins.webhooks.is_empty() {
            return Ok(None);
        }
        let plugins = configured(state)?;
        let subscription = match tokio::time::timeout(SUBSCRIBE_WAIT, state.bus.work(GROUP)).await {
            Ok(Ok(subscription)) => Some(subscription),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "plugins: the event bus refused a subscription at start-up; retrying in the background");
                None
            }
            Err(_) => {
                tracing::warn!(
                    "plugins: the event bus did not answer at start-up; subscribing in the background"
                );
                None
            }
        };
        Ok(Some(Self {
            delivery: Delivery {
                state: state.clone(),
                plugins,
            },
            subscription,
        }))
    }
}

/// The plugins and what delivering to them needs.
struct Delivery {
    state: Arc<AppState>,
    plugins: Vec<Arc<dyn Plugin>>,
}

impl Delivery {
    /// The work subscription, retried until it is made; `None` when told to stop first.
    async fn subscribe(&self, shutdown: &mut Shutdown) -> Option<Box<dyn WorkSubscription>> {
        loop {
            match self.state.bus.work(GROUP).await {
                Ok(subscription) => return Some(subscription),
                Err(e) => {
                    tracing::warn!(error = %e, "plugins: subscribing to the event bus failed; retrying");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(RESUBSCRIBE) => {}
                _ = shutdown.changed() => return None,
            }
        }
    }

    /// Deliver `event` to every plugin that wants it, at once, each with its attempts; the
    /// ones that failed them all are set aside. `false` when told to stop meanwhile.
    async fn handle(
        &self,
        event: &Event,
        subscription: &mut dyn WorkSubscription,
        shutdown: &mut Shutdown,
    ) -> bool {
        let wanted: Vec<&Arc<dyn Plugin>> = self
            .plugins
            .iter()
            .filter(|p| p.wants(event.kind()))
            .collect();
        if wanted.is_empty() {
            return true;
        }
        let payload = match serde_json::to_vec(event) {
            Ok(payload) => payload,
            Err(e) => {
                tracing::error!(event = %event.id, error = %e, "plugins: an event could not be written as JSON");
                return true;
            }
        };
        let delay = self.state.config.plugins.retry_delay.0;
        let deliveries = futures_util::future::join_all(
            wanted
                .iter()
                .map(|plugin| self.attempts(plugin.as_ref(), event, &payload, delay)),
        );
        let outcomes = tokio::select! {
            outcomes = deliveries => outcomes,
            _ = shutdown.changed() => return false,
        };
        for (plugin, outcome) in wanted.iter().zip(outcomes) {
            if let Err(error) = outcome {
                self.state.metrics.dead_letter(DeadLetter::WorkFailed);
                self.count(plugin.name(), "set_aside");
                tracing::error!(
                    plugin = plugin.name(),
                    event = %event.id,
                    kind = event.kind().as_str(),
                    attempts = ATTEMPTS,
                    error,
                    "plugins: a delivery failed every attempt; the event was set aside"
                );
                subscription
                    .set_aside(plugin.name(), &error, ATTEMPTS)
                    .await;
            }
        }
        true
    }

    /// Up to [`ATTEMPTS`] deliveries, waiting `delay` × the attempt between them; the last
    /// error when all failed.
    async fn attempts(
        &self,
        plugin: &dyn Plugin,
        event: &Event,
        payload: &[u8],
        delay: Duration,
    ) -> Result<(), String> {
        let mut attempt = 1;
        loop {
            match plugin.deliver(event, payload).await {
                Ok(()) => {
                    self.count(plugin.name(), "delivered");
                    return Ok(());
                }
                Err(error) if attempt >= ATTEMPTS => return Err(error),
                Err(error) => {
                    self.count(plugin.name(), "failed");
                    tracing::warn!(
                        plugin = plugin.name(),
                        event = %event.id,
                        attempt,
                        error,
                        "plugins: a delivery failed; trying again"
                    );
                    tokio::time::sleep(delay * attempt).await;
                    attempt += 1;
                }
            }
        }
    }

    fn count(&self, plugin: &str, outcome: &str) {
        self.state
            .metrics
            .plugin_deliveries
            .with_label_values(&[plugin, outcome])
            .inc();
    }
}
