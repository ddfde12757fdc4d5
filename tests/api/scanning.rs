//! Virus scanning through a real clamd (ClamAV's daemon, started here with a database holding
//! only a test signature for the EICAR string): files stay `pending` until scanned; infected
//! ones are refused for download and leave the messages that carried them; scan failures are
//! retried and shown. Without clamd (a machine where it cannot be installed) the tests skip,
//! unless `COLINK_REQUIRE_CLAMD` is set (CI).

use std::process::Stdio;

use bytes::Bytes;
use colink::config::ScannerKind;
use colink_client::{NewMessage, NewUpload, StatusCode};
use serde_json::Value;

use crate::{
    backends::{free_port, until_ready},
    helpers::{WsClient, spawn_with, uuid_of},
};

/// The EICAR test string: harmless, and detected as malware by design.
const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

struct Clamd {
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
    port: u16,
}

/// A clamd of its own on a free port, once it answers PING; `None` when there is no clamd.
async fn start_clamd() -> Option<Clamd> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/backends/clamd.sh");
    let found = std::process::Command::new(script)
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    if !found.status.success() {
        return None;
    }
    let clamd = String::from_utf8(found.stdout).ok()?.trim().to_string();
    let dir = tempfile::tempdir().ok()?;
    let db = dir.path().join("db");
    std::fs::create_dir_all(&db).ok()?;
    std::fs::write(
        db.join("eicar.ndb"),
        "Colink.Test.EICAR.NDB:0:*:45494341522d5354414e444152442d414e544956495255532d544553542d46494c45\n",
    )
    .ok()?;
    let port = free_port();
    let d = dir.path().display();
    let conf = dir.path().join("clamd.conf");
    std::fs::write(
        &conf,
        format!(
            "Foreground yes\nTCPSocket {port}\nTCPAddr 127.0.0.1\nDatabaseDirectory {d}/db\n\
             TemporaryDirectory {d}\nLogFile {d}/clamd.log\nPidFile {d}/clamd.pid\n\
             StreamMaxLength 25M\nSelfCheck 0\nBytecode no\n"
        ),
    )
    .ok()?;
    let mut child = tokio::process::Command::new(clamd)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    // Ready when it answers PING (≈ 0.3 s); give up if it exits.
    until_ready(&mut child, || ping(port))
        .await
        .then_some(Clamd {
            _child: child,
            _dir: dir,
            port,
        })
}

async fn ping(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut conn) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let mut reply = [0u8; 5];
    conn.write_all(b"zPING\0").await.is_ok()
        && conn.read_exact(&mut reply).await.is_ok()
        && &reply[..4] == b"PONG"
}

async fn require_clamd() -> Option<Clamd> {
    let clamd = start_clamd().await;
    if clamd.is_none() {
        if std::env::var("COLINK_REQUIRE_CLAMD").is_ok() {
            panic!("clamd could not be started (scripts/backends/clamd.sh)");
        }
        eprintln!("skipping: clamd is not available here (scripts/backends/clamd.sh installs it)");
    }
    clamd
}

fn text(name: &str, bytes: &Bytes) -> NewUpload<'static> {
    NewUpload {
        filename: Box::leak(name.to_string().into_boxed_str()),
        content_type: "text/plain",
        size_bytes: bytes.len() as u64,
        channel_id: None,
    }
}

/// The next `file.uploaded` for `id` whose file matches `done`.
async fn file_event(ws: &mut WsClient, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    loop {
        let event = ws.event("file.uploaded").await;
        if event["data"]["id"] == id && done(&event["data"]) {
            return event["data"].clone();
        }
    }
}

#[tokio::test]
async fn eicar_is_found_infected_and_never_served() {
    let Some(clamd) = require_clamd().await else {
        return;
    };
    let app = spawn_with(|c| {
        c.storage.scanner = ScannerKind::Clamd;
        c.storage.clamd_address = format!("127.0.0.1:{}", clamd.port);
    })
    .await;
    let (_owner, _ws, alice, bob) = app.team().await;
    let a = app.api_as(&alice);
    let mut alice_ws = app.ws(&alice.access).await;
    let room = app.channel(&alice, "room", false).await;
    app.join(&bob, &room).await;

    // A clean file: pending at confirm, then clean.
    let clean = Bytes::from_static(b"quarterly numbers, nothing to see\n");
    let f = a
        .upload(&text("clean.txt", &clean), clean.clone())
        .await
        .unwrap();
    assert_eq!(f.status, "pending");
    let id = f.id.to_string();
    let scanned = file_event(&mut alice_ws, &id, |f| f["status"] != "pending").await;
    assert_eq!(scanned["status"], "clean");
    let url = a.download_url(f.id, false).await.unwrap().url;
    assert_eq!(a.fetch_download(&url, None).await.unwrap().body, clean);

    // EICAR, attached to a message while pending: found, refused, and gone from the message.
    let eicar = Bytes::from_static(EICAR.as_bytes());
    let bad = a.upload(&text("eicar.txt", &eicar), eicar).await.unwrap();
    let sent = a
        .send_message(
            uuid_of(&room),
            &NewMessage {
                file_ids: &[bad.id],
                ..NewMessage::new("have a look")
            },
        )
        .await;
    let bad_id = bad.id.to_string();
    let verdict = file_event(&mut alice_ws, &bad_id, |f| f["status"] != "pending").await;
    assert_eq!(verdict["status"], "infected");
    let err = a.download_url(bad.id, false).await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::FORBIDDEN));
    if let Ok(message) = sent {
        // (The scan may have finished before the send: then the send was refused.)
        let history = app
            .api_as(&bob)
            .messages(uuid_of(&room), &Default::default())
            .await
            .unwrap();
        let shown = history.items.iter().find(|m| m.id == message.id).unwrap();
        assert!(shown.files.is_empty(), "the infected file left the message");
    }
    // Attaching an infected file is refused.
    let err = a
        .send_message(
            uuid_of(&room),
            &NewMessage {
                file_ids: &[bad.id],
                ..NewMessage::new("again")
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::FORBIDDEN));
}

#[tokio::test]
async fn scan_failures_are_retried_and_shown() {
    // No clamd at this address: every attempt fails.
    let port = free_port();
    let app = spawn_with(|c| {
        c.storage.scanner = ScannerKind::Clamd;
        c.storage.clamd_address = format!("127.0.0.1:{port}");
    })
    .await;
    let (_owner, _ws, alice, _bob) = app.team().await;
    let a = app.api_as(&alice);
    let mut alice_ws = app.ws(&alice.access).await;
    let bytes = Bytes::from_static(b"some text\n");
    let f = a.upload(&text("a.txt", &bytes), bytes).await.unwrap();
    let failed = file_event(&mut alice_ws, &f.id.to_string(), |f| {
        !f["scan_error"].is_null()
    })
    .await;
    assert_eq!(failed["status"], "pending");
    assert!(
        failed["scan_error"].as_str().unwrap().contains("clamd"),
        "{failed}"
    );
    // Not downloadable while unscanned.
    let err = a.download_url(f.id, false).await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::CONFLICT));
}
