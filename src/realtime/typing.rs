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

/// Most live marks kept; past it (after sweeping expired ones) new marks are not broadcast.
const MAX_MARKS: usize = 100_000;

pub struct MemoryTyping {
    ttl: Duration,
    marks: Mutex<Marks>,
}

/// channel → user → when the mark was last broadcast; indexed by channel so `typing_in` reads
/// one channel, and swept of expired marks at most once per TTL (never on every call).
struct Marks {
    by_channel: HashMap<Uuid, HashMap<Uuid, Instant>>,
    count: usize,
    swept: Instant,
}

impl Marks {
    fn sweep(&mut self, now: Instant, ttl: Duration) {
        self.by_channel.retain(|_, users| {
            users.retain(|_, at| now.duration_since(*at) < ttl);
            !users.is_empty()
        });
        self.count = self.by_channel.values().map(HashMap::len).sum();
        self.swept = now;
    }
}

impl MemoryTyping {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            marks: Mutex::new(Marks {
                by_channel: HashMap::new(),
                count: 0,
                swept: Instant::now(),
            }),
        }
    }
}

#[async_trait]
impl TypingStore for MemoryTyping {
    async fn typing(&self, channel: Uuid, user: Uuid) -> bool {
        let now = Instant::now();
        let mut marks = self.marks.lock().unwrap_or_else(|e| e.into_inner());
        if now.duration_since(marks.swept) >= self.ttl {
            marks.sweep(now, self.ttl);
        }
        let previous = marks
            .by_channel
            .get(&channel)
            .and_then(|users| users.get(&user))
            .copied();
        match previous {
            Some(at) if now.duration_since(at) < self.ttl / 2 => false,
            Some(_) => {
                marks
                    .by_channel
                    .entry(channel)
                    .or_default()
                    .insert(user, now);
                true
            }
            None if marks.count >= MAX_MARKS => false,
            None => {
                marks
                    .by_channel
                    .entry(channel)
                    .or_default()
                    .insert(user, now);
                marks.count += 1;
                true
            }
        }
    }

    async fn typing_in(&self, channel: Uuid) -> Vec<Uuid> {
        let now = Instant::now();
        let marks = self.marks.lock().unwrap_or_else(|e| e.into_inner());
        marks
            .by_channel
            .get(&channel)
            .into_iter()
            .flatten()
            .filter(|(_, at)| now.duration_since(**at) < self.ttl)
            .map(|(u, _)| *u)
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

    #[tokio::test]
    async fn marks_are_bounded_and_read_per_channel() {
        let t = MemoryTyping::new(Duration::from_secs(60));
        let (busy, quiet) = (Uuid::now_v7(), Uuid::now_v7());
        for _ in 0..MAX_MARKS {
            assert!(t.typing(busy, Uuid::now_v7()).await);
        }
        // Full: a new mark is not broadcast (and not stored).
        let late = Uuid::now_v7();
        assert!(!t.typing(quiet, late).await);
        assert!(t.typing_in(quiet).await.is_empty());
        assert_eq!(t.typing_in(busy).await.len(), MAX_MARKS);
    }
}
