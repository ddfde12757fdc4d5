//! Two nodes of one deployment, in one test process: two servers sharing a PostgreSQL database,
//! a Redis kv and a bus, each with a data dir of its own. The bus is Redis pub/sub, or Kafka
//! (a tansu broker of the test's own) with `COLINK_TEST_BUS=kafka`. Needs PostgreSQL
//! (`scripts/test.sh --postgres`); on SQLite only the configuration checks run.

use std::{sync::Arc, time::Duration};

use colink::config::{BusBackend, Config, Secret};

use crate::{
    helpers::*,
    realtime::{message_seqs, team_in_channel},
};

/// What two nodes share: the database, the kv prefix, the bus's channel, the signing key.
struct Shared {
    database_url: String,
    kv_prefix: String,
    topic_prefix: String,
    secret_key: String,
    /// The Kafka broker, when the bus is Kafka (`COLINK_TEST_BUS=kafka`).
    kafka: Option<crate::kafka::Broker>,
}

/// Whether the two-node tests share a Kafka bus instead of a Redis one.
pub(crate) fn kafka_bus() -> bool {
    std::env::var("COLINK_TEST_BUS").is_ok_and(|b| b == "kafka")
}

impl Shared {
    /// `None` on SQLite (one file cannot serve two servers).
    async fn new() -> Option<Self> {
        let unique = uuid::Uuid::now_v7().simple().to_string();
        let database_url = fresh_database().await?;
        let kafka = if kafka_bus() {
            Some(crate::kafka::Broker::require().await?)
        } else {
            None
        };
        Some(Self {
            database_url,
            kafka,
            kv_prefix: format!("colink-test-{unique}:"),
            topic_prefix: format!("colink-test-{unique}."),
            secret_key: format!("test-secret-{unique}"),
        })
    }

    fn config(&self, node: &str, dir: &std::path::Path) -> Config {
        let mut config = test_config(dir);
        config.database.url = Some(Secret::new(self.database_url.clone()));
        use_redis_kv(&mut config);
        config.kv.prefix = self.kv_prefix.clone();
        match &self.kafka {
            Some(broker) => broker.configure(&mut config, &self.topic_prefix),
            None => {
                config.bus.backend = BusBackend::Redis;
                config.bus.topic_prefix = self.topic_prefix.clone();
            }
        }
        config.auth.secret_key = Some(Secret::new(self.secret_key.clone()));
        config.cluster.node_id = Some(node.into());
        config.cluster.lease_ttl = colink::config::HumanDuration(Duration::from_secs(2));
        config
    }

    async fn node(&self, name: &str, customise: impl FnOnce(&mut Config)) -> TestApp {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let mut config = self.config(name, dir.path());
        customise(&mut config);
        start(config, dir).await
    }
}

/// Every `message.created` a socket receives until it has `n`, in arrival order.
async fn seqs_until(ws: &mut WsClient, n: usize) -> Vec<i64> {
    let mut frames = Vec::new();
    while message_seqs(&frames).len() < n {
        let frame = ws.expect(|f| f["type"] == "event").await;
        frames.push(frame);
    }
    message_seqs(&frames)
}

#[tokio::test]
async fn a_socket_on_one_node_receives_what_is_sent_through_the_other_in_order_and_once() {
    let Some(shared) = Shared::new().await else {
        return;
    };
    let a = shared.node("node-a", |_| {}).await;
    let (_, alice, bob, channel) = team_in_channel(&a).await;
    let b = shared.node("node-b", |_| {}).await;

    let mut on_a = a.ws(&bob.access).await;
    on_a.subscribe(&channel).await;
    let mut on_b = b.ws(&bob.access).await;
    on_b.subscribe(&channel).await;
    for i in 0..40 {
        let node = if i % 2 == 0 { &b } else { &a };
        node.send(&alice, &channel, &format!("m{i}")).await;
    }
    let expected: Vec<i64> = (1..=40).collect();
    assert_eq!(seqs_until(&mut on_a, 40).await, expected);
    assert_eq!(seqs_until(&mut on_b, 40).await, expected);
    // Once: the next event after them is the next message, on both nodes.
    b.send(&alice, &channel, "last").await;
    for ws in [&mut on_a, &mut on_b] {
        let next = ws.expect(|f| f["type"] == "event").await;
        assert_eq!(next["event"]["seq"], 41, "{next}");
    }
}

