//! `GET /metrics`: every named series after a scripted workload, with the counts it implies,
//! and no user data in any label.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app, spawn_with};

/// The value of the sample written exactly as `series` (name and labels), if present.
pub(crate) fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split(' ').next()?.parse().ok()
    })
}

pub(crate) async fn scrape(app: &TestApp) -> String {
    let resp = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    resp.text().await.unwrap()
}

#[tokio::test]
async fn a_scrape_counts_what_the_workload_did() {
    let app = spawn_app().await;
    let (owner, ws, alice, _bob) = app.team().await;
    let channel = app.channel(&owner, "metrics-room", false).await;
    app.join(&alice, &channel).await;
    let mut socket = app.ws(&alice.access).await;
    socket.subscribe(&channel).await;
    for i in 0..5 {
        app.send(&owner, &channel, &format!("message {i}")).await;
    }
    // A retry with the same client_id is the same message: counted once.
    let path = format!("/api/v1/channels/{channel}/messages");
    for _ in 0..2 {
        let reply = app
            .post(
                &path,
                Some(&owner.access),
                json!({"content": "once", "client_id": "c-1"}),
            )
            .await;
        assert!(reply.status.is_success(), "{}", reply.status);
    }
    for _ in 0..6 {
        socket.event("message.created").await;
    }
    let text = scrape(&app).await;

    assert_eq!(sample(&text, "messages_created_total"), Some(6.0), "{text}");
    let posted = "http_requests_total{method=\"POST\",route=\"/api/v1/channels/{id}/messages\",status=\"201\"}";
    assert_eq!(sample(&text, posted), Some(6.0), "{text}");
    let timed = "http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/channels/{id}/messages\"}";
    assert_eq!(sample(&text, timed), Some(7.0), "{text}");
    assert_eq!(sample(&text, "websocket_connections"), Some(1.0), "{text}");
    assert!(
        sample(&text, "websocket_events_delivered_total").unwrap() >= 6.0,
        "{text}"
    );
    assert_eq!(sample(&text, "websocket_slow_disconnects_total"), Some(0.0));
    assert!(sample(&text, "websocket_fanout_duration_seconds_count").unwrap() >= 6.0);
    assert_eq!(
        sample(&text, "bus_dlq_events_total{reason=\"undecodable\"}"),
        Some(0.0)
    );
    assert!(sample(&text, "outbox_pending_events").is_some(), "{text}");
    // Published in batches: at least one, and every event counted. The relay counts a batch
    // once the bus has taken it, which can be just after the socket got it: scrape again
    // until then (a counter has no event to await).
    assert!(sample(&text, "outbox_publish_duration_seconds_count").unwrap() >= 1.0);
    let mut published = sample(&text, "outbox_published_events_total").unwrap();
    for _ in 0..100 {
        if published >= 6.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        published = sample(&scrape(&app).await, "outbox_published_events_total").unwrap();
    }
    assert!(published >= 6.0, "{published}");
    assert!(sample(&text, "db_pool_connections{state=\"idle\"}").is_some());
    assert!(sample(&text, "db_pool_connections{state=\"active\"}").is_some());
    assert_eq!(sample(&text, "uploads_cleaned_total"), Some(0.0));
    assert_eq!(sample(&text, "uploads_completed_total"), Some(0.0));
    assert_eq!(sample(&text, "users"), Some(3.0), "{text}");
    assert!(sample(&text, "users_active{window=\"1d\"}").is_some());
    assert!(sample(&text, "process_resident_memory_bytes").unwrap() > 0.0);
    if !crate::helpers::postgres_search() && app.config.search.enabled {
        assert!(
            sample(&text, "search_index_lag_seconds").is_some(),
            "{text}"
        );
    }
    // A path no route matched is one series, whatever the path.
    for junk in ["/api/v1/nope/a", "/api/v1/nope/b"] {
        app.client
            .get(format!("{}{junk}", app.base))
            .send()
            .await
            .unwrap();
    }
    let text = scrape(&app).await;
    assert_eq!(
        sample(
            &text,
            "http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}"
        ),
        Some(2.0),
        "{text}"
    );
    // No label carries an id, a name or a path as sent.
    for private in [
        channel.as_str(),
        ws.as_str(),
        "alice",
        "metrics-room",
        "nope",
    ] {
        assert!(!text.contains(private), "{private} appears in the scrape");
    }
}

#[tokio::test]
async fn metrics_bind_serves_metrics_apart_from_the_public_port() {
    let app = spawn_with(|c| c.telemetry.metrics_bind = Some("127.0.0.1:0".parse().unwrap())).await;
    let port = app.metrics_port.expect("a metrics listener");
    let public = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    let apart = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(apart.status(), StatusCode::OK);
    let text = apart.text().await.unwrap();
    assert!(
        text.contains("# TYPE http_requests_total counter"),
        "{text}"
    );
    // The listener serves nothing else.
    let other = app
        .client
        .get(format!("http://127.0.0.1:{port}/api/v1/users/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
