//! Typing indicators for connections on other nodes. A typing frame goes to this node's
//! subscribers at once and, with a shared bus, to the other nodes as an ephemeral bus signal
//! (not stored, not ordered with events: a lost one is a typing indicator not shown); each node
//! delivers the signals of the others to its own subscribers, skipping its own.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::protocol::Outbound;
use crate::{
    app::AppState,
    workers::{Shutdown, Worker},
};

/// A frame for the subscribers of `channel`, except `except_user`'s connections.
#[derive(Serialize, Deserialize)]
struct Signal {
    node: String,
    channel: Uuid,
    except_user: Uuid,
    frame: String,
}

/// Deliver a typing `frame` to every subscriber of `channel` but `user`, on every node.
pub fn typing(state: &Arc<AppState>, channel: Uuid, user: Uuid, frame: &Outbound) {
    state.realtime.hub.to_channel_except(channel, user, frame);
    if !state.bus_is_shared() {
        return;
    }
    let signal = Signal {
        node: state.node_id.clone(),
        channel,
        except_user: user,
        frame: frame.text.to_string(),
    };
    let Ok(payload) = serde_json::to_vec(&signal) else {
        return;
    };
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = state.bus.signal(payload).await {
            tracing::debug!(error = %e, "a typing signal was not sent to the other nodes");
        }
    });
}

/// Delivers the other nodes' signals to this node's connections (with a shared bus).
pub struct SignalWorker(pub Arc<AppState>);

#[async_trait::async_trait]
impl Worker for SignalWorker {
    fn name(&self) -> &'static str {
        "realtime-signals"
    }

    async fn run(self: Box<Self>, mut shutdown: Shutdown) {
        let state = self.0;
        let mut signals = loop {
            match state.bus.signals().await {
                Ok(Some(signals)) => break signals,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "realtime: listening for signals failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                        _ = shutdown.changed() => return,
                    }
                }
            }
        };
        loop {
            tokio::select! {
                received = signals.recv() => match received {
                    Some(payload) => deliver(&state, &payload),
                    None => return,
                },
                _ = shutdown.changed() => return,
            }
        }
    }
}

fn deliver(state: &AppState, payload: &[u8]) {
    match serde_json::from_slice::<Signal>(payload) {
        Ok(signal) if signal.node != state.node_id => state.realtime.hub.to_channel_except(
            signal.channel,
            signal.except_user,
            &Outbound::plain(signal.frame.into()),
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "realtime: an undecodable signal skipped"),
    }
}
