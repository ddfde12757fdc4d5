//! Presence behind a port: who is online, away, in do-not-disturb, or offline.
//!
//! Rules (SPEC §6): online while the user has a connection; `away` after `away_after` without
//! activity (any client frame but `ping`) or when chosen; `dnd` when chosen; `offline`
//! `offline_grace` after the last connection closed (a reconnect within the grace changes
//! nothing). Changes are returned to the caller, which tells the users who share a channel.
//!
//! The in-memory store serves one node; `presence_redis.rs` is the store a cluster shares.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Online,
    Away,
    Dnd,
    Offline,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Away => "away",
            Status::Dnd => "dnd",
            Status::Offline => "offline",
        }
    }
}

/// What a client may choose (`offline` is not a choice: it follows from having no connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChosenStatus {
    /// Back to automatic (online, away when idle).
    Online,
    Away,
    Dnd,
}

/// A user's status changed.
pub type Change = (Uuid, Status);

#[async_trait]
pub trait PresenceStore: Send + Sync {
    /// A connection of `user` opened.
    async fn connected(&self, user: Uuid) -> Option<Change>;
    /// A connection of `user` closed (offline follows after the grace, from `expire`).
    async fn disconnected(&self, user: Uuid) -> Option<Change>;
    /// `user` did something.
    async fn active(&self, user: Uuid) -> Option<Change>;
    async fn choose(&self, user: Uuid, status: ChosenStatus) -> Option<Change>;
    /// Current status of each user, in order.
    async fn statuses(&self, users: &[Uuid]) -> Vec<Status>;
    /// Apply the timers (idle → away, grace over → offline); returns what changed.
    async fn expire(&self) -> Vec<Change>;
}

pub struct MemoryPresence {
    away_after: Duration,
    offline_grace: Duration,
    users: Mutex<HashMap<Uuid, Entry>>,
}

struct Entry {
    connections: u32,
    chosen: Option<ChosenStatus>,
    last_active: Instant,
    last_closed: Instant,
    shown: Status,
}

impl Entry {
    fn status(&self, now: Instant, away_after: Duration, grace: Duration) -> Status {
        if self.connections == 0 && now.duration_since(self.last_closed) >= grace {
            return Status::Offline;
        }
        match self.chosen {
            Some(ChosenStatus::Dnd) => Status::Dnd,
            Some(ChosenStatus::Away) => Status::Away,
            _ if now.duration_since(self.last_active) >= away_after => Status::Away,
            _ => Status::Online,
        }
    }
}

impl MemoryPresence {
    pub fn new(away_after: Duration, offline_grace: Duration) -> Self {
        Self {
            away_after,
            offline_grace,
            users: Mutex::new(HashMap::new()),
        }
    }

    /// Apply `f` to the user's entry and report a change of the shown status.
    fn update(&self, user: Uuid, f: impl FnOnce(&mut Entry, Instant)) -> Option<Change> {
        let now = Instant::now();
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let entry = users.entry(user).or_insert_with(|| Entry {
            connections: 0,
            chosen: None,
            last_active: now,
            last_closed: now,
            shown: Status::Offline,
        });
        f(entry, now);
        let status = entry.status(now, self.away_after, self.offline_grace);
        let changed = (status != entry.shown).then_some((user, status));
        entry.shown = status;
        if status == Status::Offline && entry.connections == 0 {
            users.remove(&user);
        }
        changed
    }
}

#[async_trait]
impl PresenceStore for MemoryPresence {
    async fn connected(&self, user: Uuid) -> Option<Change> {
        self.update(user, |e, now| {
            if e.connections == 0 && e.shown == Status::Offline {
                e.last_active = now;
            }
            e.connections += 1;
        })
    }

    async fn disconnected(&self, user: Uuid) -> Option<Change> {
        self.update(user, |e, now| {
            e.connections = e.connections.saturating_sub(1);
            if e.connections == 0 {
                e.last_closed = now;
            }
        })
    }

    async fn active(&self, user: Uuid) -> Option<Change> {
        self.update(user, |e, now| e.last_active = now)
    }

    async fn choose(&self, user: Uuid, status: ChosenStatus) -> Option<Change> {
        self.update(user, |e, now| {
            e.last_active = now;
            e.chosen = (status != ChosenStatus::Online).then_some(status);
        })
    }

    async fn statuses(&self, users: &[Uuid]) -> Vec<Status> {
        let known = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users
            .iter()
            .map(|u| known.get(u).map_or(Status::Offline, |e| e.shown))
            .collect()
    }

    async fn expire(&self) -> Vec<Change> {
        let now = Instant::now();
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let mut changes = Vec::new();
        users.retain(|id, e| {
            let status = e.status(now, self.away_after, self.offline_grace);
            if status != e.shown {
                e.shown = status;
                changes.push((*id, status));
            }
            status != Status::Offline
        });
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn online_while_connected_then_offline_after_the_grace() {
        let p = MemoryPresence::new(Duration::from_secs(300), Duration::ZERO);
        let u = Uuid::now_v7();
        assert_eq!(p.connected(u).await, Some((u, Status::Online)));
        assert_eq!(
            p.connected(u).await,
            None,
            "a second connection changes nothing"
        );
        assert_eq!(p.disconnected(u).await, None, "one connection is left");
        assert!(p.expire().await.is_empty());
        assert_eq!(p.statuses(&[u]).await, vec![Status::Online]);
        assert_eq!(p.disconnected(u).await, Some((u, Status::Offline)));
        assert_eq!(p.statuses(&[u]).await, vec![Status::Offline]);
    }

    #[tokio::test]
    async fn a_reconnect_within_the_grace_changes_nothing() {
        let p = MemoryPresence::new(Duration::from_secs(300), Duration::from_secs(60));
        let u = Uuid::now_v7();
        p.connected(u).await;
        p.disconnected(u).await;
        assert!(p.expire().await.is_empty());
        assert_eq!(p.connected(u).await, None);
    }

    #[tokio::test]
    async fn idle_turns_away_activity_brings_back_and_choices_stick() {
        let p = MemoryPresence::new(Duration::ZERO, Duration::from_secs(60));
        let u = Uuid::now_v7();
        p.connected(u).await;
        assert_eq!(p.statuses(&[u]).await, vec![Status::Away]);
        let p = MemoryPresence::new(Duration::from_secs(300), Duration::from_secs(60));
        p.connected(u).await;
        assert_eq!(p.choose(u, ChosenStatus::Dnd).await, Some((u, Status::Dnd)));
        assert_eq!(p.active(u).await, None, "dnd stays until changed");
        assert_eq!(
            p.choose(u, ChosenStatus::Online).await,
            Some((u, Status::Online))
        );
    }
}
