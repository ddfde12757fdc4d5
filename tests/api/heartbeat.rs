//! The WebSocket heartbeat: the server pings every `realtime.ping_interval` and closes a
//! connection that misses `realtime.missed_pongs` pongs in a row (close code 4002).
//!
//! A WebSocket library answers pings by itself, so this client speaks the protocol by hand over a
//! raw TCP socket: it upgrades, then only reads, and never answers.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::spawn_with;

/// One unmasked server frame: opcode and payload.
fn frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while bytes.len() >= 2 {
        let opcode = bytes[0] & 0x0f;
        let (len, header) = match bytes[1] & 0x7f {
            126 if bytes.len() >= 4 => (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
            127 => panic!("unexpectedly large frame"),
            n => (usize::from(n), 2),
        };
        if bytes.len() < header + len {
            break;
        }
        out.push((opcode, bytes[header..header + len].to_vec()));
        bytes = &bytes[header + len..];
    }
    out
}

#[tokio::test]
async fn a_client_that_never_answers_pings_is_closed_with_4002() {
    let app = spawn_with(|c| {
        c.realtime.ping_interval.0 = Duration::from_millis(100);
        c.realtime.missed_pongs = 2;
    })
    .await;
    let (_, _, alice, _) = app.team().await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = format!(
        "GET /ws?token={} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        alice.access
    );
    socket.write_all(request.as_bytes()).await.unwrap();

    // Read everything until the server hangs up (bounded: a server that never closes fails).
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut received))
        .await
        .expect("the server closes the silent connection")
        .expect("read");
    let split = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response")
        + 4;
    let head = String::from_utf8_lossy(&received[..split]);
    assert!(head.starts_with("HTTP/1.1 101"), "upgraded: {head}");

    let frames = frames(&received[split..]);
    let pings = frames.iter().filter(|(op, _)| *op == 0x9).count();
    assert_eq!(pings, 2, "two unanswered pings, then the close: {frames:?}");
    let (opcode, payload) = frames.last().expect("a close frame");
    assert_eq!(*opcode, 0x8, "the last frame is a close frame");
    assert_eq!(
        u16::from_be_bytes([payload[0], payload[1]]),
        4002,
        "close code 4002 (heartbeat timeout)"
    );
}
