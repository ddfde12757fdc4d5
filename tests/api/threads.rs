//! Threads: reply counters under concurrency, idempotent replies, paging, mentions in replies.

use std::{collections::BTreeSet, time::Duration};

use colink::{bus::Subscription, domain::events::EventData};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, concurrently, spawn_app};

async fn root_updates(sub: &mut Box<dyn Subscription>, root: &str, n: usize) -> Vec<i64> {
    let mut counts = Vec::new();
    while counts.len() < n {
        let e = tokio::time::timeout(Duration::from_secs(10), sub.recv())
            .await
            .expect("an event within 10 s")
            .expect("bus open");
        if let EventData::MessageUpdated(m) = &e.data
            && m.id.to_string() == root
        {
            counts.push(i64::from(m.reply_count));
        }
    }
    counts
}

fn reply_url(app: &TestApp, message: &str) -> String {
    format!("{}/api/v1/messages/{message}/threads", app.base)
}

async fn thread(app: &TestApp, s: &Session, root: &str) -> Value {
    app.get(&format!("/messages/{root}/thread?limit=200"), &s.access)
        .await
        .expect(200)
}

#[tokio::test]
async fn concurrent_replies_and_deletes_keep_reply_count_exact() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    app.join(&bob, &ch).await;
    let root = app.send(&alice, &ch, "root").await;
    let root = root["id"].as_str().unwrap().to_string();
    let mut sub = app.state.bus.subscribe().await.expect("subscribe");

    let url = reply_url(&app, &root);
    let results = concurrently(20, |i| {
        let who = if i % 2 == 0 { &alice } else { &bob };
        app.client
            .post(&url)
            .bearer_auth(&who.access)
            .json(&json!({"content": format!("reply {i}")}))
    })
    .await;
    assert!(results.iter().all(|(s, _)| *s == 201), "{results:?}");
    let t = thread(&app, &alice, &root).await;
    assert_eq!(t["items"][0]["reply_count"], 20);
    assert_eq!(t["items"].as_array().unwrap().len(), 21);
    // Each root update carries the count its transaction committed: 1..=20, each once.
    let mut counts = root_updates(&mut sub, &root, 20).await;
    counts.sort();
    assert_eq!(counts, (1..=20).collect::<Vec<i64>>());

    // Deleting replies takes them off the count — once, even when the same reply is deleted
    // by several requests at the same time.
    let first = results[0].1["id"].as_str().unwrap().to_string();
    let second = results[2].1["id"].as_str().unwrap().to_string();
    let deletes = concurrently(6, |i| {
        let id = if i < 5 { &first } else { &second };
        app.client
            .delete(format!("{}/api/v1/messages/{id}", app.base))
            .bearer_auth(&alice.access)
    })
    .await;
    assert!(deletes.iter().all(|(s, _)| *s == 204), "{deletes:?}");
    let t = thread(&app, &alice, &root).await;
    assert_eq!(t["items"][0]["reply_count"], 18);
    let mut counts = root_updates(&mut sub, &root, 2).await;
    counts.sort();
    assert_eq!(counts, [18, 19]);
    let deleted: BTreeSet<&str> = t["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["deleted"] == true)
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(deleted, BTreeSet::from([first.as_str(), second.as_str()]));
}

