//! Typing indicators behind a port. A typing mark lasts `typing_ttl`; while the user keeps
//! typing, it is re-broadcast at most every half TTL, so clients (which expire it after the TTL)
//! keep showing it, and a fast typist costs at most two frames per TTL per channel.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use uuid::Uuid;

#[async_trait]
pub trait TypingStore: Send + Sync {
    /// `user` is typing in `channel`; true when that should be broadcast now.
    async fn typing(&self, channel: Uuid, user: Uuid) -> bool;
    /// Who is typing in `channel` now (expired marks are gone).
    async fn typing_in(&self, channel: Uuid) -> Vec<Uuid>;
}

/// Marks beyond this many trigger a sweep of expired ones (bounded memory).
const SWEEP_AT: usize = 10_000;

pub struct MemoryTyping {
    ttl: Duration,
    /// (channel, user) → when the mark was last broadcast.
    marks: Mutex<HashMap<(Uuid, Uuid), Instant>>,
}

impl MemoryTyping {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            marks: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl TypingStore for MemoryTyping {
    async fn typing(&self, channel: Uuid, user: Uuid) -> bool {
        let now = Instant::now();
        let mut marks = self.marks.lock().unwrap_or_else(|e| e.into_inner());
        if marks.len() >= SWEEP_AT {
            marks.retain(|_, at| now.duration_since(*at) < self.ttl);
        }
        match marks.get(&(channel, user)) {
            Some(at) if now.duration_since(*at) < self.ttl / 2 => false,
            _ => {
                marks.insert((channel, user), now);
                true
            }
        }
    }

    async fn typing_in(&self, channel: Uuid) -> Vec<Uuid> {
        let now = Instant::now();
        let marks = self.marks.lock().unwrap_or_else(|e| e.into_inner());
        marks
            .iter()
            .filter(|((c, _), at)| *c == channel && now.duration_since(**at) < self.ttl)
            .map(|((_, u), _)| *u)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rebroadcasts_at_most_every_half_ttl_and_expires() {
        let t = MemoryTyping::new(Duration::from_secs(60));
        let (c, u) = (Uuid::now_v7(), Uuid::now_v7());
        assert!(t.typing(c, u).await);
        assert!(!t.typing(c, u).await);
        assert_eq!(t.typing_in(c).await, vec![u]);
        let t = MemoryTyping::new(Duration::ZERO);
        assert!(t.typing(c, u).await);
        assert!(t.typing_in(c).await.is_empty(), "expired at once");
        assert!(t.typing(c, u).await);
    }
}
