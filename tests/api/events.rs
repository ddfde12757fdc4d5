//! The event pipeline: every change writes its event to the outbox in its transaction; the relay
//! publishes committed events to the bus in order; after a crash, unpublished rows go out on the
//! next start.

use std::time::Duration;

use colink::bus::{Dedup, Subscription};
use colink::domain::{
    ChannelKind, ChannelRole,
    events::{ConversationRead, Event, EventData, MemberChange},
};
use colink::service::views::MessageView;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, sea_query::Expr};
use serde_json::json;

use crate::helpers::{spawn_app, start_subscribed};

async fn next(sub: &mut Box<dyn Subscription>) -> std::sync::Arc<Event> {
    tokio::time::timeout(Duration::from_secs(10), sub.recv())
        .await
        .expect("an event within 10 s")
        .expect("bus open")
}

fn uuid(s: &str) -> uuid::Uuid {
    s.parse().unwrap()
}

/// The message a `message.created` / `message.updated` carries.
fn message(e: &Event) -> &MessageView {
    match &e.data {
        EventData::MessageCreated(m) | EventData::MessageUpdated(m) => m,
        other => panic!("not a message event: {other:?}"),
    }
}

/// Events until one of type `last` (inclusive).
async fn collect_until(sub: &mut Box<dyn Subscription>, last: &str) -> Vec<std::sync::Arc<Event>> {
    let mut out = Vec::new();
    loop {
        let e = next(sub).await;
        let done = e.kind().as_str() == last;
        out.push(e);
        if done {
            return out;
        }
    }
}

#[tokio::test]
async fn every_change_publishes_its_event_in_order() {
    let app = spawn_app().await;
    let (_, ws, alice, bob) = app.team().await;
    let mut sub = app.state.bus.subscribe().await.expect("subscribe");

    let ch = app.channel(&alice, "events", false).await;
    app.join(&bob, &ch).await;
    let m1 = app.send(&alice, &ch, "one").await;
    let m1_id = m1["id"].as_str().unwrap();
    app.send(&bob, &ch, "two @alice").await;
    app.post(
        &format!("/messages/{m1_id}/threads"),
        Some(&bob.access),
        json!({"content": "reply"}),
    )
    .await
    .expect(201);
    let reaction = app
        .post(
            &format!("/messages/{m1_id}/reactions"),
            Some(&bob.access),
            json!({"emoji": "wave"}),
        )
        .await
        .expect(201);
    app.delete(
        &format!("/reactions/{}", reaction["id"].as_str().unwrap()),
        &bob.access,
    )
    .await
    .expect(204);
    app.put(
        &format!("/messages/{m1_id}"),
        &alice.access,
        json!({"content": "one!"}),
    )
    .await
    .expect(200);
    app.post(
        &format!("/messages/{m1_id}/pin"),
        Some(&alice.access),
        json!({}),
    )
    .await
    .expect(200);
    app.post(
        &format!("/channels/{ch}/read"),
        Some(&bob.access),
        json!({"seq": 3}),
    )
    .await
    .expect(200);
    app.delete(&format!("/messages/{m1_id}"), &alice.access)
        .await
        .expect(204);
    app.put(
        &format!("/channels/{ch}"),
        &alice.access,
        json!({"topic": "t"}),
    )
    .await
    .expect(200);
    app.post(
        &format!("/channels/{ch}/leave"),
        Some(&bob.access),
        json!({}),
    )
    .await
    .expect(204);
    app.delete(&format!("/channels/{ch}"), &alice.access)
        .await
        .expect(204);

    let events = collect_until(&mut sub, "channel.archived").await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind().as_str()).collect();
    assert_eq!(
        kinds,
        [
            "channel.created",
            "member.joined",
            "member.joined",
            "message.created",
            "message.created",
            "message.created",
            "message.updated",
            "reaction.added",
            "reaction.removed",
            "message.updated",
            "message.updated",
            "conversation.read",
            "message.deleted",
            "channel.updated",
            "member.left",
            "channel.archived",
        ]
    );
    let workspace: uuid::Uuid = ws.parse().unwrap();
    let channel: uuid::Uuid = ch.parse().unwrap();
    for e in &events {
        assert_eq!(e.workspace_id, Some(workspace));
        assert_eq!(e.channel_id, Some(channel));
        assert!(e.actor_id.is_some());
        assert_eq!(e.id.get_version_num(), 7, "UUIDv7 event ids");
    }
    let created: Vec<&std::sync::Arc<Event>> = events
        .iter()
        .filter(|e| matches!(e.data, EventData::MessageCreated(_)))
        .collect();
    let seqs: Vec<i64> = created.iter().map(|e| e.seq.unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3], "per-channel order");
    // The payload is the message as the API shows it.
    assert_eq!(message(created[0]).content, "one");
    assert_eq!(
        message(created[1]).mentions.user_ids,
        [uuid(&alice.user_id)]
    );
    assert_eq!(message(created[2]).thread_root_id, Some(uuid(m1_id)));
    assert_eq!(
        events[11].data,
        EventData::ConversationRead(ConversationRead {
            user_id: uuid(&bob.user_id),
            last_read_seq: 3
        })
    );
    let EventData::MessageDeleted(deleted) = &events[12].data else {
        panic!("{:?}", events[12]);
    };
    assert_eq!(deleted.id, uuid(m1_id));
    // The event ids are time-ordered like the outbox.
    assert!(events.windows(2).all(|w| w[0].id < w[1].id));
}