#[tokio::test]
async fn replies_are_idempotent_by_key_also_under_concurrent_retries() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    app.join(&bob, &ch).await;
    let root = app.send(&alice, &ch, "root").await;
    let root = root["id"].as_str().unwrap().to_string();
    let url = reply_url(&app, &root);

    let results = concurrently(20, |_| {
        app.client
            .post(&url)
            .bearer_auth(&bob.access)
            .header("Idempotency-Key", "reply-1")
            .json(&json!({"content": "only once"}))
    })
    .await;
    let statuses: Vec<u16> = results.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 200),
        "{statuses:?}"
    );
    let ids: BTreeSet<&str> = results
        .iter()
        .map(|(_, b)| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let t = thread(&app, &alice, &root).await;
    assert_eq!(t["items"].as_array().unwrap().len(), 2);
    assert_eq!(t["items"][0]["reply_count"], 1);

    // A later retry (header or body client_id) answers with the original and writes nothing.
    let again = app
        .client
        .post(&url)
        .bearer_auth(&bob.access)
        .header("Idempotency-Key", "reply-1")
        .json(&json!({"content": "only once"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 200);
    let body = app
        .post(
            &format!("/messages/{root}/threads"),
            Some(&bob.access),
            json!({"content": "only once", "client_id": "reply-1"}),
        )
        .await
        .expect(200);
    assert!(ids.contains(body["id"].as_str().unwrap()));
    // The same key from someone else is their own reply.
    app.client
        .post(&url)
        .bearer_auth(&alice.access)
        .header("Idempotency-Key", "reply-1")
        .json(&json!({"content": "mine"}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let t = thread(&app, &alice, &root).await;
    assert_eq!(t["items"][0]["reply_count"], 2);
    // An invalid key is a validation error, not a 500.
    let bad = app
        .client
        .post(&url)
        .bearer_auth(&bob.access)
        .header("Idempotency-Key", "has space")
        .json(&json!({"content": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
}

#[tokio::test]
async fn threads_reactions_and_pins() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    app.join(&bob, &ch).await;
    let root = app.send(&alice, &ch, "root").await;
    let root_id = root["id"].as_str().unwrap();

    let r1 = app
        .post(
            &format!("/messages/{root_id}/threads"),
            Some(&bob.access),
            json!({"content": "reply 1"}),
        )
        .await
        .expect(201);
    assert_eq!(r1["thread_root_id"], root_id);
    // Replying to a reply lands in the same thread.
    let r1_id = r1["id"].as_str().unwrap();
    let r2 = app
        .post(
            &format!("/messages/{r1_id}/threads"),
            Some(&alice.access),
            json!({"content": "reply 2"}),
        )
        .await
        .expect(201);
    assert_eq!(r2["thread_root_id"], root_id);
    let thread = app
        .get(&format!("/messages/{root_id}/thread"), &bob.access)
        .await
        .expect(200);
    let contents: Vec<&str> = thread["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["root", "reply 1", "reply 2"]);
    assert_eq!(thread["items"][0]["reply_count"], 2);
    assert!(thread["items"][0]["last_reply_at"].is_string());
    // Replies stay out of the channel's top level.
    let top = app
        .get(&format!("/channels/{ch}/messages"), &bob.access)
        .await
        .expect(200);
    assert_eq!(top["items"].as_array().unwrap().len(), 1);

    // Reactions.
    let thumbs = app
        .post(
            &format!("/messages/{root_id}/reactions"),
            Some(&bob.access),
            json!({"emoji": ":thumbsup:"}),
        )
        .await
        .expect(201);
    app.post(
        &format!("/messages/{root_id}/reactions"),
        Some(&bob.access),
        json!({"emoji": "thumbsup"}),
    )
    .await
    .problem(409, "conflict");
    app.post(
        &format!("/messages/{root_id}/reactions"),
        Some(&alice.access),
        json!({"emoji": "thumbsup"}),
    )
    .await
    .expect(201);
    app.post(
        &format!("/messages/{root_id}/reactions"),
        Some(&alice.access),
        json!({"emoji": "🎉"}),
    )
    .await
    .expect(201);
    for bad in ["", "not an emoji", "<b>", ":UPPER:"] {
        app.post(
            &format!("/messages/{root_id}/reactions"),
            Some(&alice.access),
            json!({"emoji": bad}),
        )
        .await
        .problem(400, "validation_failed");
    }
    let top = app
        .get(&format!("/channels/{ch}/messages"), &bob.access)
        .await
        .expect(200);
    let reactions = &top["items"][0]["reactions"];
    assert_eq!(reactions[0]["emoji"], "thumbsup");
    assert_eq!(reactions[0]["count"], 2);
    assert_eq!(reactions[0]["me"], true);
    assert_eq!(
        reactions[0]["user_ids"],
        json!([bob.user_id, alice.user_id])
    );
    assert_eq!(
        reactions[1],
        json!({"emoji": "🎉", "count": 1, "user_ids": [alice.user_id], "me": false})
    );
    let thumbs_id = thumbs["id"].as_str().unwrap();
    app.delete(&format!("/reactions/{thumbs_id}"), &alice.access)
        .await
        .problem(403, "forbidden");
    app.delete(&format!("/reactions/{thumbs_id}"), &bob.access)
        .await
        .expect(204);
    app.delete(&format!("/reactions/{thumbs_id}"), &bob.access)
        .await
        .problem(404, "not_found");

    // Pins.
    let pinned = app
        .post(
            &format!("/messages/{root_id}/pin"),
            Some(&bob.access),
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(pinned["pinned"], true);
    let pins = app
        .get(&format!("/channels/{ch}/pins"), &alice.access)
        .await
        .expect(200);
    assert_eq!(pins["items"][0]["id"], root_id);
    let unpinned = app
        .delete(&format!("/messages/{root_id}/pin"), &alice.access)
        .await
        .expect(200);
    assert_eq!(unpinned["pinned"], false);
    assert!(
        app.get(&format!("/channels/{ch}/pins"), &alice.access)
            .await
            .expect(200)["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// A reply takes the channel's next sequence number like a top-level message: sent together,
/// they get distinct seqs with no gap, and their events carry them — each once.
#[tokio::test]
async fn replies_and_top_level_messages_sent_together_share_one_gap_free_sequence() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    app.join(&bob, &ch).await;
    let root = app.send(&alice, &ch, "root").await;
    let root_seq = root["seq"].as_i64().unwrap();
    let root = root["id"].as_str().unwrap().to_string();
    let replies = reply_url(&app, &root);
    let top = format!("{}/api/v1/channels/{ch}/messages", app.base);

    let n = 30;
    let results = concurrently(n, |i| {
        let who = if i % 3 == 0 { &alice } else { &bob };
        let url = if i % 2 == 0 { &replies } else { &top };
        app.client
            .post(url)
            .bearer_auth(&who.access)
            .json(&json!({"content": format!("message {i}")}))
    })
    .await;
    assert!(results.iter().all(|(s, _)| *s == 201), "{results:?}");
    let mut seqs: Vec<i64> = results
        .iter()
        .map(|(_, b)| b["seq"].as_i64().unwrap())
        .collect();
    seqs.sort();
    let expected: Vec<i64> = (root_seq + 1..=root_seq + n as i64).collect();
    assert_eq!(seqs, expected, "distinct and gap-free");
    for (i, (_, body)) in results.iter().enumerate() {
        let root_id = if i % 2 == 0 { json!(root) } else { Value::Null };
        assert_eq!(body["thread_root_id"], root_id, "{body}");
    }

    // The events: one message.created per message with its seq; one root update per reply,
    // each with the count its reply made, after that reply's created event.
    let created = crate::races::outbox_events(&app, "message.created", &ch).await;
    let mut event_seqs: Vec<i64> = created
        .iter()
        .map(|d| d["seq"].as_i64().unwrap())
        .filter(|s| *s > root_seq)
        .collect();
    event_seqs.sort();
    assert_eq!(event_seqs, expected);
    let mut counts: Vec<i64> = crate::races::outbox_events(&app, "message.updated", &ch)
        .await
        .iter()
        .filter(|d| d["id"] == root.as_str())
        .map(|d| d["reply_count"].as_i64().unwrap())
        .collect();
    counts.sort();
    assert_eq!(counts, (1..=n as i64 / 2).collect::<Vec<_>>());
    let t = thread(&app, &alice, &root).await;
    assert_eq!(t["items"][0]["reply_count"], n / 2);
    assert_eq!(t["items"].as_array().unwrap().len(), n / 2 + 1);
}

/// A reply to a deleted message is refused and takes no sequence number.
#[tokio::test]
async fn a_reply_to_a_deleted_root_is_refused_and_leaves_no_gap() {
    let app = spawn_app().await;
    let (_, _, alice, _) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    let root = app.send(&alice, &ch, "root").await;
    let root_id = root["id"].as_str().unwrap();
    let reply = app
        .post(
            &format!("/messages/{root_id}/threads"),
            Some(&alice.access),
            json!({"content": "reply"}),
        )
        .await
        .expect(201);
    app.delete(&format!("/messages/{root_id}"), &alice.access)
        .await
        .expect(204);
    let reply_id = reply["id"].as_str().unwrap();
    for target in [root_id, reply_id] {
        app.post(
            &format!("/messages/{target}/threads"),
            Some(&alice.access),
            json!({"content": "too late", "client_id": "late-1"}),
        )
        .await
        .problem(409, "conflict");
    }
    let next = app.send(&alice, &ch, "after").await;
    assert_eq!(next["seq"].as_i64(), reply["seq"].as_i64().map(|s| s + 1));
}
