use std::collections::HashSet;

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn send_list_page_edit_and_delete() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    app.join(&bob, &ch).await;
    let mut ids = Vec::new();
    for i in 1..=5 {
        let m = app.send(&alice, &ch, &format!("message {i}")).await;
        assert_eq!(m["seq"], i);
        assert_eq!(m["user_id"], alice.user_id.as_str());
        ids.push(m["id"].as_str().unwrap().to_string());
    }
    let latest = app
        .get(&format!("/channels/{ch}/messages?limit=2"), &bob.access)
        .await
        .expect(200);
    let seqs: Vec<i64> = latest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [5, 4]);
    assert_eq!(latest["next_cursor"], "4");
    let older = app
        .get(
            &format!("/channels/{ch}/messages?before=4&limit=10"),
            &bob.access,
        )
        .await
        .expect(200);
    let seqs: Vec<i64> = older["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [3, 2, 1]);
    assert!(older["next_cursor"].is_null());
    let newer = app
        .get(&format!("/channels/{ch}/messages?after=3"), &bob.access)
        .await
        .expect(200);
    let seqs: Vec<i64> = newer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [4, 5]);
    // Both bounds: the window between them (here empty).
    let window = app
        .get(
            &format!("/channels/{ch}/messages?before=2&after=1"),
            &bob.access,
        )
        .await
        .expect(200);
    assert_eq!(window["items"], serde_json::json!([]));

    // Edit: author only.
    app.put(
        &format!("/messages/{}", ids[0]),
        &bob.access,
        json!({"content": "hijack"}),
    )
    .await
    .problem(403, "forbidden");
    let edited = app
        .put(
            &format!("/messages/{}", ids[0]),
            &alice.access,
            json!({"content": "message one"}),
        )
        .await
        .expect(200);
    assert_eq!(edited["content"], "message one");
    assert!(edited["edited_at"].is_string());
    app.put(
        &format!("/messages/{}", ids[0]),
        &alice.access,
        json!({"content": " "}),
    )
    .await
    .problem(400, "validation_failed");

    // Delete: author, channel owner, server admin — not another member.
    app.delete(&format!("/messages/{}", ids[1]), &bob.access)
        .await
        .problem(403, "forbidden");
    app.delete(&format!("/messages/{}", ids[1]), &alice.access)
        .await
        .expect(204);
    let bob_msg = app.send(&bob, &ch, "bob here").await;
    app.delete(
        &format!("/messages/{}", bob_msg["id"].as_str().unwrap()),
        &alice.access,
    )
    .await
    .expect(204); // channel owner
    app.delete(&format!("/messages/{}", ids[2]), &owner.access)
        .await
        .expect(204); // server admin
    let page = app
        .get(&format!("/channels/{ch}/messages?after=0"), &bob.access)
        .await
        .expect(200);
    let second = &page["items"][1];
    assert_eq!(
        (second["deleted"].as_bool(), second["content"].as_str()),
        (Some(true), Some(""))
    );
    // The content is kept in the database.
    use sea_orm::EntityTrait;
    let stored =
        colink::db::entity::message::Entity::find_by_id(ids[1].parse::<uuid::Uuid>().unwrap())
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(stored.content, "message 2");
    app.put(
        &format!("/messages/{}", ids[1]),
        &alice.access,
        json!({"content": "undelete"}),
    )
    .await
    .problem(409, "conflict");
}

#[tokio::test]
async fn bad_message_input_is_refused_with_4xx() {
    let app = spawn_app().await;
    let (_, _, alice, _) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    let path = format!("/channels/{ch}/messages");
    for body in [
        json!({"content": ""}),
        json!({"content": "   \n"}),
        json!({"content": "x".repeat(40_001)}),
        // The schema says string: no structure, and no number or boolean taken as its text.
        json!({"content": {"text": "hi"}}),
        json!({"content": 5}),
        json!({"content": true}),
        json!({"content": ["hi"]}),
        json!({}),
        json!({"content": "ok", "client_id": ""}),
        json!({"content": "ok", "thread_root_id": "not-a-uuid"}),
    ] {
        app.post(&path, Some(&alice.access), body.clone())
            .await
            .problem(400, "validation_failed");
    }
    // A well-formed id of no message here: not found.
    app.post(
        &path,
        Some(&alice.access),
        json!({"content": "ok", "thread_root_id": uuid::Uuid::now_v7()}),
    )
    .await
    .problem(404, "not_found");
    app.send(&alice, &ch, &"x".repeat(40_000)).await;
    app.post(
        &format!("/channels/{}/messages", uuid::Uuid::now_v7()),
        Some(&alice.access),
        json!({"content": "hi"}),
    )
    .await
    .problem(404, "not_found");
    app.post(
        "/channels/nope/messages",
        Some(&alice.access),
        json!({"content": "hi"}),
    )
    .await
    .problem(400, "validation_failed");
    app.put(
        &format!("/messages/{}", uuid::Uuid::now_v7()),
        &alice.access,
        json!({"content": "x"}),
    )
    .await
    .problem(404, "not_found");
}

