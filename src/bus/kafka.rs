//! Kafka bus (`bus.backend = "kafka"`): durable events every node reads, and a topic per event
//! type for other programs.
//!
//! **Topics** (`bus.topic_prefix`, default `colink.`), created on start with `bus.partitions`
//! (and again after a broker lost them):
//! - `<prefix>events` — every event, keyed by its channel (its workspace when it has none).
//!   CoLink's own consumers read this one: a channel's events keep their order across types
//!   (a reaction never overtakes the message it is on, a delete never overtakes the create).
//! - `<prefix><type>` (`colink.message.created` …) — the same events split by type, keyed the
//!   same way, for plugins and other programs that want one kind (SPEC §7). Order holds per
//!   channel within a type.
//! - `<prefix>signals` — ephemeral signals between nodes (typing), one partition.
//! - `<prefix>dlq` — records a consumer could not read, with where they came from in headers.
//!
//! **Producing.** One idempotent producer (`enable.idempotence`: acks from all in-sync replicas,
//! no duplicates or reordering from its own retries). The relay hands it a batch and waits for
//! every delivery report, so throughput is a batch per round trip, not an event per round trip
//! ([`EventBus::publish_all`]). A batch that fails is published again whole: consumers dedupe by
//! event id.
//!
//! **Consuming.** Each subscription is a consumer of `<prefix>events` of its own, named
//! `<prefix>node.<node id>.<n>` (its `client.id`), so every node sees every event. It is assigned
//! every partition at the end of the log *when `subscribe` returns*, so "everything published
//! from now on" holds exactly, as on the other buses, without waiting for a group rebalance; it
//! commits no offsets (a node that restarts resumes its clients from the database, not from the
//! log), so it needs no group coordinator, and closing it never waits for an absent broker.
//! A record that is not an event is copied to the DLQ and skipped: reading it again would fail
//! the same way, so it is not retried.
//!
//! **Work consumers** (`work.rs`: plugins) are the exception: work done once per deployment is
//! shared through one consumer group, `<prefix>work.<group>`, which commits positions once an
//! event is done or, after 3 failed attempts, copied to the DLQ.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use rdkafka::{
    ClientConfig, Message, Offset, TopicPartitionList,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    consumer::{Consumer, StreamConsumer},
    error::{KafkaError, RDKafkaErrorCode},
    message::{Header, OwnedHeaders},
    producer::{DeliveryFuture, FutureProducer, FutureRecord},
};

use super::{BusError, EventBus, RecvError, Signals, Subscription, WorkSubscription};
use crate::{
    domain::events::{Event, EventKind},
    telemetry::{Metrics, metrics::DeadLetter},
};

mod work;

/// How long a record may wait in the producer (for a broker to come back) before its publish
/// fails and the relay retries it from the outbox.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Metadata, watermark and admin requests.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long signals are kept: they only matter for a few seconds.
const SIGNAL_RETENTION_MS: &str = "60000";

fn unavailable(e: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(e.to_string())
}

/// The topic names under one prefix.
#[derive(Clone)]
struct Topics {
    prefix: String,
    events: String,
    signals: String,
    dlq: String,
}

impl Topics {
    fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            events: format!("{prefix}events"),
            signals: format!("{prefix}signals"),
            dlq: format!("{prefix}dlq"),
        }
    }

    fn of_type(&self, kind: EventKind) -> String {
        format!("{}{}", self.prefix, kind.as_str())
    }
}

/// How to reach the brokers and what to create there.
pub struct KafkaOptions<'a> {
    pub brokers: &'a str,
    pub topic_prefix: &'a str,
    pub partitions: u32,
    /// `None`: the brokers' default replication factor.
    pub replication_factor: Option<u16>,
    pub node_id: &'a str,
    /// TLS to the brokers: `Some(None)` with the system's certificate authorities,
    /// `Some(Some(file))` with those in a PEM file.
    pub tls: Option<Option<&'a std::path::Path>>,
    /// SASL: the mechanism (`PLAIN`, `SCRAM-SHA-512` …), user name and password.
    pub sasl: Option<(&'a str, &'a str, &'a str)>,
}

pub struct KafkaBus {
    inner: Arc<Inner>,
}

/// What the bus and its subscriptions share.
struct Inner {
    client: ClientConfig,
    producer: FutureProducer,
    topics: Topics,
    partitions: i32,
    replication: i32,
    node_id: String,
    /// Consumers made so far, for their names.
    consumers: AtomicU64,
    /// The topics are known to exist (cleared when a delivery fails: they are checked again).
    topics_ready: AtomicBool,
    metrics: Arc<Metrics>,
}

