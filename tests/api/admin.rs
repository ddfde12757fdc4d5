use serde_json::json;

use crate::helpers::{PASSWORD, spawn_app};

/// A body each admin operation accepts, so that what answers is the role check, not the body's
/// validation. An admin route missing here is called with `{}` and fails the test with a 400:
/// add its body.
fn valid_body(method: &str, template: &str) -> Option<serde_json::Value> {
    Some(match (method, template) {
        ("post", "/admin/users/{id}/suspend") => json!({"reason": "x"}),
        ("post", "/admin/users/{id}/role") => json!({"role": "member"}),
        ("post", "/admin/clients") => json!({"name": "Bot", "username": "bot1"}),
        ("post", "/admin/clients/{id}/rotate-secret") => json!({}),
        ("post", "/admin/moderation/queue/{id}/resolve") => json!({"action": "dismiss"}),
        ("post", "/admin/moderation/rules") => json!({"pattern": "x", "action": "flag"}),
        ("post", "/admin/moderation/rules/test") => json!({"content": "x"}),
        ("put", "/admin/settings/{key}") => json!({"value": "invite"}),
        ("put", "/admin/channels/{id}/kind") => json!({"kind": "private"}),
        ("get" | "delete", _) => return None,
        _ => json!({}),
    })
}

/// Every operation under `/admin` in the OpenAPI document, so a new admin route is checked
/// without anyone remembering to add it here.
#[tokio::test]
async fn members_and_guests_get_403_on_every_admin_route_of_the_openapi_document() {
    let app = spawn_app().await;
    let (owner, ws) = app.setup_owner().await;
    let alice = app.member(&owner, &ws, "alice").await;
    let gus = app.member(&owner, &ws, "gus").await;
    app.post(
        &format!("/admin/users/{}/role", gus.user_id),
        Some(&owner.access),
        json!({"role": "guest"}),
    )
    .await
    .expect(200);
    let gus = app.login("gus", PASSWORD).await;
    let doc: serde_json::Value = app
        .client
        .get(format!("{}/api/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut checked = 0;
    for (template, operations) in doc["paths"].as_object().unwrap() {
        if !template.starts_with("/admin") {
            continue;
        }
        for method in operations.as_object().unwrap().keys() {
            // Every path parameter gets an id that exists (the owner's) or a fresh one: the
            // answer must not depend on it.
            let path = template
                .replace("{id}", &owner.user_id)
                .replace("{session_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{key}", "auth.registration");
            assert!(
                !path.contains('{'),
                "{template}: a parameter this test does not fill"
            );
            let body = valid_body(method, template);
            let method: reqwest::Method = method.to_uppercase().parse().unwrap();
            for (who, token) in [("a member", &alice.access), ("a guest", &gus.access)] {
                let reply = app
                    .call(method.clone(), &path, Some(token), body.clone())
                    .await;
                assert_eq!(
                    reply.status.as_u16(),
                    403,
                    "{method} {template} as {who}: {}",
                    reply.body
                );
                assert_eq!(reply.body["code"], "forbidden");
            }
            let reply = app.call(method.clone(), &path, None, body).await;
            assert_eq!(
                reply.status.as_u16(),
                401,
                "{method} {template} without a token"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} admin operations found");
    // Creating workspaces is for admins too.
    app.post("/workspaces", Some(&alice.access), json!({"name": "Nope"}))
        .await
        .problem(403, "forbidden");
}

#[tokio::test]
async fn suspension_rejects_live_tokens_at_once_and_blocks_login() {
    let app = spawn_app().await;
    let (owner, ws) = app.setup_owner().await;
    let alice = app.member(&owner, &ws, "alice").await;
    app.get("/users/me", &alice.access).await.expect(200);

    let user = app
        .post(
            &format!("/admin/users/{}/suspend", alice.user_id),
            Some(&owner.access),
            json!({"reason": "spam"}),
        )
        .await
        .expect(200);
    assert_eq!(user["suspended"], true);
    // The still-unexpired access token is refused immediately, and so is the refresh token.
    app.get("/users/me", &alice.access)
        .await
        .problem(401, "token_revoked");
    app.post(
        "/auth/refresh",
        None,
        json!({"refresh_token": alice.refresh}),
    )
    .await
    .problem(401, "token_revoked");
    app.post(
        "/auth/login",
        None,
        json!({"login": "alice", "password": PASSWORD}),
    )
    .await
    .problem(403, "account_suspended");
    let listed = app
        .get("/admin/users?status=suspended", &owner.access)
        .await
        .expect(200);
    assert_eq!(listed["items"][0]["username"], "alice");

    app.post(
        &format!("/admin/users/{}/unsuspend", alice.user_id),
        Some(&owner.access),
        json!({}),
    )
    .await
    .expect(200);
    app.login("alice", PASSWORD).await;

    let suspended = app.audit(&owner, "user.suspended").await;
    assert_eq!(suspended[0]["target_id"], alice.user_id.as_str());
    assert_eq!(suspended[0]["details"]["reason"], "spam");
    assert_eq!(app.audit(&owner, "user.unsuspended").await.len(), 1);
    // Nobody suspends themselves.
    app.post(
        &format!("/admin/users/{}/suspend", owner.user_id),
        Some(&owner.access),
        json!({"reason": "x"}),
    )
    .await
    .problem(403, "forbidden");
}

#[tokio::test]
async fn role_changes_take_effect_at_once_and_are_audited() {
    let app = spawn_app().await;
    let (owner, ws) = app.setup_owner().await;
    let alice = app.member(&owner, &ws, "alice").await;
    let bob = app.member(&owner, &ws, "bob").await;

    app.get("/admin/users", &alice.access)
        .await
        .problem(403, "forbidden");
    app.post(
        &format!("/admin/users/{}/role", alice.user_id),
        Some(&owner.access),
        json!({"role": "admin"}),
    )
    .await
    .expect(200);
    // Her existing token now carries admin rights.
    app.get("/admin/users", &alice.access).await.expect(200);
    // Admins cannot make owners, nor change their own role.
    app.post(
        &format!("/admin/users/{}/role", bob.user_id),
        Some(&alice.access),
        json!({"role": "owner"}),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &format!("/admin/users/{}/role", alice.user_id),
        Some(&alice.access),
        json!({"role": "member"}),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &format!("/admin/users/{}/role", bob.user_id),
        Some(&alice.access),
        json!({"role": "emperor"}),
    )
    .await
    .problem(400, "validation_failed");
    app.post(
        &format!("/admin/users/{}/role", uuid::Uuid::now_v7()),
        Some(&owner.access),
        json!({"role": "member"}),
    )
    .await
    .problem(404, "not_found");

    let changes = app.audit(&owner, "user.role_changed").await;
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0]["details"],
        json!({"from": "member", "to": "admin"})
    );
    assert_eq!(changes[0]["actor_id"], owner.user_id.as_str());
}

#[tokio::test]
async fn bot_clients_use_the_client_credentials_grant() {
    let app = spawn_app().await;
    let (owner, _) = app.setup_owner().await;
    let created = app
        .post(
            "/admin/clients",
            Some(&owner.access),
            json!({"name": "Deploy Bot", "username": "deploybot"}),
        )
        .await
        .expect(201);
    let client_id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();

    // JSON body.
    let token = app
        .post("/auth/token", None, json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}))
        .await
        .expect(200);
    assert_eq!(token["token_type"], "Bearer");
    let access = token["access_token"].as_str().unwrap().to_string();
    let me = app.get("/users/me", &access).await.expect(200);
    assert_eq!(me["role"], "bot");
    assert_eq!(me["username"], "deploybot");

    // Form body (RFC 6749).
    let form = app
        .client
        .post(format!("{}/api/v1/auth/token", app.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status().as_u16(), 200);

    app.post("/auth/token", None, json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": "wrong"}))
        .await
        .problem(401, "invalid_client");
    app.post(
        "/auth/token",
        None,
        json!({"grant_type": "password", "client_id": client_id, "client_secret": secret}),
    )
    .await
    .problem(400, "validation_failed");
    // Bots cannot use admin routes.
    app.get("/admin/users", &access)
        .await
        .problem(403, "forbidden");

    let audit = app.audit(&owner, "client.created").await;
    assert_eq!(audit[0]["details"]["client_id"], client_id);
    let listed = app.get("/admin/clients", &owner.access).await.expect(200);
    let id = listed["items"][0]["id"].as_str().unwrap().to_string();

    app.call(
        reqwest::Method::DELETE,
        &format!("/admin/clients/{id}"),
        Some(&owner.access),
        None,
    )
    .await
    .expect(204);
    app.get("/users/me", &access)
        .await
        .problem(401, "token_revoked");
    app.post("/auth/token", None, json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}))
        .await
        .problem(401, "invalid_client");
}