#[tokio::test]
async fn typing_on_one_node_shows_on_the_other() {
    let Some(shared) = Shared::new().await else {
        return;
    };
    let a = shared.node("node-a", |_| {}).await;
    let (_, alice, bob, channel) = team_in_channel(&a).await;
    let b = shared.node("node-b", |_| {}).await;
    let mut alice_on_a = a.ws(&alice.access).await;
    alice_on_a.subscribe(&channel).await;
    let mut bob_on_b = b.ws(&bob.access).await;
    bob_on_b.subscribe(&channel).await;
    alice_on_a
        .send(serde_json::json!({"type": "typing", "channel_id": channel}))
        .await;
    let typing = bob_on_b.expect(|f| f["type"] == "typing").await;
    assert_eq!(
        typing,
        serde_json::json!({"type": "typing", "channel_id": channel,
                           "user_id": alice.user_id, "username": "alice"})
    );
    // Once: node B does not also get its own copy back, and alice is not told of herself.
    assert!(!bob_on_b.drain().await.iter().any(|f| f["type"] == "typing"));
    assert!(
        !alice_on_a
            .drain()
            .await
            .iter()
            .any(|f| f["type"] == "typing")
    );
}

#[tokio::test]
async fn presence_on_one_node_is_visible_on_the_other() {
    let Some(shared) = Shared::new().await else {
        return;
    };
    let grace = |c: &mut Config| {
        c.realtime.offline_grace.0 = Duration::from_millis(200);
    };
    let a = shared.node("node-a", grace).await;
    let (_, alice, bob, channel) = team_in_channel(&a).await;
    let b = shared.node("node-b", grace).await;
    let mut bob_on_b = b.ws(&bob.access).await;
    let is = |user: &str, status: &'static str| {
        let user = user.to_owned();
        move |f: &serde_json::Value| {
            f["type"] == "presence" && f["user_id"] == user.as_str() && f["status"] == status
        }
    };
    let mut alice_on_a = a.ws(&alice.access).await;
    bob_on_b.expect(is(&alice.user_id, "online")).await;
    alice_on_a
        .send(serde_json::json!({"type": "presence", "status": "dnd"}))
        .await;
    bob_on_b.expect(is(&alice.user_id, "dnd")).await;
    // Node B reads the shared state: the member list there shows it too.
    let members = b
        .get(&format!("/channels/{channel}/members"), &bob.access)
        .await
        .expect(200);
    let listed = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == alice.user_id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(listed["presence"], "dnd", "{members}");
    drop(alice_on_a);
    bob_on_b.expect(is(&alice.user_id, "offline")).await;
}

#[tokio::test]
async fn when_the_relaying_node_stops_the_other_takes_over() {
    let Some(shared) = Shared::new().await else {
        return;
    };
    // The first node leads the relay (it took the lease first).
    let a = shared.node("node-a", |_| {}).await;
    let (_, alice, bob, channel) = team_in_channel(&a).await;
    let b = shared.node("node-b", |_| {}).await;
    let mut on_b = b.ws(&bob.access).await;
    on_b.subscribe(&channel).await;
    b.send(&alice, &channel, "before").await;
    assert_eq!(seqs_until(&mut on_b, 1).await, vec![1]);

    a.stop().await;
    // Sent while no node may be relaying yet: kept in the outbox, published by node B once it
    // holds the lease.
    for i in 0..5 {
        b.send(&alice, &channel, &format!("after {i}")).await;
    }
    let seqs = tokio::time::timeout(Duration::from_secs(20), seqs_until(&mut on_b, 5))
        .await
        .expect("node B relays within the lease TTL");
    assert_eq!(seqs, vec![2, 3, 4, 5, 6]);
}

