use std::collections::HashSet;

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn same_participants_same_conversation() {
    let app = spawn_app().await;
    let (owner, ws, alice, bob) = app.team().await;
    let first = app
        .post(
            "/dms",
            Some(&alice.access),
            json!({"participant_ids": [bob.user_id]}),
        )
        .await
        .expect(201);
    assert_eq!(first["kind"], "dm");
    let mut expected = vec![alice.user_id.clone(), bob.user_id.clone()];
    expected.sort();
    assert_eq!(first["participant_ids"], json!(expected));
    let again = app
        .post(
            "/dms",
            Some(&bob.access),
            json!({"participant_ids": [alice.user_id, bob.user_id]}),
        )
        .await
        .expect(200);
    assert_eq!(again["id"], first["id"]);
    let dm = first["id"].as_str().unwrap();

    // Messages work; outsiders get 403.
    app.send(&alice, dm, "hi bob").await;
    app.get(&format!("/channels/{dm}/messages"), &owner.access)
        .await
        .problem(403, "forbidden");
    app.post(
        &format!("/channels/{dm}/messages"),
        Some(&owner.access),
        json!({"content": "x"}),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &format!("/channels/{dm}/join"),
        Some(&owner.access),
        json!({}),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &format!("/channels/{dm}/leave"),
        Some(&bob.access),
        json!({}),
    )
    .await
    .problem(409, "conflict");
    let listed = app.get("/dms", &bob.access).await.expect(200);
    assert_eq!(listed["items"][0]["id"], dm);
    assert_eq!(listed["items"][0]["unread_count"], 1);

    // Group DMs: up to 8 people.
    let carol = app.member(&owner, &ws, "carol").await;
    let group = app
        .post(
            "/dms",
            Some(&alice.access),
            json!({"participant_ids": [bob.user_id, carol.user_id]}),
        )
        .await
        .expect(201);
    assert_eq!(group["kind"], "group_dm");
    let too_many: Vec<String> = (0..8).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    app.post(
        "/dms",
        Some(&alice.access),
        json!({"participant_ids": too_many}),
    )
    .await
    .problem(404, "not_found");
    app.post(
        "/dms",
        Some(&alice.access),
        json!({"participant_ids": [uuid::Uuid::now_v7()]}),
    )
    .await
    .problem(404, "not_found");
}

#[tokio::test]
async fn racing_dm_creation_yields_one_conversation() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let (client, base) = (app.client.clone(), app.base.clone());
        let (token, other) = if i % 2 == 0 {
            (alice.access.clone(), bob.user_id.clone())
        } else {
            (bob.access.clone(), alice.user_id.clone())
        };
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(format!("{base}/api/v1/dms"))
                .bearer_auth(token)
                .json(&json!({"participant_ids": [other]}))
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
    assert_eq!(
        results
            .iter()
            .map(|(_, id)| id)
            .collect::<HashSet<_>>()
            .len(),
        1,
        "{results:?}"
    );
}

#[tokio::test]
async fn a_group_dm_has_at_most_eight_people() {
    let app = spawn_app().await;
    let (owner, ws, alice, bob) = app.team().await;
    let mut others = vec![bob.user_id.clone(), owner.user_id.clone()];
    for name in ["carol", "dave", "erin", "frank", "grace", "heidi"] {
        others.push(app.member(&owner, &ws, name).await.user_id);
    }
    assert_eq!(others.len(), 8);
    // Alice and seven others: eight people.
    let eight = app
        .post(
            "/dms",
            Some(&alice.access),
            json!({"participant_ids": others[..7]}),
        )
        .await
        .expect(201);
    assert_eq!(eight["kind"], "group_dm");
    assert_eq!(eight["participant_ids"].as_array().unwrap().len(), 8);
    assert_eq!(eight["member_count"], 8);
    // Naming oneself and repeating people changes nothing: still the same eight.
    let mut repeated: Vec<String> = others[..7].to_vec();
    repeated.push(alice.user_id.clone());
    repeated.push(others[0].clone());
    let same = app
        .post(
            "/dms",
            Some(&alice.access),
            json!({"participant_ids": repeated}),
        )
        .await
        .expect(200);
    assert_eq!(same["id"], eight["id"]);
    // Nine real people are refused.
    app.post(
        "/dms",
        Some(&alice.access),
        json!({"participant_ids": others}),
    )
    .await
    .problem(400, "validation_failed");
    let listed = app.get("/dms", &alice.access).await.expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}
