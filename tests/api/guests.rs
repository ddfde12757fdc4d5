//! Guests see only the conversations they were added to: no browsing or joining public
//! channels, no creating channels or inviting, and they find and message only the people they
//! share a conversation with. Every row of the permission table, as the guest.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, spawn_app};

/// Make `user` a guest who is in no conversation.
async fn demote_to_guest(app: &TestApp, owner: &Session, user: &Session) {
    app.post(
        &format!("/admin/users/{}/role", user.user_id),
        Some(&owner.access),
        json!({"role": "guest"}),
    )
    .await
    .expect(200);
    let convs = app.get("/conversations", &user.access).await.expect(200);
    for c in convs["items"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        app.post(
            &format!("/channels/{id}/leave"),
            Some(&user.access),
            json!({}),
        )
        .await
        .expect(204);
    }
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["name"]
                .as_str()
                .or(c["username"].as_str())
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn guests_reach_only_what_they_were_added_to() {
    let app = spawn_app().await;
    let (owner, ws, alice, bob) = app.team().await;
    let gus = app.member(&owner, &ws, "gus").await;
    demote_to_guest(&app, &owner, &gus).await;
    let public = app.channel(&alice, "lobby", false).await;
    app.send(&alice, &public, "hello all").await;
    let shared = app.channel(&alice, "project", false).await;
    app.post(
        &format!("/channels/{shared}/members"),
        Some(&alice.access),
        json!({"user_id": gus.user_id}),
    )
    .await
    .expect(204);

    // The channel list shows only what gus was added to.
    let listed = app.get("/channels", &gus.access).await.expect(200);
    assert_eq!(names(&listed), ["project"]);

    let (a, b) = (&alice.user_id, &bob.user_id);
    let rows: Vec<(Method, String, Option<Value>, u16)> = vec![
        (Method::GET, format!("/channels/{public}"), None, 403),
        (
            Method::GET,
            format!("/channels/{public}/messages"),
            None,
            403,
        ),
        (
            Method::GET,
            format!("/channels/{public}/members"),
            None,
            403,
        ),
        (
            Method::POST,
            format!("/channels/{public}/join"),
            Some(json!({})),
            403,
        ),
        (
            Method::POST,
            "/channels".into(),
            Some(json!({"name": "mine", "is_private": false})),
            403,
        ),
        (
            Method::POST,
            format!("/channels/{shared}/members"),
            Some(json!({"user_id": b})),
            403,
        ),
        (
            Method::POST,
            format!("/workspaces/{ws}/invites"),
            Some(json!({})),
            403,
        ),
        (Method::GET, format!("/users/{b}"), None, 404),
        (
            Method::POST,
            "/dms".into(),
            Some(json!({"participant_ids": [b]})),
            403,
        ),
        // What they were added to works.
        (Method::GET, format!("/channels/{shared}"), None, 200),
        (
            Method::POST,
            format!("/channels/{shared}/messages"),
            Some(json!({"content": "hi from a guest"})),
            201,
        ),
        (
            Method::POST,
            format!("/channels/{shared}/join"),
            Some(json!({})),
            200,
        ),
        (Method::GET, format!("/users/{a}"), None, 200),
        (
            Method::POST,
            "/dms".into(),
            Some(json!({"participant_ids": [a]})),
            201,
        ),
    ];
    for (method, path, body, status) in rows {
        let reply = app
            .call(method.clone(), &path, Some(&gus.access), body)
            .await;
        assert_eq!(
            reply.status.as_u16(),
            status,
            "{method} {path} as a guest: {}",
            reply.body
        );
    }

    // User search finds co-members only.
    let found = app.get("/users?query=", &gus.access).await.expect(200);
    let found = names(&found);
    assert!(found.contains(&"alice".to_string()), "{found:?}");
    assert!(!found.contains(&"bob".to_string()), "{found:?}");
    // A member still browses and joins public channels.
    app.get(&format!("/channels/{public}"), &bob.access)
        .await
        .expect(200);
}
