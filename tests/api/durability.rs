//! Durability: nothing acknowledged is lost when the server is killed (SPEC §9). The server
//! runs as its own process so it can be killed with SIGKILL.

use std::process::Command;

use crate::cli::{channel_messages, owner_and_channel, owner_login, send_concurrently, serve};

/// Nothing acknowledged is lost on `kill -9`: every message that got a 201 is there after a
/// restart, and the outbox drains.
#[tokio::test]
async fn acknowledged_messages_survive_kill_9_and_the_outbox_drains() {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::fresh_database().await.unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("colink.db").display()
        )
    });
    let env = [
        ("COLINK_DATA_DIR", dir.path().to_str().unwrap()),
        ("COLINK_DATABASE__URL", url.as_str()),
        // 200 messages from one person at once: more than the default burst.
        ("COLINK_LIMITS__WRITES__MESSAGES__CAPACITY", "1000"),
    ];
    let (mut child, port) = serve(&env);
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let http = reqwest::Client::new();
    let (access, channel) = owner_and_channel(&http, &base, dir.path(), "durable").await;

    // 8 concurrent senders; kill -9 the moment the last acknowledgement arrives.
    let acked = send_concurrently(&http, &base, &access, &channel, (8, 25)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let (mut child, port) = serve(&env);
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let access = owner_login(&http, &base).await;
    let items = channel_messages(&http, &base, &access, &channel).await;
    let stored: std::collections::HashSet<&str> = items.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(stored.len(), acked.len());
    assert!(
        acked.iter().all(|id| stored.contains(id.as_str())),
        "every acknowledged message is there"
    );
    let seqs: Vec<i64> = items.iter().map(|(_, seq)| *seq).collect();
    assert_eq!(seqs, (1..=acked.len() as i64).collect::<Vec<_>>());

    // Stop gracefully: the relay publishes everything that was left.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    child.wait().unwrap();
    let mut config = colink::Config {
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    config.database.url = Some(colink::config::Secret::new(url.clone()));
    let db = colink::db::connect(&config).await.unwrap();
    use colink::db::entity::outbox;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let left = outbox::Entity::find()
        .filter(outbox::Column::PublishedAt.is_null())
        .count(&db)
        .await
        .unwrap();
    assert_eq!(left, 0, "the outbox drained");
    assert!(outbox::Entity::find().count(&db).await.unwrap() >= acked.len() as u64);
    db.close().await.unwrap();
}
