//! Connection-level limits (`[server]`): slow request heads and bodies are cut off, the number
//! of open connections is capped. Raw TCP, because an HTTP client would not misbehave.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use colink::config::HumanDuration;

use crate::helpers::{TestApp, spawn_with};

fn secs(n: u64) -> HumanDuration {
    HumanDuration(Duration::from_secs(n))
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Everything the server sends until it closes the connection (or 60 s pass).
async fn read_until_closed(mut socket: tokio::net::tcp::OwnedReadHalf) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(60), socket.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_slowloris_client_sending_one_header_byte_per_second_is_disconnected() {
    let app = spawn_with(|c| c.server.header_read_timeout = secs(2)).await;
    let (read, mut write) = connect(&app).await.into_split();
    let reader = tokio::spawn(read_until_closed(read));
    // A 60-byte head at one byte per second would take a minute; the server gives it 2 s.
    let head = b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Padding: aaaaaaaaaa\r\n\r\n";
    let mut sent = 0;
    for byte in head {
        if reader.is_finished() || write.write_all(&[*byte]).await.is_err() {
            break;
        }
        sent += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let answer = reader.await.unwrap();
    assert!(sent < head.len(), "the whole slow head was accepted");
    assert!(
        !answer.contains("200 OK"),
        "a slow head was served: {answer}"
    );
}

#[tokio::test]
async fn a_body_trickling_in_gets_408() {
    let app = spawn_with(|c| c.server.body_read_timeout = secs(2)).await;
    let (read, mut write) = connect(&app).await.into_split();
    let reader = tokio::spawn(read_until_closed(read));
    write
        .write_all(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
    for _ in 0..60 {
        if reader.is_finished() || write.write_all(b" ").await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let answer = reader.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "answer: {answer}");
    assert!(answer.contains("request_timeout"), "answer: {answer}");
}

#[tokio::test]
async fn connections_over_the_cap_wait_until_one_closes() {
    let app = spawn_with(|c| c.server.max_connections = 2).await;
    // (The harness checks readiness on a connection it closes, so both slots are free.)
    let mut held = [connect(&app).await, connect(&app).await];
    // Make sure both are accepted (each answers a request) before trying a third.
    for socket in &mut held {
        socket
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 12];
        socket.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"HTTP/1.1 200");
    }
    let mut third = connect(&app).await; // the kernel completes the handshake
    third
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 12];
    let waited = tokio::time::timeout(Duration::from_millis(500), third.read_exact(&mut buf)).await;
    assert!(
        waited.is_err(),
        "a third connection was served at a cap of 2"
    );
    drop(held);
    third.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"HTTP/1.1 200");
}