impl KafkaBus {
    /// A bus on `options.brokers`. Creating the topics is tried at once; when the brokers do not
    /// answer, the server starts anyway (changes wait in the outbox) and the first publish tries
    /// again.
    pub async fn open(options: &KafkaOptions<'_>, metrics: Arc<Metrics>) -> Result<Self, BusError> {
        let mut client = ClientConfig::new();
        client
            .set("bootstrap.servers", options.brokers)
            .set("client.id", format!("colink-{}", options.node_id))
            .set("socket.timeout.ms", "10000")
            .set("reconnect.backoff.max.ms", "2000")
            .set("topic.metadata.refresh.interval.ms", "10000")
            // Small requests, sent at once (Nagle's delay shows in every delivery's latency).
            .set("socket.nagle.disable", "true");
        let protocol = match (options.tls.is_some(), options.sasl.is_some()) {
            (false, false) => "plaintext",
            (true, false) => "ssl",
            (false, true) => "sasl_plaintext",
            (true, true) => "sasl_ssl",
        };
        client.set("security.protocol", protocol);
        if let Some(ca_file) = options.tls {
            // librdkafka verifies the brokers' host names by default (`https`).
            client.set(
                "ssl.ca.location",
                ca_file.map_or_else(|| "probe".into(), |f| f.display().to_string()),
            );
        }
        if let Some((mechanism, username, password)) = options.sasl {
            client
                .set("sasl.mechanism", mechanism)
                .set("sasl.username", username)
                .set("sasl.password", password);
        }
        let producer: FutureProducer = client
            .clone()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "1")
            // Bounded: the relay sends a batch at a time; 64 MiB is far more than one batch.
            .set("queue.buffering.max.kbytes", "65536")
            .set(
                "message.timeout.ms",
                DELIVERY_TIMEOUT.as_millis().to_string(),
            )
            .create()
            .map_err(unavailable)?;
        let bus = Self {
            inner: Arc::new(Inner {
                client,
                producer,
                topics: Topics::new(options.topic_prefix),
                partitions: i32::try_from(options.partitions).unwrap_or(i32::MAX),
                replication: options.replication_factor.map_or(-1, i32::from),
                node_id: options.node_id.to_owned(),
                consumers: AtomicU64::new(0),
                topics_ready: AtomicBool::new(false),
                metrics,
            }),
        };
        if let Err(e) = bus.inner.ensure_topics().await {
            tracing::warn!(error = %e, "kafka bus: creating the topics failed; changes wait in the outbox until the brokers answer");
        }
        Ok(bus)
    }
}

