//! Outgoing webhooks (`[[plugins.webhooks]]`) against a receiver of the test's own: signed
//! deliveries of the chosen event types, in order; a failed delivery tried again; an event
//! that fails every attempt set aside (counted) while the next is delivered. The Kafka DLQ and
//! the two-node "once per deployment" are in `kafka.rs` and `nodes.rs`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use colink::config::{Config, HumanDuration, Secret, WebhookConfig};
use poem::{Request, Route, endpoint::make, http::StatusCode, post};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::{helpers::*, metrics, realtime::team_in_channel};

pub(crate) const SECRET: &str = "test-webhook-secret-0001";

/// One request the receiver got.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub event_type: String,
    pub id: String,
    pub signature: String,
    pub timestamp: i64,
    pub body: Vec<u8>,
    pub event: Value,
    /// Which attempt of this event it was (1, 2, …).
    pub attempt: usize,
}

/// Deliveries as they arrive.
pub(crate) struct Receiver {
    pub url: String,
    rx: mpsc::UnboundedReceiver<Delivery>,
}

impl Receiver {
    /// Listen on a free port; `answer(event, attempt)` is the status each request gets.
    pub(crate) async fn start(
        answer: impl Fn(&Value, usize) -> u16 + Send + Sync + 'static,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let attempts: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let answer = Arc::new(answer);
        let endpoint = make(move |mut req: Request| {
            let (tx, attempts, answer) = (tx.clone(), attempts.clone(), answer.clone());
            async move {
                let header = |name: &str| {
                    req.headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                let (event_type, id) = (header("x-colink-event"), header("x-colink-delivery"));
                let (signature, timestamp) =
                    (header("x-colink-signature"), header("x-colink-timestamp"));
                let body = req.take_body().into_vec().await.unwrap_or_default();
                let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let attempt = {
                    let mut seen = attempts.lock().unwrap();
                    let n = seen.entry(id.clone()).or_default();
                    *n += 1;
                    *n
                };
                let status = answer(&event, attempt);
                let _ = tx.send(Delivery {
                    event_type,
                    id,
                    signature,
                    timestamp: timestamp.parse().unwrap_or(0),
                    body,
                    event,
                    attempt,
                });
                StatusCode::from_u16(status).unwrap()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let limits = colink::server::ConnectionLimits {
            max_connections: 64,
            header_read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
        };
        tokio::spawn(colink::server::serve(
            listener,
            Route::new().at("/hook", post(endpoint)),
            limits,
            std::future::pending(),
            Duration::ZERO,
        ));
        Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            rx,
        }
    }

    /// The next delivery (failing the test after 20 s without one).
    pub(crate) async fn next(&mut self) -> Delivery {
        tokio::time::timeout(Duration::from_secs(20), self.rx.recv())
            .await
            .expect("no delivery within 20 s")
            .expect("the receiver stopped")
    }

    /// The next delivery of a `message.created` (skipping other types).
    pub(crate) async fn next_message(&mut self) -> Delivery {
        loop {
            let delivery = self.next().await;
            if delivery.event_type == "message.created" {
                return delivery;
            }
        }
    }
}

/// Send "poison" (which [`refuse_poison`] refuses) and "after" to `channel`: the first is
/// tried three times, then the second delivered once.
pub(crate) async fn poison_then_after(
    app: &TestApp,
    sender: &Session,
    channel: &str,
    receiver: &mut Receiver,
) {
    app.send(sender, channel, "poison").await;
    app.send(sender, channel, "after").await;
    for attempt in 1..=3 {
        let tried = receiver.next().await;
        assert_eq!((content(&tried), tried.attempt), ("poison", attempt));
    }
    let next = receiver.next().await;
    assert_eq!((content(&next), next.attempt), ("after", 1));
}

/// The webhook `hook` to `receiver` for `events`, retried after 20 ms.
pub(crate) fn configure(config: &mut Config, receiver: &Receiver, events: &[&str]) {
    config.plugins.retry_delay = HumanDuration(Duration::from_millis(20));
    config.plugins.webhooks.push(WebhookConfig {
        name: "hook".into(),
        url: receiver.url.clone(),
        secret: Secret::new(SECRET),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
    });
}

/// The content of a delivered message event.
pub(crate) fn content(delivery: &Delivery) -> &str {
    delivery.event["data"]["content"]
        .as_str()
        .unwrap_or_default()
}

/// Answer 500 to every attempt at a message whose content is "poison", 200 to the rest.
pub(crate) fn refuse_poison(event: &Value, _attempt: usize) -> u16 {
    if event["data"]["content"] == "poison" {
        500
    } else {
        200
    }
}

#[tokio::test]
async fn a_webhook_receives_each_event_of_its_types_signed_and_in_order() {
    let mut receiver = Receiver::start(|_, _| 200).await;
    let app = spawn_with(|c| configure(c, &receiver, &["message.created"])).await;
    let (_, alice, _, channel) = team_in_channel(&app).await;

    let first = app.send(&alice, &channel, "first").await;
    let delivery = receiver.next().await;
    assert_eq!(delivery.event_type, "message.created");
    assert_eq!(content(&delivery), "first");
    assert_eq!(delivery.event["id"].as_str(), Some(delivery.id.as_str()));
    assert_eq!(delivery.event["type"], "message.created");
    assert_eq!(
        delivery.event["channel_id"].as_str(),
        Some(channel.as_str())
    );
    assert_eq!(
        delivery.signature,
        colink::plugins::webhook::signature(SECRET.as_bytes(), delivery.timestamp, &delivery.body)
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (now - delivery.timestamp).abs() < 60,
        "{}",
        delivery.timestamp
    );

    // A reaction is not one of its types: the next delivery is the next message.
    app.post(
        &format!("/messages/{}/reactions", first["id"].as_str().unwrap()),
        Some(&alice.access),
        json!({"emoji": "tada"}),
    )
    .await
    .expect(201);
    app.send(&alice, &channel, "second").await;
    let delivery = receiver.next().await;
    assert_eq!(
        (delivery.event_type.as_str(), content(&delivery)),
        ("message.created", "second")
    );
    let scraped = metrics::scrape(&app).await;
    assert_eq!(
        metrics::sample(
            &scraped,
            "plugin_deliveries_total{outcome=\"delivered\",plugin=\"hook\"}"
        ),
        Some(2.0),
        "{scraped}"
    );
}

#[tokio::test]
async fn a_delivery_that_fails_is_tried_again_with_the_same_id_and_arrives_once() {
    // The first message fails twice, then is accepted.
    let mut receiver = Receiver::start(|event, attempt| {
        if event["data"]["content"] == "flaky" && attempt < 3 {
            503
        } else {
            200
        }
    })
    .await;
    let app = spawn_with(|c| configure(c, &receiver, &["message.created"])).await;
    let (_, alice, _, channel) = team_in_channel(&app).await;
    app.send(&alice, &channel, "flaky").await;
    app.send(&alice, &channel, "steady").await;

    let tries: Vec<Delivery> = vec![
        receiver.next().await,
        receiver.next().await,
        receiver.next().await,
    ];
    assert!(tries.iter().all(|d| content(d) == "flaky"), "{tries:?}");
    assert_eq!(
        tries.iter().map(|d| d.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(tries.iter().all(|d| d.id == tries[0].id));
    // Then the next event, once: the accepted one is not delivered again.
    let next = receiver.next().await;
    assert_eq!((content(&next), next.attempt), ("steady", 1));
    let scraped = metrics::scrape(&app).await;
    assert_eq!(
        metrics::sample(&scraped, "bus_dlq_events_total{reason=\"work_failed\"}"),
        Some(0.0)
    );
}

#[tokio::test]
async fn an_event_that_fails_every_attempt_is_set_aside_and_the_next_is_delivered() {
    let mut receiver = Receiver::start(refuse_poison).await;
    let app = spawn_with(|c| configure(c, &receiver, &["message.created"])).await;
    let (_, alice, _, channel) = team_in_channel(&app).await;
    poison_then_after(&app, &alice, &channel, &mut receiver).await;
    let scraped = metrics::scrape(&app).await;
    for (series, expected) in [
        ("bus_dlq_events_total{reason=\"work_failed\"}", 1.0),
        (
            "plugin_deliveries_total{outcome=\"set_aside\",plugin=\"hook\"}",
            1.0,
        ),
        (
            "plugin_deliveries_total{outcome=\"failed\",plugin=\"hook\"}",
            2.0,
        ),
    ] {
        assert_eq!(
            metrics::sample(&scraped, series),
            Some(expected),
            "{series}\n{scraped}"
        );
    }
}

#[tokio::test]
async fn a_webhook_of_every_type_receives_private_conversations_too_and_nothing_internal() {
    // The operator's webhook sees what the deployment carries, as a Kafka topic would: it is
    // configured by whoever runs the server, not by a user.
    let mut receiver = Receiver::start(|_, _| 200).await;
    let app = spawn_with(|c| configure(c, &receiver, &[])).await;
    let (_, alice, bob, _) = team_in_channel(&app).await;
    let secret = app.channel(&alice, "secret-plans", true).await;
    app.send(&alice, &secret, "between us").await;
    let delivery = receiver.next_message().await;
    assert_eq!(content(&delivery), "between us");
    // Signing out ends a session: an internal event no webhook receives. The next delivery
    // after it is the next message.
    app.post("/auth/logout", None, json!({"refresh_token": bob.refresh}))
        .await
        .expect(204);
    app.send(&alice, &secret, "still here").await;
    loop {
        let delivery = receiver.next().await;
        assert_ne!(delivery.event_type, "session.revoked");
        if delivery.event_type == "message.created" {
            assert_eq!(content(&delivery), "still here");
            break;
        }
    }
}

/// Partitions of the events topic `app`'s plugin consumer holds (Kafka).
pub(crate) async fn held_partitions(app: &TestApp) -> f64 {
    let scraped = metrics::scrape(app).await;
    metrics::sample(&scraped, "bus_work_partitions{group=\"plugins\"}").unwrap_or(0.0)
}

/// Wait until the plugin consumers of `apps` hold `total` partitions between them, each some
/// (the Kafka group has settled: what is sent from now on is delivered).
pub(crate) async fn until_group_settled(apps: &[&TestApp], total: f64) {
    let settled = async {
        loop {
            let mut held = Vec::new();
            for app in apps {
                held.push(held_partitions(app).await);
            }
            if held.iter().sum::<f64>() == total && held.iter().all(|h| *h > 0.0) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), settled)
        .await
        .expect("the plugin consumers' group settles within 60 s");
}

/// `plugins/webhook-receiver/receiver.py`, started on a free port: its stdout (one JSON line per
/// verified event) and its URL.
async fn example_receiver() -> (
    tokio::process::Child,
    tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    String,
) {
    use tokio::io::AsyncBufReadExt;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("plugins/webhook-receiver/receiver.py");
    let mut child = tokio::process::Command::new("python3")
        .arg(script)
        .args(["--port", "0"])
        .env("COLINK_WEBHOOK_SECRET", SECRET)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs the example receiver");
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), stdout.next_line())
        .await
        .expect("the receiver starts")
        .unwrap()
        .expect("the receiver says where it listens");
    let listening: Value = serde_json::from_str(&first).unwrap();
    let url = listening["listening"].as_str().unwrap().to_owned();
    (child, stdout, url)
}

#[tokio::test]
async fn the_example_receiver_accepts_what_the_server_signs_and_refuses_forgeries() {
    let (_child, mut events, url) = example_receiver().await;
    let app = spawn_with(|c| {
        c.plugins.webhooks.push(WebhookConfig {
            name: "example".into(),
            url: url.clone(),
            secret: Secret::new(SECRET),
            events: vec!["message.created".into()],
        });
    })
    .await;
    let (_, alice, _, channel) = team_in_channel(&app).await;
    app.send(&alice, &channel, "hello, bot").await;
    let line = tokio::time::timeout(Duration::from_secs(20), events.next_line())
        .await
        .expect("the receiver prints the event")
        .unwrap()
        .unwrap();
    let printed: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(printed["type"], "message.created", "{line}");
    assert_eq!(printed["event"]["data"]["content"], "hello, bot", "{line}");
    assert_eq!(printed["delivery"], printed["event"]["id"], "{line}");

    // What it refuses: a body signed with another secret, and an old timestamp (a replay).
    let http = reqwest::Client::new();
    let body = br#"{"id":"x","type":"message.created"}"#;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let forged = colink::plugins::webhook::signature(b"another-secret-0000", now, body);
    let stale = now - 3600;
    let replayed = colink::plugins::webhook::signature(SECRET.as_bytes(), stale, body);
    for (timestamp, signature) in [(now, forged), (stale, replayed)] {
        let answer = http
            .post(&url)
            .header("X-CoLink-Timestamp", timestamp.to_string())
            .header("X-CoLink-Signature", signature)
            .header("X-CoLink-Delivery", "x")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 401);
    }
}
