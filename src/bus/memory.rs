//! In-process bus: a tokio broadcast channel. The buffer is bounded: a subscriber more than
//! `capacity` events behind loses the oldest ones and is told so (`RecvError::Lagged`), so a slow
//! consumer can never grow memory or hold up publishers or other subscribers.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::{BusError, EventBus, RecvError, Subscription};
use crate::domain::events::Event;

pub struct MemoryBus {
    sender: broadcast::Sender<Arc<Event>>,
}

impl MemoryBus {
    pub fn new(capacity: usize) -> Self {
        Self {
            sender: broadcast::channel(capacity.max(16)).0,
        }
    }
}

#[async_trait]
impl EventBus for MemoryBus {
    async fn publish(&self, event: Arc<Event>) -> Result<(), BusError> {
        // No subscriber is not an error: the event is durable in the outbox anyway.
        let _ = self.sender.send(event);
        Ok(())
    }

    async fn subscribe(&self) -> Result<Box<dyn Subscription>, BusError> {
        Ok(Box::new(MemorySubscription {
            receiver: self.sender.subscribe(),
        }))
    }
}

struct MemorySubscription {
    receiver: broadcast::Receiver<Arc<Event>>,
}

#[async_trait]
impl Subscription for MemorySubscription {
    async fn recv(&mut self) -> Result<Arc<Event>, RecvError> {
        match self.receiver.recv().await {
            Ok(event) => Ok(event),
            Err(broadcast::error::RecvError::Lagged(skipped)) => Err(RecvError::Lagged { skipped }),
            Err(broadcast::error::RecvError::Closed) => Err(RecvError::Closed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::EventData;

    fn event(n: i64) -> Arc<Event> {
        Arc::new(Event::new(uuid::Uuid::now_v7(), None, None, EventData::sample(n)).with_seq(n))
    }

    #[tokio::test]
    async fn delivers_in_order_to_every_subscriber() {
        let bus = MemoryBus::new(16);
        let mut a = bus.subscribe().await.unwrap();
        let mut b = bus.subscribe().await.unwrap();
        for n in 1..=3 {
            bus.publish(event(n)).await.unwrap();
        }
        for sub in [&mut a, &mut b] {
            for n in 1..=3 {
                assert_eq!(sub.recv().await.unwrap().seq, Some(n));
            }
        }
    }

    #[tokio::test]
    async fn a_lagging_subscriber_is_told_and_others_are_unaffected() {
        let bus = MemoryBus::new(16);
        let mut slow = bus.subscribe().await.unwrap();
        let mut fast = bus.subscribe().await.unwrap();
        for n in 1..=40 {
            bus.publish(event(n)).await.unwrap();
            assert_eq!(fast.recv().await.unwrap().seq, Some(n));
        }
        assert_eq!(
            slow.recv().await.unwrap_err(),
            RecvError::Lagged { skipped: 24 }
        );
        assert_eq!(
            slow.recv().await.unwrap().seq,
            Some(25),
            "continues with what is buffered"
        );
    }
}
