//! Reports and the moderation queue: one open report per reporter, dismiss and delete, admins
//! deleting in any conversation, `moderation.action` and exactly one audit row per action.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn queue(app: &TestApp, token: &str) -> Vec<Value> {
    app.get("/admin/moderation/queue", token).await.expect(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn reports_queue_up_once_per_reporter_and_a_dismissal_keeps_the_message() {
    let app = spawn_app().await;
    let (owner, ws, alice, bob) = app.team().await;
    let carol = app.member(&owner, &ws, "carol").await;
    let channel = app.channel(&alice, "lounge", false).await;
    app.join(&bob, &channel).await;
    app.join(&carol, &channel).await;
    let rude = app.send(&alice, &channel, "something rude").await;
    let fine = app.send(&alice, &channel, "something fine").await;
    let report = |who: &str, id: &Value, reason: &str| {
        let (path, body) = (
            format!("/messages/{}/report", id.as_str().unwrap()),
            json!({ "reason": reason }),
        );
        let who = who.to_string();
        let app = &app;
        async move { app.post(&path, Some(&who), body).await }
    };
    let first = report(&bob.access, &rude["id"], "insulting")
        .await
        .expect(201);
    assert_eq!(first["message_id"], rude["id"]);
    report(&bob.access, &rude["id"], "still insulting")
        .await
        .problem(409, "conflict");
    report(&carol.access, &rude["id"], "rude").await.expect(201);
    report(&carol.access, &fine["id"], "   ")
        .await
        .problem(400, "validation_failed");
    // Someone who cannot read the conversation cannot report in it.
    let private = app.channel(&alice, "secret", true).await;
    let hidden = app.send(&alice, &private, "between us").await;
    let refused = report(&bob.access, &hidden["id"], "curious").await;
    assert!(
        [403, 404].contains(&refused.status.as_u16()),
        "{}",
        refused.body
    );

    let entries = queue(&app, &owner.access).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert_eq!(entry["message_id"], rude["id"]);
    assert_eq!(entry["content"], "something rude");
    assert_eq!(entry["report_count"], 2);
    assert_eq!(entry["author"]["username"], "alice");
    assert_eq!(entry["channel"]["name"], "lounge");
    let reporters: Vec<&str> = entry["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reporter_id"].as_str().unwrap())
        .collect();
    assert_eq!(reporters, [bob.user_id.as_str(), carol.user_id.as_str()]);

    let resolve = format!(
        "/admin/moderation/queue/{}/resolve",
        rude["id"].as_str().unwrap()
    );
    let mut admin_ws = app.ws(&owner.access).await;
    app.post(&resolve, Some(&owner.access), json!({"action": "dismiss"}))
        .await
        .expect(204);
    let action = admin_ws.event("moderation.action").await;
    assert_eq!(action["data"]["action"], "reports_dismissed");
    assert_eq!(action["data"]["reports_resolved"], 2);
    assert!(queue(&app, &owner.access).await.is_empty());
    // Nothing left to resolve; the message stays; a new report opens a new entry.
    app.post(&resolve, Some(&owner.access), json!({"action": "dismiss"}))
        .await
        .problem(404, "not_found");
    let page = app
        .get(&format!("/channels/{channel}/messages"), &carol.access)
        .await
        .expect(200);
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == rude["id"])
    );
    report(&bob.access, &rude["id"], "again").await.expect(201);
    assert_eq!(queue(&app, &owner.access).await.len(), 1);

    let audit = app.audit(&owner, "moderation.reports_dismissed").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["actor_id"], owner.user_id.as_str());
    assert_eq!(audit[0]["target_id"], rude["id"]);
    assert_eq!(audit[0]["details"]["reports_resolved"], 2);
}

