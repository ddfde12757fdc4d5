//! Administration of people: the list and detail views, deactivation, 2FA and password resets,
//! ending one session, the last owner — each enforced at once and audited exactly once.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    account::mailed_token,
    helpers::{PASSWORD, Session, TestApp, WsEnd, spawn_app},
    totp::enroll,
};

/// The audit entries about `target`, as `(action, actor)`.
async fn audited(app: &TestApp, admin: &Session, target: &str) -> Vec<(String, Value)> {
    let page = app
        .get(&format!("/admin/audit?target_id={target}"), &admin.access)
        .await
        .expect(200);
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["actor_id"].clone(),
            )
        })
        .collect()
}

/// Wait at most one second for the socket to close.
async fn closes_within_a_second(ws: &mut crate::helpers::WsClient) -> WsEnd {
    tokio::time::timeout(Duration::from_secs(1), ws.closed())
        .await
        .expect("the socket was not closed within 1 s")
}

#[tokio::test]
async fn deactivation_ends_everything_at_once_keeps_the_messages_and_can_be_undone() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let general = app.channel(&owner, "general-2", false).await;
    app.join(&alice, &general).await;
    app.join(&bob, &general).await;
    let said = app.send(&alice, &general, "before I leave").await;
    let mut ws = app.ws(&alice.access).await;

    app.delete(&format!("/admin/users/{}", alice.user_id), &owner.access)
        .await
        .expect(204);
    assert_eq!(closes_within_a_second(&mut ws).await, WsEnd::Code(4001));
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
    let refused = app
        .post(
            "/auth/login",
            None,
            json!({"login": "alice", "password": PASSWORD}),
        )
        .await;
    assert!(
        refused.status.is_client_error(),
        "a deactivated account signed in: {}",
        refused.body
    );

    // Her message stays; others see her as deactivated.
    let page = app
        .get(
            &format!("/channels/{general}/messages?limit=10"),
            &bob.access,
        )
        .await
        .expect(200);
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == said["id"] && m["content"] == "before I leave")
    );
    let seen = app
        .get(&format!("/users/{}", alice.user_id), &bob.access)
        .await
        .expect(200);
    assert_eq!(seen["deactivated"], true);
    let listed = app
        .get("/admin/users?status=deactivated", &owner.access)
        .await
        .expect(200);
    let names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice"]);
    assert!(listed["items"][0]["deactivated_at"].is_string());

    // Deactivating again changes nothing and audits nothing.
    app.delete(&format!("/admin/users/{}", alice.user_id), &owner.access)
        .await
        .expect(204);
    let reactivated = app
        .post(
            &format!("/admin/users/{}/reactivate", alice.user_id),
            Some(&owner.access),
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(reactivated["deactivated"], false);
    app.login("alice", PASSWORD).await;

    let owner_id = Value::from(owner.user_id.as_str());
    let audit = audited(&app, &owner, &alice.user_id).await;
    let admin_actions: Vec<_> = audit
        .iter()
        .filter(|(action, _)| action.starts_with("user."))
        .collect();
    assert_eq!(
        admin_actions,
        [
            &("user.reactivated".to_string(), owner_id.clone()),
            &("user.deactivated".to_string(), owner_id),
        ]
    );
}

