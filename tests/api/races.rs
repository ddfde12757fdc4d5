//! Identical requests racing each other: every one succeeds, one row is written, one event is
//! emitted (the database decides, not a check before the insert).

use colink::db::entity::{channel_member, outbox, pin};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::helpers::{TestApp, concurrently, spawn_app};

/// Payloads of the outbox events of `kind` for `channel`, oldest first.
pub async fn outbox_events(app: &TestApp, kind: &str, channel: &str) -> Vec<Value> {
    let channel: uuid::Uuid = channel.parse().unwrap();
    outbox::Entity::find()
        .filter(outbox::Column::EventType.eq(kind))
        .filter(outbox::Column::ChannelId.eq(channel))
        .order_by_asc(outbox::Column::Position)
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| serde_json::from_str::<Value>(&row.payload).unwrap()["data"].clone())
        .collect()
}

/// `member.joined` events of `channel` about `user`.
async fn joined_events(app: &TestApp, channel: &str, user: &str) -> Vec<Value> {
    outbox_events(app, "member.joined", channel)
        .await
        .into_iter()
        .filter(|d| d["user_id"] == user)
        .collect()
}

async fn member_rows(app: &TestApp, channel: &str, user: &str) -> u64 {
    channel_member::Entity::find()
        .filter(channel_member::Column::ChannelId.eq(channel.parse::<uuid::Uuid>().unwrap()))
        .filter(channel_member::Column::UserId.eq(user.parse::<uuid::Uuid>().unwrap()))
        .count(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn concurrent_joins_add_one_member_and_one_event() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let ch = app.channel(&alice, "lobby", false).await;
    let url = format!("{}/api/v1/channels/{ch}/join", app.base);
    let results = concurrently(10, |_| {
        app.client
            .post(&url)
            .bearer_auth(&bob.access)
            .json(&json!({}))
    })
    .await;
    assert!(
        results
            .iter()
            .all(|(s, b)| *s == 200 && b["is_member"] == true),
        "{results:?}"
    );
    assert_eq!(member_rows(&app, &ch, &bob.user_id).await, 1);
    let joined = joined_events(&app, &ch, &bob.user_id).await;
    assert_eq!(joined.len(), 1, "{joined:?}");
}

#[tokio::test]
async fn concurrent_identical_member_adds_add_one_member_and_one_event() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let ch = app.channel(&alice, "secret", true).await;
    let url = format!("{}/api/v1/channels/{ch}/members", app.base);
    let results = concurrently(10, |_| {
        app.client
            .post(&url)
            .bearer_auth(&alice.access)
            .json(&json!({"user_id": bob.user_id}))
    })
    .await;
    assert!(results.iter().all(|(s, _)| *s == 204), "{results:?}");
    assert_eq!(member_rows(&app, &ch, &bob.user_id).await, 1);
    let joined = joined_events(&app, &ch, &bob.user_id).await;
    assert_eq!(joined.len(), 1, "{joined:?}");
}

#[tokio::test]
async fn concurrent_pins_and_unpins_change_state_once() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    app.join(&bob, &ch).await;
    let m = app.send(&alice, &ch, "pin me").await;
    let id = m["id"].as_str().unwrap().to_string();
    let url = format!("{}/api/v1/messages/{id}/pin", app.base);
    let results = concurrently(10, |i| {
        let who = if i % 2 == 0 { &alice } else { &bob };
        app.client
            .post(&url)
            .bearer_auth(&who.access)
            .json(&json!({}))
    })
    .await;
    assert!(
        results
            .iter()
            .all(|(s, b)| *s == 200 && b["pinned"] == true),
        "{results:?}"
    );
    let pins = pin::Entity::find()
        .filter(pin::Column::MessageId.eq(id.parse::<uuid::Uuid>().unwrap()))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(pins, 1);
    let updates = outbox_events(&app, "message.updated", &ch).await;
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0]["pinned"], true);

    let results = concurrently(10, |_| app.client.delete(&url).bearer_auth(&alice.access)).await;
    assert!(
        results
            .iter()
            .all(|(s, b)| *s == 200 && b["pinned"] == false),
        "{results:?}"
    );
    let updates = outbox_events(&app, "message.updated", &ch).await;
    assert_eq!(updates.len(), 2, "one pin and one unpin: {updates:?}");
    assert_eq!(updates[1]["pinned"], false);
}

