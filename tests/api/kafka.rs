//! The Kafka bus against a real Kafka-protocol broker: tansu, started here per test on a port of
//! its own (in-memory storage). Events reach WebSocket clients through `<prefix>events` in
//! order; every event type also has its topic, keyed by channel; a record that is not an event
//! is set aside in `<prefix>dlq`; while the broker is down sends are accepted, `/ready` says
//! degraded, and the outbox drains once it is back. Without tansu (not built yet on this
//! machine) the tests skip, unless `COLINK_REQUIRE_KAFKA` is set (CI).

use std::{process::Stdio, time::Duration};

use colink::config::{BusBackend, Config};
use rdkafka::{
    ClientConfig, Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
    message::Headers,
    producer::{FutureProducer, FutureRecord},
};
use serde_json::json;

use crate::{
    backends::{free_port, until_ready},
    helpers::*,
    realtime::{message_seqs, team_in_channel},
};

/// A tansu broker of the test's own, which it can stop and start again on the same port.
pub(crate) struct Broker {
    bin: String,
    pub(crate) port: u16,
    child: Option<tokio::process::Child>,
}

fn tansu_bin() -> Option<String> {
    if std::env::var("COLINK_REQUIRE_KAFKA").is_ok() {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/backends/tansu.sh");
        return std::process::Command::new(script)
            .stderr(Stdio::inherit())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_owned());
    }
    // Without the requirement, only a tansu that is already built (no 17-minute build).
    let cache = std::env::var("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| std::path::Path::new(&h).join(".cache")))
        .ok()?;
    let bin = cache.join("colink/tools/bin/tansu");
    bin.exists().then(|| bin.display().to_string())
}

impl Broker {
    /// A broker on a free port; `None` (the test skips) when tansu is not built here.
    pub(crate) async fn require() -> Option<Broker> {
        let Some(bin) = tansu_bin() else {
            assert!(
                std::env::var("COLINK_REQUIRE_KAFKA").is_err(),
                "tansu could not be built (scripts/backends/tansu.sh)"
            );
            eprintln!("skipping: tansu is not built here (scripts/backends/tansu.sh builds it)");
            return None;
        };
        let mut broker = Broker {
            bin,
            port: free_port(),
            child: None,
        };
        broker.start().await;
        Some(broker)
    }

    pub(crate) fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Start (again) on the same port, and wait until it accepts connections.
    pub(crate) async fn start(&mut self) {
        let listener = format!("tcp://127.0.0.1:{}", self.port);
        let mut child = tokio::process::Command::new(&self.bin)
            .arg("broker")
            .args(["--listener-url", &listener])
            .args(["--advertised-listener-url", &listener])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start tansu");
        let port = self.port;
        let up = until_ready(&mut child, || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        assert!(up, "tansu did not start on port {port}");
        self.child = Some(child);
    }

    pub(crate) async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("stop tansu");
        }
    }

    /// Configure `config` for this broker, under a topic prefix of the test's own.
    pub(crate) fn configure(&self, config: &mut Config, topic_prefix: &str) {
        config.bus.backend = BusBackend::Kafka;
        config.bus.brokers = Some(self.brokers());
        config.bus.topic_prefix = topic_prefix.to_owned();
        config.bus.partitions = 3;
        config.bus.replication_factor = Some(1);
    }
}

fn prefix() -> String {
    format!("t{}.", uuid::Uuid::now_v7().simple())
}

/// A server on `broker` (Redis kv: a shared bus needs a shared kv for the relay's lease).
async fn app_on(broker: &Broker, topic_prefix: &str) -> TestApp {
    spawn_with(|c| {
        use_redis_kv(c);
        broker.configure(c, topic_prefix);
    })
    .await
}

/// Every record of `topic`, from the beginning, until `n` have arrived: (key, payload, headers).
async fn read_topic(broker: &Broker, topic: &str, n: usize) -> Vec<(String, String, Vec<String>)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.brokers())
        .set("group.id", format!("test-reader-{}", uuid::Uuid::now_v7()))
        .set("enable.auto.commit", "false")
        .create()
        .expect("a test consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .expect("metadata");
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics()[0].partitions() {
        assignment
            .add_partition_offset(topic, partition.id(), Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut records = Vec::new();
    while records.len() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {n} records on {topic}",
            records.len()
        );
        let Some(Ok(record)) =
            tokio::task::block_in_place(|| consumer.poll(Duration::from_millis(100)))
        else {
            continue;
        };
        let text = |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
        let headers = record
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| format!("{}={}", h.key, text(h.value)))
                    .collect()
            })
            .unwrap_or_default();
        records.push((text(record.key()), text(record.payload()), headers));
    }
    records
}

