//! The WebSocket clients: connect and subscribe, then record every message delivery.

use std::{cell::RefCell, collections::HashSet, rc::Rc, time::Instant};

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio_tungstenite::tungstenite::{Message, protocol::WebSocketConfig};

use super::{Bot, Deliveries, SETUP_CONCURRENCY};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Open `/ws` for `bot` and subscribe to its channel; returns once the server confirmed.
async fn connect(base_url: &str, bot: &Bot, channel_id: &str) -> Result<Socket> {
    let url = format!(
        "{}/ws?token={}",
        base_url.replacen("http", "ws", 1),
        bot.token
    );
    // Small buffers: 10,000 clients with tungstenite's default 2 × 128 KiB would take 2.5 GiB.
    let config = WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), false)
        .await
        .context("WebSocket handshake")?;
    let subscribe = json!({ "type": "subscribe", "channel_id": channel_id }).to_string();
    ws.send(Message::text(subscribe))
        .await
        .context("sending subscribe")?;
    while let Some(frame) = ws.next().await {
        if let Message::Text(text) = frame.context("reading the subscribe answer")? {
            let frame: serde_json::Value = serde_json::from_str(text.as_str())?;
            match frame["type"].as_str() {
                Some("subscribed") => return Ok(ws),
                Some("error") => bail!("subscribe refused: {frame}"),
                _ => continue,
            }
        }
    }
    bail!("the server closed the connection before confirming the subscription")
}

/// The part of a server frame the clients look at.
#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    event: Option<EventFrame>,
}

#[derive(Deserialize)]
struct EventFrame {
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    #[serde(default)]
    content: String,
}

/// Read frames until the connection ends or `stop` fires; record every message delivery.
async fn read_deliveries(
    mut ws: Socket,
    start: Instant,
    shared: Rc<RefCell<Deliveries>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut seen = HashSet::new();
    loop {
        let frame = tokio::select! {
            frame = ws.next() => frame,
            _ = stop.changed() => return,
        };
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(close))) => {
                shared
                    .borrow_mut()
                    .dropped
                    .push(format!("closed by the server: {close:?}"));
                return;
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                shared.borrow_mut().dropped.push(format!("read error: {e}"));
                return;
            }
            None => {
                shared.borrow_mut().dropped.push("connection ended".into());
                return;
            }
        };
        let now = start.elapsed();
        let Ok(frame) = serde_json::from_str::<Frame>(text.as_str()) else {
            continue;
        };
        let Some(event) = frame.event.filter(|_| frame.kind == "event") else {
            continue;
        };
        if event.kind != "message.created" {
            continue;
        }
        let Some(k) = event
            .data
            .content
            .strip_prefix("fanout ")
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        let mut d = shared.borrow_mut();
        match d.sent_at.get(k).copied().flatten() {
            Some(sent) if seen.insert(k) => {
                let us = now.saturating_sub(sent).as_micros();
                d.latencies_us.push(u64::try_from(us).unwrap_or(u64::MAX));
            }
            Some(_) => d.duplicates += 1,
            None => d.unknown += 1,
        }
    }
}

/// Open every client's connection, `SETUP_CONCURRENCY` handshakes at a time, each with a reader
/// task on this thread's `LocalSet`; returns the seconds it took.
pub(super) async fn connect_all(
    base_url: &str,
    bots: Vec<Bot>,
    channels: Vec<String>,
    start: Instant,
    shared: &Rc<RefCell<Deliveries>>,
    stopped: &tokio::sync::watch::Receiver<bool>,
) -> Result<f64> {
    eprintln!("opening {} WebSocket connections…", bots.len());
    let connecting = Instant::now();
    let (bots, channels) = (std::sync::Arc::new(bots), std::sync::Arc::new(channels));
    let mut next = 0;
    let mut pending = tokio::task::JoinSet::new();
    while next < bots.len() || !pending.is_empty() {
        while next < bots.len() && pending.len() < SETUP_CONCURRENCY {
            let (base, bots, channels, i) =
                (base_url.to_owned(), bots.clone(), channels.clone(), next);
            pending.spawn(async move {
                let bot = &bots[i];
                connect(&base, bot, &channels[bot.channel])
                    .await
                    .with_context(|| format!("client {}", i + 1))
            });
            next += 1;
        }
        if let Some(joined) = pending.join_next().await {
            let ws = joined.context("a connect task panicked")??;
            tokio::task::spawn_local(read_deliveries(ws, start, shared.clone(), stopped.clone()));
        }
    }
    let secs = connecting.elapsed().as_secs_f64();
    eprintln!(
        "{} clients connected and subscribed in {secs:.1} s",
        bots.len()
    );
    Ok(secs)
}
