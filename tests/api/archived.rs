//! Archived channels are read-only: every route that changes the conversation answers
//! 409 `channel_archived`, for everyone, and changes nothing; reading still works.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_write_route_refuses_an_archived_channel() {
    let app = spawn_app().await;
    let (owner, ws, alice, bob) = app.team().await;
    let carol = app.member(&owner, &ws, "carol").await;
    let ch = app.channel(&alice, "old-project", false).await;
    app.join(&bob, &ch).await;
    let m = app.send(&bob, &ch, "bob's message").await;
    let m = m["id"].as_str().unwrap().to_string();
    let pinned = app.send(&bob, &ch, "pinned").await;
    let pinned = pinned["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/messages/{pinned}/pin"),
        Some(&bob.access),
        json!({}),
    )
    .await
    .expect(200);
    let reaction = app
        .post(
            &format!("/messages/{m}/reactions"),
            Some(&bob.access),
            json!({"emoji": "wave"}),
        )
        .await
        .expect(201);
    let reaction = reaction["id"].as_str().unwrap().to_string();
    app.delete(&format!("/channels/{ch}"), &alice.access)
        .await
        .expect(204);
    let before = app
        .get(&format!("/channels/{ch}/messages"), &bob.access)
        .await
        .expect(200);

    let (a, b, o) = (&alice.access, &bob.access, &owner.access);
    let table: Vec<(&str, Method, String, Option<Value>)> = vec![
        (
            b,
            Method::POST,
            format!("/channels/{ch}/messages"),
            Some(json!({"content": "x"})),
        ),
        (
            b,
            Method::POST,
            format!("/channels/{ch}/messages"),
            Some(json!({"content": "x", "thread_root_id": m})),
        ),
        (
            b,
            Method::POST,
            format!("/messages/{m}/threads"),
            Some(json!({"content": "x"})),
        ),
        (
            b,
            Method::PUT,
            format!("/messages/{m}"),
            Some(json!({"content": "edited"})),
        ),
        (b, Method::DELETE, format!("/messages/{m}"), None),
        (a, Method::DELETE, format!("/messages/{m}"), None),
        (o, Method::DELETE, format!("/messages/{m}"), None),
        (
            b,
            Method::POST,
            format!("/messages/{m}/reactions"),
            Some(json!({"emoji": "tada"})),
        ),
        (b, Method::DELETE, format!("/reactions/{reaction}"), None),
        (
            b,
            Method::POST,
            format!("/messages/{m}/pin"),
            Some(json!({})),
        ),
        (b, Method::DELETE, format!("/messages/{pinned}/pin"), None),
        (
            a,
            Method::POST,
            format!("/channels/{ch}/members"),
            Some(json!({"user_id": carol.user_id})),
        ),
        (
            &carol.access,
            Method::POST,
            format!("/channels/{ch}/join"),
            Some(json!({})),
        ),
        (
            a,
            Method::PUT,
            format!("/channels/{ch}"),
            Some(json!({"topic": "x"})),
        ),
    ];
    for (token, method, path, body) in table {
        let reply = app.call(method.clone(), &path, Some(token), body).await;
        assert_eq!(
            reply.status.as_u16(),
            409,
            "{method} {path}: {}",
            reply.body
        );
        assert_eq!(reply.body["code"], "channel_archived", "{method} {path}");
    }

    // Nothing changed, and reading still works.
    let after = app
        .get(&format!("/channels/{ch}/messages"), &bob.access)
        .await
        .expect(200);
    assert_eq!(before, after);
    let pins = app
        .get(&format!("/channels/{ch}/pins"), &bob.access)
        .await
        .expect(200);
    assert_eq!(pins["items"][0]["id"], pinned.as_str());
    app.get(&format!("/messages/{m}/thread"), &bob.access)
        .await
        .expect(200);
    app.get(&format!("/channels/{ch}/members"), &bob.access)
        .await
        .expect(200);
}
