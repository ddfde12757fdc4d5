use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn public_channel_lifecycle() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    // (Not "general": every workspace starts with that one.)
    let created = app
        .post(
            "/channels",
            Some(&owner.access),
            json!({"name": "Announcements", "description": "All hands"}),
        )
        .await
        .expect(201);
    assert_eq!(created["name"], "announcements");
    assert_eq!(created["is_private"], false);
    assert_eq!(created["is_member"], true);
    assert_eq!(created["member_count"], 1);
    let id = created["id"].as_str().unwrap();

    for taken in ["announcements", "general"] {
        app.post("/channels", Some(&alice.access), json!({"name": taken}))
            .await
            .problem(409, "conflict");
    }
    for bad in [
        json!({"name": ""}),
        json!({"name": "has space"}),
        json!({"name": "x".repeat(81)}),
        json!({"name": ["general"]}),
    ] {
        app.post("/channels", Some(&alice.access), bad)
            .await
            .problem(400, "validation_failed");
    }

    // Bob sees it (public) without being a member; joining makes him one.
    let listed = app.get("/channels", &bob.access).await.expect(200);
    let entry = &listed["items"][0];
    assert_eq!(
        (entry["name"].as_str(), entry["is_member"].as_bool()),
        (Some("announcements"), Some(false))
    );
    app.get(&format!("/channels/{id}/messages"), &bob.access)
        .await
        .expect(200);
    app.join(&bob, id).await;
    app.join(&bob, id).await; // idempotent
    app.join(&alice, id).await;
    assert_eq!(
        app.get(&format!("/channels/{id}"), &bob.access)
            .await
            .expect(200)["member_count"],
        3
    );

    // Only owners/admins update or archive.
    app.put(
        &format!("/channels/{id}"),
        &alice.access,
        json!({"topic": "hi"}),
    )
    .await
    .problem(403, "forbidden");
    let updated = app
        .put(
            &format!("/channels/{id}"),
            &owner.access,
            json!({"name": "town-square", "topic": "Announcements"}),
        )
        .await
        .expect(200);
    assert_eq!(
        (updated["name"].as_str(), updated["topic"].as_str()),
        (Some("town-square"), Some("Announcements"))
    );
    app.delete(&format!("/channels/{id}"), &alice.access)
        .await
        .problem(403, "forbidden");

    app.send(&bob, id, "bye").await;
    app.post(
        &format!("/channels/{id}/leave"),
        Some(&bob.access),
        json!({}),
    )
    .await
    .expect(204);
    app.post(
        &format!("/channels/{id}/messages"),
        Some(&bob.access),
        json!({"content": "ghost"}),
    )
    .await
    .problem(403, "forbidden");
    assert_eq!(
        app.get(&format!("/channels/{id}"), &bob.access)
            .await
            .expect(200)["is_member"],
        false
    );

    app.send(&alice, id, "before the archive").await;
    app.delete(&format!("/channels/{id}"), &owner.access)
        .await
        .expect(204);
    app.post(
        &format!("/channels/{id}/messages"),
        Some(&alice.access),
        json!({"content": "hello?"}),
    )
    .await
    .problem(409, "channel_archived");
    app.post(
        &format!("/channels/{id}/join"),
        Some(&bob.access),
        json!({}),
    )
    .await
    .problem(409, "channel_archived");
    // Listed no more (only the workspace's #general is), unless archived ones are asked for.
    let listed = app.get("/channels", &alice.access).await.expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["items"][0]["name"], "general");
    let all = app
        .get("/channels?include_archived=true", &alice.access)
        .await
        .expect(200);
    assert_eq!(all["items"][1]["name"], "town-square", "{all}");
    assert!(all["items"][1]["archived_at"].is_string());
    // History stays readable.
    app.get(&format!("/channels/{id}/messages"), &alice.access)
        .await
        .expect(200);
}

