//! Per-user write limits (`[limits.writes]`): token buckets; 429 `rate_limited` with
//! `Retry-After` when a person's bucket is empty, while other people are unaffected.

use colink::kv::Bucket;
use serde_json::json;

use crate::helpers::{Reply, TestApp, spawn_with};

const ONE: Bucket = Bucket {
    capacity: 1,
    per_minute: 1,
};

#[track_caller]
fn assert_limited(reply: Reply) {
    let retry_after: u64 = reply
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header in seconds");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    reply.problem(429, "rate_limited");
}

#[tokio::test]
async fn messages_past_the_burst_get_429_with_retry_after_for_that_user_only() {
    let app = spawn_with(|c| {
        c.limits.writes.messages = Bucket {
            capacity: 3,
            per_minute: 1,
        }
    })
    .await;
    let (owner, _, alice, bob) = app.team().await;
    let general = app.channel(&owner, "town", false).await;
    app.join(&alice, &general).await;
    app.join(&bob, &general).await;
    for i in 0..3 {
        app.send(&alice, &general, &format!("hello {i}")).await;
    }
    let path = format!("/channels/{general}/messages");
    assert_limited(
        app.post(
            &path,
            Some(&alice.access),
            json!({"content": "one too many"}),
        )
        .await,
    );
    // Bob has his own bucket.
    app.send(&bob, &general, "hi").await;
    // Nothing of the refused message was stored.
    let history = app
        .get(&format!("{path}?limit=10"), &alice.access)
        .await
        .expect(200);
    let items = history["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert!(items.iter().all(|m| m["content"] != "one too many"));
}

/// Each limited route, with a bucket of one: the second call is refused.
#[tokio::test]
async fn every_limited_write_has_its_own_bucket() {
    let app = spawn_with(|c| {
        let w = &mut c.limits.writes;
        w.replies = ONE;
        w.reactions = ONE;
        w.conversations = ONE;
        // `team()` spends two of the owner's invites.
        w.invites = Bucket {
            capacity: 3,
            per_minute: 1,
        };
        w.ws_tickets = ONE;
    })
    .await;
    let (owner, ws, alice, bob) = app.team().await;
    let channel = app.channel(&alice, "limits", false).await; // alice's one conversation
    app.join(&bob, &channel).await;
    let root = app.send(&alice, &channel, "root").await;
    let root_id = root["id"].as_str().unwrap();
    let second = app.send(&alice, &channel, "second").await;
    let second_id = second["id"].as_str().unwrap();

    let twice = |path: String, body: serde_json::Value, first: u16| {
        let app: &TestApp = &app;
        let token = alice.access.clone();
        async move {
            app.post(&path, Some(&token), body.clone())
                .await
                .expect(first);
            app.post(&path, Some(&token), body).await
        }
    };
    // Replies (both routes share the bucket).
    assert_limited(
        twice(
            format!("/messages/{root_id}/threads"),
            json!({"content": "reply"}),
            201,
        )
        .await,
    );
    // Reactions.
    app.post(
        &format!("/messages/{root_id}/reactions"),
        Some(&alice.access),
        json!({"emoji": "thumbsup"}),
    )
    .await
    .expect(201);
    assert_limited(
        app.post(
            &format!("/messages/{second_id}/reactions"),
            Some(&alice.access),
            json!({"emoji": "thumbsup"}),
        )
        .await,
    );
    // Conversations: the channel above was alice's one; a DM is refused.
    assert_limited(
        app.post(
            "/dms",
            Some(&alice.access),
            json!({"participant_ids": [bob.user_id]}),
        )
        .await,
    );
    // Invites (channel member additions count too).
    let owner_channel = app.channel(&owner, "owned", false).await;
    app.post(
        &format!("/workspaces/{ws}/invites"),
        Some(&owner.access),
        json!({}),
    )
    .await
    .expect(201);
    assert_limited(
        app.post(
            &format!("/channels/{owner_channel}/members"),
            Some(&owner.access),
            json!({"user_id": alice.user_id}),
        )
        .await,
    );
    // WebSocket tickets.
    assert_limited(twice("/ws/ticket".into(), json!({}), 201).await);
    // Others are unaffected.
    app.post(
        &format!("/messages/{root_id}/threads"),
        Some(&bob.access),
        json!({"content": "bob replies"}),
    )
    .await
    .expect(201);
}