#[tokio::test]
async fn the_system_view_shows_version_backends_and_the_redacted_configuration() {
    const KEY: &str = "a-server-secret-of-at-least-32-characters";
    let app = crate::helpers::spawn_with(|c| {
        c.auth.secret_key = Some(colink::config::Secret::new(KEY));
    })
    .await;
    let (owner, _) = app.setup_owner().await;
    let system = app.get("/admin/system", &owner.access).await.expect(200);
    assert_eq!(system["version"], env!("CARGO_PKG_VERSION"));
    assert!(system["uptime_seconds"].as_u64().is_some());
    let backend = |name: &str| {
        system["backends"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {system}"))
            .clone()
    };
    let database = backend("database");
    let kind = if app.config.is_sqlite() {
        "sqlite"
    } else {
        "postgres"
    };
    assert_eq!(database["kind"], kind);
    assert_eq!(database["health"], "ok");
    // The database server's own version; PostgreSQL's uptime too (SQLite runs inside CoLink).
    let version = database["version"].as_str().unwrap();
    if app.config.is_sqlite() {
        assert!(version.starts_with("SQLite 3."), "{version}");
        assert!(database.get("uptime_seconds").is_none(), "{database}");
    } else {
        assert!(version.starts_with("PostgreSQL "), "{version}");
        assert!(database["uptime_seconds"].as_u64().is_some(), "{database}");
    }
    assert!(database["latency_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(backend("storage")["kind"], "fs");
    assert_eq!(backend("kv")["health"], "ok");
    assert_eq!(backend("email")["health"], "unchecked");
    // The configuration, with no secret in it.
    let config = &system["config"];
    assert_eq!(
        config["search"]["backend"],
        serde_json::to_value(app.config.search.backend).unwrap()
    );
    let text = system.to_string();
    assert!(!text.contains(KEY), "the secret key leaked");
    assert_eq!(config["auth"]["secret_key"], "[redacted]");
    if let Some(url) = &app.config.database.url
        && let Ok(parsed) = url::Url::parse(url.expose())
        && let Some(password) = parsed.password()
    {
        assert!(!text.contains(password), "the database password leaked");
    }
}

/// A bot client's token for `scopes`: (access token, client id, secret, bot user id).
async fn bot(
    app: &crate::helpers::TestApp,
    owner: &crate::helpers::Session,
    username: &str,
    scopes: serde_json::Value,
) -> (String, String, String, String) {
    let created = app
        .post(
            "/admin/clients",
            Some(&owner.access),
            json!({"name": "Bot", "username": username, "scopes": scopes}),
        )
        .await
        .expect(201);
    assert_eq!(created["scopes"], scopes);
    let (id, secret) = (
        created["client_id"].as_str().unwrap().to_string(),
        created["client_secret"].as_str().unwrap().to_string(),
    );
    let token = app
        .post(
            "/auth/token",
            None,
            json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret}),
        )
        .await
        .expect(200);
    (
        token["access_token"].as_str().unwrap().to_string(),
        id,
        secret,
        created["bot_user_id"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn bot_scopes_limit_what_its_tokens_do_and_a_rotated_secret_ends_the_old_ones() {
    let app = spawn_app().await;
    let (owner, _) = app.setup_owner().await;
    let channel = app.channel(&owner, "deploys", false).await;

    // A write-only bot posts (as a bot) but cannot read.
    let (writer, writer_client, writer_secret, writer_id) =
        bot(&app, &owner, "deploybot", json!(["write"])).await;
    app.post(
        &format!("/channels/{channel}/join"),
        Some(&writer),
        json!({}),
    )
    .await
    .expect(200);
    let posted = app
        .post(
            &format!("/channels/{channel}/messages"),
            Some(&writer),
            json!({"content": "deployed v1.2"}),
        )
        .await
        .expect(201);
    assert_eq!(posted["user_id"], writer_id.as_str());
    let refused = app
        .get(&format!("/channels/{channel}/messages"), &writer)
        .await
        .problem(403, "forbidden");
    assert!(refused["detail"].as_str().unwrap().contains("`read` scope"));
    let author = app
        .get(&format!("/users/{writer_id}"), &owner.access)
        .await
        .expect(200);
    assert_eq!(author["role"], "bot");

    // A read-only bot reads but changes nothing.
    let (reader, ..) = bot(&app, &owner, "statsbot", json!(["read"])).await;
    app.get("/users/me", &reader).await.expect(200);
    let refused = app
        .post(
            &format!("/channels/{channel}/join"),
            Some(&reader),
            json!({}),
        )
        .await
        .problem(403, "forbidden");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("`write` scope")
    );

    for scopes in [json!([]), json!(["admin"]), json!(["read", "read"])] {
        app.post(
            "/admin/clients",
            Some(&owner.access),
            json!({"name": "Bot", "username": "nobot", "scopes": scopes}),
        )
        .await
        .problem(400, "validation_failed");
    }

    // Rotating the secret: the old secret and its tokens stop working, the new one works.
    let listed = app.get("/admin/clients", &owner.access).await.expect(200);
    let id = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == writer_client.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rotated = app
        .post(
            &format!("/admin/clients/{id}/rotate-secret"),
            Some(&owner.access),
            json!({}),
        )
        .await
        .expect(200);
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, writer_secret);
    app.post(
        &format!("/channels/{channel}/messages"),
        Some(&writer),
        json!({"content": "still here?"}),
    )
    .await
    .problem(401, "token_revoked");
    app.post("/auth/token", None, json!({"grant_type": "client_credentials", "client_id": writer_client, "client_secret": writer_secret}))
        .await
        .problem(401, "invalid_client");
    app.post("/auth/token", None, json!({"grant_type": "client_credentials", "client_id": writer_client, "client_secret": new_secret}))
        .await
        .expect(200);
    let audit = app.audit(&owner, "client.secret_rotated").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["actor_id"], owner.user_id.as_str());
    assert_eq!(audit[0]["target_id"], id.as_str());
}

#[tokio::test]
async fn live_counters_count_connections_people_and_the_last_minutes_messages() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let channel = app.channel(&alice, "live", false).await;
    app.join(&bob, &channel).await;
    let _alice_phone = app.ws(&alice.access).await;
    let _alice_laptop = app.ws(&alice.access).await;
    let mut bob_ws = app.ws(&bob.access).await;
    bob_ws.subscribe(&channel).await;
    // Once bob has the marker, the hub has seen every earlier message.
    app.send(&alice, &channel, "marker").await;
    bob_ws.event("message.created").await;
    let before = app.get("/admin/live", &owner.access).await.expect(200);
    assert_eq!(before["connections"], 3, "{before}");
    assert_eq!(before["users_connected"], 2, "{before}");
    for n in 0..3 {
        app.send(&alice, &channel, &format!("n {n}")).await;
    }
    for _ in 0..3 {
        bob_ws.event("message.created").await;
    }
    let after = app.get("/admin/live", &owner.access).await.expect(200);
    assert_eq!(
        after["messages_last_minute"].as_u64().unwrap(),
        before["messages_last_minute"].as_u64().unwrap() + 3,
        "{before} {after}"
    );
    app.get("/admin/live", &alice.access)
        .await
        .problem(403, "forbidden");
}
