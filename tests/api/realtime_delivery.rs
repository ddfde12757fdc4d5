//! Delivery under load: a client that stops reading is cut off without holding up the others,
//! and a burst of frames queued for one connection arrives whole, in order and once.

use serde_json::json;

use crate::helpers::*;
use crate::realtime::{message_seqs, team_in_channel};

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_while_others_keep_receiving() {
    let app = spawn_with(|c| c.realtime.send_queue = 8).await;
    let (_, alice, bob, channel) = team_in_channel(&app).await;
    let mut fast = app.ws(&alice.access).await;
    fast.subscribe(&channel).await;
    let mut slow = WsClient {
        ws: app
            .ws_raw(&format!("token={}", bob.access), Some(4096))
            .await,
    };
    slow.subscribe(&channel).await;

    let big = "x".repeat(30_000);
    let mut sent = 0;
    while app.state.realtime.metrics.snapshot().slow_disconnects == 0 {
        assert!(sent < 1000, "the slow client was never disconnected");
        let message = app.send(&alice, &channel, &big).await;
        sent += 1;
        let event = fast.event("message.created").await;
        assert_eq!(event["seq"], message["seq"], "the fast client keeps up");
    }
    // The slow client, reading at last, finds its connection closed.
    assert!(matches!(
        slow.closed().await,
        WsEnd::Code(4008) | WsEnd::Dropped
    ));
    app.send(&alice, &channel, "still here").await;
    assert_eq!(
        fast.event("message.created").await["data"]["content"],
        "still here"
    );
    assert_eq!(app.state.realtime.metrics.snapshot().connections, 1);
}

/// Frames queued for a connection are written together and flushed once
/// (`connection::Conn::forward`): a burst of concurrent posts, some larger than the write
/// buffer, reaches a subscriber whole, in order and once.
#[tokio::test]
async fn a_burst_arrives_whole_in_order_and_once() {
    let app = spawn_with(|c| {
        c.limits.writes.messages.capacity = 1000;
        c.limits.writes.messages.per_minute = 1000;
    })
    .await;
    let (_, alice, bob, channel) = team_in_channel(&app).await;
    let mut ws = app.ws(&bob.access).await;
    ws.subscribe(&channel).await;
    let n = 150;
    let answers = crate::helpers::concurrently(n, |i| {
        let content = if i % 10 == 0 {
            "y".repeat(10_000)
        } else {
            format!("b{i}")
        };
        app.client
            .post(format!("{}/api/v1/channels/{channel}/messages", app.base))
            .bearer_auth(&alice.access)
            .json(&json!({ "content": content }))
    })
    .await;
    assert!(answers.iter().all(|(s, _)| *s == 201), "{answers:?}");
    let mut seqs = Vec::new();
    while seqs.len() < n {
        seqs.push(ws.event("message.created").await["seq"].as_i64().unwrap());
    }
    let first = seqs[0];
    assert_eq!(seqs, (first..first + n as i64).collect::<Vec<_>>());
    assert!(message_seqs(&ws.drain().await).is_empty(), "no duplicate");
}
