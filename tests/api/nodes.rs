//! Two nodes of one deployment, in one test process: two servers sharing a PostgreSQL database,
//! a Redis kv and a Redis bus, each with a data dir of its own. Needs PostgreSQL
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
}

impl Shared {
    /// `None` on SQLite (one file cannot serve two servers).
    async fn new() -> Option<Self> {
        let unique = uuid::Uuid::now_v7().simple().to_string();
        Some(Self {
            database_url: fresh_database().await?,
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
        config.bus.backend = BusBackend::Redis;
        config.bus.topic_prefix = self.topic_prefix.clone();
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
