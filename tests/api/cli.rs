//! The `colink` binary's subcommands.

use std::process::{Command, Output};

use serde_json::json;

use crate::helpers::{PASSWORD, spawn_app};

/// Run the real `colink` binary to completion.
pub(crate) fn colink(args: &[&str], envs: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_colink"));
    cmd.args(args)
        .env_remove("COLINK_DATABASE__URL")
        .env("COLINK_TELEMETRY__LEVEL", "warn");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    if let Some(input) = stdin {
        use std::io::Write;
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        return child.wait_with_output().unwrap();
    }
    cmd.output().unwrap()
}

pub(crate) fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[test]
fn check_config_prints_effective_config_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let out = colink(
        &["check-config"],
        &[
            ("COLINK_DATA_DIR", dir.path().to_str().unwrap()),
            (
                "COLINK_DATABASE__URL",
                "postgres://colink:hunter2secret@db.internal:5432/colink",
            ),
            (
                "COLINK_AUTH__SECRET_KEY",
                "0123456789abcdef0123456789abcdef-supersecret",
            ),
            ("COLINK_SERVER__BIND", "0.0.0.0:9000"),
        ],
        None,
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("bind = \"0.0.0.0:9000\""), "{stdout}");
    assert!(stdout.contains("db.internal:5432"), "{stdout}");
    assert!(
        !stdout.contains("hunter2secret") && !stdout.contains("supersecret"),
        "{stdout}"
    );
}

