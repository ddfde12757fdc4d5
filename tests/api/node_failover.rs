//! Two `colink serve` processes sharing PostgreSQL, Redis and a bus (Redis, or Kafka with
//! `COLINK_TEST_BUS=kafka`): the node that relays the outbox is killed with SIGKILL mid-traffic;
//! nothing acknowledged is lost and the other node carries on, relaying what was left. Needs
//! PostgreSQL (`scripts/test.sh --postgres`).

use std::time::Duration;

use serde_json::json;

use crate::{
    cli::{channel_messages, owner_and_channel, send_concurrently, serve},
    helpers::{WsClient, WsStream, fresh_database},
    realtime::message_seqs,
};

/// A WebSocket to the server process on `port`, signed in with `access`.
async fn socket(port: u16, access: &str) -> WsClient {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("tcp connect");
    let url = format!("ws://127.0.0.1:{port}/ws?token={access}");
    WsClient {
        ws: WsStream::handshake(stream, &url, None)
            .await
            .expect("websocket handshake"),
    }
}

#[tokio::test]
async fn killing_the_relaying_node_loses_no_acknowledged_message_and_the_other_carries_on() {
    let Some(database) = fresh_database().await else {
        return;
    };
    let redis =
        std::env::var("COLINK_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let kafka = if crate::nodes::kafka_bus() {
        let Some(broker) = crate::kafka::Broker::require().await else {
            return;
        };
        Some(broker)
    } else {
        None
    };
    let (bus, brokers) = match &kafka {
        Some(broker) => ("kafka", broker.brokers()),
        None => ("redis", String::new()),
    };
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let (kv_prefix, topics) = (format!("colink-test-{unique}:"), format!("t{unique}."));
    let secret = format!("failover-secret-{unique}");
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let node = |dir: &tempfile::TempDir, name: &'static str| {
        let env = [
            ("COLINK_DATA_DIR", dir.path().to_str().unwrap()),
            ("COLINK_DATABASE__URL", database.as_str()),
            ("COLINK_KV__BACKEND", "redis"),
            ("COLINK_KV__URL", redis.as_str()),
            ("COLINK_KV__PREFIX", kv_prefix.as_str()),
            ("COLINK_BUS__BACKEND", bus),
            ("COLINK_BUS__BROKERS", brokers.as_str()),
            ("COLINK_BUS__TOPIC_PREFIX", topics.as_str()),
            ("COLINK_AUTH__SECRET_KEY", secret.as_str()),
            ("COLINK_CLUSTER__NODE_ID", name),
            ("COLINK_CLUSTER__LEASE_TTL", "2s"),
            ("COLINK_LIMITS__WRITES__MESSAGES__CAPACITY", "1000"),
        ];
        serve(&env)
    };
    // Node A starts first and takes the relay lease.
    let (mut a, port_a) = node(&dir_a, "node-a");
    let http = reqwest::Client::new();
    let base_a = format!("http://127.0.0.1:{port_a}/api/v1");
    let (access, channel) = owner_and_channel(&http, &base_a, dir_a.path(), "failover").await;
    let (mut b, port_b) = node(&dir_b, "node-b");
    let base_b = format!("http://127.0.0.1:{port_b}/api/v1");
    let mut on_b = socket(port_b, &access).await;
    on_b.subscribe(&channel).await;

    // 4 concurrent senders through node A; SIGKILL the moment the last acknowledgement arrives.
    let acked = send_concurrently(&http, &base_a, &access, &channel, (4, 25)).await;
    a.kill().unwrap(); // SIGKILL: the lease is not released, it expires.
    a.wait().unwrap();

    let stored = channel_messages(&http, &base_b, &access, &channel).await;
    let ids: std::collections::HashSet<&str> = stored.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), acked.len());
    assert!(acked.iter().all(|id| ids.contains(id.as_str())));

    // Node B's socket gets every message, in order and once: what node A published before it
    // died, then what node B relays once A's lease has expired.
    let mut frames = Vec::new();
    let all = async {
        while message_seqs(&frames).len() < acked.len() {
            frames.push(on_b.expect(|f| f["type"] == "event").await);
        }
    };
    tokio::time::timeout(Duration::from_secs(30), all)
        .await
        .expect("node B relays the rest within the lease TTL");
    assert_eq!(
        message_seqs(&frames),
        (1..=acked.len() as i64).collect::<Vec<_>>()
    );
    // And carries on.
    let r = http
        .post(format!("{base_b}/channels/{channel}/messages"))
        .bearer_auth(&access)
        .json(&json!({"content": "after"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let next = on_b.expect(|f| f["type"] == "event").await;
    assert_eq!(next["event"]["seq"], acked.len() as i64 + 1, "{next}");
    b.kill().unwrap();
    b.wait().unwrap();
}