#[tokio::test]
async fn concurrent_archives_archive_once_and_announce_once() {
    let app = spawn_app().await;
    let (_, _, alice, _) = app.team().await;
    let ch = app.channel(&alice, "sunset", false).await;
    let url = format!("{}/api/v1/channels/{ch}", app.base);
    let results = concurrently(10, |_| app.client.delete(&url).bearer_auth(&alice.access)).await;
    assert!(results.iter().all(|(s, _)| *s == 204), "{results:?}");
    assert_eq!(outbox_events(&app, "channel.archived", &ch).await.len(), 1);
}

/// An edit or a pin racing a delete either happens before it or is refused (409): nothing is
/// announced about a message after its `message.deleted`, and its stored content is what it was
/// when it was deleted.
#[tokio::test]
async fn edits_and_pins_racing_a_delete_never_follow_it() {
    let app = spawn_app().await;
    let (_, _, alice, _) = app.team().await;
    let ch = app.channel(&alice, "race", false).await;
    for round in 0..10 {
        let m = app.send(&alice, &ch, &format!("original {round}")).await;
        let id = m["id"].as_str().unwrap().to_owned();
        let base = format!("{}/api/v1/messages/{id}", app.base);
        let results = concurrently(3, |i| match i {
            0 => app.client.delete(&base).bearer_auth(&alice.access),
            1 => app
                .client
                .put(&base)
                .bearer_auth(&alice.access)
                .json(&json!({"content": format!("edited {round}")})),
            _ => app
                .client
                .post(format!("{base}/pin"))
                .bearer_auth(&alice.access)
                .json(&json!({})),
        })
        .await;
        assert_eq!(results[0].0, 204, "{results:?}");
        assert!(
            results[1..].iter().all(|(s, _)| *s == 200 || *s == 409),
            "{results:?}"
        );
        let channel: uuid::Uuid = ch.parse().unwrap();
        let kinds: Vec<String> = outbox::Entity::find()
            .filter(outbox::Column::ChannelId.eq(channel))
            .order_by_asc(outbox::Column::Position)
            .all(&app.state.db)
            .await
            .unwrap()
            .into_iter()
            .filter(|row| row.payload.contains(&id))
            .map(|row| row.event_type)
            .collect();
        let deleted_at = kinds.iter().position(|k| k == "message.deleted").unwrap();
        assert_eq!(deleted_at, kinds.len() - 1, "round {round}: {kinds:?}");
        let pinned = pin::Entity::find_by_id(id.parse::<uuid::Uuid>().unwrap())
            .one(&app.state.db)
            .await
            .unwrap();
        assert!(
            pinned.is_none(),
            "round {round}: a deleted message stays unpinned"
        );
    }
}

/// Read markers are moved by one writer in batches (`marker_writer`): many tabs of two people
/// marking read at once, to different points, move each marker forward only (every answer is
/// at least what was asked) and announce each move once: per person, the `conversation.read`
/// events are strictly increasing and end at the furthest point asked, and the counts are
/// those of that point.
#[tokio::test]
async fn concurrent_read_markers_move_forward_and_announce_each_move_once() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let ch = app.channel(&owner, "marks", false).await;
    app.join(&alice, &ch).await;
    app.join(&bob, &ch).await;
    for i in 0..5 {
        app.send(&owner, &ch, &format!("m{i}")).await;
    }
    let people = [&alice, &bob];
    let asks: Vec<(usize, i64)> = (0..24).map(|k| (k % 2, [2, 3, 5][k % 3] as i64)).collect();
    let answers = concurrently(asks.len(), |i| {
        let (who, seq) = asks[i];
        app.client
            .post(format!("{}/api/v1/channels/{ch}/read", app.base))
            .bearer_auth(&people[who].access)
            .json(&json!({ "seq": seq }))
    })
    .await;
    for ((status, body), (_, seq)) in answers.iter().zip(&asks) {
        assert_eq!(*status, 200, "{body}");
        assert!(body["last_read_seq"].as_i64().unwrap() >= *seq, "{body}");
    }
    let events = outbox_events(&app, "conversation.read", &ch).await;
    for person in people {
        let moves: Vec<i64> = events
            .iter()
            .filter(|e| e["user_id"] == person.user_id.as_str())
            .map(|e| e["last_read_seq"].as_i64().unwrap())
            .collect();
        assert!(!moves.is_empty(), "{events:?}");
        assert!(moves.windows(2).all(|w| w[0] < w[1]), "{moves:?}");
        assert_eq!(moves.last(), Some(&5));
        let c = app.listed("/channels?limit=50", person, &ch).await;
        assert_eq!(
            (c["last_read_seq"].as_i64(), c["unread_count"].as_i64()),
            (Some(5), Some(0))
        );
    }
}