#[tokio::test]
async fn private_channels_are_joined_by_invitation() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let id = app.channel(&alice, "secret", true).await;
    let names = |list: serde_json::Value| -> Vec<String> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    // Bob sees the workspace's #general, not the private channel.
    assert_eq!(
        names(app.get("/channels", &bob.access).await.expect(200)),
        ["general"]
    );
    app.get(&format!("/channels/{id}"), &bob.access)
        .await
        .problem(403, "forbidden");
    app.post(
        &format!("/channels/{id}/join"),
        Some(&bob.access),
        json!({}),
    )
    .await
    .problem(403, "forbidden");

    app.post(
        &format!("/channels/{id}/members"),
        Some(&alice.access),
        json!({"user_id": bob.user_id}),
    )
    .await
    .expect(204);
    assert_eq!(
        names(app.get("/channels", &bob.access).await.expect(200)),
        ["general", "secret"]
    );
    let members = app
        .get(&format!("/channels/{id}/members"), &bob.access)
        .await
        .expect(200);
    let names: Vec<&str> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(members["items"][0]["role"], "owner");

    // Bob (a plain member) cannot add people to a private channel or remove others.
    app.post(
        &format!("/channels/{id}/members"),
        Some(&bob.access),
        json!({"user_id": owner.user_id}),
    )
    .await
    .problem(403, "forbidden");
    app.delete(
        &format!("/channels/{id}/members/{}", alice.user_id),
        &bob.access,
    )
    .await
    .problem(403, "forbidden");
    // The server admin moderates without being a member.
    app.get(&format!("/channels/{id}/messages"), &owner.access)
        .await
        .expect(200);
    app.send(&bob, &id, "while a member").await;
    app.delete(
        &format!("/channels/{id}/members/{}", bob.user_id),
        &alice.access,
    )
    .await
    .expect(204);
    app.get(&format!("/channels/{id}/messages"), &bob.access)
        .await
        .problem(403, "forbidden");
    // Removal takes effect at once for posting too (no stale permission).
    app.post(
        &format!("/channels/{id}/messages"),
        Some(&bob.access),
        json!({"content": "still here?"}),
    )
    .await
    .problem(403, "forbidden");
    app.delete(
        &format!("/channels/{id}/members/{}", bob.user_id),
        &alice.access,
    )
    .await
    .problem(404, "not_found");
    app.post(
        &format!("/channels/{id}/members"),
        Some(&alice.access),
        json!({"user_id": uuid::Uuid::now_v7()}),
    )
    .await
    .problem(404, "not_found");
}

#[tokio::test]
async fn members_may_invite_to_public_channels_only() {
    let app = spawn_app().await;
    let (owner, ws, alice, bob) = app.team().await;
    let carol = app.member(&owner, &ws, "carol").await;
    let dave = app.member(&owner, &ws, "dave").await;
    let public = app.channel(&alice, "open", false).await;
    app.join(&bob, &public).await;
    // bob, a plain member, adds carol.
    app.post(
        &format!("/channels/{public}/members"),
        Some(&bob.access),
        json!({"user_id": carol.user_id}),
    )
    .await
    .expect(204);
    let members = app
        .get(&format!("/channels/{public}/members"), &carol.access)
        .await
        .expect(200);
    let names: Vec<&str> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    // Someone who is not in the channel cannot add others to it.
    app.post(
        &format!("/channels/{public}/members"),
        Some(&dave.access),
        json!({"user_id": owner.user_id}),
    )
    .await
    .problem(403, "forbidden");
    // Nor can a plain member of a private channel (see private_channels_are_joined_by_invitation).
    let private = app.channel(&alice, "closed", true).await;
    app.post(
        &format!("/channels/{private}/members"),
        Some(&alice.access),
        json!({"user_id": bob.user_id}),
    )
    .await
    .expect(204);
    app.post(
        &format!("/channels/{private}/members"),
        Some(&bob.access),
        json!({"user_id": carol.user_id}),
    )
    .await
    .problem(403, "forbidden");
}

#[tokio::test]
async fn descriptions_and_topics_are_bounded() {
    let app = spawn_app().await;
    let (_, _, alice, _) = app.team().await;
    app.post(
        "/channels",
        Some(&alice.access),
        json!({"name": "long", "description": "d".repeat(251)}),
    )
    .await
    .problem(400, "validation_failed");
    let ok = app
        .post(
            "/channels",
            Some(&alice.access),
            json!({"name": "long", "description": "d".repeat(250)}),
        )
        .await
        .expect(201);
    let id = ok["id"].as_str().unwrap();
    for body in [
        json!({"topic": "t".repeat(251)}),
        json!({"description": "d".repeat(251)}),
        json!({"name": "Not Valid"}),
        json!({"topic": ["x"]}),
        json!({"name": {"n": 1}}),
    ] {
        app.put(&format!("/channels/{id}"), &alice.access, body)
            .await
            .problem(400, "validation_failed");
    }
    let unchanged = app
        .get(&format!("/channels/{id}"), &alice.access)
        .await
        .expect(200);
    assert_eq!(unchanged["description"], "d".repeat(250));
    assert!(unchanged["topic"].is_null());
    app.put(
        &format!("/channels/{}", uuid::Uuid::now_v7()),
        &alice.access,
        json!({"topic": "x"}),
    )
    .await
    .problem(404, "not_found");
}