#[tokio::test]
async fn idempotent_send_under_concurrent_retries_writes_one_row() {
    let app = spawn_app().await;
    let (_, _, alice, _) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    let url = format!("{}/api/v1/channels/{ch}/messages", app.base);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (client, url, token) = (app.client.clone(), url.clone(), alice.access.clone());
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"content": "once", "client_id": "c-1"}))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap();
            (status, body["id"].as_str().unwrap().to_string())
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    assert_eq!(
        results.iter().filter(|(s, _)| *s == 201).count(),
        1,
        "{results:?}"
    );
    assert!(
        results.iter().all(|(s, _)| *s == 201 || *s == 200),
        "{results:?}"
    );
    assert_eq!(
        results
            .iter()
            .map(|(_, id)| id)
            .collect::<HashSet<_>>()
            .len(),
        1
    );
    let all = app
        .get(&format!("/channels/{ch}/messages"), &alice.access)
        .await
        .expect(200);
    assert_eq!(all["items"].as_array().unwrap().len(), 1);

    // The Idempotency-Key header works the same way.
    let send = |key: &'static str| {
        app.client
            .post(&url)
            .bearer_auth(&alice.access)
            .header("Idempotency-Key", key)
            .json(&json!({"content": "keyed"}))
            .send()
    };
    assert_eq!(send("k-1").await.unwrap().status().as_u16(), 201);
    assert_eq!(send("k-1").await.unwrap().status().as_u16(), 200);
    // Reusing a client_id in another conversation is a conflict, not a silent duplicate.
    let other = app.channel(&alice, "other", false).await;
    app.post(
        &format!("/channels/{other}/messages"),
        Some(&alice.access),
        json!({"content": "x", "client_id": "c-1"}),
    )
    .await
    .problem(409, "conflict");
}

#[tokio::test]
async fn concurrent_senders_get_gapless_strictly_increasing_seqs() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let ch = app.channel(&alice, "busy", false).await;
    app.join(&bob, &ch).await;
    let url = format!("{}/api/v1/channels/{ch}/messages", app.base);
    let per_task = 4;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let token = if i % 2 == 0 {
            alice.access.clone()
        } else {
            bob.access.clone()
        };
        let (client, url) = (app.client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for j in 0..per_task {
                let r = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"content": format!("m {i} {j}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 201);
                let body: serde_json::Value = r.json().await.unwrap();
                seqs.push(body["seq"].as_i64().unwrap());
            }
            // Each sender sees its own messages in increasing order.
            assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let expected: Vec<i64> = (1..=(64 * per_task) as i64).collect();
    assert_eq!(all, expected, "seqs are 1..N with no gaps or duplicates");
    let channel = app
        .get(&format!("/channels/{ch}"), &alice.access)
        .await
        .expect(200);
    assert_eq!(channel["last_seq"], 64 * per_task);
}

#[tokio::test]
async fn unread_and_mention_counts_follow_read_markers() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    app.join(&bob, &ch).await;
    app.send(&alice, &ch, "hello everyone").await;
    app.send(&alice, &ch, "@bob can you look?").await;
    let m3 = app.send(&alice, &ch, "@channel standup in 5").await;
    assert_eq!(m3["mentions"]["channel"], true);
    app.send(&bob, &ch, "my own message does not count").await;
    app.send(&alice, &ch, "`@bob` in code is not a mention")
        .await;

    let view = app
        .get(&format!("/channels/{ch}"), &bob.access)
        .await
        .expect(200);
    assert_eq!(
        (
            view["unread_count"].as_u64(),
            view["mention_count"].as_u64()
        ),
        (Some(4), Some(2))
    );
    let second = app
        .get(
            &format!("/channels/{ch}/messages?after=1&limit=1"),
            &bob.access,
        )
        .await
        .expect(200);
    assert_eq!(
        second["items"][0]["mentions"]["user_ids"],
        json!([bob.user_id])
    );

    let read = app
        .post(
            &format!("/channels/{ch}/read"),
            Some(&bob.access),
            json!({"seq": 2}),
        )
        .await
        .expect(200);
    assert_eq!(
        read,
        json!({"last_read_seq": 2, "unread_count": 2, "mention_count": 1})
    );
    // Never backwards.
    let read = app
        .post(
            &format!("/channels/{ch}/read"),
            Some(&bob.access),
            json!({"seq": 1}),
        )
        .await
        .expect(200);
    assert_eq!(read["last_read_seq"], 2);
    // Clamped to the last message.
    let read = app
        .post(
            &format!("/channels/{ch}/read"),
            Some(&bob.access),
            json!({"seq": 999}),
        )
        .await
        .expect(200);
    assert_eq!(
        read,
        json!({"last_read_seq": 5, "unread_count": 0, "mention_count": 0})
    );
    app.post(
        &format!("/channels/{ch}/read"),
        Some(&bob.access),
        json!({"seq": -1}),
    )
    .await
    .problem(400, "validation_failed");
    // Alice's own messages never count for her.
    let alice_view = app
        .get(&format!("/channels/{ch}"), &alice.access)
        .await
        .expect(200);
    assert_eq!(alice_view["unread_count"], 1);
}

