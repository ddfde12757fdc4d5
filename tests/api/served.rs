//! `colink serve` as a real process, for the tests that need one (durability, failover, the
//! CLI): start it on a free port, and drive it over HTTP.

use std::process::Command;

use serde_json::json;

use crate::helpers::PASSWORD;

/// Start `colink serve` on `env`; returns the child and its port (read from the JSON log).
pub(crate) fn serve(env: &[(&str, &str)]) -> (std::process::Child, u16) {
    spawn_server(&["serve"], env, None)
}

/// Start `colink ARGS` (a server: `serve`, or nothing) on a free port with JSON logs, in `cwd`
/// when given; returns the child and its port (read from the log).
pub(crate) fn spawn_server(
    args: &[&str],
    env: &[(&str, &str)],
    cwd: Option<&std::path::Path>,
) -> (std::process::Child, u16) {
    use std::io::{BufRead, BufReader};
    // The callers' HTTP clients need it, also when the test runs alone.
    colink::install_crypto_provider();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_colink"));
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd.args(args)
        .env_remove("COLINK_DATA_DIR")
        .env_remove("COLINK_CONFIG")
        .env_remove("COLINK_DATABASE__URL")
        .env("COLINK_SERVER__BIND", "127.0.0.1:0")
        .env("COLINK_TELEMETRY__LOG_FORMAT", "json")
        .env("COLINK_TELEMETRY__LEVEL", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        let entry: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if entry["message"] == "CoLink listening" {
            break entry["port"].as_u64().unwrap() as u16;
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    (child, port)
}

/// First-run setup of a server process at `base` (`…/api/v1`) whose data dir is `data_dir`, and
/// one public channel `channel` of the owner: the owner's access token and the channel id.
pub(crate) async fn owner_and_channel(
    http: &reqwest::Client,
    base: &str,
    data_dir: &std::path::Path,
    channel: &str,
) -> (String, String) {
    let token = std::fs::read_to_string(data_dir.join("setup-token")).unwrap();
    let done: serde_json::Value = http
        .post(format!("{base}/setup"))
        .json(
            &json!({"setup_token": token.trim(), "email": "o@example.com",
                      "username": "owner", "password": PASSWORD, "workspace_name": "Acme"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = done["tokens"]["access_token"].as_str().unwrap().to_string();
    let created: serde_json::Value = http
        .post(format!("{base}/channels"))
        .bearer_auth(&access)
        .json(&json!({ "name": channel }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (access, created["id"].as_str().unwrap().to_string())
}

/// Sign the owner made by [`owner_and_channel`] in on a server process at `base` (`…/api/v1`),
/// e.g. after a restart; their access token.
pub(crate) async fn owner_login(http: &reqwest::Client, base: &str) -> String {
    let login: serde_json::Value = http
        .post(format!("{base}/auth/login"))
        .json(&json!({"login": "owner", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["access_token"].as_str().unwrap().to_string()
}

/// `senders` concurrent senders each posting `each` messages to `channel` on the server process
/// at `base` (`…/api/v1`), every one asserted acknowledged (201); the acknowledged ids.
pub(crate) async fn send_concurrently(
    http: &reqwest::Client,
    base: &str,
    access: &str,
    channel: &str,
    (senders, each): (usize, usize),
) -> Vec<String> {
    let mut tasks = Vec::new();
    for t in 0..senders {
        let (http, base, access, channel) = (
            http.clone(),
            base.to_owned(),
            access.to_owned(),
            channel.to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..each {
                let r = http
                    .post(format!("{base}/channels/{channel}/messages"))
                    .bearer_auth(&access)
                    .json(
                        &json!({"content": format!("t{t} m{i}"), "client_id": format!("t{t}-{i}")}),
                    )
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 201);
                let m: serde_json::Value = r.json().await.unwrap();
                acked.push(m["id"].as_str().unwrap().to_string());
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    acked
}

/// Every top-level message of `channel` as (id, seq), oldest first, read page by page.
pub(crate) async fn channel_messages(
    http: &reqwest::Client,
    base: &str,
    access: &str,
    channel: &str,
) -> Vec<(String, i64)> {
    let mut all = Vec::new();
    loop {
        let after = all.last().map_or(0, |(_, seq)| *seq);
        let page: serde_json::Value = http
            .get(format!(
                "{base}/channels/{channel}/messages?after={after}&limit=200"
            ))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = page["items"].as_array().unwrap();
        if items.is_empty() {
            return all;
        }
        all.extend(items.iter().map(|m| {
            (
                m["id"].as_str().unwrap().to_string(),
                m["seq"].as_i64().unwrap(),
            )
        }));
    }
}
