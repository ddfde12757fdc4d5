//! The hub's registry: the connections, and indexes of them by channel, user and workspace,
//! kept consistent by the only operations that change them.

use std::collections::{HashMap, HashSet};

use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use super::{CloseReason, ConnId};
use crate::realtime::protocol::Outbound;

pub(super) struct Conn {
    pub(super) user_id: Uuid,
    /// The session its credential belongs to (`None`: a bot token).
    pub(super) session: Option<Uuid>,
    pub(super) queue: mpsc::Sender<Outbound>,
    pub(super) close: watch::Sender<Option<CloseReason>>,
    pub(super) channels: HashSet<Uuid>,
    pub(super) workspaces: Vec<Uuid>,
    /// Whether workspaces joined while connected are added to `workspaces` (not for guests).
    pub(super) follows_new_workspaces: bool,
    /// An admin or owner: receives every `moderation.action`.
    pub(super) admin: bool,
    /// When its credential and role were checked: a role change after that closes it.
    pub(super) checked_at: time::OffsetDateTime,
}

#[derive(Default)]
pub(super) struct Registry {
    pub(super) conns: HashMap<ConnId, Conn>,
    pub(super) by_channel: HashMap<Uuid, HashSet<ConnId>>,
    pub(super) by_user: HashMap<Uuid, HashSet<ConnId>>,
    pub(super) by_workspace: HashMap<Uuid, HashSet<ConnId>>,
}

/// Remove `id` from the set under `key`, dropping the set when it empties.
fn forget<K: std::hash::Hash + Eq + Copy>(
    index: &mut HashMap<K, HashSet<ConnId>>,
    key: K,
    id: ConnId,
) {
    if let Some(set) = index.get_mut(&key) {
        set.remove(&id);
        if set.is_empty() {
            index.remove(&key);
        }
    }
}

impl Registry {
    pub(super) fn subscribe(&mut self, id: ConnId, channel: Uuid) -> bool {
        let Some(conn) = self.conns.get_mut(&id) else {
            return false;
        };
        if !conn.channels.insert(channel) {
            return false;
        }
        self.by_channel.entry(channel).or_default().insert(id);
        true
    }

    pub(super) fn unsubscribe(&mut self, id: ConnId, channel: Uuid) {
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.channels.remove(&channel);
        }
        forget(&mut self.by_channel, channel, id);
    }

    pub(super) fn remove(&mut self, id: ConnId) -> Option<Conn> {
        let conn = self.conns.remove(&id)?;
        for channel in &conn.channels {
            forget(&mut self.by_channel, *channel, id);
        }
        for workspace in &conn.workspaces {
            forget(&mut self.by_workspace, *workspace, id);
        }
        forget(&mut self.by_user, conn.user_id, id);
        Some(conn)
    }

    pub(super) fn conns_of(&self, user: Uuid) -> impl Iterator<Item = ConnId> + '_ {
        self.by_user.get(&user).into_iter().flatten().copied()
    }
}
