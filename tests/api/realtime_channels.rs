//! Public channel lifecycle events reach every connected member of the workspace, subscribed or
//! not, so channel lists stay current; private channels stay invisible to outsiders.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn public_channel_lifecycle_reaches_the_whole_workspace_private_does_not() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let mut ws = app.ws(&alice.access).await;

    let secret = app.channel(&bob, "secret-plans", true).await;
    let launch = app.channel(&bob, "launch", false).await;
    app.put(
        &format!("/channels/{launch}"),
        &bob.access,
        json!({"topic": "Friday"}),
    )
    .await
    .expect(200);
    app.delete(&format!("/channels/{launch}"), &bob.access)
        .await
        .expect(204);

    // Events arrive in order: everything before the archive of `launch` is what alice saw.
    let mut seen: Vec<Value> = Vec::new();
    loop {
        let frame = ws.expect(|f| f["type"] == "event").await;
        let done = frame["event"]["type"] == "channel.archived";
        seen.push(frame["event"].clone());
        if done {
            break;
        }
    }
    let kinds: Vec<(&str, &str)> = seen
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or(""),
                e["channel_id"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("channel.created", launch.as_str()),
            ("channel.updated", launch.as_str()),
            ("channel.archived", launch.as_str()),
        ],
        "alice, not a member of either channel, sees the public one's lifecycle only"
    );
    assert!(!seen.iter().any(|e| e["channel_id"] == secret.as_str()));
    assert_eq!(seen[0]["data"]["name"], "launch");
}

/// A server admin may watch a private channel without being a member; once demoted, the
/// connection is closed (4003) and a new one may no longer subscribe.
#[tokio::test]
async fn a_demoted_admin_loses_private_channels_they_watched() {
    let app = crate::helpers::spawn_with(|c| {
        c.realtime.ping_interval.0 = std::time::Duration::from_millis(200);
    })
    .await;
    let (owner, _, alice, bob) = app.team().await;
    let private = app.channel(&bob, "board", true).await;
    let role_path = format!("/admin/users/{}/role", alice.user_id);
    let set_role =
        |role: &'static str| app.post(&role_path, Some(&owner.access), json!({ "role": role }));
    set_role("admin").await.expect(200);
    let mut ws = app.ws(&alice.access).await;
    ws.subscribe(&private).await;

    set_role("member").await.expect(200);
    assert_eq!(ws.closed().await, crate::helpers::WsEnd::Code(4003));
    let mut again = app.ws(&alice.access).await;
    again
        .send(json!({"type": "subscribe", "channel_id": private}))
        .await;
    let refused = again.expect(|f| f["type"] == "error").await;
    assert_eq!(refused["code"], "forbidden");
}

/// Joining a workspace while connected: its public channels' lifecycle arrives on the open
/// socket, without a reconnect; nothing of it arrived before the join.
#[tokio::test]
async fn a_workspace_joined_while_connected_is_heard_without_reconnecting() {
    let app = spawn_app().await;
    let (owner, _, alice, _) = app.team().await;
    let mut ws = app.ws(&alice.access).await;
    let beta = app
        .post("/workspaces", Some(&owner.access), json!({"name": "Beta"}))
        .await
        .expect(201);
    let beta = beta["id"].as_str().unwrap();
    let create = |name: &'static str| {
        app.post(
            "/channels",
            Some(&owner.access),
            json!({"name": name, "is_private": false, "workspace_id": beta}),
        )
    };
    let before = create("before-joining").await.expect(201);
    app.invite_into(&owner, beta, &alice).await;
    let after = create("after-joining").await.expect(201);
    let created = ws
        .expect(|f| f["type"] == "event" && f["event"]["type"] == "channel.created")
        .await;
    assert_eq!(created["event"]["channel_id"], after["id"], "{created}");
    assert_ne!(created["event"]["channel_id"], before["id"]);
}

/// `subscribe_all`: one frame follows every conversation the user is in (the sidebar's live
/// counts), and nothing else.
#[tokio::test]
async fn subscribe_all_follows_every_conversation_of_the_user_and_no_other() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let joined = app.channel(&bob, "joined", false).await;
    app.join(&alice, &joined).await;
    let private = app.channel(&bob, "private", true).await;
    app.post(
        &format!("/channels/{private}/members"),
        Some(&bob.access),
        json!({"user_id": alice.user_id}),
    )
    .await
    .expect(204);
    let elsewhere = app.channel(&bob, "elsewhere", false).await;

    let mut ws = app.ws(&alice.access).await;
    ws.send(json!({"type": "subscribe_all"})).await;
    let answer = ws.expect(|f| f["type"] == "subscribed_all").await;
    // #general, #joined and #private.
    assert_eq!(answer["count"], 3, "{answer}");

    app.send(&bob, &elsewhere, "not for alice").await;
    for (channel, text) in [(&joined, "in joined"), (&private, "in private")] {
        app.send(&bob, channel, text).await;
        let frame = ws
            .expect(|f| f["type"] == "event" && f["event"]["type"] == "message.created")
            .await;
        assert_eq!(frame["event"]["data"]["content"], text, "{frame}");
    }
    // Once per connection: asking again answers the same, without another subscription.
    ws.send(json!({"type": "subscribe_all"})).await;
    let again = ws.expect(|f| f["type"] == "subscribed_all").await;
    assert_eq!(again["count"], 3);
}