#[tokio::test]
async fn a_suspension_through_one_node_takes_effect_on_the_other_at_once() {
    let Some(shared) = Shared::new().await else {
        return;
    };
    let a = shared.node("node-a", |_| {}).await;
    let (owner, _, alice, _) = a.team().await;
    let b = shared.node("node-b", |_| {}).await;
    // Node B has alice's token state cached (for 10 s) and her socket open.
    b.get("/users/me", &alice.access).await.expect(200);
    let mut on_b = b.ws(&alice.access).await;
    let suspend = format!("/admin/users/{}/suspend", alice.user_id);
    a.post(
        &suspend,
        Some(&owner.access),
        serde_json::json!({"reason": "spam"}),
    )
    .await
    .expect(200);
    let end = tokio::time::timeout(Duration::from_secs(5), on_b.closed())
        .await
        .expect("node B closes the suspended user's socket");
    assert!(matches!(end, WsEnd::Code(4001)), "{end:?}");
    // The socket closed on the same event that cleared node B's cache: refused now, not
    // after the cache's 10 s.
    b.get("/users/me", &alice.access)
        .await
        .problem(401, "token_revoked");
}

/// Cluster mode proper (`cluster.enabled`: every backend shared, S3 included): a file
/// uploaded through one node downloads through the other, by URLs on the bucket's public
/// endpoint (clients reach it as `localhost`, the nodes as 127.0.0.1).
#[tokio::test]
async fn in_cluster_mode_a_file_uploaded_through_one_node_downloads_through_the_other() {
    let Some(shared) = Shared::new().await else {
        return;
    };
    let Some(s3) = crate::s3::require_s3().await else {
        return;
    };
    let port = s3.port;
    let on_s3 = move |c: &mut Config| {
        c.cluster.enabled = true;
        c.storage.backend = colink::config::StorageBackend::S3;
        c.storage.s3.bucket = "colink".into();
        c.storage.s3.endpoint = Some(format!("http://127.0.0.1:{port}"));
        c.storage.s3.public_endpoint = Some(format!("http://localhost:{port}"));
        c.storage.s3.access_key_id = Some(Secret::new("test"));
        c.storage.s3.secret_access_key = Some(Secret::new("testsecret"));
    };
    let a = shared.node("node-a", on_s3).await;
    let (_, _, alice, _) = a.team().await;
    let b = shared.node("node-b", on_s3).await;
    let bytes = bytes::Bytes::from_static(b"%PDF-1.7\n% shared by two nodes\n");
    let via_a = a.api_as(&alice);
    let target = via_a
        .upload_url(&colink_client::NewUpload {
            filename: "minutes.pdf",
            content_type: "application/pdf",
            size_bytes: bytes.len() as u64,
            channel_id: None,
        })
        .await
        .unwrap();
    assert!(
        target
            .upload_url
            .starts_with(&format!("http://localhost:{port}/")),
        "{}",
        target.upload_url
    );
    let put = via_a.put_upload(&target, bytes.clone()).await.unwrap();
    assert!(put.status.is_success(), "{}", put.status);
    via_a.confirm_file(target.file_id).await.unwrap();

    let via_b = b.api_as(&alice);
    let url = via_b.download_url(target.file_id, false).await.unwrap().url;
    assert!(
        url.starts_with(&format!("http://localhost:{port}/")),
        "{url}"
    );
    let got = via_b.fetch_download(&url, None).await.unwrap();
    assert_eq!(got.status, reqwest::StatusCode::OK);
    assert_eq!(crate::s3::sha(&got.body), crate::s3::sha(&bytes));
    let ready = ready(&b).await;
    for part in ["database", "kv", "storage", "bus"] {
        assert_eq!(ready["checks"][part]["status"], "ok", "{ready}");
    }
    assert_eq!(ready["node"], "node-b", "{ready}");
}

