//! The hub: which connection listens to what, and delivery to them.
//!
//! Connections register here and subscribe to channels; the hub worker feeds every bus event
//! through [`Hub::deliver`], which serialises it once and queues the shared text on each
//! recipient's bounded queue with `try_send` — it never waits for a connection. A connection
//! whose queue is full is evicted (closed with 4008) instead of slowing anyone else down.
//!
//! Who receives an event (the hub matches on its [`EventData`] variant):
//! - connections subscribed to its `channel_id` (a subscription was checked against the
//!   database when made);
//! - user-scoped, whatever they subscribed to: the user named by `member.joined` /
//!   `member.left` (their `user_id`), the participants of a new DM (`channel.created` with
//!   `participant_ids`), and users mentioned in `message.created` (`mentions.user_ids`; checked
//!   against the database first, by the audience worker, since anyone can be mentioned).
//!
//! - every connection of the workspace, for the lifecycle of its public channels
//!   (`channel.created` / `channel.updated` / `channel.archived` of a [`crate::domain::ChannelKind::Public`]):
//!   any member may read and join them, so channel lists stay current without a subscription;
//!   and for `user.updated` (names, statuses and roles shown everywhere).
//!   The workspaces are those the user belonged to when connecting, and for members (not guests,
//!   who see only the conversations they were added to) every workspace they join while
//!   connected: joining one adds them to its #general, and a `member.joined` of a public channel
//!   of a workspace naming them enrols their connections in that workspace.
//!
//! `channel.restricted` is internal too: a public channel became private, and every connection
//! subscribed to it whose user is not among the event's `member_ids` is unsubscribed at once.
//!
//! `conversation.read` is the exception: a read marker is private and goes only to the reader's
//! own connections (so do `thread.updated` and `file.uploaded`, to their actor's);
//! `moderation.action` goes to the connections of every admin and owner. A `message.created` / `message.updated` of a message a moderation rule holds back
//! (`hidden`) goes only to its author's connections, with no mention job. `session.revoked` is internal: it reaches no one, it closes the connections
//! of the ended sessions.
//!
//! Membership changes take effect at once: `member.joined` subscribes the new member's
//! connections to the channel, a new DM subscribes its participants', and `member.left` of a
//! non-public conversation drops the departed user's subscriptions (after delivering that event
//! to them) — so nothing more from it reaches them.

use std::{
    collections::HashSet,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use super::{
    metrics::Metrics,
    protocol::{Outbound, ServerFrame, close},
};
use crate::domain::{
    Role,
    events::{ChannelRestricted, Event, EventData, Revoked, SessionRevoked},
};

pub type ConnId = u64;

/// Why the hub ended a connection: the close code and reason to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseReason {
    pub code: u16,
    pub reason: &'static str,
}

/// A connection's ends of the hub; dropping it unregisters the connection (also when an upgrade
/// never completes).
pub struct Registration {
    pub id: ConnId,
    pub queue: mpsc::Receiver<Outbound>,
    pub closed: watch::Receiver<Option<CloseReason>>,
    hub: Arc<Hub>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.unregister(self.id);
    }
}

pub struct Hub {
    registry: RwLock<Registry>,
    next_id: AtomicU64,
    metrics: Arc<Metrics>,
    /// `websocket_fanout_duration_seconds`: from a message's creation to its frames queued.
    fanout: prometheus::Histogram,
    queue_len: usize,
    max_per_user: usize,
}

/// Users mentioned in an event who have connections not subscribed to its channel: they get it
/// once the audience worker has checked they may read the channel.
pub struct MentionJob {
    pub channel_id: Uuid,
    pub users: Vec<Uuid>,
    pub frame: Outbound,
}

