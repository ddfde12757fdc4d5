//! Work consumers on Kafka ([`EventBus::work`](super::EventBus::work)): one consumer group per
//! kind of work, `<prefix>work.<group>`, shared by every node, on `<prefix>events`.
//!
//! - **Once per deployment.** The group's coordinator gives each node's consumer a share of the
//!   partitions (a node that joins or dies moves partitions to the others), so an event is
//!   handled by one node. Events of one channel share a partition: they are handled in order.
//! - **At least once.** A position is stored only when the event is done or set aside
//!   ([`WorkSubscription::done`]) and committed every second and when partitions move, so a
//!   node that dies mid-work leaves its events to the next holder of the partition, which
//!   may handle the last few again: consumers dedupe by event id.
//! - **Set aside.** An event that failed three times is copied to `<prefix>dlq` with its origin,
//!   the consumer, the error and the attempts in headers, and the group moves past it.
//! - **Where a new group starts.** At the end of the log: work configured today starts with
//!   today's events, not the topic's whole history.
//! - `bus_work_partitions{group}` is this node's share, updated at every rebalance.

use std::sync::Arc;

use async_trait::async_trait;
use prometheus::IntGauge;
use rdkafka::{
    ClientContext,
    consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer},
};

use super::{ERROR_PAUSE, Inner, Origin, unavailable};
use crate::{
    bus::{BusError, RecvError, WorkSubscription},
    domain::events::Event,
};

/// Longest a node may spend on one event before the group counts it gone: three attempts of
/// a delivery with their waits (`plugins.timeout` ≤ 1 min, `plugins.retry_delay` ≤ 1 min).
const MAX_POLL_INTERVAL_MS: &str = "900000";
/// A node that stops heartbeating loses its partitions after this long.
const SESSION_TIMEOUT_MS: &str = "10000";

/// Keeps `bus_work_partitions` current.
pub(super) struct Share {
    held: IntGauge,
}

impl ClientContext for Share {}

impl ConsumerContext for Share {
    /// The share, from the rebalance itself: asking the consumer (`assignment()`) waits for
    /// librdkafka's own thread, which, while a consumer closes with its brokers away, waits for
    /// this callback — the two waited for each other for ever (a node's last rebalance, seen
    /// holding a test's runtime at exit). The group is eager (librdkafka's default assignors):
    /// an assignment is the whole share, a revocation all of it.
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) => self
                .held
                .set(i64::try_from(partitions.count()).unwrap_or(i64::MAX)),
            Rebalance::Revoke(_) => self.held.set(0),
            Rebalance::Error(e) => {
                tracing::warn!(error = %e, "kafka bus: a work consumer's rebalance failed");
            }
        }
    }
}

pub(super) struct KafkaWork {
    consumer: StreamConsumer<Share>,
    /// The consumer's name (`client.id`), for the DLQ's headers.
    name: String,
    bus: Arc<Inner>,
    /// The event last received, not yet done.
    current: Option<Origin>,
}

impl Inner {
    /// A member of the group `<prefix>work.<group>`, subscribed to the events topic.
    pub(super) async fn work_consumer(
        self: &Arc<Self>,
        group: &str,
    ) -> Result<KafkaWork, BusError> {
        self.ensure_topics().await?;
        let group_id = format!("{}work.{group}", self.topics.prefix);
        let name = format!("{}node.{}.work.{group}", self.topics.prefix, self.node_id);
        let held = self.metrics.work_partitions.with_label_values(&[group]);
        held.set(0);
        let consumer: StreamConsumer<Share> = self
            .client
            .clone()
            .set("client.id", &name)
            .set("group.id", &group_id)
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "latest")
            .set("session.timeout.ms", SESSION_TIMEOUT_MS)
            .set("heartbeat.interval.ms", "3000")
            .set("max.poll.interval.ms", MAX_POLL_INTERVAL_MS)
            .set("fetch.wait.max.ms", "20")
            .set("queued.max.messages.kbytes", "8192")
            .create_with_context(Share { held })
            .map_err(unavailable)?;
        consumer
            .subscribe(&[&self.topics.events])
            .map_err(unavailable)?;
        Ok(KafkaWork {
            consumer,
            name,
            bus: self.clone(),
            current: None,
        })
    }
}

#[async_trait]
impl WorkSubscription for KafkaWork {
    async fn recv(&mut self) -> Result<Arc<Event>, RecvError> {
        // An event received and never marked done is handled again after a restart; within
        // this run, asking for the next one moves past it.
        self.done();
        loop {
            match self.consumer.recv().await {
                Ok(record) => {
                    let origin = Origin::of(&record);
                    drop(record);
                    match serde_json::from_slice::<Event>(&origin.payload) {
                        Ok(event) => {
                            self.current = Some(origin);
                            return Ok(Arc::new(event));
                        }
                        Err(e) => {
                            let error = format!("not an event: {e}");
                            self.bus.metrics.dead_letter(
                                crate::telemetry::metrics::DeadLetter::UnreadableRecord,
                            );
                            tracing::error!(
                                topic = origin.topic,
                                partition = origin.partition,
                                offset = origin.offset,
                                error,
                                "kafka bus: a record that is not an event was set aside in the DLQ"
                            );
                            self.bus.copy_to_dlq(&origin, &self.name, &error, &[]).await;
                            self.store(&origin);
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "kafka bus: work consumer error");
                    tokio::time::sleep(ERROR_PAUSE).await;
                }
            }
        }
    }

    fn shared(&self) -> bool {
        true
    }

    fn done(&mut self) {
        if let Some(origin) = self.current.take() {
            self.store(&origin);
        }
    }

    async fn set_aside(&mut self, consumer: &str, error: &str, attempts: u32) {
        if let Some(origin) = &self.current {
            let attempts = attempts.to_string();
            self.bus
                .copy_to_dlq(
                    origin,
                    &self.name,
                    error,
                    &[("colink-plugin", consumer), ("colink-attempts", &attempts)],
                )
                .await;
        }
    }
}

impl KafkaWork {
    /// The group moves past `origin` at the next commit.
    fn store(&self, origin: &Origin) {
        // librdkafka stores the position after this offset.
        if let Err(e) = self
            .consumer
            .store_offset(&origin.topic, origin.partition, origin.offset)
        {
            // The partition moved to another node meanwhile: it handles the event again.
            tracing::debug!(error = %e, "kafka bus: storing a work consumer's position failed");
        }
    }
}
