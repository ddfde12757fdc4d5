//! Sessions end when they should: logout and refresh-token reuse revoke that session's access
//! tokens at once, and every ending (logout, logout-all, suspension, role change, expiry)
//! closes the matching WebSocket connections through the hub, without waiting for a heartbeat.
//!
//! The heartbeat runs every 30 s here and a test waits at most `FRAME_TIMEOUT` (15 s) for a
//! close: a close that arrives was sent by the hub, not found by the heartbeat.

use colink::identity::jwt::{Grant, Scope};
use serde_json::json;

use crate::helpers::{PASSWORD, WsEnd, spawn_app};

#[tokio::test]
async fn logout_ends_that_sessions_tokens_and_sockets_and_no_other() {
    let app = spawn_app().await;
    let (owner, ..) = app.team().await;
    let laptop = app.login("owner", PASSWORD).await;
    let mut laptop_ws = app.ws(&laptop.access).await;
    let mut phone_ws = app.ws(&owner.access).await;

    app.post(
        "/auth/logout",
        None,
        json!({"refresh_token": laptop.refresh}),
    )
    .await
    .expect(204);
    assert_eq!(laptop_ws.closed().await, WsEnd::Code(4001));
    app.get("/users/me", &laptop.access)
        .await
        .problem(401, "token_revoked");
    // The other session is untouched.
    app.get("/users/me", &owner.access).await.expect(200);
    phone_ws.drain().await;
}

#[tokio::test]
async fn refresh_token_reuse_revokes_the_sessions_access_tokens_at_once() {
    let app = spawn_app().await;
    let (_, _, alice, _) = app.team().await;
    let rotated = app
        .post(
            "/auth/refresh",
            None,
            json!({"refresh_token": alice.refresh}),
        )
        .await
        .expect(200);
    let new_access = rotated["access_token"].as_str().unwrap().to_string();
    let mut ws = app.ws(&new_access).await;
    app.get("/users/me", &new_access).await.expect(200);
    // The old refresh token again: stolen or replayed.
    app.post(
        "/auth/refresh",
        None,
        json!({"refresh_token": alice.refresh}),
    )
    .await
    .problem(401, "token_revoked");
    for token in [&alice.access, &new_access] {
        app.get("/users/me", token)
            .await
            .problem(401, "token_revoked");
    }
    assert_eq!(ws.closed().await, WsEnd::Code(4001));
}

#[tokio::test]
async fn logout_all_suspension_and_role_changes_close_sockets_through_the_hub() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;

    let mut alice_ws = app.ws(&alice.access).await;
    app.post("/auth/logout-all", Some(&alice.access), json!({}))
        .await
        .expect(204);
    assert_eq!(alice_ws.closed().await, WsEnd::Code(4001));

    let mut bob_ws = app.ws(&bob.access).await;
    app.post(
        &format!("/admin/users/{}/role", bob.user_id),
        Some(&owner.access),
        json!({"role": "admin"}),
    )
    .await
    .expect(200);
    assert_eq!(bob_ws.closed().await, WsEnd::Code(4003));

    let bob = app.login("bob", PASSWORD).await;
    let mut bob_ws = app.ws(&bob.access).await;
    app.post(
        &format!("/admin/users/{}/suspend", bob.user_id),
        Some(&owner.access),
        json!({"reason": "spam"}),
    )
    .await
    .expect(200);
    assert_eq!(bob_ws.closed().await, WsEnd::Code(4001));
}

#[tokio::test]
async fn a_socket_closes_when_its_token_expires_unless_an_auth_frame_renews_it() {
    let app = spawn_app().await;
    let (_, _, alice, _) = app.team().await;
    let claims = app.state.jwt.verify(&alice.access).unwrap();
    let short = app.state.jwt.issue(Grant {
        user_id: claims.sub,
        version: claims.ver,
        scope: Scope::Full,
        session: claims.sid,
        ttl_secs: 6,
    });
    let mut plain = app.ws(&short).await;
    let mut renewed = app.ws(&short).await;
    renewed
        .send(json!({"type": "auth", "token": alice.access}))
        .await;
    let answer = renewed.expect(|f| f["type"] == "authenticated").await;
    assert_eq!(answer["expires_at"], claims.exp);
    // Someone else's token or garbage is refused and changes nothing.
    renewed.send(json!({"type": "auth", "token": "nope"})).await;
    let refused = renewed.expect(|f| f["type"] == "error").await;
    assert_eq!(refused["code"], "unauthorized");

    assert_eq!(plain.closed().await, WsEnd::Code(4001));
    // Both had the same deadline: the renewed one is still there.
    renewed.drain().await;
}

#[tokio::test]
async fn people_list_their_sessions_and_sign_one_out() {
    let app = spawn_app().await;
    let (owner, ws) = app.setup_owner().await;
    let alice = app.member(&owner, &ws, "alice").await;
    let laptop = app.login("owner", PASSWORD).await;
    let list = app.get("/auth/sessions", &laptop.access).await.expect(200);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    // Most recently active first: the laptop's login, marked as the asking session.
    assert_eq!(items[0]["current"], true, "{list}");
    assert_eq!(items[1]["current"], false, "{list}");
    let other = items[1]["id"].as_str().unwrap().to_string();
    // Another user cannot end it.
    app.delete(&format!("/auth/sessions/{other}"), &alice.access)
        .await
        .expect(404);
    app.get("/users/me", &owner.access).await.expect(200);
    // Its owner can: that session's access token stops working at once, the laptop's does not.
    app.delete(&format!("/auth/sessions/{other}"), &laptop.access)
        .await
        .expect(204);
    app.get("/users/me", &owner.access).await.expect(401);
    app.get("/users/me", &laptop.access).await.expect(200);
    app.delete(&format!("/auth/sessions/{other}"), &laptop.access)
        .await
        .expect(404);
}
