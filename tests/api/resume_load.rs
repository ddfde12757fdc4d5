//! A `resume` over a large backlog to a client that never reads: the server streams it in small
//! pages, so its memory stays bounded, and the stalled write closes the connection. The server
//! runs as its own process so that its memory can be measured.

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::cli::{owner_and_channel, spawn_server};

const MESSAGES: usize = 1_000;
const CHARS: usize = 40_000;

/// The server process, killed when the test ends (also when it fails).
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Anonymous resident memory of `pid` (the heap and stacks), in KiB. File-backed pages are left
/// out: SQLite reads through a memory map (`db::SQLITE_MMAP_BYTES`), so reading the backlog
/// maps its pages of the database file — the OS page cache, not memory the server holds.
fn anonymous_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
}

#[tokio::test]
async fn a_resume_to_a_client_that_never_reads_stays_bounded_and_closes() {
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
        ("COLINK_SERVER__WRITE_TIMEOUT", "2s"),
        ("COLINK_LIMITS__WRITES__MESSAGES__CAPACITY", "100000"),
        ("COLINK_REALTIME__RESUME_MAX_MESSAGES", "1000"),
    ];
    let (child, port) = spawn_server(&["serve"], &env, None);
    let server = Server(child);
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let http = reqwest::Client::new();
    let (access, channel) = owner_and_channel(&http, &base, dir.path(), "backlog").await;

    // 1,000 messages of 40,000 characters: 40 MB of backlog.
    let mut senders = Vec::new();
    for t in 0..8 {
        let (http, base, access, channel) =
            (http.clone(), base.clone(), access.clone(), channel.clone());
        senders.push(tokio::spawn(async move {
            for i in (t..MESSAGES).step_by(8) {
                let content = format!("{i:05}{}", "x".repeat(CHARS - 5));
                let r = http
                    .post(format!("{base}/channels/{channel}/messages"))
                    .bearer_auth(&access)
                    .json(&json!({ "content": content }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 201);
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }

    let pid = server.0.id();
    let before = anonymous_kib(pid);
    let mut peak = before;

    // A client with a tiny receive buffer that never reads.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(([127, 0, 0, 1], port).into()).await.unwrap();
    let (mut ws, _) =
        tokio_tungstenite::client_async(format!("ws://127.0.0.1:{port}/ws?token={access}"), stream)
            .await
            .unwrap();
    let resume = json!({"type": "resume", "channel_id": channel, "after_seq": 0});
    ws.send(Message::Text(resume.to_string().into()))
        .await
        .unwrap();

    // The server gives up on the stalled write and drops the socket; our next write then fails
    // (connection reset). Until then, keep knocking.
    let mut closed = false;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Sampled while the resume is stuck (2 s before the write timeout closes it).
        peak = peak.max(anonymous_kib(pid));
        if ws.send(Message::Ping(Vec::new().into())).await.is_err() {
            closed = true;
            break;
        }
    }
    assert!(closed, "the server kept a connection that never read");
    let growth_mib = peak.saturating_sub(before) / 1024;
    eprintln!("resume to a stalled client: anonymous memory peak grew {growth_mib} MiB");
    assert!(
        growth_mib < 32,
        "serving the resume grew the server by {growth_mib} MiB (40 MB of backlog)"
    );

    // The server is fine afterwards.
    let health = http
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
}
