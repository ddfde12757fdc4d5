//! The event bus port. Services never publish directly: they write events to the outbox in the
//! transaction that makes the change, and the relay (`relay.rs`) publishes committed events here,
//! in order. Delivery is at-least-once; consumers dedupe by event id ([`Dedup`]).
//!
//! Backends: in-process (`memory.rs`), Redis pub/sub (`redis.rs`) and Kafka (`kafka.rs`).
//! Publishing and subscribing are asynchronous and can fail (a broker is a network peer); the
//! partition key is the event's `channel_id` (so per-channel order is kept); a subscriber that
//! fell behind is told so ([`RecvError::Lagged`]) and resyncs from the database. A failed publish
//! is retried by the relay, in order, so a broker outage delays events but never loses or
//! reorders them.
//!
//! Consumers are per node (each node's hub and search index see every event) except *work
//! consumers* ([`EventBus::work`]), whose work is done once per deployment (plugins).

mod dedup;
mod kafka;
mod memory;
mod redis;
pub mod relay;

use std::sync::Arc;

use async_trait::async_trait;

pub use dedup::Dedup;
pub use kafka::{KafkaBus, KafkaOptions};
pub use memory::MemoryBus;
pub use redis::RedisBus;

use crate::domain::events::Event;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("event bus unavailable: {0}")]
    Unavailable(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecvError {
    /// The subscriber fell behind and `skipped` events were dropped for it: it must resync from
    /// the database (e.g. a WebSocket client resumes by sequence number).
    #[error("subscriber lagged; {skipped} events skipped")]
    Lagged { skipped: u64 },
    /// The bus shut down.
    #[error("event bus closed")]
    Closed,
}

#[async_trait]
pub trait EventBus: Send + Sync {
    /// Publish one committed event, keyed by its `channel_id`. An error means it was not
    /// published: the caller retries.
    async fn publish(&self, event: Arc<Event>) -> Result<(), BusError>;
    /// Publish committed events in this order; `Ok` once every one is published. A bus that
    /// waits for a broker's acknowledgement sends them all before waiting (one round trip for
    /// the batch). An error means some may not have been published: the caller retries them all.
    async fn publish_all(&self, events: Vec<Arc<Event>>) -> Result<(), BusError> {
        for event in events {
            self.publish(event).await?;
        }
        Ok(())
    }
    /// A new subscription receiving every event published from now on.
    async fn subscribe(&self) -> Result<Box<dyn Subscription>, BusError>;
    /// A subscription for work done once per deployment, not once per node (plugins): the
    /// consumers of one `group` on every node share the events. Kafka gives each node a share
    /// of the partitions (one consumer group) and moves past an event only once it is done;
    /// the other buses give every node every event, and only the leader handles them
    /// ([`WorkSubscription::shared`]).
    async fn work(&self, _group: &str) -> Result<Box<dyn WorkSubscription>, BusError> {
        Ok(Box::new(EveryNode(self.subscribe().await?)))
    }
    /// Check a bus that is a network peer answers (`/ready`); the in-process one always does.
    async fn ping(&self) -> Result<(), BusError> {
        Ok(())
    }
    /// Send an ephemeral signal to every node (typing, for connections on other nodes): not
    /// stored, not ordered with events, lost for a node that is not listening. The in-process
    /// bus has no other node to tell.
    async fn signal(&self, _payload: Vec<u8>) -> Result<(), BusError> {
        Ok(())
    }
    /// Every node's signals from now on, this node's own included; `None` for a bus no other
    /// node shares.
    async fn signals(&self) -> Result<Option<Box<dyn Signals>>, BusError> {
        Ok(None)
    }
}

/// A subscription to the nodes' signals.
#[async_trait]
pub trait Signals: Send {
    /// The next signal; `None` when the bus shut down. Signals lost while disconnected are not
    /// reported: they are ephemeral.
    async fn recv(&mut self) -> Option<Vec<u8>>;
}

#[async_trait]
pub trait Subscription: Send {
    async fn recv(&mut self) -> Result<Arc<Event>, RecvError>;
}

/// A work consumer's subscription ([`EventBus::work`]).
#[async_trait]
pub trait WorkSubscription: Send {
    /// The next event to handle.
    async fn recv(&mut self) -> Result<Arc<Event>, RecvError>;
    /// `true`: this node receives only its share, and handles all of it; `false`: every node
    /// receives every event, and only the leader handles them.
    fn shared(&self) -> bool;
    /// The event last received is handled: the group moves past it.
    fn done(&mut self) {}
    /// The event last received failed `attempts` times in `consumer`, with `error` the last
    /// time: keep it for an operator (Kafka: a copy in `<prefix>dlq`, its origin in headers).
    /// Without a dead-letter topic it is only counted and logged (by the caller). The caller
    /// then marks it [`done`](Self::done).
    async fn set_aside(&mut self, _consumer: &str, _error: &str, _attempts: u32) {}
}

/// A bus's plain subscription as a work subscription: every node receives every event.
struct EveryNode(Box<dyn Subscription>);

#[async_trait]
impl WorkSubscription for EveryNode {
    async fn recv(&mut self) -> Result<Arc<Event>, RecvError> {
        self.0.recv().await
    }

    fn shared(&self) -> bool {
        false
    }
}