#[tokio::test]
async fn rate_limits_are_shared_by_the_nodes() {
    let Some(shared) = Shared::new().await else {
        return;
    };
    let tight = |c: &mut Config| {
        c.limits.writes.messages.capacity = 3;
        c.limits.writes.messages.per_minute = 1;
    };
    let a = shared.node("node-a", tight).await;
    let (_, alice, _, channel) = team_in_channel(&a).await;
    let b = shared.node("node-b", tight).await;
    let path = format!("/api/v1/channels/{channel}/messages");
    let body = || serde_json::json!({ "content": "hi" });
    for node in [&a, &b, &a] {
        node.post(&path, Some(&alice.access), body())
            .await
            .expect(201);
    }
    b.post(&path, Some(&alice.access), body())
        .await
        .problem(429, "rate_limited");
}

#[tokio::test]
async fn a_shared_bus_without_a_shared_kv_or_a_cluster_of_embedded_parts_is_refused() {
    let mut config = Config::default();
    config.bus.backend = BusBackend::Redis;
    config.bus.url = Some(Secret::new("redis://127.0.0.1:6379"));
    let refused = config.validate().unwrap_err().to_string();
    assert!(refused.contains("kv.backend"), "{refused}");

    let mut config = Config::default();
    config.cluster.enabled = true;
    let refused = config.validate().unwrap_err().to_string();
    assert!(
        refused.contains("database.url") && refused.contains("cluster.enabled"),
        "{refused}"
    );
}

/// A Redis server of the test's own, on a free port, that it can stop and start again.
struct OwnRedis {
    port: u16,
    child: Option<tokio::process::Child>,
}

