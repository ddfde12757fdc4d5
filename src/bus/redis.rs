//! Redis pub/sub bus (`bus.backend = "redis"`): every node's relay-published events reach every
//! node's subscribers, for deployments without Kafka.
//!
//! One channel, `<topic_prefix>events`, carries the event envelopes as JSON. Order: Redis
//! delivers a publisher's messages in the order it sent them, and only the relay publishes
//! (one node at a time in a cluster), so subscribers see events in outbox order. Pub/sub keeps
//! nothing: a subscriber that is disconnected — Redis drops one that falls too far behind
//! (`client-output-buffer-limit pubsub`), or the network fails — has missed events; once
//! subscribed again it is told so (`RecvError::Lagged`) and resyncs from the database, like any
//! lagging subscriber. The outbox stays the truth either way.

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, PubSubStream};

use super::{BusError, EventBus, RecvError, Signals, Subscription};
use crate::{domain::events::Event, kv::connect_redis};

pub struct RedisBus {
    client: redis::Client,
    publisher: ConnectionManager,
    channel: String,
    /// Ephemeral signals between nodes (`EventBus::signal`).
    signal_channel: String,
}

fn unavailable(e: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(e.to_string())
}

impl RedisBus {
    /// Connect to `url`; events travel on `<topic_prefix>events`.
    pub async fn open(url: &str, topic_prefix: &str) -> Result<Self, BusError> {
        Ok(Self {
            client: redis::Client::open(url).map_err(unavailable)?,
            publisher: connect_redis(url).await.map_err(unavailable)?,
            channel: format!("{topic_prefix}events"),
            signal_channel: format!("{topic_prefix}signals"),
        })
    }

    fn handle(&self) -> Self {
        Self {
            client: self.client.clone(),
            publisher: self.publisher.clone(),
            channel: self.channel.clone(),
            signal_channel: self.signal_channel.clone(),
        }
    }

    async fn listen_to(&self, channel: &str) -> Result<PubSubStream, BusError> {
        let mut pubsub = self.client.get_async_pubsub().await.map_err(unavailable)?;
        pubsub.subscribe(channel).await.map_err(unavailable)?;
        Ok(pubsub.into_on_message())
    }

    async fn listen(&self) -> Result<PubSubStream, BusError> {
        self.listen_to(&self.channel).await
    }

    /// Subscribe to `channel` again after a disconnection, retrying until Redis answers.
    async fn relisten(&self, channel: &str) -> PubSubStream {
        let mut retry = std::time::Duration::from_millis(50);
        loop {
            match self.listen_to(channel).await {
                Ok(stream) => return stream,
                Err(e) => {
                    tracing::warn!(error = %e, channel, "redis bus: subscribing again failed; retrying");
                    tokio::time::sleep(retry).await;
                    retry = (retry * 2).min(MAX_RETRY);
                }
            }
        }
    }
}

#[async_trait]
impl EventBus for RedisBus {
    async fn publish(&self, event: Arc<Event>) -> Result<(), BusError> {
        let payload = serde_json::to_vec(&*event).map_err(unavailable)?;
        redis::cmd("PUBLISH")
            .arg(&self.channel)
            .arg(payload)
            .query_async::<i64>(&mut self.publisher.clone())
            .await
            .map(drop)
            .map_err(unavailable)
    }

    async fn ping(&self) -> Result<(), BusError> {
        redis::cmd("PING")
            .query_async::<String>(&mut self.publisher.clone())
            .await
            .map(drop)
            .map_err(unavailable)
    }

    async fn subscribe(&self) -> Result<Box<dyn Subscription>, BusError> {
        Ok(Box::new(RedisSubscription {
            bus: self.handle(),
            messages: self.listen().await?,
        }))
    }

    async fn signal(&self, payload: Vec<u8>) -> Result<(), BusError> {
        redis::cmd("PUBLISH")
            .arg(&self.signal_channel)
            .arg(payload)
            .query_async::<i64>(&mut self.publisher.clone())
            .await
            .map(drop)
            .map_err(unavailable)
    }

    async fn signals(&self) -> Result<Option<Box<dyn Signals>>, BusError> {
        Ok(Some(Box::new(RedisSignals {
            messages: self.listen_to(&self.signal_channel).await?,
            bus: self.handle(),
        })))
    }
}

struct RedisSignals {
    bus: RedisBus,
    messages: PubSubStream,
}

#[async_trait]
impl Signals for RedisSignals {
    async fn recv(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(message) = self.messages.next().await {
                return Some(message.get_payload_bytes().to_vec());
            }
            // Disconnected: listen again (what was said meanwhile is gone, as signals may be).
            self.messages = self.bus.relisten(&self.bus.signal_channel).await;
        }
    }
}

struct RedisSubscription {
    bus: RedisBus,
    messages: PubSubStream,
}

/// Longest wait between attempts to resubscribe while Redis is unreachable.
const MAX_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

#[async_trait]
impl Subscription for RedisSubscription {
    async fn recv(&mut self) -> Result<Arc<Event>, RecvError> {
        loop {
            let Some(message) = self.messages.next().await else {
                // Disconnected: what was published meanwhile is lost to this subscriber. It is
                // told so only once subscribed again, so that its resync from the database
                // misses nothing published after it.
                self.messages = self.bus.relisten(&self.bus.channel).await;
                return Err(RecvError::Lagged { skipped: 0 });
            };
            match serde_json::from_slice::<Event>(message.get_payload_bytes()) {
                Ok(event) => return Ok(Arc::new(event)),
                // Not ours (another program on the channel) or from a newer version: skip it.
                Err(e) => tracing::warn!(error = %e, "redis bus: an undecodable message skipped"),
            }
        }
    }
}