#[tokio::test]
async fn the_last_active_owner_stays_an_owner_even_when_two_owners_demote_each_other() {
    let app = spawn_app().await;
    let (owner, _, alice, _) = app.team().await;
    app.post(
        &format!("/admin/users/{}/role", alice.user_id),
        Some(&owner.access),
        json!({"role": "owner"}),
    )
    .await
    .expect(200);
    // Both owners demote each other at the same moment: at most one can succeed.
    let demote = |by: String, whom: String| {
        let app = &app;
        async move {
            app.post(
                &format!("/admin/users/{whom}/role"),
                Some(&by),
                json!({"role": "member"}),
            )
            .await
        }
    };
    let (a, b) = tokio::join!(
        demote(owner.access.clone(), alice.user_id.clone()),
        demote(alice.access.clone(), owner.user_id.clone())
    );
    let ok = [&a, &b].iter().filter(|r| r.status.as_u16() == 200).count();
    assert_eq!(ok, 1, "{} / {}", a.body, b.body);
    for refused in [&a, &b].into_iter().filter(|r| r.status.as_u16() != 200) {
        let code = refused.body["code"].as_str().unwrap();
        assert!(
            code == "last_owner" || code == "forbidden",
            "{}",
            refused.body
        );
    }
    let owners = app
        .get("/admin/users?role=owner&status=active", &owner.access)
        .await;
    let owners = if owners.status.as_u16() == 200 {
        owners.body
    } else {
        let alice = app.login("alice", PASSWORD).await;
        app.get("/admin/users?role=owner&status=active", &alice.access)
            .await
            .expect(200)
    };
    assert_eq!(owners["items"].as_array().unwrap().len(), 1, "{owners}");
}

#[tokio::test]
async fn the_detail_shows_sessions_and_two_factor_and_an_admin_ends_one_session() {
    let app = spawn_app().await;
    let (owner, _, alice, _) = app.team().await;
    let laptop = app.login("alice", PASSWORD).await;
    let detail = app
        .get(&format!("/admin/users/{}", alice.user_id), &owner.access)
        .await
        .expect(200);
    assert_eq!(detail["username"], "alice");
    assert_eq!(detail["two_factor_enabled"], false);
    let sessions = detail["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{detail}");
    let laptop_session = app.state.jwt.verify(&laptop.access).unwrap().sid.unwrap();

    let mut laptop_ws = app.ws(&laptop.access).await;
    app.delete(
        &format!("/admin/users/{}/sessions/{laptop_session}", alice.user_id),
        &owner.access,
    )
    .await
    .expect(204);
    assert_eq!(
        closes_within_a_second(&mut laptop_ws).await,
        WsEnd::Code(4001)
    );
    app.get("/users/me", &laptop.access)
        .await
        .problem(401, "token_revoked");
    app.get("/users/me", &alice.access).await.expect(200);
    // Not hers, or already over: 404.
    app.delete(
        &format!("/admin/users/{}/sessions/{laptop_session}", alice.user_id),
        &owner.access,
    )
    .await
    .problem(404, "not_found");
    app.delete(
        &format!("/admin/users/{}/sessions/{laptop_session}", owner.user_id),
        &owner.access,
    )
    .await
    .problem(404, "not_found");
    let detail = app
        .get(&format!("/admin/users/{}", alice.user_id), &owner.access)
        .await
        .expect(200);
    assert_eq!(detail["sessions"].as_array().unwrap().len(), 1);
    let mut audit = audited(&app, &owner, &alice.user_id).await;
    audit.retain(|(action, _)| action != "auth.login_succeeded");
    assert_eq!(
        audit,
        [(
            "auth.session_revoked".to_string(),
            Value::from(owner.user_id.as_str())
        )]
    );
}

#[tokio::test]
async fn resetting_two_factor_lets_the_user_in_with_the_password_alone() {
    let app = spawn_app().await;
    let (owner, _, alice, _) = app.team().await;
    let reset = format!("/admin/users/{}/reset-2fa", alice.user_id);
    app.post(&reset, Some(&owner.access), json!({}))
        .await
        .problem(409, "conflict");
    enroll(&app, &alice).await;
    let challenged = app
        .post(
            "/auth/login",
            None,
            json!({"login": "alice", "password": PASSWORD}),
        )
        .await
        .expect(200);
    assert!(challenged.get("mfa_token").is_some(), "{challenged}");
    let detail = app
        .get(&format!("/admin/users/{}", alice.user_id), &owner.access)
        .await
        .expect(200);
    assert_eq!(detail["two_factor_enabled"], true);
    // The list shows it too, for each row.
    let listed = app
        .get("/admin/users?limit=200", &owner.access)
        .await
        .expect(200);
    for row in listed["items"].as_array().unwrap() {
        let on = row["id"] == alice.user_id.as_str();
        assert_eq!(row["two_factor_enabled"], on, "{row}");
    }

    app.post(&reset, Some(&owner.access), json!({}))
        .await
        .expect(204);
    app.get("/users/me", &alice.access)
        .await
        .problem(401, "token_revoked");
    app.login("alice", PASSWORD).await;
    let audit = audited(&app, &owner, &alice.user_id).await;
    let resets: Vec<_> = audit
        .iter()
        .filter(|(a, _)| a == "auth.totp_reset")
        .collect();
    assert_eq!(resets.len(), 1);
    assert_eq!(resets[0].1, owner.user_id.as_str());
}

