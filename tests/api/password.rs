//! Changing one's password while signed in (`POST /auth/password`); resetting a forgotten one is
//! in `account.rs`.

use serde_json::json;

use crate::helpers::{PASSWORD, spawn_app};

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_every_session() {
    let app = spawn_app().await;
    let (owner, _) = app.setup_owner().await;
    let other_device = app.login("owner", PASSWORD).await;
    let new = "granite-Lantern-77-quiver";
    let wrong = app
        .post(
            "/auth/password",
            Some(&owner.access),
            json!({"current_password": "not it at all", "new_password": new}),
        )
        .await
        .expect(403);
    assert_eq!(wrong["code"], "invalid_password", "{wrong}");
    let weak = app
        .post(
            "/auth/password",
            Some(&owner.access),
            json!({"current_password": PASSWORD, "new_password": "password"}),
        )
        .await
        .expect(400);
    assert_eq!(weak["errors"][0]["field"], "new_password", "{weak}");
    app.post(
        "/auth/password",
        Some(&owner.access),
        json!({"current_password": PASSWORD, "new_password": new}),
    )
    .await
    .expect(204);
    // Every session ended, on every device; the new password signs in, the old one does not.
    app.get("/users/me", &owner.access).await.expect(401);
    app.get("/users/me", &other_device.access).await.expect(401);
    app.post(
        "/auth/login",
        None,
        json!({"login": "owner", "password": PASSWORD}),
    )
    .await
    .expect(401);
    let me = app.login("owner", new).await;
    app.get("/users/me", &me.access).await.expect(200);
}