impl OwnRedis {
    async fn start(port: u16) -> Self {
        let mut child = tokio::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server (scripts/backends/redis.sh installs it)");
        let answers = crate::backends::until_ready(&mut child, || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        assert!(answers, "redis-server on port {port} did not start");
        Self {
            port,
            child: Some(child),
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("stop redis-server");
        }
    }
}

pub(crate) async fn ready(app: &TestApp) -> serde_json::Value {
    app.client
        .get(format!("{}/ready", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn while_the_bus_is_down_sends_are_accepted_and_the_outbox_drains_when_it_returns() {
    let mut bus = OwnRedis::start(crate::backends::free_port()).await;
    let bus_url = bus.url();
    let app = spawn_with(|c| {
        use_redis_kv(c);
        c.bus.backend = BusBackend::Redis;
        c.bus.url = Some(Secret::new(bus_url));
        c.cluster.lease_ttl = colink::config::HumanDuration(Duration::from_secs(2));
    })
    .await;
    let (_, alice, bob, channel) = team_in_channel(&app).await;
    let mut ws = app.ws(&bob.access).await;
    ws.subscribe(&channel).await;
    app.send(&alice, &channel, "before").await;
    assert_eq!(seqs_until(&mut ws, 1).await, vec![1]);
    let body = ready(&app).await;
    assert_eq!(body["checks"]["bus"]["backend"], "redis", "{body}");
    assert_eq!(body["checks"]["kv"]["backend"], "redis", "{body}");
    assert!(body["node"].is_string(), "{body}");

    bus.stop().await;
    for i in 0..3 {
        app.send(&alice, &channel, &format!("while down {i}")).await;
    }
    let body = ready(&app).await;
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["checks"]["bus"]["status"], "error", "{body}");
    assert!(
        app.state.outbox.pending(&app.state.db).await.unwrap() >= 3,
        "the sends wait in the outbox"
    );

    let _bus = OwnRedis::start(bus.port).await;
    // Subscribed again, the node tells its clients they may have missed events.
    let end = tokio::time::timeout(Duration::from_secs(30), ws.closed())
        .await
        .expect("the socket is told to resync once the bus is back");
    assert!(matches!(end, WsEnd::Code(4009)), "{end:?}");
    let drained = async {
        while app.state.outbox.pending(&app.state.db).await.unwrap() > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), drained)
        .await
        .expect("the outbox drains once the bus is back");
    // A client that reconnects resumes what it missed from the database, and live events
    // reach it through the bus again.
    let mut ws = app.ws(&bob.access).await;
    ws.send(serde_json::json!({"type": "resume", "channel_id": channel, "after_seq": 1}))
        .await;
    assert_eq!(seqs_until(&mut ws, 3).await, vec![2, 3, 4]);
    app.send(&alice, &channel, "after").await;
    assert_eq!(seqs_until(&mut ws, 1).await, vec![5]);
    assert_eq!(ready(&app).await["status"], "ready");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_on_every_node_receives_each_event_once() {
    use crate::plugins::content;
    let Some(mut pair) = webhook_pair().await else {
        return;
    };
    let (a, b, alice) = (&pair.a, &pair.b, &pair.alice);
    let (first, second) = (&pair.first, &pair.second);
    let mut sent = std::collections::BTreeSet::new();
    for i in 0..12 {
        let node = if i % 2 == 0 { a } else { b };
        let channel = if i % 3 == 0 { second } else { first };
        let text = format!("m{i}");
        node.send(alice, channel, &text).await;
        sent.insert(text);
    }
    b.send(alice, first, "last").await;
    sent.insert("last".to_owned());
    let mut received = Vec::new();
    let mut ids = std::collections::HashSet::new();
    while received.iter().filter(|t: &&String| *t == "last").count() == 0 {
        let delivery = pair.receiver.next_message().await;
        assert!(
            ids.insert(delivery.id.clone()),
            "{} delivered twice",
            content(&delivery)
        );
        received.push(content(&delivery).to_owned());
    }
    // "last" came after the rest of its channel; the other channel's may still be on its way.
    while received.len() < sent.len() {
        let delivery = pair.receiver.next_message().await;
        assert!(
            ids.insert(delivery.id.clone()),
            "{} delivered twice",
            content(&delivery)
        );
        received.push(content(&delivery).to_owned());
    }
    let received: std::collections::BTreeSet<String> = received.into_iter().collect();
    assert_eq!(received, sent);
    // Stopped while the shared broker runs (see the Kafka DLQ test).
    pair.a.stop().await;
    pair.b.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn when_a_node_stops_the_other_delivers_to_the_webhooks_what_follows() {
    use crate::plugins::{content, until_group_settled};
    let Some(mut pair) = webhook_pair().await else {
        return;
    };
    let (alice, first, second) = (&pair.alice, &pair.first, &pair.second);
    pair.a.send(alice, first, "before").await;
    assert_eq!(content(&pair.receiver.next_message().await), "before");

    pair.a.stop().await;
    if kafka_bus() {
        // Node A left the group: node B holds every partition.
        until_group_settled(&[&pair.b], 3.0).await;
    }
    let mut sent = std::collections::BTreeSet::new();
    for i in 0..6 {
        let channel = if i % 2 == 0 { first } else { second };
        let text = format!("after {i}");
        pair.b.send(alice, channel, &text).await;
        sent.insert(text);
    }
    let mut received = std::collections::BTreeSet::new();
    while received.len() < sent.len() {
        let delivery = pair.receiver.next_message().await;
        assert!(
            received.insert(content(&delivery).to_owned()),
            "{} delivered twice",
            content(&delivery)
        );
    }
    assert_eq!(received, sent);
    pair.b.stop().await;
}

/// Two nodes with the same webhook (delivering `message.created` to `receiver`), alice in two
/// channels; with Kafka, once the nodes' plugin consumers share the partitions.
struct WebhookPair {
    receiver: crate::plugins::Receiver,
    a: TestApp,
    b: TestApp,
    alice: Session,
    first: String,
    second: String,
    _shared: Shared,
}

async fn webhook_pair() -> Option<WebhookPair> {
    use crate::plugins::{Receiver, configure, until_group_settled};
    let shared = Shared::new().await?;
    let receiver = Receiver::start(|_, _| 200).await;
    let a = shared
        .node("node-a", |c| configure(c, &receiver, &["message.created"]))
        .await;
    let (_, alice, bob, first) = team_in_channel(&a).await;
    let second = a.channel(&bob, "second-room", false).await;
    a.join(&alice, &second).await;
    let b = shared
        .node("node-b", |c| configure(c, &receiver, &["message.created"]))
        .await;
    if kafka_bus() {
        // One consumer group: the two nodes share the topic's three partitions.
        until_group_settled(&[&a, &b], 3.0).await;
    }
    Some(WebhookPair {
        receiver,
        a,
        b,
        alice,
        first,
        second,
        _shared: shared,
    })
}