#[test]
fn invalid_configuration_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[auth]\nregistration = \"sometimes\"\n").unwrap();
    let out = colink(
        &["check-config", "--config", file.to_str().unwrap()],
        &[],
        None,
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("registration"), "{stderr}");

    let out = colink(
        &["check-config"],
        &[("COLINK_AUTH__ACCESS_TTL", "forever")],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).to_lowercase().contains("access_ttl"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn openapi_prints_the_document() {
    let out = colink(&["openapi"], &[], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["paths"]["/auth/login"].is_object());
}

#[tokio::test]
async fn admin_commands_work_beside_a_running_server() {
    let app = spawn_app().await;
    let (owner, _) = app.setup_owner().await;
    let dir = app.config.data_dir.to_str().unwrap().to_string();
    let db_url = app.config.database_url();
    let env = [
        ("COLINK_DATA_DIR", dir.as_str()),
        ("COLINK_DATABASE__URL", db_url.as_str()),
    ];

    let out = colink(
        &[
            "admin",
            "create-user",
            "--username",
            "carol",
            "--email",
            "carol@example.com",
            "--password-stdin",
        ],
        &env,
        Some(PASSWORD),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let carol = app.login("carol", PASSWORD).await;
    assert_eq!(
        app.get("/workspaces", &carol.access).await.expect(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let channels = app.get("/channels", &carol.access).await.expect(200);
    assert_eq!(channels["items"][0]["name"], "general", "{channels}");
    assert_eq!(channels["items"][0]["is_member"], true, "{channels}");

    let out = colink(
        &[
            "admin",
            "create-user",
            "--username",
            "carol",
            "--email",
            "c2@example.com",
        ],
        &env,
        None,
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("taken"), "{}", text(&out.stderr));

    let out = colink(
        &["admin", "users", "set-role", "carol", "admin"],
        &env,
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let carol = app.login("carol", PASSWORD).await;
    app.get("/admin/users", &carol.access).await.expect(200);

    let out = colink(
        &["admin", "users", "suspend", "carol", "--reason", "testing"],
        &env,
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    app.post(
        "/auth/login",
        None,
        json!({"login": "carol", "password": PASSWORD}),
    )
    .await
    .problem(403, "account_suspended");
    let out = colink(&["admin", "users", "unsuspend", "carol"], &env, None);
    assert!(out.status.success());

    // A reset link outstanding when the CLI sets a new password is void afterwards.
    app.post(
        "/auth/password-reset/request",
        None,
        json!({"email": "carol@example.com"}),
    )
    .await
    .expect(202);
    let open_reset_links = || async {
        use colink::db::entity::email_token;
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        email_token::Entity::find()
            .filter(email_token::Column::UserId.eq(uuid::Uuid::parse_str(&carol.user_id).unwrap()))
            .filter(email_token::Column::Purpose.eq("password_reset"))
            .filter(email_token::Column::UsedAt.is_null())
            .count(&app.state.db)
            .await
            .unwrap()
    };
    assert_eq!(open_reset_links().await, 1);
    let out = colink(&["admin", "reset-password", "carol"], &env, None);
    assert!(out.status.success());
    assert_eq!(open_reset_links().await, 0);
    let stdout = text(&out.stdout);
    let generated = stdout
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap()
        .to_string();
    app.login("carol", &generated).await;

    let out = colink(
        &[
            "admin",
            "create-client",
            "--name",
            "CI Bot",
            "--username",
            "cibot",
        ],
        &env,
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .trim()
            .to_string()
    };
    let (id, secret) = (field("client_id:"), field("client_secret:"));
    app.post(
        "/auth/token",
        None,
        json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret}),
    )
    .await
    .expect(200);
    assert_eq!(app.audit(&owner, "client.created").await.len(), 1);

    let out = colink(&["migrate", "status"], &env, None);
    assert!(
        text(&out.stdout).contains("m20261122_000001_identity"),
        "{}",
        text(&out.stdout)
    );
}

/// `colink serve` with JSON logs: one access line per request, and no password or token ever
/// appears in the log: not in a query string, and not in a path (`/invites/{token}/accept`).
#[test]
fn serve_logs_one_json_access_line_per_request_and_no_secrets() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_colink"))
        .arg("serve")
        .env_remove("COLINK_DATABASE__URL")
        .env("COLINK_DATA_DIR", dir.path())
        .env("COLINK_SERVER__BIND", "127.0.0.1:0")
        .env("COLINK_TELEMETRY__LOG_FORMAT", "json")
        .env("COLINK_TELEMETRY__LEVEL", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut log = Vec::new();
    let port = loop {
        let line = lines.next().expect("server exited").unwrap();
        let entry: serde_json::Value = serde_json::from_str(&line).expect("every log line is JSON");
        log.push(entry.clone());
        if entry["message"] == "CoLink listening" {
            break entry["port"].as_u64().unwrap();
        }
    };
    let setup_token = std::fs::read_to_string(dir.path().join("setup-token")).unwrap();
    let base = format!("http://127.0.0.1:{port}/api/v1");
    // The start-up line names the token, the web app's setup page that takes it, and the API
    // route for scripts (SPEC §5).
    let announced = log
        .iter()
        .find(|e| e["setup_token"].is_string())
        .expect("a setup line while no account exists");
    assert_eq!(announced["setup_token"], setup_token.trim());
    assert_eq!(
        announced["setup_url"],
        format!("http://127.0.0.1:{port}/setup?token={}", setup_token.trim())
    );
    let message = announced["message"].as_str().unwrap();
    assert!(message.contains("open this page"), "{announced}");
    assert!(message.contains("POST /api/v1/setup"), "{announced}");
    let setup_url = format!("{base}/setup");
    let http = reqwest::Client::new();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let secrets = rt.block_on(async {
        let done: serde_json::Value = http
            .post(&setup_url)
            .json(&json!({"setup_token": setup_token.trim(), "email": "o@example.com", "username": "owner",
                          "password": PASSWORD, "workspace_name": "Logs"}))
            .send().await.unwrap().json().await.unwrap();
        let login: serde_json::Value = http
            .post(format!("{base}/auth/login"))
            .json(&json!({"login": "owner", "password": PASSWORD}))
            .send().await.unwrap().json().await.unwrap();
        let access = login["access_token"].as_str().unwrap().to_string();
        http.get(format!("{base}/users/me")).bearer_auth(&access).send().await.unwrap();
        http.get(format!(
            "{base}/users/me?token={access}&ticket=TICKET-SECRET&code=CODE-SECRET&access_token={access}&limit=5"
        )).send().await.unwrap();
        assert!(done["tokens"]["refresh_token"].is_string());
        let ws = done["workspace"]["id"].as_str().unwrap();
        let invite: serde_json::Value = http
            .post(format!("{base}/workspaces/{ws}/invites"))
            .bearer_auth(&access)
            .json(&json!({}))
            .send().await.unwrap().json().await.unwrap();
        let invite = invite["token"].as_str().unwrap().to_string();
        let accepted = http
            .post(format!("{base}/invites/{invite}/accept"))
            .bearer_auth(&access)
            .send().await.unwrap();
        assert_eq!(accepted.status().as_u16(), 200);
        (access, invite)
    });
    let (access, invite) = secrets;
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    for line in lines.map_while(Result::ok) {
        log.push(serde_json::from_str(&line).expect("every log line is JSON"));
    }
    let _ = child.wait();
    let text: String = log
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!text.contains(PASSWORD), "password in the log");
    assert!(!text.contains(&access), "access token in the log");
    assert!(!text.contains(&invite), "invite token in the log");
    assert!(
        !text.contains("TICKET-SECRET") && !text.contains("CODE-SECRET"),
        "query secrets in the log"
    );
    let requests: Vec<_> = log
        .iter()
        .filter(|e| e["target"] == "colink::access")
        .collect();
    assert_eq!(requests.len(), 6, "one line per request:\n{text}");
    for r in &requests {
        assert!(
            r["request_id"].is_string() && r["method"].is_string() && r["status"].is_u64(),
            "{r}"
        );
        assert!(
            r["latency_ms"].is_string() || r["latency_ms"].is_number(),
            "{r}"
        );
    }
    assert_eq!(requests[3]["path"], "/api/v1/users/me", "the path alone");
    assert_eq!(
        requests[3]["query"],
        "token=[redacted]&ticket=[redacted]&code=[redacted]&access_token=[redacted]&limit=5",
        "secret query values are masked"
    );
    assert!(requests[2].get("query").is_none(), "{}", requests[2]);
    assert_eq!(requests[5]["path"], "/api/v1/invites/[redacted]/accept");
    assert!(
        log.iter().any(|e| e["message"] == "CoLink stopped"),
        "graceful shutdown on SIGTERM"
    );
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::fresh_database()
        .await
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display()));
    let env = [
        ("COLINK_DATA_DIR", dir.path().to_str().unwrap()),
        ("COLINK_DATABASE__URL", url.as_str()),
    ];
    let status = |env: &[(&str, &str)]| {
        let out = colink(&["migrate", "status"], env, None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let run = |args: &[&str], expect: &str| {
        let out = colink(args, &env, None);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains(expect),
            "{args:?}: {}",
            text(&out.stdout)
        );
    };
    run(&["migrate", "up"], "migrations applied");
    let applied = status(&env);
    assert!(
        applied.contains("applied    m20261122_000001_identity") && !applied.contains("pending"),
        "{applied}"
    );
    run(&["migrate", "down"], "rolled back");
    let after_down = status(&env);
    let last = applied
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_string();
    assert!(
        after_down.contains(&format!("pending    {last}")),
        "{after_down}"
    );
    assert_eq!(after_down.matches("pending").count(), 1, "{after_down}");
    run(&["migrate", "up"], "migrations applied");
    assert_eq!(status(&env), applied);

    // All the way down (every migration's `down` runs, newest first) and back up.
    let migrations = applied.lines().count();
    assert!(migrations >= 2, "{applied}");
    for _ in 0..migrations {
        run(&["migrate", "down"], "rolled back");
    }
    let bottom = status(&env);
    assert_eq!(
        bottom.matches("pending").count(),
        migrations,
        "everything rolled back:\n{bottom}"
    );
    assert!(!bottom.contains("applied"), "{bottom}");
    run(&["migrate", "up"], "migrations applied");
    assert_eq!(status(&env), applied);
}

pub(crate) use crate::served::{
    channel_messages, owner_and_channel, owner_login, send_concurrently, serve, spawn_server,
};
