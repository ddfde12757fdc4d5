use serde_json::json;

use crate::helpers::{PASSWORD, spawn_app};

#[tokio::test]
async fn workspaces_membership_and_permissions() {
    let app = spawn_app().await;
    let (owner, ws) = app.setup_owner().await;
    let alice = app.member(&owner, &ws, "alice").await;

    app.post("/workspaces", Some(&alice.access), json!({"name": "Mine"}))
        .await
        .problem(403, "forbidden");
    let second = app
        .post("/workspaces", Some(&owner.access), json!({"name": "Acme"}))
        .await
        .expect(201);
    assert_ne!(second["slug"], "acme", "slugs are unique");
    let second_id = second["id"].as_str().unwrap();
    app.post("/workspaces", Some(&owner.access), json!({"name": ""}))
        .await
        .problem(400, "validation_failed");

    app.get(&format!("/workspaces/{second_id}"), &alice.access)
        .await
        .problem(403, "forbidden");
    app.get(&format!("/workspaces/{ws}"), &alice.access)
        .await
        .expect(200);
    app.get(
        &format!("/workspaces/{}", uuid::Uuid::now_v7()),
        &alice.access,
    )
    .await
    .problem(404, "not_found");
    let mine = app.get("/workspaces", &alice.access).await.expect(200);
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);

    // Members cannot invite unless the workspace allows it.
    app.post(
        &format!("/workspaces/{ws}/invites"),
        Some(&alice.access),
        json!({}),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &format!("/workspaces/{second_id}/invites"),
        Some(&alice.access),
        json!({}),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &format!("/workspaces/{ws}/invites"),
        Some(&owner.access),
        json!({"expires_in_hours": 0}),
    )
    .await
    .problem(400, "validation_failed");
    app.post(
        &format!("/workspaces/{ws}/invites"),
        Some(&owner.access),
        json!({"max_uses": -1}),
    )
    .await
    .problem(400, "validation_failed");
}

#[tokio::test]
async fn invites_expire_by_use_count_and_accept_is_idempotent() {
    let app = spawn_app().await;
    let (owner, _ws) = app.setup_owner().await;
    let alice = app.member(&owner, &_ws, "alice").await;
    let bob = app.member(&owner, &_ws, "bob").await;
    let second = app
        .post(
            "/workspaces",
            Some(&owner.access),
            json!({"name": "Second"}),
        )
        .await
        .expect(201);
    let second_id = second["id"].as_str().unwrap();

    let invite = app
        .post(
            &format!("/workspaces/{second_id}/invites"),
            Some(&owner.access),
            json!({"max_uses": 1, "expires_in_hours": 2}),
        )
        .await
        .expect(201);
    assert_eq!(invite["max_uses"], 1);
    assert!(
        invite["url"]
            .as_str()
            .unwrap()
            .ends_with(invite["token"].as_str().unwrap())
    );
    let token = invite["token"].as_str().unwrap();

    let joined = app
        .post(
            &format!("/invites/{token}/accept"),
            Some(&alice.access),
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(joined["id"], second_id);
    // Accepting again as a member spends nothing.
    app.post(
        &format!("/invites/{token}/accept"),
        Some(&alice.access),
        json!({}),
    )
    .await
    .expect(200);
    // Used up for anyone else.
    app.post(
        &format!("/invites/{token}/accept"),
        Some(&bob.access),
        json!({}),
    )
    .await
    .problem(410, "invite_expired");
    app.post(
        "/invites/unknown-token/accept",
        Some(&bob.access),
        json!({}),
    )
    .await
    .problem(404, "not_found");
    // Also for registration.
    app.post("/auth/register", None, json!({"email": "c@example.com", "username": "carol", "password": PASSWORD, "invite_token": token}))
        .await
        .problem(410, "invite_expired");
    app.get(&format!("/workspaces/{second_id}"), &alice.access)
        .await
        .expect(200);
}

#[tokio::test]
async fn concurrent_registrations_cannot_overspend_an_invite() {
    let app = spawn_app().await;
    let (owner, ws) = app.setup_owner().await;
    let invite = app
        .post(
            &format!("/workspaces/{ws}/invites"),
            Some(&owner.access),
            json!({"max_uses": 2}),
        )
        .await
        .expect(201);
    let token = invite["token"].as_str().unwrap().to_string();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let client = app.client.clone();
        let url = format!("{}/api/v1/auth/register", app.base);
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(
                    &json!({"email": format!("u{i}@example.com"), "username": format!("user{i}"),
                              "password": PASSWORD, "invite_token": token}),
                )
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        2,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 410),
        "{statuses:?}"
    );
}