#[tokio::test]
async fn conversations_are_ordered_by_last_activity() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let a = app.channel(&alice, "aaa", false).await;
    let b = app.channel(&alice, "bbb", false).await;
    app.join(&bob, &a).await;
    app.join(&bob, &b).await;
    let dm = app
        .post(
            "/dms",
            Some(&alice.access),
            json!({"participant_ids": [bob.user_id]}),
        )
        .await
        .expect(201);
    let dm_id = dm["id"].as_str().unwrap().to_string();
    app.send(&alice, &b, "in b").await;
    app.send(&alice, &dm_id, "psst").await;
    app.send(&alice, &a, "in a").await;

    let convs = app.get("/conversations", &bob.access).await.expect(200);
    let order: Vec<&str> = convs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    // The workspace's #general, where nothing was said, comes last.
    let general = app.get("/channels", &bob.access).await.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "general")
        .map(|c| c["id"].as_str().unwrap().to_string())
        .unwrap();
    assert_eq!(
        order,
        [a.as_str(), dm_id.as_str(), b.as_str(), general.as_str()]
    );
    assert_eq!(convs["items"][0]["last_message"]["content"], "in a");
    assert_eq!(convs["items"][1]["kind"], "dm");
    assert_eq!(convs["items"][1]["unread_count"], 1);

    let page1 = app
        .get("/conversations?limit=2", &bob.access)
        .await
        .expect(200);
    assert_eq!(page1["items"].as_array().unwrap().len(), 2);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2 = app
        .get(
            &format!("/conversations?limit=2&cursor={cursor}"),
            &bob.access,
        )
        .await
        .expect(200);
    assert_eq!(page2["items"][0]["id"], b.as_str());
    assert!(page2["next_cursor"].is_null());
    app.get("/conversations?cursor=garbage", &bob.access)
        .await
        .problem(400, "validation_failed");
}

#[tokio::test]
async fn concurrent_senders_across_channels_get_gapless_seqs_per_channel() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let mut channels = Vec::new();
    for name in ["c1", "c2", "c3", "c4"] {
        let ch = app.channel(&alice, name, false).await;
        app.join(&bob, &ch).await;
        channels.push(ch);
    }
    let mut tasks = Vec::new();
    for i in 0..48usize {
        let token = if i % 2 == 0 {
            alice.access.clone()
        } else {
            bob.access.clone()
        };
        let (client, base, chans) = (app.client.clone(), app.base.clone(), channels.clone());
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for j in 0..5usize {
                let ch = &chans[(i + j) % chans.len()];
                let r = client
                    .post(format!("{base}/api/v1/channels/{ch}/messages"))
                    .bearer_auth(&token)
                    .json(
                        &json!({"content": format!("{i}/{j}"), "client_id": format!("x-{i}-{j}")}),
                    )
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 201);
                let m: serde_json::Value = r.json().await.unwrap();
                got.push((
                    m["channel_id"].as_str().unwrap().to_string(),
                    m["seq"].as_i64().unwrap(),
                ));
            }
            got
        }));
    }
    let mut per_channel: std::collections::HashMap<String, Vec<i64>> = Default::default();
    for t in tasks {
        for (ch, seq) in t.await.unwrap() {
            per_channel.entry(ch).or_default().push(seq);
        }
    }
    assert_eq!(per_channel.len(), 4);
    for (ch, mut seqs) in per_channel {
        seqs.sort();
        let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
        assert_eq!(seqs, expected, "channel {ch}");
        let view = app
            .get(&format!("/channels/{ch}"), &alice.access)
            .await
            .expect(200);
        assert_eq!(view["last_seq"], expected.len());
    }
}

#[tokio::test]
async fn concurrent_retries_with_one_idempotency_key_write_one_message() {
    let app = spawn_app().await;
    let (_, _, alice, _) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    let url = format!("{}/api/v1/channels/{ch}/messages", app.base);
    let results = crate::helpers::concurrently(20, |_| {
        app.client
            .post(&url)
            .bearer_auth(&alice.access)
            .header("Idempotency-Key", "retry-me")
            .json(&json!({"content": "once"}))
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
    let ids: HashSet<&str> = results
        .iter()
        .map(|(_, b)| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1);
    let all = app
        .get(&format!("/channels/{ch}/messages"), &alice.access)
        .await
        .expect(200);
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    assert_eq!(all["items"][0]["client_id"], "retry-me");
    let channel = app
        .get(&format!("/channels/{ch}"), &alice.access)
        .await
        .expect(200);
    assert_eq!(channel["last_seq"], 1, "no sequence number was spent");
}
