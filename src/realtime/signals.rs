//! Typing indicators and presence changes for connections on other nodes. A frame goes to this
//! node's connections at once and, with a shared bus, to the other nodes as an ephemeral bus
//! signal (not stored, not ordered with events: a lost one is an indicator not shown, put right
//! by the next change); each node delivers the others' signals to its own connections,
//! skipping its own.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::protocol::Outbound;
use crate::{
    app::AppState,
    workers::{Shutdown, Worker},
};

/// A frame and who gets it.
#[derive(Serialize, Deserialize)]
struct Signal {
    node: String,
    to: To,
    frame: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum To {
    /// The subscribers of `channel`, except `except_user`'s connections (typing).
    Channel { channel: Uuid, except_user: Uuid },
    /// The connections of these users (presence).
    Users(Vec<Uuid>),
}

impl To {
    fn deliver(&self, state: &AppState, frame: &Outbound) {
        let hub = &state.realtime.hub;
        match self {
            To::Channel {
                channel,
                except_user,
            } => hub.to_channel_except(*channel, *except_user, frame),
            To::Users(users) => hub.to_users(users, frame),
        }
    }
}

/// Deliver a typing `frame` to every subscriber of `channel` but `user`, on every node.
pub fn typing(state: &Arc<AppState>, channel: Uuid, user: Uuid, frame: &Outbound) {
    everywhere(
        state,
        To::Channel {
            channel,
            except_user: user,
        },
        frame,
    );
}

/// Deliver a presence `frame` to the connections of `users`, on every node.
pub fn to_users(state: &Arc<AppState>, users: Vec<Uuid>, frame: &Outbound) {
    everywhere(state, To::Users(users), frame);
}

fn everywhere(state: &Arc<AppState>, to: To, frame: &Outbound) {
    to.deliver(state, frame);
    if !state.bus_is_shared() {
        return;
    }
    let signal = Signal {
        node: state.node_id.clone(),
        to,
        frame: frame.text.to_string(),
    };
    let Ok(payload) = serde_json::to_vec(&signal) else {
        return;
    };
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = state.bus.signal(payload).await {
            tracing::debug!(error = %e, "a realtime signal was not sent to the other nodes");
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
        Ok(signal) if signal.node != state.node_id => signal
            .to
            .deliver(state, &Outbound::plain(signal.frame.into())),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "realtime: an undecodable signal skipped"),
    }
}
