//! WebSocket clients for the realtime tests: a raw connection to `/ws` and a client that
//! sends frames and awaits the ones a test expects (never sleeping for them).

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::TestApp;

pub type WsStream = colink_client::ws::Connection<tokio::net::TcpStream>;

/// How long a test waits for an expected frame before failing.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(15);

pub struct WsClient {
    pub ws: WsStream,
}

/// How a WebSocket ended, as the client saw it.
#[derive(Debug, PartialEq, Eq)]
pub enum WsEnd {
    /// A close frame with this code.
    Code(u16),
    /// The connection dropped without a close frame.
    Dropped,
}

impl TestApp {
    /// Open `/ws?{query}`; `recv_buffer` shrinks the client's socket receive buffer.
    pub async fn ws_raw(&self, query: &str, recv_buffer: Option<u32>) -> WsStream {
        let addr: std::net::SocketAddr = self.base.trim_start_matches("http://").parse().unwrap();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let stream = socket.connect(addr).await.expect("tcp connect");
        let url = format!("ws://{addr}/ws?{query}");
        WsStream::handshake(stream, &url, None)
            .await
            .expect("websocket handshake")
    }

    /// A connection authenticated with `token`, proven live by a ping/pong round trip.
    pub async fn ws(&self, token: &str) -> WsClient {
        let mut client = WsClient {
            ws: self.ws_raw(&format!("token={token}"), None).await,
        };
        client.send(json!({"type": "ping"})).await;
        client.expect(|f| f["type"] == "pong").await;
        client
    }
}

impl WsClient {
    pub async fn send(&mut self, frame: Value) {
        self.ws.send_json(&frame).await.expect("send frame");
    }

    /// The next JSON frame (control frames are skipped); `None` when the connection ended.
    pub async fn next(&mut self) -> Option<Result<Value, WsEnd>> {
        use colink_client::Error;
        let frame = tokio::time::timeout(FRAME_TIMEOUT, self.ws.next_as::<Value>())
            .await
            .expect("timed out waiting for a frame");
        match frame {
            Ok(frame) => Some(Ok(frame)),
            Err(Error::Closed { code: Some(code) }) => Some(Err(WsEnd::Code(code))),
            Err(Error::Closed { code: None } | Error::WebSocket(_)) => Some(Err(WsEnd::Dropped)),
            Err(e) => panic!("reading a frame: {e}"),
        }
    }

    /// Skip frames until one matches (panics if the connection ends or nothing comes in time).
    pub async fn expect(&mut self, matches: impl Fn(&Value) -> bool) -> Value {
        loop {
            match self.next().await {
                Some(Ok(frame)) if matches(&frame) => return frame,
                Some(Ok(_)) => continue,
                other => panic!("connection ended while waiting for a frame: {other:?}"),
            }
        }
    }

    /// The next `event` frame of this type.
    pub async fn event(&mut self, kind: &str) -> Value {
        self.expect(|f| f["type"] == "event" && f["event"]["type"] == kind)
            .await["event"]
            .clone()
    }

    pub async fn subscribe(&mut self, channel: &str) {
        self.send(json!({"type": "subscribe", "channel_id": channel}))
            .await;
        self.expect(|f| f["type"] == "subscribed" && f["channel_id"] == channel)
            .await;
    }

    /// Every frame up to the answer to a ping (what the server had queued before it).
    pub async fn drain(&mut self) -> Vec<Value> {
        self.send(json!({"type": "ping"})).await;
        let mut frames = Vec::new();
        loop {
            match self.next().await {
                Some(Ok(f)) if f["type"] == "pong" => return frames,
                Some(Ok(f)) => frames.push(f),
                other => panic!("connection ended while draining: {other:?}"),
            }
        }
    }

    /// Read until the connection ends; how it ended.
    pub async fn closed(&mut self) -> WsEnd {
        loop {
            match self.next().await {
                Some(Ok(_)) => continue,
                Some(Err(end)) => return end,
                None => return WsEnd::Dropped,
            }
        }
    }
}