#[tokio::test]
async fn deleting_from_the_queue_removes_the_message_for_everyone() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let channel = app.channel(&alice, "lounge", false).await;
    app.join(&bob, &channel).await;
    let spam = app.send(&alice, &channel, "buy cheap watches").await;
    let id = spam["id"].as_str().unwrap();
    app.post(
        &format!("/messages/{id}/report"),
        Some(&bob.access),
        json!({"reason": "spam"}),
    )
    .await
    .expect(201);
    let mut bob_ws = app.ws(&bob.access).await;
    bob_ws.subscribe(&channel).await;
    app.post(
        &format!("/admin/moderation/queue/{id}/resolve"),
        Some(&owner.access),
        json!({"action": "delete"}),
    )
    .await
    .expect(204);
    let gone = bob_ws.event("message.deleted").await;
    assert_eq!(gone["data"]["id"], id);
    assert_eq!(gone["data"]["deleted_by"], owner.user_id.as_str());
    let page = app
        .get(&format!("/channels/{channel}/messages"), &bob.access)
        .await
        .expect(200);
    assert!(
        !page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == id && m["content"] == "buy cheap watches")
    );
    assert!(queue(&app, &owner.access).await.is_empty());
    let audit = app.audit(&owner, "moderation.message_deleted").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["target_id"], id);
    assert_eq!(audit[0]["details"]["author_id"], alice.user_id.as_str());
}

#[tokio::test]
async fn admins_delete_any_message_even_in_a_dm_and_members_cannot() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let dm = app
        .post(
            "/dms",
            Some(&alice.access),
            json!({"participant_ids": [bob.user_id]}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let threat = app.send(&alice, &dm, "a threat").await;
    let id = threat["id"].as_str().unwrap();
    // Bob reports it; the admin, who is not in the DM, sees it in the queue and deletes it.
    app.post(
        &format!("/messages/{id}/report"),
        Some(&bob.access),
        json!({"reason": "threatening me"}),
    )
    .await
    .expect(201);
    let entries = queue(&app, &owner.access).await;
    assert_eq!(entries[0]["channel"]["kind"], "dm");
    app.delete(&format!("/admin/messages/{id}"), &bob.access)
        .await
        .problem(403, "forbidden");
    app.delete(&format!("/admin/messages/{id}"), &owner.access)
        .await
        .expect(204);
    let page = app
        .get(&format!("/channels/{dm}/messages"), &bob.access)
        .await
        .expect(200);
    assert!(
        !page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["content"] == "a threat")
    );
    assert!(queue(&app, &owner.access).await.is_empty());
    // Again: nothing changes, nothing more is audited.
    app.delete(&format!("/admin/messages/{id}"), &owner.access)
        .await
        .expect(204);
    app.delete(
        &format!("/admin/messages/{}", uuid::Uuid::now_v7()),
        &owner.access,
    )
    .await
    .problem(404, "not_found");
    assert_eq!(
        app.audit(&owner, "moderation.message_deleted").await.len(),
        1
    );
}

