//! Presence broadcasts, at most one per user per `realtime.presence_interval`. A change inside
//! the interval waits until it ends; what goes out then is the status current at that moment
//! (last state wins, never out of order), and nothing goes out when it equals what the audience
//! was last told — so a flapping chosen status cannot amplify into a fan-out storm.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use uuid::Uuid;

use super::presence::Status;

pub struct PresenceThrottle {
    interval: Duration,
    /// What each user's audience was last told, and when (entries older than the interval are
    /// dropped: they no longer hold anything back).
    told: HashMap<Uuid, (Instant, Status)>,
    /// Users with a change waiting, and when it may go out.
    waiting: HashMap<Uuid, Instant>,
}

impl PresenceThrottle {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            told: HashMap::new(),
            waiting: HashMap::new(),
        }
    }

    /// `users` changed presence at `now`.
    pub fn changed(&mut self, users: impl IntoIterator<Item = Uuid>, now: Instant) {
        for user in users {
            let due = self
                .told
                .get(&user)
                .map_or(now, |(at, _)| *at + self.interval);
            self.waiting.entry(user).or_insert(due);
        }
    }

    /// The users whose change may go out at `now` (removed from the waiting set).
    pub fn due(&mut self, now: Instant) -> Vec<Uuid> {
        let due: Vec<Uuid> = self
            .waiting
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(user, _)| *user)
            .collect();
        for user in &due {
            self.waiting.remove(user);
        }
        due
    }

    /// When the next waiting change may go out.
    pub fn next_due(&self) -> Option<Instant> {
        self.waiting.values().min().copied()
    }

    /// Whether to tell `user`'s audience `status` now; records it when so.
    pub fn tell(&mut self, user: Uuid, status: Status, now: Instant) -> bool {
        if self.told.get(&user).is_some_and(|(_, s)| *s == status) {
            return false;
        }
        self.told.insert(user, (now, status));
        true
    }

    /// Forget what no longer holds anything back (keeps the map bounded by recent changes).
    pub fn prune(&mut self, now: Instant) {
        let interval = self.interval;
        self.told
            .retain(|user, (at, _)| *at + interval > now || self.waiting.contains_key(user));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_broadcast_per_interval_with_the_last_state_winning() {
        let mut t = PresenceThrottle::new(Duration::from_secs(3));
        let (user, t0) = (Uuid::now_v7(), Instant::now());
        t.changed([user], t0);
        assert_eq!(t.due(t0), [user]);
        assert!(t.tell(user, Status::Online, t0));
        // Flapping inside the interval: nothing is due until it ends.
        t.changed([user], t0 + Duration::from_secs(1));
        t.changed([user], t0 + Duration::from_secs(2));
        assert!(t.due(t0 + Duration::from_secs(2)).is_empty());
        assert_eq!(t.next_due(), Some(t0 + Duration::from_secs(3)));
        let end = t0 + Duration::from_secs(3);
        assert_eq!(t.due(end), [user]);
        // The state at that moment goes out, once.
        assert!(t.tell(user, Status::Dnd, end));
        // Back to what was last told within the next interval: nothing to say.
        t.changed([user], end + Duration::from_secs(1));
        assert!(t.due(end + Duration::from_secs(2)).is_empty());
        assert_eq!(t.due(end + Duration::from_secs(3)), [user]);
        assert!(!t.tell(user, Status::Dnd, end + Duration::from_secs(3)));
    }

    #[test]
    fn prune_keeps_only_what_still_holds_changes_back() {
        let mut t = PresenceThrottle::new(Duration::from_secs(3));
        let (user, t0) = (Uuid::now_v7(), Instant::now());
        t.changed([user], t0);
        t.due(t0);
        t.tell(user, Status::Online, t0);
        t.prune(t0 + Duration::from_secs(1));
        assert_eq!(t.told.len(), 1);
        t.prune(t0 + Duration::from_secs(4));
        assert!(t.told.is_empty());
        // After the interval a change goes out at once.
        t.changed([user], t0 + Duration::from_secs(5));
        assert_eq!(t.due(t0 + Duration::from_secs(5)), [user]);
    }
}