impl Inner {
    /// Create the topics that do not exist yet.
    async fn ensure_topics(&self) -> Result<(), BusError> {
        if self.topics_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let admin: AdminClient<DefaultClientContext> = self.client.create().map_err(unavailable)?;
        let typed: Vec<String> = EventKind::ALL
            .iter()
            .map(|k| self.topics.of_type(*k))
            .collect();
        let replication = || TopicReplication::Fixed(self.replication);
        let mut wanted = vec![
            NewTopic::new(&self.topics.events, self.partitions, replication()),
            NewTopic::new(&self.topics.dlq, self.partitions, replication()),
            NewTopic::new(&self.topics.signals, 1, replication())
                .set("retention.ms", SIGNAL_RETENTION_MS),
        ];
        wanted.extend(
            typed
                .iter()
                .map(|name| NewTopic::new(name, self.partitions, replication())),
        );
        let options = AdminOptions::new().request_timeout(Some(REQUEST_TIMEOUT));
        let results = admin
            .create_topics(&wanted, &options)
            .await
            .map_err(unavailable)?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(BusError::Unavailable(format!(
                        "creating topic {topic}: {code}"
                    )));
                }
            }
        }
        self.topics_ready.store(true, Ordering::Release);
        Ok(())
    }

    /// Queue `payload` for `topic`; waits only while the producer's queue is full.
    async fn enqueue(
        &self,
        topic: &str,
        key: &[u8],
        payload: &[u8],
        headers: &OwnedHeaders,
    ) -> Result<DeliveryFuture, BusError> {
        loop {
            let record = FutureRecord::to(topic)
                .key(key)
                .payload(payload)
                .headers(headers.clone());
            match self.producer.send_result(record) {
                Ok(delivery) => return Ok(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => return Err(unavailable(e)),
            }
        }
    }

    /// Wait for a delivery report.
    async fn delivered(&self, delivery: DeliveryFuture) -> Result<(), BusError> {
        match delivery.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((e, _))) => {
                // Check the topics again before the retry: a broker that lost its storage
                // (restarted without it) lost them too.
                self.topics_ready.store(false, Ordering::Release);
                Err(unavailable(e))
            }
            Err(_) => Err(BusError::Unavailable("the producer shut down".into())),
        }
    }

    /// A consumer of `topic` (and its name, for logs and the DLQ), reading from the end of every
    /// partition as it is now.
    async fn consumer_at_end(
        &self,
        topic: &str,
        purpose: &str,
    ) -> Result<(StreamConsumer, String), BusError> {
        self.ensure_topics().await?;
        let n = self.consumers.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}node.{}.{purpose}{n}", self.topics.prefix, self.node_id);
        // Partitions are assigned here, not by the group (librdkafka wants a group id all the
        // same), and positions are never committed (each subscription starts at the end of the
        // log), so closing never waits for a coordinator: a node stops promptly while the
        // brokers are away.
        let consumer: StreamConsumer = self
            .client
            .clone()
            .set("client.id", &name)
            .set("group.id", &name)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            // A fetch the broker holds open waiting for records returns within 20 ms: a broker
            // that waits out the whole time before answering (tansu) must not add it to every
            // delivery (librdkafka's default, 500 ms, was the fan-out's median latency there).
            .set("fetch.wait.max.ms", "20")
            // Prefetched records per consumer: 8 MiB, not librdkafka's 64 MiB.
            .set("queued.max.messages.kbytes", "8192")
            // A position past the end of the log: the brokers lost it (a broker without storage
            // restarted). Read what they have now; events read twice are deduped by id.
            .set("auto.offset.reset", "earliest")
            .create()
            .map_err(unavailable)?;
        let topic = topic.to_owned();
        tokio::task::spawn_blocking(move || {
            let metadata = consumer
                .fetch_metadata(Some(&topic), REQUEST_TIMEOUT)
                .map_err(unavailable)?;
            let partitions: Vec<i32> = metadata
                .topics()
                .iter()
                .filter(|t| t.name() == topic)
                .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                .collect();
            if partitions.is_empty() {
                return Err(BusError::Unavailable(format!(
                    "topic {topic} has no partitions"
                )));
            }
            let mut assignment = TopicPartitionList::new();
            for partition in partitions {
                let (_, high) = consumer
                    .fetch_watermarks(&topic, partition, REQUEST_TIMEOUT)
                    .map_err(unavailable)?;
                assignment
                    .add_partition_offset(&topic, partition, Offset::Offset(high))
                    .map_err(unavailable)?;
            }
            consumer.assign(&assignment).map_err(unavailable)?;
            Ok((consumer, name))
        })
        .await
        .map_err(unavailable)?
    }

    /// Copy a record no consumer can read to the DLQ, with where it came from.
    async fn dead_letter(&self, record: &impl Message, consumer: &str, error: &str) {
        self.metrics.dead_letter(DeadLetter::UnreadableRecord);
        tracing::error!(
            topic = record.topic(),
            partition = record.partition(),
            offset = record.offset(),
            error,
            "kafka bus: a record that is not an event was set aside in the DLQ"
        );
        self.copy_to_dlq(&Origin::of(record), consumer, error, &[])
            .await;
    }

    /// Copy `origin` to the DLQ with headers saying where it came from, who failed on it
    /// and why (and `extra` headers); a failure to copy is logged.
    async fn copy_to_dlq(
        &self,
        origin: &Origin,
        consumer: &str,
        error: &str,
        extra: &[(&str, &str)],
    ) {
        let partition = origin.partition.to_string();
        let offset = origin.offset.to_string();
        let mut headers = OwnedHeaders::new()
            .insert(header("colink-source-topic", &origin.topic))
            .insert(header("colink-source-partition", &partition))
            .insert(header("colink-source-offset", &offset))
            .insert(header("colink-consumer", consumer))
            .insert(header("colink-error", error));
        for (key, value) in extra {
            headers = headers.insert(header(key, value));
        }
        let sent = async {
            let delivery = self
                .enqueue(&self.topics.dlq, &origin.key, &origin.payload, &headers)
                .await?;
            self.delivered(delivery).await
        };
        if let Err(e) = sent.await {
            tracing::warn!(error = %e, "kafka bus: copying a record to the DLQ failed");
        }
    }
}

/// A record's origin and content, owned (a received record borrows its consumer).
struct Origin {
    topic: String,
    partition: i32,
    offset: i64,
    key: Vec<u8>,
    payload: Vec<u8>,
}

impl Origin {
    fn of(record: &impl Message) -> Self {
        Self {
            topic: record.topic().to_owned(),
            partition: record.partition(),
            offset: record.offset(),
            key: record.key().unwrap_or_default().to_vec(),
            payload: record.payload().unwrap_or_default().to_vec(),
        }
    }
}

fn header<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header {
        key,
        value: Some(value),
    }
}

