//! Resumable uploads: chunks in any order, again, checked; the status lists what is missing;
//! complete assembles exactly the bytes sent (or lists what is missing); abandoned sessions are
//! collected.

use bytes::Bytes;
use colink::{db::entity::upload_session, service::files::processing, storage};
use colink_client::{NewResumable, StatusCode};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use sha2::{Digest, Sha256};

use crate::helpers::spawn_app;

const MIB: usize = 1024 * 1024;

/// 3.5 MiB of text: four 1 MiB chunks, the last one half full.
fn document() -> Bytes {
    let mut out = String::new();
    let mut i = 0u64;
    while out.len() < 3 * MIB + MIB / 2 {
        out.push_str(&format!(
            "line {i}: the quick brown fox jumps over the lazy dog\n"
        ));
        i += 1;
    }
    out.truncate(3 * MIB + MIB / 2);
    Bytes::from(out)
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn chunk(doc: &Bytes, n: usize) -> Bytes {
    doc.slice(n * MIB..((n + 1) * MIB).min(doc.len()))
}

#[tokio::test]
async fn chunks_in_any_order_assemble_into_the_same_bytes() {
    let app = spawn_app().await;
    let (_owner, _ws, alice, bob) = app.team().await;
    let a = app.api_as(&alice);
    let doc = document();
    let started = a
        .start_upload(&NewResumable {
            filename: "big.txt",
            content_type: "text/plain",
            size_bytes: doc.len() as u64,
            chunk_size: Some(MIB as u64),
            channel_id: None,
        })
        .await
        .unwrap();
    assert_eq!(started.total_chunks, 4);
    assert_eq!(started.missing_chunks, [0, 1, 2, 3]);
    let id = started.upload_id;

    // Half the chunks: the status lists exactly the others.
    for n in [2, 0] {
        let put = a
            .put_chunk(id, n, chunk(&doc, n as usize), None)
            .await
            .unwrap();
        assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    }
    let status = a.upload_status(id).await.unwrap();
    assert_eq!(status.missing_chunks, [1, 3]);
    assert_eq!(status.received_chunks, 2);
    assert_eq!(status.percentage, 57.1);
    // Completing now: 409, naming the missing chunks.
    let err = a.complete_upload(id).await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::CONFLICT));
    assert!(
        err.to_string().contains("2 chunks are missing: 1, 3"),
        "{err}"
    );

    // The rest out of order, one of them with its checksum, and chunk 0 again (harmless).
    let last = chunk(&doc, 3);
    let put = a
        .put_chunk(id, 3, last.clone(), Some(&sha(&last)))
        .await
        .unwrap();
    assert_eq!(put.status, StatusCode::OK);
    a.put_chunk(id, 1, chunk(&doc, 1), None).await.unwrap();
    a.put_chunk(id, 0, chunk(&doc, 0), None).await.unwrap();
    let status = a.upload_status(id).await.unwrap();
    assert!(status.missing_chunks.is_empty());
    assert_eq!(status.percentage, 100.0);

    let f = a.complete_upload(id).await.unwrap();
    assert_eq!(f.sha256.as_deref(), Some(sha(&doc).as_str()));
    assert_eq!(f.size_bytes, doc.len() as u64);
    assert_eq!(f.status, "clean");
    let url = a.download_url(f.id, false).await.unwrap().url;
    let got = a.fetch_download(&url, None).await.unwrap();
    assert_eq!(sha(&got.body), sha(&doc));
    // Completing again answers the same file; the chunks are gone.
    assert_eq!(a.complete_upload(id).await.unwrap().id, f.id);
    let done = a.upload_status(id).await.unwrap();
    assert_eq!(
        (done.status.as_str(), done.file_id),
        ("complete", Some(f.id))
    );
    assert!(
        app.state
            .storage
            .size(&storage::chunk_key(id, 0))
            .await
            .is_err()
    );

    // Someone else's upload does not exist for them.
    let b = app.api_as(&bob);
    assert_eq!(
        b.upload_status(id).await.unwrap_err().status(),
        Some(StatusCode::NOT_FOUND)
    );
}

#[tokio::test]
async fn chunks_that_do_not_fit_are_refused() {
    let app = spawn_app().await;
    let (_owner, _ws, alice, bob) = app.team().await;
    let a = app.api_as(&alice);
    let doc = document();
    let id = a
        .start_upload(&NewResumable {
            filename: "big.txt",
            content_type: "text/plain",
            size_bytes: doc.len() as u64,
            chunk_size: Some(MIB as u64),
            channel_id: None,
        })
        .await
        .unwrap()
        .upload_id;
    // A checksum that does not match, a chunk of the wrong length, a chunk beyond the end.
    let wrong = a
        .put_chunk(id, 0, chunk(&doc, 0), Some(&"0".repeat(64)))
        .await
        .unwrap();
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let short = a.put_chunk(id, 0, chunk(&doc, 3), None).await.unwrap();
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    let long = a.put_chunk(id, 3, chunk(&doc, 0), None).await.unwrap();
    assert_eq!(long.status, StatusCode::PAYLOAD_TOO_LARGE);
    let beyond = a.put_chunk(id, 4, chunk(&doc, 3), None).await.unwrap();
    assert_eq!(beyond.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.upload_status(id).await.unwrap().received_chunks, 0);
    // Not the uploader: nothing to send to.
    let other = app
        .api_as(&bob)
        .put_chunk(id, 0, chunk(&doc, 0), None)
        .await
        .unwrap();
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    // Chunk sizes out of range, and files over the limit.
    let err = a
        .start_upload(&NewResumable {
            filename: "x.txt",
            content_type: "text/plain",
            size_bytes: 10,
            chunk_size: Some(1000),
            channel_id: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
    let err = a
        .start_upload(&NewResumable {
            filename: "x.txt",
            content_type: "text/plain",
            size_bytes: 3 * 1024 * 1024 * 1024,
            chunk_size: None,
            channel_id: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::PAYLOAD_TOO_LARGE));
}

#[tokio::test]
async fn abandoned_sessions_are_collected() {
    let app = spawn_app().await;
    let (_owner, _ws, alice, _bob) = app.team().await;
    let a = app.api_as(&alice);
    let doc = document();
    let id = a
        .start_upload(&NewResumable {
            filename: "big.txt",
            content_type: "text/plain",
            size_bytes: doc.len() as u64,
            chunk_size: Some(MIB as u64),
            channel_id: None,
        })
        .await
        .unwrap()
        .upload_id;
    a.put_chunk(id, 1, chunk(&doc, 1), None).await.unwrap();
    assert_eq!(processing::collect_abandoned(&app.state).await.unwrap(), 0);
    let row = upload_session::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let mut row = row.into_active_model();
    row.updated_at = Set(time::OffsetDateTime::now_utc() - time::Duration::hours(25));
    row.update(&app.state.db).await.unwrap();
    assert_eq!(processing::collect_abandoned(&app.state).await.unwrap(), 1);
    let status = a.upload_status(id).await.unwrap();
    assert_eq!(status.status, "failed");
    assert_eq!(status.received_chunks, 0);
    assert!(
        app.state
            .storage
            .size(&storage::chunk_key(id, 1))
            .await
            .is_err()
    );
    let put = a.put_chunk(id, 0, chunk(&doc, 0), None).await.unwrap();
    assert_eq!(put.status, StatusCode::CONFLICT);
}
