//! One batch, stored directly (the integration tests cannot choose what shares a batch): top-level
//! messages, replies, a reply whose root was deleted meanwhile, and repeated client ids.

use sea_orm::{
    ActiveModelTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, EntityTrait,
    TransactionTrait,
};
use uuid::Uuid;

use super::{NewMessage, Stored, store::store};
use crate::{
    db::entity::{channel, mention, message},
    domain::{ChannelKind, events::EventData},
    error::ErrorCode,
    service::views::MentionSet,
};

/// A database with one channel (`last_seq` 2) holding a live root (seq 1) and a deleted one
/// (seq 2). Foreign keys are off: the rows they would need do not matter here.
async fn database() -> (DatabaseConnection, channel::Model, Uuid, Uuid) {
    let mut options = ConnectOptions::new("sqlite::memory:");
    options.max_connections(1).sqlx_logging(false);
    let db = Database::connect(options).await.unwrap();
    crate::db::migrate_up(&db).await.unwrap();
    db.execute_unprepared("PRAGMA foreign_keys = OFF")
        .await
        .unwrap();
    let now = crate::domain::clock::now();
    let channel = channel::ActiveModel::from(channel::Model {
        id: Uuid::now_v7(),
        workspace_id: Uuid::now_v7(),
        kind: ChannelKind::Public,
        name: Some("dev".into()),
        description: None,
        topic: None,
        dm_key: None,
        created_by: None,
        created_at: now,
        updated_at: now,
        archived_at: None,
        last_seq: 2,
        last_message_at: Some(now),
        top_level_count: 0,
        member_count: 0,
        last_top_level_seq: 0,
    })
    .insert(&db)
    .await
    .unwrap();
    let root = |seq: i64, deleted: bool| message::Model {
        id: Uuid::now_v7(),
        channel_id: channel.id,
        seq,
        user_id: Uuid::now_v7(),
        content: "root".into(),
        thread_root_id: None,
        reply_count: 0,
        last_reply_at: None,
        client_id: None,
        edited_at: None,
        deleted_at: deleted.then_some(now),
        deleted_by: None,
        created_at: now,
        search_terms: None,
        hidden_at: None,
    };
    let live = message::ActiveModel::from(root(1, false))
        .insert(&db)
        .await
        .unwrap();
    let gone = message::ActiveModel::from(root(2, true))
        .insert(&db)
        .await
        .unwrap();
    (db, channel, live.id, gone.id)
}

fn new(
    channel: &channel::Model,
    author: Uuid,
    client_id: Option<&str>,
    root: Option<Uuid>,
) -> NewMessage {
    NewMessage {
        workspace_id: channel.workspace_id,
        channel_id: channel.id,
        author,
        content: "hello".into(),
        client_id: client_id.map(str::to_string),
        mentions: MentionSet {
            user_ids: vec![author],
            channel: true,
            here: false,
        },
        thread_root_id: root,
        files: Vec::new(),
        search_terms: None,
        moderation: Default::default(),
        traceparent: None,
    }
}

fn created(result: &crate::error::AppResult<Stored>) -> (Uuid, i64) {
    match result {
        Ok(Stored::Created(view)) => (view.id, view.seq),
        Ok(Stored::Duplicate(id)) => panic!("created, not a duplicate of {id}"),
        Err(e) => panic!("created, not {e:?}"),
    }
}

#[tokio::test]
async fn a_mixed_batch_gets_gap_free_seqs_root_counts_and_its_refusals() {
    let (db, channel, live, gone) = database().await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let batch = [
        new(&channel, alice, Some("a"), None),
        new(&channel, bob, Some("r1"), Some(live)),
        new(&channel, bob, Some("d1"), Some(gone)),
        new(&channel, bob, Some("d1"), Some(gone)),
        new(&channel, alice, None, Some(live)),
        new(&channel, bob, None, None),
        new(&channel, alice, Some("a"), None),
    ];
    let tx = db.begin().await.unwrap();
    let (results, committed) = store(&tx, &batch).await.unwrap();
    tx.commit().await.unwrap();

    // Stored: 0, 1, 4, 5, with the channel's next seqs in batch order.
    let stored: Vec<(Uuid, i64)> = [0, 1, 4, 5].iter().map(|&i| created(&results[i])).collect();
    let seqs: Vec<i64> = stored.iter().map(|(_, s)| *s).collect();
    assert_eq!(seqs, [3, 4, 5, 6]);
    // The reply to the deleted root is refused, and so is its repeat in the same batch.
    for i in [2, 3] {
        let e = results[i].as_ref().err().expect("refused");
        assert_eq!(e.code, ErrorCode::Conflict, "{e:?}");
    }
    assert!(matches!(results[6], Ok(Stored::Duplicate(id)) if id == stored[0].0));

    let channel_now = channel::Entity::find_by_id(channel.id)
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(channel_now.last_seq, 6, "no seq taken by a refused reply");
    let root = message::Entity::find_by_id(live)
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(root.reply_count, 2);
    assert!(root.last_reply_at.is_some());
    let gone = message::Entity::find_by_id(gone)
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gone.reply_count, 0);
    assert_eq!(message::Entity::find().all(&db).await.unwrap().len(), 6);
    // Two mention rows (user, @channel) per stored message.
    assert_eq!(mention::Entity::find().all(&db).await.unwrap().len(), 8);

    // Events in position order: each message's `message.created`, a reply's followed by its
    // root's `message.updated` with the count that reply made.
    let kinds: Vec<String> = committed
        .iter()
        .map(|(_, e)| match &e.data {
            EventData::MessageCreated(m) => format!("created {}", m.seq),
            EventData::MessageUpdated(m) if m.id == live => format!("root {}", m.reply_count),
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "created 3",
            "created 4",
            "root 1",
            "created 5",
            "root 2",
            "created 6"
        ]
    );
    let positions: Vec<i64> = committed.iter().map(|(p, _)| *p).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
}