#[tokio::test]
async fn unpublished_outbox_rows_are_published_once_after_a_restart() {
    let app = spawn_app().await;
    let (_, _, alice, _) = app.team().await;
    let ch = app.channel(&alice, "durable", false).await;
    for i in 0..5 {
        app.send(&alice, &ch, &format!("m{i}")).await;
    }
    let (config, dir) = app.stop().await;

    // As if the process died after committing but before the relay marked the rows published.
    let db = colink::db::connect(&config).await.unwrap();
    use colink::db::entity::outbox;
    // In outbox order: without ORDER BY, PostgreSQL returns rows in heap order, which the
    // relay's own updates (published_at) reshuffle.
    let rows = outbox::Entity::find()
        .order_by_asc(outbox::Column::Position)
        .all(&db)
        .await
        .unwrap();
    assert!(
        rows.len() >= 7,
        "channel.created, member.joined and 5 messages at least"
    );
    outbox::Entity::update_many()
        .col_expr(
            outbox::Column::PublishedAt,
            Expr::value(Option::<time::OffsetDateTime>::None),
        )
        .exec(&db)
        .await
        .unwrap();
    db.close().await.unwrap();

    let (app, mut sub) = start_subscribed(config, dir).await;
    let mut dedup = Dedup::new(1024);
    let mut received = Vec::new();
    while received.len() < rows.len() {
        let e = next(&mut sub).await;
        if dedup.first_time(e.id) {
            received.push(e.id);
        }
    }
    let expected: Vec<uuid::Uuid> = rows.iter().map(|r| r.event_id).collect();
    assert_eq!(received, expected, "every row, once, in outbox order");

    let (config, _dir) = app.stop().await;
    let db = colink::db::connect(&config).await.unwrap();
    let unpublished = outbox::Entity::find()
        .filter(outbox::Column::PublishedAt.is_null())
        .count(&db)
        .await
        .unwrap();
    assert_eq!(unpublished, 0, "the outbox drained");
    // Published rows are pruned after the retention period.
    let gate = colink::db::WriteGate::for_connection(&db);
    let kept = colink::bus::relay::prune(&db, &gate, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(
        kept, 0,
        "rows published within the retention period are kept"
    );
    let pruned = colink::bus::relay::prune(&db, &gate, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(pruned as usize, rows.len());
    db.close().await.unwrap();
}

/// On PostgreSQL a transaction can commit an outbox row behind rows already published (positions
/// are taken at insert, commits happen in any order). The relay must still publish it.
#[tokio::test]
async fn a_row_committed_behind_the_cursor_is_still_published() {
    use colink::db::entity::outbox;
    use sea_orm::{ActiveModelTrait, Set};
    let app = spawn_app().await;
    let (_, _, alice, _) = app.team().await;
    let ch = app.channel(&alice, "late", false).await;
    for i in 0..3 {
        app.send(&alice, &ch, &format!("m{i}")).await;
    }
    let mut sub = app.state.bus.subscribe().await.expect("subscribe");
    // Wait until the relay has published past every row (its cursor is beyond them).
    app.send(&alice, &ch, "marker").await;
    loop {
        if let EventData::MessageCreated(m) = &next(&mut sub).await.data
            && m.content == "marker"
        {
            break;
        }
    }
    // Let the relay record everything first, so the late row arrives after a quiet period (no
    // event announces the recording, so poll the table, bounded).
    for _ in 0..500 {
        let unpublished = outbox::Entity::find()
            .filter(outbox::Column::PublishedAt.is_null())
            .count(&app.state.db)
            .await
            .unwrap();
        if unpublished == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Take an early row out and put it back unpublished, as if it had just committed.
    let first = outbox::Entity::find()
        .order_by_asc(outbox::Column::Position)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    outbox::Entity::delete_by_id(first.position)
        .exec(&app.state.db)
        .await
        .unwrap();
    let mut late: outbox::ActiveModel = first.clone().into();
    late.published_at = Set(None);
    late.position = Set(first.position);
    late.insert(&app.state.db).await.unwrap();
    app.state.outbox.committed();

    let e = next(&mut sub).await;
    assert_eq!(e.id, first.event_id, "the late row is published");
    let (config, _dir) = app.stop().await;
    let db = colink::db::connect(&config).await.unwrap();
    let unpublished = outbox::Entity::find()
        .filter(outbox::Column::PublishedAt.is_null())
        .count(&db)
        .await
        .unwrap();
    assert_eq!(unpublished, 0);
    db.close().await.unwrap();
}

#[tokio::test]
async fn membership_changes_unpins_and_dm_creation_publish_events() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let mut sub = app.state.bus.subscribe().await.expect("subscribe");
    let ch = app.channel(&alice, "team", true).await;
    app.post(
        &format!("/channels/{ch}/members"),
        Some(&alice.access),
        json!({"user_id": bob.user_id}),
    )
    .await
    .expect(204);
    let m = app.send(&alice, &ch, "pin me").await;
    let m = m["id"].as_str().unwrap();
    app.post(
        &format!("/messages/{m}/pin"),
        Some(&alice.access),
        json!({}),
    )
    .await
    .expect(200);
    app.delete(&format!("/messages/{m}/pin"), &alice.access)
        .await
        .expect(200);
    app.delete(
        &format!("/channels/{ch}/members/{}", bob.user_id),
        &alice.access,
    )
    .await
    .expect(204);
    // A server admin removes the channel's owner: the event says who left with which role.
    app.delete(
        &format!("/channels/{ch}/members/{}", alice.user_id),
        &owner.access,
    )
    .await
    .expect(204);
    let dm = app
        .post(
            "/dms",
            Some(&alice.access),
            json!({"participant_ids": [bob.user_id]}),
        )
        .await
        .expect(201);
    let dm = dm["id"].as_str().unwrap().to_string();
    app.delete(&format!("/channels/{ch}"), &owner.access)
        .await
        .expect(204);

    let mut events = Vec::new();
    let (mut archived, mut dm_created) = (false, false);
    while !(archived && dm_created) {
        let e = next(&mut sub).await;
        archived |= matches!(e.data, EventData::ChannelArchived(_));
        dm_created |= matches!(&e.data, EventData::ChannelCreated(c) if c.id == uuid(&dm));
        events.push(e);
    }
    let channel: uuid::Uuid = ch.parse().unwrap();
    let in_channel: Vec<&EventData> = events
        .iter()
        .filter(|e| e.channel_id == Some(channel))
        .map(|e| &e.data)
        .collect();
    let kinds: Vec<&str> = in_channel.iter().map(|d| d.kind().as_str()).collect();
    assert_eq!(
        kinds,
        [
            "channel.created",
            "member.joined",
            "member.joined",
            "message.created",
            "message.updated",
            "message.updated",
            "member.left",
            "member.left",
            "channel.archived",
        ]
    );
    let member = |i: usize| match in_channel[i] {
        EventData::MemberJoined(MemberChange {
            user_id,
            role,
            channel_kind,
        })
        | EventData::MemberLeft(MemberChange {
            user_id,
            role,
            channel_kind,
        }) => {
            assert_eq!(*channel_kind, ChannelKind::Private);
            (*user_id, *role)
        }
        other => panic!("not a member event: {other:?}"),
    };
    let pinned = |i: usize| match in_channel[i] {
        EventData::MessageUpdated(m) => m.pinned,
        other => panic!("not message.updated: {other:?}"),
    };
    let (alice_id, bob_id) = (uuid(&alice.user_id), uuid(&bob.user_id));
    assert_eq!(member(1), (alice_id, ChannelRole::Owner));
    assert_eq!(member(2), (bob_id, ChannelRole::Member));
    assert!(pinned(4));
    assert!(!pinned(5));
    assert_eq!(member(6), (bob_id, ChannelRole::Member));
    assert_eq!(member(7), (alice_id, ChannelRole::Owner));
    let actors: Vec<Option<uuid::Uuid>> = events
        .iter()
        .filter(|e| e.channel_id == Some(channel) && e.kind().as_str().starts_with("member."))
        .map(|e| e.actor_id)
        .collect();
    let id = |s: &str| Some(s.parse::<uuid::Uuid>().unwrap());
    assert_eq!(
        actors,
        [
            id(&alice.user_id),
            id(&alice.user_id),
            id(&alice.user_id),
            id(&owner.user_id)
        ]
    );
    // The DM's creation, with its participants.
    let (created, view) = events
        .iter()
        .find_map(|e| match &e.data {
            EventData::ChannelCreated(c) if c.id == uuid(&dm) => Some((e, c)),
            _ => None,
        })
        .unwrap();
    assert_eq!(view.kind, ChannelKind::Dm);
    assert_eq!(created.channel_id, dm.parse().ok());
    let mut people = vec![alice_id, bob_id];
    people.sort();
    assert_eq!(view.participant_ids, people);
}
