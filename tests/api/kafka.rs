//! The Kafka bus against a real Kafka-protocol broker: tansu, started here per test on a port of
//! its own (in-memory storage). Events reach WebSocket clients through `<prefix>events` in
//! order; every event type also has its topic, keyed by channel; a record that is not an event
//! is set aside in `<prefix>dlq`; while the broker is down sends are accepted, `/ready` says
//! degraded, and the outbox drains once it is back. Without tansu (not built yet on this
//! machine) the tests skip, unless `COLINK_REQUIRE_KAFKA` is set (CI).

use std::time::Duration;

use colink::config::{BusBackend, Config};
use rdkafka::{
    ClientConfig, Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
    message::Headers,
    producer::{FutureProducer, FutureRecord},
};
use serde_json::json;

use crate::{
    helpers::*,
    kafka_broker::tls_config,
    nodes::ready,
    realtime::{message_seqs, team_in_channel},
};

pub(crate) use crate::kafka_broker::Broker;

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

/// A server on `broker`, a channel with alice and bob in it, and bob's socket subscribed to it.
async fn watched_channel(
    broker: &Broker,
    topic_prefix: &str,
) -> (TestApp, Session, WsClient, String) {
    let app = app_on(broker, topic_prefix).await;
    let (_, alice, bob, channel) = team_in_channel(&app).await;
    let mut ws = app.ws(&bob.access).await;
    ws.subscribe(&channel).await;
    (app, alice, ws, channel)
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
    let (app, alice, mut ws, channel) = watched_channel(&broker, &topics).await;
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
    let (app, alice, mut ws, channel) = watched_channel(&broker, &topics).await;

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
    let event = ws
        .expect(|f| f["type"] == "event" && f["event"]["type"] == "message.created")
        .await;
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
    let metrics = crate::metrics::scrape(&app).await;
    let counted = crate::metrics::sample(
        &metrics,
        "bus_dlq_events_total{reason=\"unreadable_record\"}",
    );
    assert!(counted.is_some_and(|n| n >= 1.0), "{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn while_kafka_is_unreachable_sends_are_accepted_and_the_outbox_drains_when_it_returns() {
    let Some(mut broker) = Broker::require().await else {
        return;
    };
    let (app, alice, mut ws, channel) = watched_channel(&broker, &prefix()).await;
    app.send(&alice, &channel, "before").await;
    let created =
        |f: &serde_json::Value| f["type"] == "event" && f["event"]["type"] == "message.created";
    assert_eq!(message_seqs(&[ws.expect(created).await]), vec![1]);
    let body = ready(&app).await;
    assert_eq!(body["checks"]["bus"]["backend"], "kafka", "{body}");
    assert_eq!(body["status"], "ready", "{body}");

    broker.cut();
    for i in 0..3 {
        app.send(&alice, &channel, &format!("while down {i}")).await;
    }
    let body = ready(&app).await;
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["checks"]["bus"]["status"], "error", "{body}");
    assert!(app.state.outbox.pending(&app.state.db).await.unwrap() >= 3);

    broker.restore().await;
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
            frames.push(ws.expect(created).await);
        }
    };
    tokio::time::timeout(Duration::from_secs(60), rest)
        .await
        .expect("the socket receives the events sent while the broker was down");
    assert_eq!(message_seqs(&frames), vec![2, 3, 4]);
    assert_eq!(ready(&app).await["status"], "ready");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_a_plugin_fails_on_three_times_is_copied_to_the_dlq_naming_the_plugin() {
    use crate::plugins::{
        Receiver, configure, poison_then_after, refuse_poison, until_group_settled,
    };
    let Some(broker) = Broker::require().await else {
        return;
    };
    let topics = prefix();
    let mut receiver = Receiver::start(refuse_poison).await;
    let app = spawn_with(|c| {
        use_redis_kv(c);
        broker.configure(c, &topics);
        configure(c, &receiver, &["message.created"]);
    })
    .await;
    until_group_settled(&[&app], 3.0).await;
    let (_, alice, _, channel) = team_in_channel(&app).await;
    poison_then_after(&app, &alice, &channel, &mut receiver).await;

    let dlq = read_topic(&broker, &format!("{topics}dlq"), 1).await;
    let (key, payload, headers) = &dlq[0];
    assert_eq!(key, &channel);
    let event: serde_json::Value = serde_json::from_str(payload).unwrap();
    assert_eq!(event["data"]["content"], "poison");
    for expected in [
        "colink-plugin=hook".to_owned(),
        "colink-attempts=3".to_owned(),
        "colink-error=answered 500 Internal Server Error".to_owned(),
        format!("colink-source-topic={topics}events"),
    ] {
        assert!(headers.contains(&expected), "{expected} not in {headers:?}");
    }
    let metrics = crate::metrics::scrape(&app).await;
    assert_eq!(
        crate::metrics::sample(&metrics, "bus_dlq_events_total{reason=\"work_failed\"}"),
        Some(1.0),
        "{metrics}"
    );
    // Stopped while its broker runs: a consumer dropped after the broker has gone (when the
    // test's runtime shuts down) can wait for its group's coordinator for ever.
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_with_plugins_stops_promptly_while_the_brokers_are_away() {
    use crate::plugins::{Receiver, configure, until_group_settled};
    let Some(mut broker) = Broker::require().await else {
        return;
    };
    let receiver = Receiver::start(|_, _| 200).await;
    let app = spawn_with(|c| {
        use_redis_kv(c);
        broker.configure(c, &prefix());
        configure(c, &receiver, &[]);
    })
    .await;
    until_group_settled(&[&app], 3.0).await;
    broker.cut();
    // Leaving the consumer group cannot reach its coordinator: shutdown does not wait for it
    // longer than a few seconds.
    tokio::time::timeout(Duration::from_secs(30), app.stop())
        .await
        .expect("the node stops within 30 s");
}

#[tokio::test(flavor = "multi_thread")]
async fn brokers_are_reached_over_tls_with_their_certificates_checked() {
    let Some(broker) = Broker::require_tls(None).await else {
        return;
    };
    let topics = prefix();
    let (app, alice, mut ws, channel) = watched_channel(&broker, &topics).await;
    assert_eq!(ready(&app).await["status"], "ready");
    for i in 0..3 {
        app.send(&alice, &channel, &format!("over tls {i}")).await;
    }
    let mut frames = Vec::new();
    while message_seqs(&frames).len() < 3 {
        frames.push(ws.expect(|f| f["type"] == "event").await);
    }
    assert_eq!(message_seqs(&frames), vec![1, 2, 3]);

    // A node that trusts another authority refuses the brokers' certificate: its bus does not
    // answer (its sends would wait in the outbox; /ready would say degraded).
    let other = tempfile::tempdir().unwrap();
    tls_config(other.path());
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    use_redis_kv(&mut config);
    broker.configure(&mut config, &prefix());
    config.bus.tls_ca_file = Some(other.path().join("ca.pem"));
    let distrustful = colink::app::App::build(config)
        .await
        .expect("starts all the same");
    assert!(distrustful.state().bus.ping().await.is_err());
    assert!(distrustful.state().bus.subscribe().await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn brokers_that_require_authentication_accept_the_sasl_credentials_configured() {
    let Some(broker) = Broker::require_tls(Some(("colink", "kafka-secret"))).await else {
        return;
    };
    let sasl = |password: &str| {
        let password = colink::config::Secret::new(password);
        move |c: &mut Config| {
            c.bus.sasl_mechanism = Some(colink::config::SaslMechanism::ScramSha512);
            c.bus.sasl_username = Some("colink".into());
            c.bus.sasl_password = Some(password);
        }
    };
    let topics = prefix();
    let with_password = sasl("kafka-secret");
    let app = spawn_with(|c| {
        use_redis_kv(c);
        broker.configure(c, &topics);
        with_password(c);
    })
    .await;
    let (_, alice, bob, channel) = team_in_channel(&app).await;
    let mut ws = app.ws(&bob.access).await;
    ws.subscribe(&channel).await;
    app.send(&alice, &channel, "authenticated").await;
    let event = ws
        .expect(|f| f["type"] == "event" && f["event"]["type"] == "message.created")
        .await;
    assert_eq!(event["event"]["data"]["content"], "authenticated");

    // Without credentials, or with a wrong password, the brokers refuse the node.
    for tweak in [None, Some(sasl("wrong"))] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        use_redis_kv(&mut config);
        broker.configure(&mut config, &prefix());
        if let Some(tweak) = tweak {
            tweak(&mut config);
        }
        let refused = colink::app::App::build(config)
            .await
            .expect("starts all the same");
        assert!(refused.state().bus.subscribe().await.is_err());
    }
}

#[test]
fn kafka_tls_and_sasl_settings_are_checked() {
    let kafka = || {
        let mut config = Config::default();
        config.kv.backend = colink::config::KvBackend::Redis;
        config.kv.url = Some(colink::config::Secret::new("redis://127.0.0.1:6379"));
        config.bus.backend = BusBackend::Kafka;
        config.bus.brokers = Some("kafka-1:9092".into());
        config
    };
    let refused = |config: Config| config.validate().unwrap_err().to_string();
    let mut plain = kafka();
    plain.bus.sasl_mechanism = Some(colink::config::SaslMechanism::Plain);
    plain.bus.sasl_username = Some("colink".into());
    assert!(refused(plain.clone()).contains("bus.sasl_password"));
    plain.bus.sasl_password = Some(colink::config::Secret::new("s3cret"));
    let said = refused(plain.clone());
    assert!(
        said.contains("bus.sasl_mechanism") && said.contains("bus.tls"),
        "{said}"
    );
    plain.bus.tls = true;
    plain.validate().expect("PLAIN over TLS");
    assert!(!plain.redacted_toml().contains("s3cret"));
    let mut scram = kafka();
    scram.bus.sasl_username = Some("colink".into());
    assert!(refused(scram.clone()).contains("bus.sasl_mechanism"));
    scram.bus.sasl_mechanism = Some(colink::config::SaslMechanism::ScramSha512);
    scram.bus.sasl_password = Some(colink::config::Secret::new("s3cret"));
    scram.validate().expect("SCRAM without TLS");
    let mut missing = kafka();
    missing.bus.tls = true;
    missing.bus.tls_ca_file = Some("/nonexistent/ca.pem".into());
    assert!(refused(missing).contains("bus.tls_ca_file"));
    let mut redis = Config::default();
    redis.bus.tls = true;
    assert!(refused(redis).contains("bus.tls"));
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