#[tokio::test]
async fn the_queue_pages_through_every_reported_message_once_longest_waiting_first() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let channel = app.channel(&alice, "lounge", false).await;
    app.join(&bob, &channel).await;
    let mut reported = Vec::new();
    for n in 0..5 {
        let m = app.send(&alice, &channel, &format!("message {n}")).await;
        let id = m["id"].as_str().unwrap().to_string();
        app.post(
            &format!("/messages/{id}/report"),
            Some(&bob.access),
            json!({"reason": "spam"}),
        )
        .await
        .expect(201);
        reported.push(id);
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..10 {
        let page = app
            .get(
                &format!("/admin/moderation/queue?limit=2{cursor}"),
                &owner.access,
            )
            .await
            .expect(200);
        for e in page["items"].as_array().unwrap() {
            seen.push(e["message_id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, reported);
    app.get("/admin/moderation/queue?cursor=nope", &owner.access)
        .await
        .problem(400, "validation_failed");
}

#[tokio::test]
async fn moderation_actions_reach_every_admin_and_no_member() {
    let app = spawn_app().await;
    let (owner, ws, alice, bob) = app.team().await;
    let adele = app.member(&owner, &ws, "adele").await;
    app.post(
        &format!("/admin/users/{}/role", adele.user_id),
        Some(&owner.access),
        json!({"role": "admin"}),
    )
    .await
    .expect(200);
    let adele = app.login("adele", crate::helpers::PASSWORD).await;
    let channel = app.channel(&alice, "lounge", false).await;
    app.join(&bob, &channel).await;
    let m = app.send(&alice, &channel, "rude").await;
    let id = m["id"].as_str().unwrap();
    app.post(
        &format!("/messages/{id}/report"),
        Some(&bob.access),
        json!({"reason": "rude"}),
    )
    .await
    .expect(201);
    let mut adele_ws = app.ws(&adele.access).await;
    let mut bob_ws = app.ws(&bob.access).await;
    bob_ws.subscribe(&channel).await;
    app.post(
        &format!("/admin/moderation/queue/{id}/resolve"),
        Some(&owner.access),
        json!({"action": "dismiss"}),
    )
    .await
    .expect(204);
    // Another admin hears of it (so every open console's queue stays current)…
    let action = adele_ws.event("moderation.action").await;
    assert_eq!(action["data"]["message_id"], id);
    assert_eq!(action["actor_id"], owner.user_id.as_str());
    // …and, the hub having delivered it, nothing of it is queued for a member.
    let frames = bob_ws.drain().await;
    assert!(
        frames
            .iter()
            .all(|f| f["event"]["type"] != "moderation.action"),
        "{frames:?}"
    );
}

#[tokio::test]
async fn the_queue_shows_a_reported_message_in_its_place_and_nothing_unreported() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    // A private channel the admin is not in: the context still shows (admins review reports).
    let channel = app.channel(&alice, "backroom", true).await;
    app.post(
        &format!("/channels/{channel}/members"),
        Some(&alice.access),
        json!({"user_id": bob.user_id}),
    )
    .await
    .expect(204);
    let mut ids = Vec::new();
    for n in 0..8 {
        let m = app.send(&alice, &channel, &format!("line {n}")).await;
        ids.push(m["id"].as_str().unwrap().to_string());
    }
    // A deleted neighbour is left out; replies are not part of the top level.
    app.delete(&format!("/messages/{}", ids[3]), &alice.access)
        .await
        .expect(204);
    let reply = app
        .post(
            &format!("/messages/{}/threads", ids[4]),
            Some(&alice.access),
            json!({"content": "a reply"}),
        )
        .await
        .expect(201);
    let context = |id: String, around: u32| {
        let app = &app;
        let token = owner.access.clone();
        async move {
            app.get(
                &format!("/admin/moderation/queue/{id}/context?around={around}"),
                &token,
            )
            .await
        }
    };
    let contents = |v: Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap().to_string())
            .collect()
    };
    // Nobody reported line 4 yet: no window into the conversation.
    context(ids[4].clone(), 2).await.problem(404, "not_found");
    for id in [&ids[4], reply["id"].as_str().unwrap()] {
        app.post(
            &format!("/messages/{id}/report"),
            Some(&bob.access),
            json!({"reason": "rude"}),
        )
        .await
        .expect(201);
    }
    assert_eq!(
        contents(context(ids[4].clone(), 2).await.expect(200)),
        ["line 1", "line 2", "line 4", "line 5", "line 6"]
    );
    // A reply is shown in its thread, the root first.
    assert_eq!(
        contents(
            context(reply["id"].as_str().unwrap().to_string(), 3)
                .await
                .expect(200)
        ),
        ["line 4", "a reply"]
    );
    context(ids[4].clone(), 11)
        .await
        .problem(400, "validation_failed");
    app.get(
        &format!("/admin/moderation/queue/{}/context", ids[4]),
        &bob.access,
    )
    .await
    .problem(403, "forbidden");
}
