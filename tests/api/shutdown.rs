//! Graceful shutdown under load (SIGTERM): every request in flight completes or fails cleanly
//! (never a 5xx), WebSocket clients get close code 1001, the process exits within
//! `server.shutdown_timeout`, and every acknowledged message is there after a restart.

use std::{
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use colink_client::{Client, Error, ws::WsAuth};
use serde_json::json;

use crate::cli::{channel_messages, owner_and_channel, owner_login, serve};

#[tokio::test]
async fn sigterm_under_load_drains_requests_closes_websockets_with_1001_and_loses_nothing() {
    colink::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::fresh_database().await.unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("colink.db").display()
        )
    });
    let env = [
        ("COLINK_DATA_DIR", dir.path().to_str().unwrap()),
        ("COLINK_DATABASE__URL", url.as_str()),
        ("COLINK_LIMITS__WRITES__MESSAGES__CAPACITY", "100000"),
        ("COLINK_LIMITS__WRITES__MESSAGES__PER_MINUTE", "100000"),
        ("COLINK_SERVER__SHUTDOWN_TIMEOUT", "5s"),
    ];
    let (mut child, port) = serve(&env);
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let http = reqwest::Client::new();
    let (access, channel) = owner_and_channel(&http, &base, dir.path(), "draining").await;
    let mut socket = Client::new(&format!("http://127.0.0.1:{port}"))
        .ws_connect_with(WsAuth::Token(&access), None)
        .await
        .unwrap();

    // 8 senders, each on its own connection, until the server stops answering.
    let sent = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    for t in 0..8 {
        let (base, access, channel, sent) =
            (base.clone(), access.clone(), channel.clone(), sent.clone());
        senders.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut acked = Vec::new();
            for i in 0.. {
                let reply = http
                    .post(format!("{base}/channels/{channel}/messages"))
                    .bearer_auth(&access)
                    .json(
                        &json!({"content": format!("t{t} m{i}"), "client_id": format!("t{t}-{i}")}),
                    )
                    .send()
                    .await;
                let Ok(reply) = reply else {
                    break; // refused or closed: the server stopped accepting
                };
                let status = reply.status().as_u16();
                assert!(status == 201 || status == 503, "t{t} m{i}: {status}");
                if status == 503 {
                    break;
                }
                let Ok(message) = reply.json::<serde_json::Value>().await else {
                    break; // cut off mid-answer: not acknowledged
                };
                acked.push(message["id"].as_str().unwrap().to_owned());
                sent.fetch_add(1, Ordering::Relaxed);
            }
            acked
        }));
    }
    while sent.load(Ordering::Relaxed) < 200 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stopping = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();

    let close = loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next_text()).await {
            Ok(Ok(_)) => continue,
            Ok(Err(Error::Closed { code })) => break code,
            Ok(Err(e)) => panic!("the socket failed instead of closing: {e}"),
            Err(_) => panic!("no close frame within 10 s"),
        }
    };
    assert_eq!(close, Some(1001), "going away");
    let mut acked = Vec::new();
    for sender in senders {
        acked.extend(sender.await.unwrap());
    }
    let exited = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(8),
            "still running {:?} after SIGTERM (shutdown_timeout 5s)",
            stopping.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exited.success(), "{exited}");

    let (mut child, port) = serve(&env);
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let access = owner_login(&http, &base).await;
    let stored: std::collections::HashSet<String> =
        channel_messages(&http, &base, &access, &channel)
            .await
            .into_iter()
            .map(|(id, _)| id)
            .collect();
    let lost: Vec<_> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(lost.is_empty(), "{} acknowledged messages lost", lost.len());
    assert!(acked.len() >= 200);
    child.kill().unwrap();
    child.wait().unwrap();
}
