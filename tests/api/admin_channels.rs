//! The admin console's channels: the list with member and message counts, and admins renaming,
//! archiving and unarchiving channels they are not in (a private one included).

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn admins_list_every_channel_with_counts_and_bring_an_archived_one_back() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let secret = app.channel(&alice, "secret-plans", true).await;
    let open = app.channel(&bob, "open-lounge", false).await;
    app.join(&alice, &open).await;
    for n in 0..3 {
        app.send(&alice, &secret, &format!("plan {n}")).await;
    }
    app.send(&bob, &open, "hello").await;
    // A DM is never listed.
    app.post(
        "/dms",
        Some(&alice.access),
        json!({"participant_ids": [bob.user_id]}),
    )
    .await
    .expect(201);

    let page = app
        .get("/admin/channels?limit=200", &owner.access)
        .await
        .expect(200);
    let rows = page["items"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|c| c["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "by name");
    assert!(names.contains(&"general"), "{names:?}");
    let row = |name: &str| rows.iter().find(|c| c["name"] == name).unwrap().clone();
    let plans = row("secret-plans");
    assert_eq!(plans["kind"], "private");
    assert_eq!(plans["member_count"], 1);
    assert_eq!(plans["messages"], 3);
    assert_eq!(row("open-lounge")["member_count"], 2);
    assert!(
        rows.iter()
            .all(|c| c["kind"] == "public" || c["kind"] == "private")
    );
    // Search and filters.
    let found = app
        .get("/admin/channels?query=PLANS&kind=private", &owner.access)
        .await
        .expect(200);
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    // Pages of one walk the same list.
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/admin/channels?limit=1&cursor={c}"),
            None => "/admin/channels?limit=1".to_string(),
        };
        let page = app.get(&path, &owner.access).await.expect(200);
        walked.push(page["items"][0]["name"].as_str().unwrap().to_string());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(walked, names);

    // The admin is not in the private channel, yet renames and archives it as a moderator.
    app.put(
        &format!("/channels/{secret}"),
        &owner.access,
        json!({"name": "old-plans"}),
    )
    .await
    .expect(200);
    app.delete(&format!("/channels/{secret}"), &owner.access)
        .await
        .expect(204);
    let archived = app
        .get("/admin/channels?archived=archived", &owner.access)
        .await
        .expect(200);
    assert_eq!(archived["items"][0]["name"], "old-plans");
    app.post(
        &format!("/channels/{secret}/messages"),
        Some(&alice.access),
        json!({"content": "still here?"}),
    )
    .await
    .problem(409, "channel_archived");

    let mut alice_ws = app.ws(&alice.access).await;
    alice_ws.subscribe(&secret).await;
    // Members cannot unarchive; admins can, and members hear of it.
    app.post(
        &format!("/admin/channels/{secret}/unarchive"),
        Some(&alice.access),
        json!({}),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &format!("/admin/channels/{secret}/unarchive"),
        Some(&owner.access),
        json!({}),
    )
    .await
    .expect(204);
    let updated = alice_ws.event("channel.updated").await;
    assert_eq!(updated["data"]["id"], secret.as_str());
    assert!(updated["data"]["archived_at"].is_null(), "{updated}");
    app.send(&alice, &secret, "back in business").await;
    // Unarchiving a live channel changes nothing.
    app.post(
        &format!("/admin/channels/{secret}/unarchive"),
        Some(&owner.access),
        json!({}),
    )
    .await
    .expect(204);
    app.get("/admin/channels", &alice.access)
        .await
        .problem(403, "forbidden");
}

#[tokio::test]
async fn admins_see_every_workspace_with_its_members_channels_and_messages() {
    let app = spawn_app().await;
    let (owner, _, alice, _) = app.team().await;
    let second = app
        .post(
            "/workspaces",
            Some(&owner.access),
            json!({"name": "Second"}),
        )
        .await
        .expect(201);
    let before = app
        .get("/admin/workspaces", &owner.access)
        .await
        .expect(200);
    let first = before["items"][0].clone();
    let channel = app.channel(&alice, "numbers", false).await;
    for n in 0..4 {
        app.send(&alice, &channel, &format!("n {n}")).await;
    }
    let after = app
        .get("/admin/workspaces", &owner.access)
        .await
        .expect(200);
    let items = after["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{after}");
    assert_eq!(items[0]["id"], first["id"], "oldest first");
    assert_eq!(items[0]["members"], 3, "owner, alice, bob: {after}");
    assert_eq!(
        items[0]["channels"].as_i64().unwrap(),
        first["channels"].as_i64().unwrap() + 1
    );
    assert_eq!(
        items[0]["messages"].as_i64().unwrap(),
        first["messages"].as_i64().unwrap() + 4
    );
    assert_eq!(items[1]["id"], second["id"]);
    assert_eq!(items[1]["members"], 1);
    assert_eq!(items[1]["channels"], 1, "its #general");
    app.get("/admin/workspaces", &alice.access)
        .await
        .problem(403, "forbidden");
}

#[tokio::test]
async fn a_public_channel_made_private_stops_reaching_non_members_at_once() {
    let app = spawn_app().await;
    let (owner, ws, alice, bob) = app.team().await;
    let town = app.channel(&alice, "town", false).await;
    let general = app.get("/channels?limit=50", &bob.access).await.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "general")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Bob reads the public channel without being in it, live.
    let mut bob_ws = app.ws(&bob.access).await;
    bob_ws.subscribe(&town).await;
    bob_ws.subscribe(&general).await;
    let mut alice_ws = app.ws(&alice.access).await;
    alice_ws.subscribe(&town).await;
    let kind = format!("/admin/channels/{town}/kind");

    app.put(&kind, &alice.access, json!({"kind": "private"}))
        .await
        .problem(403, "forbidden");
    app.put(&kind, &owner.access, json!({"kind": "private"}))
        .await
        .expect(204);
    let updated = alice_ws.event("channel.updated").await;
    assert_eq!(updated["data"]["kind"], "private");
    // The same kind again changes nothing.
    app.put(&kind, &owner.access, json!({"kind": "private"}))
        .await
        .expect(204);

    app.send(&alice, &town, "members only now").await;
    app.send(&alice, &general, "everyone").await;
    // Events reach a connection in order: had bob still listened to #town, its message would
    // come first.
    let next = bob_ws.event("message.created").await;
    assert_eq!(next["data"]["content"], "everyone", "{next}");
    assert_eq!(
        alice_ws.event("message.created").await["data"]["content"],
        "members only now"
    );
    app.get(&format!("/channels/{town}/messages"), &bob.access)
        .await
        .problem(403, "forbidden");

    // Public again: every workspace member reads it.
    app.put(&kind, &owner.access, json!({"kind": "public"}))
        .await
        .expect(204);
    app.get(&format!("/channels/{town}/messages"), &bob.access)
        .await
        .expect(200);
    let audit = app.audit(&owner, "channel.kind_changed").await;
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0]["details"]["to"], "public");
    assert_eq!(audit[1]["details"]["from"], "public");

    // A DM is neither.
    let carol = app.member(&owner, &ws, "carol").await;
    let dm = app
        .post(
            "/dms",
            Some(&alice.access),
            json!({"participant_ids": [carol.user_id]}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.put(
        &format!("/admin/channels/{dm}/kind"),
        &owner.access,
        json!({"kind": "public"}),
    )
    .await
    .problem(409, "conflict");
}
