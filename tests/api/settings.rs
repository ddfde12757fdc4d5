//! Run-time settings from the admin console: the effective configuration key by key (secrets
//! redacted, documented), a change in force at once here and on another node after a reload,
//! refused values and start-up-only keys, reset, audit.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, spawn_app};

fn find<'a>(list: &'a Value, key: &str) -> &'a Value {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .unwrap_or_else(|| panic!("no {key}"))
}

#[tokio::test]
async fn a_run_time_setting_changes_registration_at_once_and_resets() {
    const KEY: &str = "a-server-secret-of-at-least-32-characters";
    let app = crate::helpers::spawn_with(|c| {
        c.auth.secret_key = Some(colink::config::Secret::new(KEY));
    })
    .await;
    let (owner, ws) = app.setup_owner().await;
    let alice = app.member(&owner, &ws, "alice").await;
    let register = |name: &str| json!({"email": format!("{name}@example.com"), "username": name, "password": PASSWORD});

    let list = app.get("/admin/settings", &owner.access).await.expect(200);
    assert!(!list.to_string().contains(KEY), "a secret leaked");
    assert_eq!(find(&list, "auth.secret_key")["value"], "[redacted]");
    let policy = find(&list, "auth.registration");
    assert_eq!(policy["value"], "invite");
    assert_eq!(policy["runtime"], true);
    assert_eq!(policy["overridden"], false);
    assert_eq!(policy["env"], "COLINK_AUTH__REGISTRATION");
    assert!(
        policy["doc"]
            .as_str()
            .unwrap()
            .contains("Who may create an account")
    );
    let bind = find(&list, "server.bind");
    assert_eq!(bind["runtime"], false);
    // A rate limit is one entry: its table.
    assert_eq!(
        find(&list, "limits.login_per_ip")["value"]["max"],
        app.config.limits.login_per_ip.max
    );

    app.post("/auth/register", None, register("bob"))
        .await
        .problem(403, "invite_required");
    let changed = app
        .put(
            "/admin/settings/auth.registration",
            &owner.access,
            json!({"value": "open"}),
        )
        .await
        .expect(200);
    assert_eq!(changed["value"], "open");
    assert_eq!(changed["overridden"], true);
    // In force at once, without a restart.
    app.post("/auth/register", None, register("bob"))
        .await
        .expect(201);
    // Another node sharing the database sees it at its next reload.
    let other = colink::service::settings::LiveConfig::new(app.config.clone());
    assert!(other.reload(&app.state.db).await.unwrap());
    assert_eq!(
        other.get().auth.registration,
        colink::config::Registration::Open
    );

    // Values the configuration would refuse, start-up keys, unknown keys, members.
    for bad in [json!("sometimes"), json!(3), json!({"max": 1})] {
        app.put(
            "/admin/settings/auth.registration",
            &owner.access,
            json!({ "value": bad }),
        )
        .await
        .problem(400, "validation_failed");
    }
    app.put(
        "/admin/settings/limits.register_per_ip",
        &owner.access,
        json!({"value": {"max": 0, "window": "1h"}}),
    )
    .await
    .problem(400, "validation_failed");
    app.put(
        "/admin/settings/server.bind",
        &owner.access,
        json!({"value": "0.0.0.0:1"}),
    )
    .await
    .problem(409, "conflict");
    app.put(
        "/admin/settings/no.such.key",
        &owner.access,
        json!({"value": 1}),
    )
    .await
    .problem(404, "not_found");
    app.put(
        "/admin/settings/auth.registration",
        &alice.access,
        json!({"value": "closed"}),
    )
    .await
    .problem(403, "forbidden");

    // Back to the file's value.
    app.delete("/admin/settings/auth.registration", &owner.access)
        .await
        .expect(204);
    app.post("/auth/register", None, register("carol"))
        .await
        .problem(403, "invite_required");
    let audit = app.audit(&owner, "settings.changed").await;
    assert_eq!(audit.len(), 2, "the change and the reset: {audit:?}");
    assert_eq!(audit[1]["details"]["key"], "auth.registration");
    assert_eq!(audit[1]["details"]["from"], "invite");
    assert_eq!(audit[1]["details"]["to"], "open");
    assert_eq!(audit[0]["details"]["reset"], true);
}

#[tokio::test]
async fn a_rate_limit_changed_at_run_time_applies_to_the_next_request() {
    let app = spawn_app().await;
    let (owner, _) = app.setup_owner().await;
    app.put(
        "/admin/settings/auth.registration",
        &owner.access,
        json!({"value": "open"}),
    )
    .await
    .expect(200);
    app.put(
        "/admin/settings/limits.register_per_ip",
        &owner.access,
        json!({"value": {"max": 1, "window": "1h"}}),
    )
    .await
    .expect(200);
    let register = |name: &str| json!({"email": format!("{name}@example.com"), "username": name, "password": PASSWORD});
    app.post("/auth/register", None, register("dan"))
        .await
        .expect(201);
    app.post("/auth/register", None, register("eve"))
        .await
        .problem(429, "rate_limited");
}