impl Hub {
    pub fn new(
        metrics: Arc<Metrics>,
        fanout: prometheus::Histogram,
        queue_len: usize,
        max_per_user: usize,
    ) -> Self {
        Self {
            registry: RwLock::new(Registry::default()),
            next_id: AtomicU64::new(1),
            metrics,
            fanout,
            queue_len: queue_len.max(1),
            max_per_user: max_per_user.max(1),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.registry.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A new connection for `user`, or `None` when the user has the most allowed.
    pub fn register(
        self: &Arc<Self>,
        user: Uuid,
        session: Option<Uuid>,
        workspaces: &[Uuid],
    ) -> Option<Registration> {
        let now = crate::domain::clock::now();
        self.register_checked_at(user, session, workspaces, Role::Member, now)
    }

    /// Like [`Self::register`], for a connection whose `role` was read at `checked_at` (guests
    /// do not follow new workspaces, see the module docs; admins hear every moderation).
    pub fn register_checked_at(
        self: &Arc<Self>,
        user: Uuid,
        session: Option<Uuid>,
        workspaces: &[Uuid],
        role: Role,
        checked_at: time::OffsetDateTime,
    ) -> Option<Registration> {
        let mut reg = self.write();
        if reg.by_user.get(&user).map_or(0, HashSet::len) >= self.max_per_user {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (queue_tx, queue_rx) = mpsc::channel(self.queue_len);
        let (close_tx, close_rx) = watch::channel(None);
        reg.conns.insert(
            id,
            Conn {
                user_id: user,
                session,
                queue: queue_tx,
                close: close_tx,
                channels: HashSet::new(),
                workspaces: workspaces.to_vec(),
                follows_new_workspaces: role != Role::Guest,
                admin: role.is_admin(),
                checked_at,
            },
        );
        reg.by_user.entry(user).or_default().insert(id);
        for workspace in workspaces {
            reg.by_workspace.entry(*workspace).or_default().insert(id);
        }
        Some(Registration {
            id,
            queue: queue_rx,
            closed: close_rx,
            hub: self.clone(),
        })
    }

    pub fn unregister(&self, id: ConnId) {
        self.write().remove(id);
    }

    /// True when newly subscribed.
    pub fn subscribe(&self, id: ConnId, channel: Uuid) -> bool {
        self.write().subscribe(id, channel)
    }

    pub fn unsubscribe(&self, id: ConnId, channel: Uuid) {
        self.write().unsubscribe(id, channel);
    }

    pub fn is_subscribed(&self, id: ConnId, channel: Uuid) -> bool {
        self.read()
            .conns
            .get(&id)
            .is_some_and(|c| c.channels.contains(&channel))
    }

    /// Queue `frame` for `ids`; returns the connections that were full.
    fn send(
        &self,
        reg: &Registry,
        ids: impl IntoIterator<Item = ConnId>,
        frame: &Outbound,
    ) -> Vec<ConnId> {
        let mut full = Vec::new();
        let (mut sent, mut dropped) = (0, 0);
        for id in ids {
            let Some(conn) = reg.conns.get(&id) else {
                continue;
            };
            match conn.queue.try_send(frame.clone()) {
                Ok(()) => sent += 1,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    dropped += 1;
                    full.push(id);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => dropped += 1,
            }
        }
        Metrics::add(&self.metrics.frames_delivered, sent);
        Metrics::add(&self.metrics.frames_dropped, dropped);
        full
    }

    /// Close and forget connections that fell behind.
    fn evict(&self, slow: Vec<ConnId>) {
        if slow.is_empty() {
            return;
        }
        let mut reg = self.write();
        for id in slow {
            if let Some(conn) = reg.remove(id) {
                Metrics::add(&self.metrics.slow_disconnects, 1);
                let _ = conn.close.send(Some(CloseReason {
                    code: close::TOO_SLOW,
                    reason: "too slow: the send queue is full; reconnect and resume",
                }));
            }
        }
    }

    /// The connection now authenticates with a credential of `session` (an `auth` frame).
    pub fn set_session(&self, id: ConnId, session: Option<Uuid>) {
        if let Some(conn) = self.write().conns.get_mut(&id) {
            conn.session = session;
        }
    }

    /// Deliver one bus event (see the module docs for who receives it).
    pub fn deliver(&self, event: &Event) -> Option<MentionJob> {
        if let EventData::SessionRevoked(revoked) = &event.data {
            self.end_sessions(revoked, event.occurred_at);
            return None;
        }
        if let EventData::ChannelRestricted(restricted) = &event.data {
            self.restrict(restricted);
            return None;
        }
        if let EventData::MessageCreated(_) = &event.data {
            let now = crate::domain::clock::now();
            self.metrics.messages.note(now.unix_timestamp());
            // Observed before the frames are queued, so a client that has them sees it counted.
            let since = now - event.occurred_at;
            self.fanout.observe(since.as_seconds_f64().max(0.0));
        }
        // Serialised once, and only if someone receives it.
        let frame = std::cell::OnceCell::new();
        let frame = || frame.get_or_init(|| Outbound::event(event)).clone();
        let channel = event.channel_id;
        let named = named_users(event);
        let mut mention_job = None;
        let slow = {
            let reg = self.read();
            let held_back = held_back_author(event);
            let subscribed = first_audience(&reg, event, held_back);
            let mut slow = Vec::new();
            if !subscribed.is_empty() {
                slow = self.send(&reg, subscribed.iter().copied(), &frame());
            }
            let workspace_wide = workspace_news(event)
                .then_some(event.workspace_id)
                .flatten()
                .and_then(|w| reg.by_workspace.get(&w));
            let named: &[Uuid] = if held_back.is_some() { &[] } else { &named };
            let extra: HashSet<ConnId> = named
                .iter()
                .flat_map(|u| reg.conns_of(*u))
                .chain(workspace_wide.into_iter().flatten().copied())
                .filter(|id| !subscribed.contains(id))
                .collect();
            if !extra.is_empty() {
                slow.extend(self.send(&reg, extra, &frame()));
            }
            if let (Some(channel_id), EventData::MessageCreated(message), None) =
                (channel, &event.data, held_back)
            {
                let users: Vec<Uuid> = (message.mentions.user_ids.iter().copied())
                    .filter(|u| reg.conns_of(*u).any(|id| !subscribed.contains(&id)))
                    .collect();
                if !users.is_empty() {
                    mention_job = Some(MentionJob {
                        channel_id,
                        users,
                        frame: frame(),
                    });
                }
            }
            slow
        };
        self.evict(slow);
        if let Some(channel) = channel {
            self.apply_membership(event, channel, &named);
        }
        if let (EventData::MemberJoined(member), Some(workspace)) =
            (&event.data, event.workspace_id)
            && member.channel_kind.is_public()
        {
            self.enrol_in_workspace(member.user_id, workspace);
        }
        mention_job
    }

    /// Subscriptions follow membership changes (see the module docs).
    fn apply_membership(&self, event: &Event, channel: Uuid, named: &[Uuid]) {
        let joined = match &event.data {
            EventData::MemberJoined(_) | EventData::ChannelCreated(_) => true,
            EventData::MemberLeft(left) if !left.channel_kind.is_public() => false,
            _ => return,
        };
        let mut newly = Vec::new();
        {
            let mut reg = self.write();
            for user in named {
                let ids: Vec<ConnId> = reg.conns_of(*user).collect();
                for id in ids {
                    if joined {
                        if reg.subscribe(id, channel) {
                            newly.push(id);
                        }
                    } else {
                        reg.unsubscribe(id, channel);
                    }
                }
            }
        }
        if !newly.is_empty() {
            let frame = Outbound::plain(
                ServerFrame::Subscribed {
                    channel_id: channel,
                }
                .text(),
            );
            let slow = self.send(&self.read(), newly, &frame);
            self.evict(slow);
        }
    }

    /// Only members of a workspace join its public channels: the member's connections that
    /// follow new workspaces now hear about that workspace's public channels.
    fn enrol_in_workspace(&self, user: Uuid, workspace: Uuid) {
        let mut reg = self.write();
        let ids: Vec<ConnId> = reg.conns_of(user).collect();
        for id in ids {
            let Some(conn) = reg.conns.get_mut(&id) else {
                continue;
            };
            if conn.follows_new_workspaces && !conn.workspaces.contains(&workspace) {
                conn.workspaces.push(workspace);
                reg.by_workspace.entry(workspace).or_default().insert(id);
            }
        }
    }

    /// A mentioned user's connections not subscribed to `channel` (after the access check).
    pub fn deliver_mention(&self, user: Uuid, channel: Uuid, frame: &Outbound) {
        let slow = {
            let reg = self.read();
            let ids: Vec<ConnId> = reg
                .conns_of(user)
                .filter(|id| {
                    reg.conns
                        .get(id)
                        .is_some_and(|c| !c.channels.contains(&channel))
                })
                .collect();
            self.send(&reg, ids, frame)
        };
        self.evict(slow);
    }

    /// Every connection subscribed to `channel` except those of `except_user` (typing).
    pub fn to_channel_except(&self, channel: Uuid, except_user: Uuid, frame: &Outbound) {
        let slow = {
            let reg = self.read();
            let ids: Vec<ConnId> = reg
                .by_channel
                .get(&channel)
                .into_iter()
                .flatten()
                .copied()
                .filter(|id| reg.conns.get(id).is_some_and(|c| c.user_id != except_user))
                .collect();
            self.send(&reg, ids, frame)
        };
        self.evict(slow);
    }

    /// Every connection of these users (presence).
    pub fn to_users(&self, users: &[Uuid], frame: &Outbound) {
        let slow = {
            let reg = self.read();
            let ids: Vec<ConnId> = users.iter().flat_map(|u| reg.conns_of(*u)).collect();
            self.send(&reg, ids, frame)
        };
        self.evict(slow);
    }

    /// Users with at least one connection here, among `users`.
    pub fn connected_among(&self, users: &[Uuid]) -> Vec<Uuid> {
        let reg = self.read();
        users
            .iter()
            .copied()
            .filter(|u| reg.by_user.contains_key(u))
            .collect()
    }

    /// A channel became private: only its members' connections keep listening to it.
    fn restrict(&self, restricted: &ChannelRestricted) {
        let members: HashSet<Uuid> = restricted.member_ids.iter().copied().collect();
        let mut reg = self.write();
        let listening: Vec<ConnId> = reg
            .by_channel
            .get(&restricted.channel_id)
            .into_iter()
            .flatten()
            .copied()
            .filter(|id| {
                reg.conns
                    .get(id)
                    .is_some_and(|c| !members.contains(&c.user_id))
            })
            .collect();
        for id in listening {
            reg.unsubscribe(id, restricted.channel_id);
        }
    }

    /// How many users have at least one connection here.
    pub fn connected_users(&self) -> usize {
        self.read().by_user.len()
    }

    /// The hub missed bus events: among them could be a `member.left` that should have ended a
    /// subscription, so every connection is closed (code 4009); clients reconnect, subscribing
    /// again with fresh access checks, and `resume` what they missed.
    pub fn resync_all(&self) {
        Metrics::add(&self.metrics.lag_resyncs, 1);
        self.close_all(CloseReason {
            code: close::MISSED_EVENTS,
            reason: "events were missed: reconnect and resume",
        });
    }

    /// Close every connection (shutdown).
    pub fn close_all(&self, reason: CloseReason) {
        let reg = self.read();
        for conn in reg.conns.values() {
            let _ = conn.close.send(Some(reason));
        }
    }

    /// Close every connection of `user` (e.g. their access was revoked).
    pub fn close_user(&self, user: Uuid, reason: CloseReason) {
        self.close_sessions(user, None, None, reason);
    }

    /// Close `user`'s connections of `session` (all of them when `None`) that were checked
    /// before `before` (all of them when `None`).
    fn close_sessions(
        &self,
        user: Uuid,
        session: Option<Uuid>,
        before: Option<time::OffsetDateTime>,
        reason: CloseReason,
    ) {
        let reg = self.read();
        for id in reg.conns_of(user) {
            if let Some(conn) = reg.conns.get(&id)
                && (session.is_none() || conn.session == session)
                && before.is_none_or(|at| conn.checked_at < at)
            {
                let _ = conn.close.send(Some(reason));
            }
        }
    }

    /// `session.revoked` (internal, never sent to clients): close the connections of the ended
    /// sessions, 4001 for a revoked credential, 4003 for a role change — for a role change only
    /// the connections that read the role before it changed (`occurred_at`): one that
    /// reconnected since, after the heartbeat saw the change first, already has the new role.
    fn end_sessions(&self, revoked: &SessionRevoked, occurred_at: time::OffsetDateTime) {
        let (reason, before) = match revoked.reason {
            Revoked::Role => (
                CloseReason {
                    code: close::PERMISSIONS_CHANGED,
                    reason: "your role changed: reconnect",
                },
                Some(occurred_at),
            ),
            Revoked::Credential => (
                CloseReason {
                    code: close::UNAUTHORIZED,
                    reason: "the session was revoked",
                },
                None,
            ),
        };
        self.close_sessions(revoked.user_id, revoked.session_id, before, reason);
    }
}

#[path = "hub_registry.rs"]
mod registry;
use registry::{Conn, Registry};

#[path = "hub_recipients.rs"]
mod recipients;
use recipients::{first_audience, held_back_author, named_users, workspace_news};

#[cfg(test)]
#[path = "hub_tests.rs"]
mod tests;
