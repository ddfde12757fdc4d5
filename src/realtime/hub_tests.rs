//! Unit tests of the hub (a file of their own: the hub is long enough).

use super::*;
use crate::domain::{ChannelKind, ChannelRole, events::MemberChange};

fn event(channel: Uuid, data: EventData) -> Event {
    Event::new(Uuid::now_v7(), Some(channel), None, data)
}

/// A channel event (delivered to the channel's subscribers).
fn deleted(by: Uuid) -> EventData {
    EventData::MessageDeleted(crate::domain::events::MessageDeleted {
        id: Uuid::now_v7(),
        seq: 1,
        thread_root_id: None,
        deleted_by: by,
    })
}

#[tokio::test]
async fn delivers_to_subscribers_and_evicts_full_queues() {
    let hub = Arc::new(Hub::new(Arc::new(Metrics::default()), fanout(), 2, 10));
    let (u1, u2, channel) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let mut fast = hub.register(u1, None, &[]).unwrap();
    let slow = hub.register(u2, None, &[]).unwrap();
    hub.subscribe(fast.id, channel);
    hub.subscribe(slow.id, channel);
    for _ in 0..3 {
        hub.deliver(&event(channel, deleted(u1)));
        assert!(fast.queue.recv().await.is_some());
    }
    assert_eq!(slow.closed.borrow().map(|r| r.code), Some(close::TOO_SLOW));
    assert!(!hub.is_subscribed(slow.id, channel));
    assert_eq!(hub.metrics.slow_disconnects.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn membership_events_subscribe_and_unsubscribe_the_named_user() {
    let hub = Arc::new(Hub::new(Arc::new(Metrics::default()), fanout(), 16, 10));
    let (user, channel) = (Uuid::now_v7(), Uuid::now_v7());
    let mut conn = hub.register(user, None, &[]).unwrap();
    let change = MemberChange {
        user_id: user,
        role: ChannelRole::Member,
        channel_kind: ChannelKind::Private,
    };
    hub.deliver(&event(channel, EventData::MemberJoined(change.clone())));
    assert!(hub.is_subscribed(conn.id, channel));
    assert!(
        conn.queue
            .recv()
            .await
            .unwrap()
            .text
            .contains("member.joined")
    );
    assert!(conn.queue.recv().await.unwrap().text.contains("subscribed"));
    hub.deliver(&event(channel, EventData::MemberLeft(change)));
    assert!(
        conn.queue
            .recv()
            .await
            .unwrap()
            .text
            .contains("member.left")
    );
    assert!(!hub.is_subscribed(conn.id, channel));
}

/// Missed events may include a `member.left`: every connection is closed, to reconnect
/// with fresh access checks and resume.
#[tokio::test]
async fn a_lag_closes_every_connection_to_reconnect_and_resume() {
    let hub = Arc::new(Hub::new(Arc::new(Metrics::default()), fanout(), 4, 10));
    let a = hub.register(Uuid::now_v7(), None, &[]).unwrap();
    let b = hub.register(Uuid::now_v7(), None, &[]).unwrap();
    hub.resync_all();
    for conn in [&a, &b] {
        assert_eq!(
            conn.closed.borrow().map(|r| r.code),
            Some(close::MISSED_EVENTS)
        );
    }
    assert_eq!(hub.metrics.lag_resyncs.load(Ordering::Relaxed), 1);
}

#[test]
fn at_most_the_configured_connections_per_user() {
    let hub = Arc::new(Hub::new(Arc::new(Metrics::default()), fanout(), 4, 2));
    let user = Uuid::now_v7();
    let a = hub.register(user, None, &[]).unwrap();
    let _b = hub.register(user, None, &[]).unwrap();
    assert!(hub.register(user, None, &[]).is_none());
    drop(a);
    assert!(hub.register(user, None, &[]).is_some());
}

#[tokio::test]
async fn session_revocations_close_only_the_matching_connections() {
    let hub = Arc::new(Hub::new(Arc::new(Metrics::default()), fanout(), 4, 10));
    let (user, other) = (Uuid::now_v7(), Uuid::now_v7());
    let (s1, s2) = (Uuid::now_v7(), Uuid::now_v7());
    let mut one = hub.register(user, Some(s1), &[]).unwrap();
    let mut two = hub.register(user, Some(s2), &[]).unwrap();
    let theirs = hub.register(other, Some(s1), &[]).unwrap();
    let revoked = |session: Option<Uuid>, reason: Revoked| Event {
        id: Uuid::now_v7(),
        occurred_at: crate::domain::clock::now(),
        workspace_id: None,
        channel_id: None,
        actor_id: Some(user),
        seq: None,
        traceparent: None,
        data: EventData::SessionRevoked(SessionRevoked {
            user_id: user,
            session_id: session,
            reason,
        }),
    };
    assert!(
        hub.deliver(&revoked(Some(s1), Revoked::Credential))
            .is_none()
    );
    assert_eq!(
        one.closed.borrow_and_update().map(|r| r.code),
        Some(close::UNAUTHORIZED)
    );
    assert!(!two.closed.has_changed().unwrap());
    assert!(!theirs.closed.has_changed().unwrap());
    // Never forwarded to anyone.
    assert!(two.queue.try_recv().is_err());
    hub.deliver(&revoked(None, Revoked::Role));
    assert_eq!(
        two.closed.borrow_and_update().map(|r| r.code),
        Some(close::PERMISSIONS_CHANGED)
    );
    assert!(!theirs.closed.has_changed().unwrap());
}

#[tokio::test]
async fn a_role_change_closes_only_connections_that_read_the_old_role() {
    let hub = Arc::new(Hub::new(Arc::new(Metrics::default()), fanout(), 4, 10));
    let user = Uuid::now_v7();
    let changed_at = crate::domain::clock::now();
    let second = time::Duration::seconds(1);
    let mut before = hub
        .register_checked_at(user, None, &[], Role::Member, changed_at - second)
        .unwrap();
    // Reconnected after the heartbeat saw the change, before the event arrived.
    let after = hub
        .register_checked_at(user, None, &[], Role::Member, changed_at + second)
        .unwrap();
    hub.deliver(&Event {
        id: Uuid::now_v7(),
        occurred_at: changed_at,
        workspace_id: None,
        channel_id: None,
        actor_id: None,
        seq: None,
        traceparent: None,
        data: EventData::SessionRevoked(SessionRevoked {
            user_id: user,
            session_id: None,
            reason: Revoked::Role,
        }),
    });
    assert_eq!(
        before.closed.borrow_and_update().map(|r| r.code),
        Some(close::PERMISSIONS_CHANGED)
    );
    assert!(!after.closed.has_changed().unwrap());
}

/// Joining a workspace while connected (its #general's `member.joined`) brings that
/// workspace's public channel lifecycle to the member's connections, not to a guest's.
#[tokio::test]
async fn members_hear_about_a_workspace_joined_while_connected_guests_do_not() {
    let hub = Arc::new(Hub::new(Arc::new(Metrics::default()), fanout(), 16, 10));
    let (member, guest, workspace) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let (general, other) = (Uuid::now_v7(), Uuid::now_v7());
    let mut m = hub.register(member, None, &[]).unwrap();
    let mut g = hub
        .register_checked_at(guest, None, &[], Role::Guest, crate::domain::clock::now())
        .unwrap();
    let archived = || {
        Event::new(
            workspace,
            Some(other),
            None,
            EventData::ChannelArchived(crate::domain::events::ChannelArchived {
                archived_at: None,
                kind: ChannelKind::Public,
            }),
        )
    };
    // Before joining: nothing about the workspace.
    hub.deliver(&archived());
    assert!(m.queue.try_recv().is_err());
    for user in [member, guest] {
        let joined = MemberChange {
            user_id: user,
            role: ChannelRole::Member,
            channel_kind: ChannelKind::Public,
        };
        hub.deliver(&Event::new(
            workspace,
            Some(general),
            None,
            EventData::MemberJoined(joined),
        ));
    }
    while m.queue.try_recv().is_ok() {}
    while g.queue.try_recv().is_ok() {}
    hub.deliver(&archived());
    assert!(
        m.queue
            .try_recv()
            .unwrap()
            .text
            .contains("channel.archived")
    );
    assert!(g.queue.try_recv().is_err(), "a guest hears nothing of it");
}

fn fanout() -> prometheus::Histogram {
    prometheus::Histogram::with_opts(prometheus::HistogramOpts::new("fanout", "test")).unwrap()
}
