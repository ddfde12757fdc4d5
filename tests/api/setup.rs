use serde_json::json;

use crate::helpers::{PASSWORD, spawn_app};

#[tokio::test]
async fn first_run_setup_creates_owner_and_workspace_once() {
    let app = spawn_app().await;
    let token_file = app.config.data_dir.join("setup-token");
    assert!(token_file.exists(), "setup token written to the data dir");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let status = app
        .call(reqwest::Method::GET, "/setup/status", None, None)
        .await
        .expect(200);
    assert_eq!(status["needs_setup"], true);

    let token = app.setup_token().await;
    let body = |t: &str, pw: &str| {
        json!({"setup_token": t, "email": "owner@example.com", "username": "owner",
               "password": pw, "workspace_name": "Acme"})
    };
    app.post("/setup", None, body("wrong-token", PASSWORD))
        .await
        .problem(403, "forbidden");
    app.post("/setup", None, body(&token, "password"))
        .await
        .problem(400, "validation_failed");

    let done = app
        .post("/setup", None, body(&token, PASSWORD))
        .await
        .expect(201);
    assert_eq!(done["user"]["role"], "owner");
    assert_eq!(done["workspace"]["name"], "Acme");
    assert_eq!(done["workspace"]["slug"], "acme");
    let access = done["tokens"]["access_token"].as_str().unwrap();
    let me = app.get("/users/me", access).await.expect(200);
    assert_eq!(me["username"], "owner");
    let workspaces = app.get("/workspaces", access).await.expect(200);
    assert_eq!(workspaces["items"][0]["id"], done["workspace"]["id"]);

    assert!(!token_file.exists(), "token file removed after setup");
    let status = app
        .call(reqwest::Method::GET, "/setup/status", None, None)
        .await
        .expect(200);
    assert_eq!(status["needs_setup"], false);
    app.post("/setup", None, body(&token, PASSWORD))
        .await
        .problem(409, "already_set_up");
}

#[cfg(unix)]
#[tokio::test]
async fn a_new_data_dir_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("fresh");
    let app = crate::helpers::spawn_with(|c| c.data_dir = dir.clone()).await;
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    let key_mode = std::fs::metadata(dir.join("secret.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
    drop(app);
}

#[tokio::test]
async fn setup_token_survives_a_restart_until_used() {
    let app = spawn_app().await;
    let token = app.setup_token().await;
    let (config, dir) = app.stop().await;
    let app = crate::helpers::start(config, dir).await;
    assert_eq!(app.setup_token().await, token);
}

/// With `auth.require_totp`, the owner created by setup must enroll before anything else, just
/// as after a password login: setup's tokens carry the enrollment-only scope.
#[tokio::test]
async fn setup_issues_enrollment_only_tokens_when_totp_is_required() {
    let app = crate::helpers::spawn_with(|c| c.auth.require_totp = true).await;
    let token = app.setup_token().await;
    let done = app
        .post(
            "/setup",
            None,
            json!({"setup_token": token, "email": "owner@example.com", "username": "owner",
                   "password": PASSWORD, "workspace_name": "Acme"}),
        )
        .await
        .expect(201);
    assert_eq!(done["tokens"]["totp_enrollment_required"], true, "{done}");
    let access = done["tokens"]["access_token"].as_str().unwrap();
    app.get("/workspaces", access)
        .await
        .problem(403, "totp_enrollment_required");
    app.get("/users/me", access).await.expect(200);
    app.post(
        "/auth/totp/setup",
        Some(access),
        json!({"password": PASSWORD}),
    )
    .await
    .expect(200);
    // The refresh token does not escape the restriction either.
    let refreshed = app
        .post(
            "/auth/refresh",
            None,
            json!({"refresh_token": done["tokens"]["refresh_token"]}),
        )
        .await
        .expect(200);
    assert_eq!(refreshed["totp_enrollment_required"], true);
    app.get("/workspaces", refreshed["access_token"].as_str().unwrap())
        .await
        .problem(403, "totp_enrollment_required");
}
