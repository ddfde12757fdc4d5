//! The WebSocket clients: connect and subscribe, then record every message delivery.

use std::{cell::RefCell, collections::HashSet, rc::Rc, time::Instant};

use anyhow::{Context, Result};
use colink_client::{
    Client, Error, Uuid,
    ws::{Connection, WebSocketConfig, WsAuth},
};
use serde::Deserialize;

use super::{Bot, Deliveries, SETUP_CONCURRENCY};

/// Open `/ws` for `bot` and subscribe to its channel; returns once the server confirmed.
async fn connect(api: &Client, bot: &Bot, channel_id: Uuid) -> Result<Connection> {
    // Small buffers: 10,000 clients with tungstenite's default 2 × 128 KiB would take 2.5 GiB.
    let config = WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0);
    let mut ws = api
        .ws_connect_with(WsAuth::Token(&bot.token), Some(config))
        .await
        .context("WebSocket handshake")?;
    ws.subscribe(channel_id).await.context("subscribing")?;
    Ok(ws)
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
    mut ws: Connection,
    start: Instant,
    shared: Rc<RefCell<Deliveries>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut seen = HashSet::new();
    loop {
        let frame = tokio::select! {
            frame = ws.next_text() => frame,
            _ = stop.changed() => return,
        };
        let text = match frame {
            Ok(text) => text,
            Err(e @ Error::Closed { .. }) => {
                shared.borrow_mut().dropped.push(e.to_string());
                return;
            }
            Err(e) => {
                shared.borrow_mut().dropped.push(format!("read error: {e}"));
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
/// task on this thread's `LocalSet`; returns the seconds it took. Messages are posted through
/// the first node, so with several nodes most deliveries cross nodes.
pub(super) async fn connect_all(
    nodes: &[Client],
    bots: Vec<Bot>,
    channels: Vec<Uuid>,
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
            // Spread over the nodes (one, unless --nodes): client i connects to node i mod n.
            let api = nodes[next % nodes.len()].clone();
            let (bots, channels, i) = (bots.clone(), channels.clone(), next);
            pending.spawn(async move {
                let bot = &bots[i];
                connect(&api, bot, channels[bot.channel])
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