/// An invite past its `expires_at` is refused, for joining and for registering.
#[tokio::test]
async fn invites_expire_by_time() {
    use colink::db::entity::invite;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let app = spawn_app().await;
    let (owner, ws) = app.setup_owner().await;
    let alice = app.member(&owner, &ws, "alice").await;
    let second = app
        .post(
            "/workspaces",
            Some(&owner.access),
            json!({"name": "Second"}),
        )
        .await
        .expect(201);
    let second_id = second["id"].as_str().unwrap();
    let created = app
        .post(
            &format!("/workspaces/{second_id}/invites"),
            Some(&owner.access),
            json!({"expires_in_hours": 3}),
        )
        .await
        .expect(201);
    let token = created["token"].as_str().unwrap();
    let by_token = invite::Column::TokenHash.eq(colink::identity::opaque::hash(token));
    let row = invite::Entity::find()
        .filter(by_token.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("the invite is stored (hashed)");
    assert_eq!(row.expires_at - row.created_at, time::Duration::hours(3));

    // Three hours pass.
    let past = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
    invite::Entity::update_many()
        .col_expr(invite::Column::ExpiresAt, Expr::value(past))
        .filter(by_token)
        .exec(&app.state.db)
        .await
        .unwrap();
    app.post(
        &format!("/invites/{token}/accept"),
        Some(&alice.access),
        json!({}),
    )
    .await
    .problem(410, "invite_expired");
    app.post(
        "/auth/register",
        None,
        json!({"email": "c@example.com", "username": "carol", "password": PASSWORD,
               "invite_token": token}),
    )
    .await
    .problem(410, "invite_expired");
    let mine = app.get("/workspaces", &alice.access).await.expect(200);
    assert_eq!(mine["items"].as_array().unwrap().len(), 1, "{mine}");
    app.post(
        "/auth/login",
        None,
        json!({"login": "carol", "password": PASSWORD}),
    )
    .await
    .problem(401, "invalid_credentials");
}

#[tokio::test]
async fn invite_links_are_listed_with_their_state_and_a_revoked_one_lets_nobody_in() {
    let app = spawn_app().await;
    let (owner, ws) = app.setup_owner().await;
    let alice = app.member(&owner, &ws, "alice").await;
    let invites = format!("/workspaces/{ws}/invites");
    let make = |body: serde_json::Value| {
        let app = &app;
        let (path, token) = (invites.clone(), owner.access.clone());
        async move { app.post(&path, Some(&token), body).await.expect(201) }
    };
    let open = make(json!({})).await;
    let once = make(json!({"max_uses": 1})).await;
    app.post(
        "/auth/register",
        None,
        json!({"email": "b@example.com", "username": "bob", "password": PASSWORD,
               "invite_token": once["token"]}),
    )
    .await
    .expect(201);

    let listed = app.get(&invites, &owner.access).await.expect(200);
    let items = listed["items"].as_array().unwrap();
    // Newest first (the oldest is the one alice joined with); no token is shown again.
    assert_eq!(items.len(), 3, "{listed}");
    assert_eq!(items[0]["id"], once["id"]);
    assert_eq!(items[0]["state"], "used_up");
    assert_eq!(items[0]["uses"], 1);
    assert_eq!(items[1]["state"], "active");
    assert_eq!(items[1]["created_by"], owner.user_id.as_str());
    assert!(!listed.to_string().contains(open["token"].as_str().unwrap()));

    // Members neither list nor revoke.
    app.get(&invites, &alice.access)
        .await
        .problem(403, "forbidden");
    let one = format!("{invites}/{}", open["id"].as_str().unwrap());
    app.delete(&one, &alice.access)
        .await
        .problem(403, "forbidden");

    app.delete(&one, &owner.access).await.expect(204);
    app.delete(&one, &owner.access).await.expect(204);
    app.post(
        "/auth/register",
        None,
        json!({"email": "c@example.com", "username": "carol", "password": PASSWORD,
               "invite_token": open["token"]}),
    )
    .await
    .problem(410, "invite_expired");
    let listed = app.get(&invites, &owner.access).await.expect(200);
    assert_eq!(listed["items"][1]["state"], "revoked");
    let audit = app.audit(&owner, "invite.revoked").await;
    assert_eq!(audit.len(), 1, "one entry, not one per call");
    assert_eq!(audit[0]["target_id"], open["id"]);
    app.delete(
        &format!("{invites}/{}", uuid::Uuid::now_v7()),
        &owner.access,
    )
    .await
    .problem(404, "not_found");
}
