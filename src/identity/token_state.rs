//! Which access tokens are still good: every request checks the token's version against the
//! user's current one. Lookups are cached so a request does not cost a database round trip;
//! changes made on this node update the cache at once, and entries expire so that changes made
//! by another node are seen within `TTL`.

use std::{
    collections::HashMap,
    sync::RwLock,
    time::{Duration, Instant},
};

use uuid::Uuid;

const TTL: Duration = Duration::from_secs(10);
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenState {
    pub version: i32,
    pub active: bool,
    pub role: crate::domain::Role,
}

#[derive(Default)]
pub struct TokenStateCache {
    entries: RwLock<HashMap<Uuid, (TokenState, Instant)>>,
}

impl TokenStateCache {
    pub fn get(&self, user: Uuid) -> Option<TokenState> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(&user)
            .filter(|(_, at)| at.elapsed() < TTL)
            .map(|(state, _)| *state)
    }

    pub fn put(&self, user: Uuid, state: TokenState) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (_, at)| at.elapsed() < TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(user, (state, Instant::now()));
    }

    pub fn forget(&self, user: Uuid) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.remove(&user);
    }
}