#[tokio::test]
async fn a_forced_password_reset_voids_the_password_and_mails_a_link() {
    let app = spawn_app().await;
    let (owner, _, alice, _) = app.team().await;
    let mailbox = app.config.data_dir.join("mailbox");
    let before = std::fs::read_dir(&mailbox).map(|d| d.count()).unwrap_or(0);
    app.post(
        &format!("/admin/users/{}/password-reset", alice.user_id),
        Some(&owner.access),
        json!({}),
    )
    .await
    .expect(204);
    app.get("/users/me", &alice.access)
        .await
        .problem(401, "token_revoked");
    app.post(
        "/auth/login",
        None,
        json!({"login": "alice", "password": PASSWORD}),
    )
    .await
    .problem(401, "invalid_credentials");
    let token = mailed_token(&mailbox, before + 1, "/reset-password").await;
    const NEW: &str = "copper-Harbor-72-violet";
    app.post(
        "/auth/password-reset/confirm",
        None,
        json!({"token": token, "new_password": NEW}),
    )
    .await
    .expect(204);
    app.login("alice", NEW).await;
    let audit = app.audit(&owner, "auth.password_reset").await;
    assert_eq!(audit.len(), 2, "the forced reset and the user's own");
    assert_eq!(audit[1]["actor_id"], owner.user_id.as_str());
    assert_eq!(audit[1]["details"]["forced"], true);
}

#[tokio::test]
async fn the_list_sorts_by_last_activity_and_pages_through_everyone_once() {
    let app = spawn_app().await;
    let (owner, ws, alice, bob) = app.team().await;
    for name in ["carol", "dave", "erin"] {
        app.member(&owner, &ws, name).await;
    }
    // Everyone signed in (the helpers log in); only who is noted from now on counts.
    app.state.activity.flush(&app.state).await.unwrap();
    let reset = |app: &TestApp| {
        use colink::db::entity::user;
        use sea_orm::{EntityTrait, sea_query::Expr};
        let db = app.state.db.clone();
        async move {
            user::Entity::update_many()
                .col_expr(
                    user::Column::LastActiveAt,
                    Expr::value(Option::<time::OffsetDateTime>::None),
                )
                .exec(&db)
                .await
                .unwrap();
        }
    };
    reset(&app).await;
    // Noted once a minute per user: a fresh state notes again.
    let noted = colink::service::activity::Activity::default();
    noted.touch(uuid::Uuid::parse_str(&bob.user_id).unwrap());
    noted.flush(&app.state).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    noted.touch(uuid::Uuid::parse_str(&alice.user_id).unwrap());
    noted.flush(&app.state).await.unwrap();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let after = cursor
            .as_ref()
            .map(|c| format!("&cursor={c}"))
            .unwrap_or_default();
        let page = app
            .get(
                &format!("/admin/users?sort=last_active&limit=2{after}"),
                &owner.access,
            )
            .await
            .expect(200);
        for u in page["items"].as_array().unwrap() {
            seen.push((
                u["username"].as_str().unwrap().to_string(),
                u["last_active_at"].is_string(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let expected: Vec<(String, bool)> = [
        ("alice", true),
        ("bob", true),
        ("carol", false),
        ("dave", false),
        ("erin", false),
        ("owner", false),
    ]
    .iter()
    .map(|(n, a)| (n.to_string(), *a))
    .collect();
    assert_eq!(seen, expected);
    app.get("/admin/users?sort=last_active&cursor=zzz", &owner.access)
        .await
        .problem(400, "validation_failed");
}