#[tokio::test(flavor = "multi_thread")]
async fn events_reach_sockets_in_order_and_every_type_has_a_topic_keyed_by_channel() {
    let Some(broker) = Broker::require().await else {
        return;
    };
    let topics = prefix();
    let app = app_on(&broker, &topics).await;
    let (_, alice, bob, channel) = team_in_channel(&app).await;
    let mut ws = app.ws(&bob.access).await;
    ws.subscribe(&channel).await;
    let mut first = None;
    for i in 0..20 {
        let sent = app.send(&alice, &channel, &format!("m{i}")).await;
        first.get_or_insert(sent["id"].as_str().unwrap().to_owned());
    }
    let first = first.unwrap();
    app.post(
        &format!("/messages/{first}/reactions"),
        Some(&alice.access),
        json!({"emoji": "tada"}),
    )
    .await
    .expect(201);
    let mut frames = Vec::new();
    while message_seqs(&frames).len() < 20 {
        frames.push(ws.expect(|f| f["type"] == "event").await);
    }
    assert_eq!(message_seqs(&frames), (1..=20).collect::<Vec<_>>());
    let reaction = ws
        .expect(|f| f["type"] == "event" && f["event"]["type"] == "reaction.added")
        .await;
    assert_eq!(reaction["event"]["data"]["emoji"], "tada", "{reaction}");

    let created = read_topic(&broker, &format!("{topics}message.created"), 20).await;
    assert!(created.iter().all(|(key, _, _)| *key == channel));
    assert!(
        created
            .iter()
            .all(|(_, _, h)| h.contains(&"colink-type=message.created".to_owned()))
    );
    let contents: Vec<String> = created
        .iter()
        .map(|(_, payload, _)| {
            let event: serde_json::Value = serde_json::from_str(payload).unwrap();
            event["data"]["content"].as_str().unwrap().to_owned()
        })
        .collect();
    // One channel, one key, one partition: in the order they were sent.
    let expected: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    assert_eq!(contents, expected);
    let reactions = read_topic(&broker, &format!("{topics}reaction.added"), 1).await;
    assert_eq!(reactions[0].0, channel);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_record_that_is_not_an_event_is_set_aside_in_the_dlq_and_does_not_block_the_rest() {
    let Some(broker) = Broker::require().await else {
        return;
    };
    let topics = prefix();
    let app = app_on(&broker, &topics).await;
    let (_, alice, bob, channel) = team_in_channel(&app).await;
    let mut ws = app.ws(&bob.access).await;
    ws.subscribe(&channel).await;

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.brokers())
        .create()
        .expect("a test producer");
    producer
        .send(
            FutureRecord::to(&format!("{topics}events"))
                .key(&channel)
                .payload("{not an event"),
            Duration::from_secs(5),
        )
        .await
        .expect("produce a bad record");
    app.send(&alice, &channel, "after the bad record").await;
    let event = ws.expect(|f| f["type"] == "event").await;
    assert_eq!(event["event"]["data"]["content"], "after the bad record");

    let dlq = read_topic(&broker, &format!("{topics}dlq"), 1).await;
    let (key, payload, headers) = &dlq[0];
    assert_eq!(
        (key.as_str(), payload.as_str()),
        (channel.as_str(), "{not an event")
    );
    let source = format!("colink-source-topic={topics}events");
    assert!(headers.contains(&source), "{headers:?}");
    assert!(
        headers.iter().any(|h| h.starts_with("colink-error=")),
        "{headers:?}"
    );
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counted = metrics
        .lines()
        .find(|l| l.starts_with("bus_dlq_events_total{reason=\"unreadable_record\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok());
    assert!(counted.is_some_and(|n| n >= 1), "{metrics}");
}

async fn ready(app: &TestApp) -> serde_json::Value {
    app.client
        .get(format!("{}/ready", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn while_kafka_is_down_sends_are_accepted_and_the_outbox_drains_when_it_returns() {
    let Some(mut broker) = Broker::require().await else {
        return;
    };
    let app = app_on(&broker, &prefix()).await;
    let (_, alice, bob, channel) = team_in_channel(&app).await;
    let mut ws = app.ws(&bob.access).await;
    ws.subscribe(&channel).await;
    app.send(&alice, &channel, "before").await;
    assert_eq!(
        message_seqs(&[ws.expect(|f| f["type"] == "event").await]),
        vec![1]
    );
    let body = ready(&app).await;
    assert_eq!(body["checks"]["bus"]["backend"], "kafka", "{body}");
    assert_eq!(body["status"], "ready", "{body}");

    broker.stop().await;
    for i in 0..3 {
        app.send(&alice, &channel, &format!("while down {i}")).await;
    }
    let body = ready(&app).await;
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["checks"]["bus"]["status"], "error", "{body}");
    assert!(app.state.outbox.pending(&app.state.db).await.unwrap() >= 3);

    // The broker comes back (empty: tansu keeps its log in memory).
    broker.start().await;
    let drained = async {
        while app.state.outbox.pending(&app.state.db).await.unwrap() > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), drained)
        .await
        .expect("the outbox drains once the broker is back");
    // The socket gets what was sent meanwhile, in order, without reconnecting: the bus
    // subscription follows the broker back.
    let mut frames = Vec::new();
    let rest = async {
        while message_seqs(&frames).len() < 3 {
            frames.push(ws.expect(|f| f["type"] == "event").await);
        }
    };
    tokio::time::timeout(Duration::from_secs(60), rest)
        .await
        .expect("the socket receives the events sent while the broker was down");
    assert_eq!(message_seqs(&frames), vec![2, 3, 4]);
    assert_eq!(ready(&app).await["status"], "ready");
}

#[test]
fn a_kafka_bus_needs_brokers_written_host_port() {
    let mut config = Config::default();
    config.kv.backend = colink::config::KvBackend::Redis;
    config.kv.url = Some(colink::config::Secret::new("redis://127.0.0.1:6379"));
    config.bus.backend = BusBackend::Kafka;
    let refused = config.validate().unwrap_err().to_string();
    assert!(refused.contains("bus.brokers"), "{refused}");
    config.bus.brokers = Some("kafka-1:9092,kafka-2".into());
    let refused = config.validate().unwrap_err().to_string();
    assert!(refused.contains("bus.brokers"), "{refused}");
    config.bus.brokers = Some("kafka-1:9092,kafka-2:9092".into());
    config.validate().expect("a valid Kafka bus");
    config.bus.partitions = 0;
    let refused = config.validate().unwrap_err().to_string();
    assert!(refused.contains("bus.partitions"), "{refused}");
}
