use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn profile_status_search_and_visibility() {
    let app = spawn_app().await;
    let (owner, ws) = app.setup_owner().await;
    let alice = app.member(&owner, &ws, "alice").await;
    let bob = app.member(&owner, &ws, "bob").await;

    let me = app
        .call(
            reqwest::Method::PUT,
            "/users/me",
            Some(&alice.access),
            Some(json!({"display_name": "Alice A."})),
        )
        .await
        .expect(200);
    assert_eq!(me["display_name"], "Alice A.");
    app.call(
        reqwest::Method::PUT,
        "/users/me",
        Some(&alice.access),
        Some(json!({"display_name": "   "})),
    )
    .await
    .problem(400, "validation_failed");

    // Status with expiry (that an expired one is hidden: `an_expired_status_is_hidden`).
    let later = (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let me = app
        .post(
            "/users/me/status",
            Some(&alice.access),
            json!({"status_text": "Lunch", "status_emoji": ":taco:", "expires_at": later}),
        )
        .await
        .expect(200);
    assert_eq!(me["status"]["text"], "Lunch");
    // A status that has already expired clears the status.
    let cleared = app
        .post(
            "/users/me/status",
            Some(&alice.access),
            json!({"status_text": "x", "status_emoji": "", "expires_at": "2001-01-01T00:00:00Z"}),
        )
        .await
        .expect(200);
    assert_eq!(cleared["status"], serde_json::Value::Null, "{cleared}");
    app.post(
        "/users/me/status",
        Some(&alice.access),
        json!({"status_text": "Lunch", "status_emoji": ":taco:", "expires_at": later}),
    )
    .await
    .expect(200);
    app.post(
        "/users/me/status",
        Some(&alice.access),
        json!({"status_text": "x".repeat(101), "status_emoji": ""}),
    )
    .await
    .problem(400, "validation_failed");

    // Others see Alice without her email.
    let seen = app
        .get(&format!("/users/{}", alice.user_id), &bob.access)
        .await
        .expect(200);
    assert_eq!(seen["display_name"], "Alice A.");
    assert_eq!(seen["status"]["emoji"], ":taco:");
    assert!(seen.get("email").is_none(), "{seen}");
    // She and admins do.
    assert_eq!(
        app.get(&format!("/users/{}", alice.user_id), &alice.access)
            .await
            .expect(200)["email"],
        "alice@example.com"
    );
    assert_eq!(
        app.get(&format!("/users/{}", alice.user_id), &owner.access)
            .await
            .expect(200)["email"],
        "alice@example.com"
    );

    // Search and pagination.
    let found = app.get("/users?query=ali", &bob.access).await.expect(200);
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    assert_eq!(found["items"][0]["username"], "alice");
    let page1 = app.get("/users?limit=2", &bob.access).await.expect(200);
    assert_eq!(page1["items"].as_array().unwrap().len(), 2);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2 = app
        .get(&format!("/users?limit=2&cursor={cursor}"), &bob.access)
        .await
        .expect(200);
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert!(page2["next_cursor"].is_null());
    app.get("/users?limit=0", &bob.access)
        .await
        .problem(400, "validation_failed");
    app.get("/users?limit=201", &bob.access)
        .await
        .problem(400, "validation_failed");

    app.get(&format!("/users/{}", uuid::Uuid::now_v7()), &bob.access)
        .await
        .problem(404, "not_found");
    app.get("/users/not-a-uuid", &bob.access)
        .await
        .problem(400, "validation_failed");
}

#[tokio::test]
async fn users_in_other_workspaces_are_invisible() {
    let app = spawn_app().await;
    let (owner, ws) = app.setup_owner().await;
    let other_ws = app
        .post("/workspaces", Some(&owner.access), json!({"name": "Other"}))
        .await
        .expect(201);
    let alice = app.member(&owner, &ws, "alice").await;
    let zed = app
        .member(&owner, other_ws["id"].as_str().unwrap(), "zed")
        .await;
    app.get(&format!("/users/{}", zed.user_id), &alice.access)
        .await
        .problem(404, "not_found");
    let found = app.get("/users?query=zed", &alice.access).await.expect(200);
    assert!(found["items"].as_array().unwrap().is_empty());
}

/// Search matches display names case-insensitively on every database (PostgreSQL's LIKE is
/// case-sensitive, so both sides are lowercased).
#[tokio::test]
async fn search_matches_display_names_regardless_of_case() {
    let app = spawn_app().await;
    let (owner, ws) = app.setup_owner().await;
    let alice = app.member(&owner, &ws, "alice").await;
    let bob = app.member(&owner, &ws, "bob").await;
    app.put(
        "/users/me",
        &alice.access,
        json!({"display_name": "Wilhelmina Quartz"}),
    )
    .await
    .expect(200);
    for query in ["wilhelmina", "QUARTZ", "mina qu"] {
        let found = app
            .get(
                &format!("/users?query={}", query.replace(' ', "%20")),
                &bob.access,
            )
            .await
            .expect(200);
        let names: Vec<&str> = found["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["alice"], "query {query:?}");
    }
}

/// `_` and `%` in a search match themselves, not any character (usernames contain `_`).
#[tokio::test]
async fn search_treats_like_wildcards_literally() {
    let app = spawn_app().await;
    let (owner, ws) = app.setup_owner().await;
    let viewer = app.member(&owner, &ws, "viewer").await;
    app.member(&owner, &ws, "john_doe").await;
    app.member(&owner, &ws, "johnxdoe").await;
    app.member(&owner, &ws, "johndoe").await;
    let search = |q: &'static str| {
        let (app, token) = (&app, viewer.access.clone());
        async move {
            let found = app
                .get(&format!("/users?query={q}"), &token)
                .await
                .expect(200);
            found["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["username"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search("n_d").await, ["john_doe"]);
    assert_eq!(search("john_").await, ["john_doe"]);
    assert!(
        search("%25").await.is_empty(),
        "a literal % matches no username"
    );
}

/// A status past its `expires_at` is no longer shown, to anyone, on any route.
#[tokio::test]
async fn an_expired_status_is_hidden() {
    use colink::db::entity::user;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let app = spawn_app().await;
    let (owner, ws) = app.setup_owner().await;
    let alice = app.member(&owner, &ws, "alice").await;
    let bob = app.member(&owner, &ws, "bob").await;
    let later = (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    app.post(
        "/users/me/status",
        Some(&alice.access),
        json!({"status_text": "Lunch", "status_emoji": ":taco:", "expires_at": later}),
    )
    .await
    .expect(200);
    let alice_url = format!("/users/{}", alice.user_id);
    assert_eq!(
        app.get(&alice_url, &bob.access).await.expect(200)["status"]["text"],
        "Lunch"
    );

    // The hour passes.
    let past = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
    user::Entity::update_many()
        .col_expr(user::Column::StatusExpiresAt, Expr::value(past))
        .filter(user::Column::Id.eq(uuid::Uuid::parse_str(&alice.user_id).unwrap()))
        .exec(&app.state.db)
        .await
        .unwrap();
    let seen = app.get(&alice_url, &bob.access).await.expect(200);
    assert!(seen["status"].is_null(), "{seen}");
    let me = app.get("/users/me", &alice.access).await.expect(200);
    assert!(me["status"].is_null(), "{me}");
    let found = app.get("/users?query=alice", &bob.access).await.expect(200);
    assert!(found["items"][0]["status"].is_null(), "{found}");
    let listed = app
        .get("/admin/users?query=alice", &owner.access)
        .await
        .expect(200);
    assert!(listed["items"][0]["status"].is_null(), "{listed}");
}

#[tokio::test]
async fn profile_status_role_and_suspension_changes_reach_the_workspace_as_user_updated() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let mut bob_ws = app.ws(&bob.access).await;
    let alice_id = alice.user_id.as_str();

    app.put(
        "/users/me",
        &alice.access,
        serde_json::json!({"display_name": "Alice Liddell"}),
    )
    .await
    .expect(200);
    let e = bob_ws.event("user.updated").await;
    assert_eq!(e["data"]["id"], alice_id);
    assert_eq!(e["data"]["display_name"], "Alice Liddell");
    assert_eq!(e["actor_id"], alice_id);
    // Everyone in the workspace receives it: no email in it.
    assert!(e["data"].get("email").is_none(), "{e}");

    app.post(
        "/users/me/status",
        Some(&alice.access),
        serde_json::json!({"status_text": "lunch", "status_emoji": "🥪"}),
    )
    .await
    .expect(200);
    let e = bob_ws.event("user.updated").await;
    assert_eq!(e["data"]["status_text"], "lunch");

    app.post(
        &format!("/admin/users/{alice_id}/role"),
        Some(&owner.access),
        serde_json::json!({"role": "admin"}),
    )
    .await
    .expect(200);
    let e = bob_ws.event("user.updated").await;
    assert_eq!(e["data"]["role"], "admin");
    assert_eq!(e["actor_id"], owner.user_id.as_str());

    app.post(
        &format!("/admin/users/{alice_id}/suspend"),
        Some(&owner.access),
        serde_json::json!({"reason": "a break"}),
    )
    .await
    .expect(200);
    let e = bob_ws.event("user.updated").await;
    assert_eq!(e["data"]["suspended"], true);
}