/// The partition key: the channel, else the workspace, else the event itself.
fn key_of(event: &Event) -> String {
    event
        .channel_id
        .or(event.workspace_id)
        .unwrap_or(event.id)
        .to_string()
}

#[async_trait]
impl EventBus for KafkaBus {
    async fn publish(&self, event: Arc<Event>) -> Result<(), BusError> {
        self.publish_all(vec![event]).await
    }

    async fn publish_all(&self, events: Vec<Arc<Event>>) -> Result<(), BusError> {
        let bus = &self.inner;
        bus.ensure_topics().await?;
        let mut deliveries = Vec::with_capacity(events.len() * 2);
        for event in &events {
            let payload = serde_json::to_vec(&**event).map_err(unavailable)?;
            let key = key_of(event);
            let kind = event.kind();
            let id = event.id.to_string();
            let headers = OwnedHeaders::new()
                .insert(header("colink-type", kind.as_str()))
                .insert(header("colink-id", &id));
            deliveries.push(
                bus.enqueue(&bus.topics.events, key.as_bytes(), &payload, &headers)
                    .await?,
            );
            deliveries.push(
                bus.enqueue(
                    &bus.topics.of_type(kind),
                    key.as_bytes(),
                    &payload,
                    &headers,
                )
                .await?,
            );
        }
        let mut outcome = Ok(());
        for delivery in deliveries {
            if let Err(e) = bus.delivered(delivery).await {
                outcome = Err(e);
            }
        }
        outcome
    }

    async fn subscribe(&self) -> Result<Box<dyn Subscription>, BusError> {
        let bus = &self.inner;
        let (consumer, name) = bus.consumer_at_end(&bus.topics.events, "").await?;
        Ok(Box::new(KafkaSubscription {
            name,
            consumer,
            bus: self.inner.clone(),
        }))
    }

    async fn work(&self, group: &str) -> Result<Box<dyn WorkSubscription>, BusError> {
        Ok(Box::new(self.inner.work_consumer(group).await?))
    }

    async fn ping(&self) -> Result<(), BusError> {
        let producer = self.inner.producer.clone();
        let topic = self.inner.topics.events.clone();
        tokio::task::spawn_blocking(move || {
            use rdkafka::producer::Producer;
            producer
                .client()
                .fetch_metadata(Some(&topic), Duration::from_secs(2))
                .map(drop)
                .map_err(unavailable)
        })
        .await
        .map_err(unavailable)?
    }

    async fn signal(&self, payload: Vec<u8>) -> Result<(), BusError> {
        // Queued, not awaited: a signal is ephemeral, and while the brokers are away waiting
        // for each one would pile up senders. A full queue drops it.
        let record = FutureRecord::<[u8], [u8]>::to(&self.inner.topics.signals).payload(&payload);
        self.inner
            .producer
            .send_result(record)
            .map(drop)
            .map_err(|(e, _)| unavailable(e))
    }

    async fn signals(&self) -> Result<Option<Box<dyn Signals>>, BusError> {
        let bus = &self.inner;
        let (consumer, _) = bus.consumer_at_end(&bus.topics.signals, "signals").await?;
        Ok(Some(Box::new(KafkaSignals { consumer })))
    }
}

struct KafkaSubscription {
    consumer: StreamConsumer,
    /// The consumer's name (`client.id`), for the DLQ's headers.
    name: String,
    bus: Arc<Inner>,
}

/// Wait after a consumer error before polling again.
const ERROR_PAUSE: Duration = Duration::from_millis(200);

#[async_trait]
impl Subscription for KafkaSubscription {
    async fn recv(&mut self) -> Result<Arc<Event>, RecvError> {
        loop {
            match self.consumer.recv().await {
                Ok(record) => {
                    let read = match record.payload() {
                        Some(payload) => serde_json::from_slice::<Event>(payload)
                            .map_err(|e| format!("not an event: {e}")),
                        None => Err("no payload".to_owned()),
                    };
                    match read {
                        Ok(event) => return Ok(Arc::new(event)),
                        Err(error) => self.bus.dead_letter(&record, &self.name, &error).await,
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "kafka bus: consumer error");
                    tokio::time::sleep(ERROR_PAUSE).await;
                }
            }
        }
    }
}

struct KafkaSignals {
    consumer: StreamConsumer,
}

#[async_trait]
impl Signals for KafkaSignals {
    async fn recv(&mut self) -> Option<Vec<u8>> {
        loop {
            match self.consumer.recv().await {
                Ok(record) => return Some(record.payload().unwrap_or_default().to_vec()),
                Err(e) => {
                    tracing::debug!(error = %e, "kafka bus: signal consumer error");
                    tokio::time::sleep(ERROR_PAUSE).await;
                }
            }
        }
    }
}
