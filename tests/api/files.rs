//! Files on the local-disk backend: upload URL → PUT → confirm → download, what is refused
//! (tampered or expired URLs, sizes over the limit, disallowed and disguised types, bombs), who
//! may see a file, files on messages, the files panel, deleting, and collecting abandoned
//! uploads.

use std::io::Cursor;

use bytes::Bytes;
use colink::{
    db::entity::file,
    service::files::processing,
    storage::{self, Variant},
};
use colink_client::{Client, NewMessage, NewUpload, PageQuery, StatusCode};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::helpers::{spawn_app, spawn_with, uuid_of};

fn png(w: u32, h: u32) -> Bytes {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out.into()
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn upload<'a>(name: &'a str, content_type: &'a str, bytes: &Bytes) -> NewUpload<'a> {
    NewUpload {
        filename: name,
        content_type,
        size_bytes: bytes.len() as u64,
        channel_id: None,
    }
}

async fn download(api: &Client, id: colink_client::Uuid) -> colink_client::RawResponse {
    let url = api.download_url(id, false).await.unwrap().url;
    api.fetch_download(&url, None).await.unwrap()
}

#[tokio::test]
async fn an_upload_confirmed_and_downloaded_gives_back_the_same_bytes() {
    let app = spawn_app().await;
    let (_owner, _ws, alice, _bob) = app.team().await;
    let a = app.api_as(&alice);
    let bytes = png(300, 200);
    let target = a
        .upload_url(&upload("cat.png", "image/png", &bytes))
        .await
        .unwrap();
    assert_eq!(target.method, "PUT");
    assert_eq!(target.file.status, "uploading");
    // Confirming before the bytes arrive: nothing to confirm yet.
    let early = a.confirm_file(target.file_id).await.unwrap_err();
    assert_eq!(early.status(), Some(StatusCode::CONFLICT));
    let put = a.put_upload(&target, bytes.clone()).await.unwrap();
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{:?}", put.body);
    let f = a.confirm_file(target.file_id).await.unwrap();
    assert_eq!(f.status, "clean");
    assert_eq!(f.size_bytes, bytes.len() as u64);
    assert_eq!(f.sha256.as_deref(), Some(hex_sha256(&bytes).as_str()));
    assert_eq!((f.width, f.height), (Some(300), Some(200)));
    assert_eq!(f.content_type, "image/png");
    // Confirming again answers the file as it is.
    assert_eq!(a.confirm_file(f.id).await.unwrap().sha256, f.sha256);

    let got = download(&a, f.id).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(hex_sha256(&got.body), hex_sha256(&bytes));
    assert_eq!(got.headers["content-type"], "image/png");
    assert_eq!(got.headers["x-content-type-options"], "nosniff");
    assert!(
        got.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline;")
    );

    // One range of it.
    let url = a.download_url(f.id, false).await.unwrap().url;
    let part = a.fetch_download(&url, Some("bytes=10-19")).await.unwrap();
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(&part.body[..], &bytes[10..20]);
    assert_eq!(
        part.headers["content-range"],
        format!("bytes 10-19/{}", bytes.len()).as_str()
    );
    let beyond = a.fetch_download(&url, Some("bytes=999999-")).await.unwrap();
    assert_eq!(beyond.status, StatusCode::RANGE_NOT_SATISFIABLE);
}

#[tokio::test]
async fn tampered_and_expired_urls_are_refused() {
    let app = spawn_app().await;
    let (_owner, _ws, alice, _bob) = app.team().await;
    let a = app.api_as(&alice);
    let bytes = Bytes::from_static(b"hello, world\n");
    let mut target = a
        .upload_url(&upload("a.txt", "text/plain", &bytes))
        .await
        .unwrap();
    let good = target.upload_url.clone();
    // Another signature, another expiry, another file: all refused, nothing written.
    let last = good.chars().last().unwrap();
    target.upload_url = format!(
        "{}{}",
        &good[..good.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    let put = a.put_upload(&target, bytes.clone()).await.unwrap();
    assert_eq!(put.status, StatusCode::FORBIDDEN);
    let id = target.file_id;
    let expired = -1;
    let sig = app
        .state
        .storage
        .signer()
        .sign("PUT", id, Variant::Original, expired);
    target.upload_url = format!(
        "{}/api/v1/files/{id}/content?expires={expired}&sig={sig}",
        app.base
    );
    assert_eq!(
        a.put_upload(&target, bytes.clone()).await.unwrap().status,
        StatusCode::FORBIDDEN
    );
    target.upload_url = good.replace("&sig=", "0&sig=");
    assert_eq!(
        a.put_upload(&target, bytes.clone()).await.unwrap().status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        a.confirm_file(id).await.unwrap_err().status(),
        Some(StatusCode::CONFLICT)
    );

    target.upload_url = good;
    assert!(
        a.put_upload(&target, bytes.clone())
            .await
            .unwrap()
            .status
            .is_success()
    );
    a.confirm_file(id).await.unwrap();
    let url = a.download_url(id, false).await.unwrap().url;
    let tampered = url.replace("sig=", "sig=0");
    assert_eq!(
        a.fetch_download(&tampered, None).await.unwrap().status,
        StatusCode::FORBIDDEN
    );
    let expired_sig = app
        .state
        .storage
        .signer()
        .sign("GET", id, Variant::Original, expired);
    let old = format!(
        "{}/api/v1/files/{id}/content?expires={expired}&sig={expired_sig}",
        app.base
    );
    assert_eq!(
        a.fetch_download(&old, None).await.unwrap().status,
        StatusCode::FORBIDDEN
    );
    // The upload URL's signature does not download.
    let upload_sig = app
        .state
        .storage
        .signer()
        .sign("PUT", id, Variant::Original, i64::MAX / 4);
    let crossed = format!(
        "{}/api/v1/files/{id}/content?expires={}&sig={upload_sig}",
        app.base,
        i64::MAX / 4
    );
    assert_eq!(
        a.fetch_download(&crossed, None).await.unwrap().status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn sizes_over_the_limit_are_refused_with_413() {
    let app = spawn_with(|c| c.storage.max_file_bytes = 1024).await;
    let (_owner, _ws, alice, _bob) = app.team().await;
    let a = app.api_as(&alice);
    let big = Bytes::from(vec![b'x'; 2048]);
    let err = a
        .upload_url(&upload("big.txt", "text/plain", &big))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::PAYLOAD_TOO_LARGE));
    assert_eq!(err.code(), Some("payload_too_large"));
    // Declared small, sent large: the PUT stops at the declared size.
    let small = Bytes::from(vec![b'x'; 100]);
    let target = a
        .upload_url(&upload("small.txt", "text/plain", &small))
        .await
        .unwrap();
    let put = a.put_upload(&target, big).await.unwrap();
    assert_eq!(put.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        a.confirm_file(target.file_id).await.unwrap_err().status(),
        Some(StatusCode::CONFLICT)
    );
}

#[tokio::test]
async fn disallowed_and_disguised_types_are_refused_with_400() {
    let app = spawn_app().await;
    let (_owner, _ws, alice, _bob) = app.team().await;
    let a = app.api_as(&alice);
    let exe = Bytes::from_static(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff");
    let err = a
        .upload_url(&upload("setup.exe", "application/x-msdownload", &exe))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
    assert_eq!(err.code(), Some("unsupported_file_type"));
    // A program named and declared as a PNG: refused at confirm, and its bytes are gone.
    let target = a
        .upload_url(&upload("cat.png", "image/png", &exe))
        .await
        .unwrap();
    a.put_upload(&target, exe.clone()).await.unwrap();
    let err = a.confirm_file(target.file_id).await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
    assert_eq!(err.code(), Some("unsupported_file_type"));
    let key = storage::object_key(target.file_id, Variant::Original);
    assert!(
        app.state.storage.size(&key).await.is_err(),
        "the refused bytes were deleted"
    );
    // Text declared as an image, too.
    let text = Bytes::from_static(b"not an image at all");
    let target = a
        .upload_url(&upload("x.png", "image/png", &text))
        .await
        .unwrap();
    a.put_upload(&target, text).await.unwrap();
    assert_eq!(
        a.confirm_file(target.file_id).await.unwrap_err().code(),
        Some("unsupported_file_type")
    );
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_without_being_decoded() {
    let app = spawn_app().await;
    let (_owner, _ws, alice, _bob) = app.team().await;
    let a = app.api_as(&alice);
    // A header claiming 100,000 × 100,000 pixels (40 GB as RGBA) in a few dozen bytes.
    let bomb = Bytes::from(bomb_png(100_000, 100_000));
    let target = a
        .upload_url(&upload("bomb.png", "image/png", &bomb))
        .await
        .unwrap();
    a.put_upload(&target, bomb).await.unwrap();
    let err = a.confirm_file(target.file_id).await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
    assert!(err.to_string().contains("100000×100000"), "{err}");
}

/// A PNG whose header declares `w`×`h` with no pixel data worth the name.
fn bomb_png(w: u32, h: u32) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (&b"IHDR"[..], &ihdr[..]),
        (b"IDAT", b"\x78\x9c\x03\x00\x00\x00\x00\x01"),
        (b"IEND", b""),
    ] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(data);
        out.extend_from_slice(&chunk);
        out.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    out
}

#[tokio::test]
async fn hostile_file_names_are_neutralised() {
    let app = spawn_app().await;
    let (_owner, _ws, alice, _bob) = app.team().await;
    let a = app.api_as(&alice);
    let bytes = Bytes::from_static(b"plain text\n");
    for (raw, shown) in [
        ("../../etc/passwd", "passwd".to_string()),
        (
            "report\r\nSet-Cookie: evil=1.txt",
            "reportSet-Cookie: evil=1.txt".to_string(),
        ),
        (
            &*format!("{}.txt", "n".repeat(10_000)),
            format!("{}.txt", "n".repeat(196)),
        ),
    ] {
        let f = a
            .upload(&upload(raw, "text/plain", &bytes), bytes.clone())
            .await
            .unwrap();
        assert_eq!(f.filename, shown);
        let got = download(&a, f.id).await;
        let disposition = got.headers["content-disposition"].to_str().unwrap();
        assert!(
            disposition.starts_with("attachment; filename=\""),
            "{disposition}"
        );
        assert!(
            !disposition.contains('/') && !disposition.contains('\n'),
            "{disposition}"
        );
        assert!(got.headers.get("set-cookie").is_none());
    }
}

#[tokio::test]
async fn a_message_with_a_file_shows_it_to_members_only() {
    let app = spawn_app().await;
    let (owner, _ws, alice, bob) = app.team().await;
    let (a, o) = (app.api_as(&alice), app.api_as(&owner));
    let secret = app.channel(&alice, "secret", true).await;
    a.add_member(uuid_of(&secret), uuid_of(&owner.user_id))
        .await
        .unwrap();
    let mut alice_ws = app.ws(&alice.access).await;
    let mut owner_ws = app.ws(&owner.access).await;
    owner_ws.subscribe(&secret).await;

    let bytes = png(64, 48);
    let new = NewUpload {
        channel_id: Some(uuid_of(&secret)),
        ..upload("chart.png", "image/png", &bytes)
    };
    let f = a.upload(&new, bytes.clone()).await.unwrap();
    // The uploader's own connections hear of it; nobody else's.
    let uploaded = alice_ws.event("file.uploaded").await;
    assert_eq!(uploaded["data"]["id"], f.id.to_string());
    // Not shared yet: the owner cannot see it.
    assert_eq!(
        o.file(f.id).await.unwrap_err().status(),
        Some(StatusCode::FORBIDDEN)
    );

    let sent = a
        .send_message(
            uuid_of(&secret),
            &NewMessage {
                file_ids: &[f.id],
                ..NewMessage::new("the chart")
            },
        )
        .await
        .unwrap();
    assert_eq!(sent.files.len(), 1);
    assert_eq!(sent.files[0].id, f.id);
    let created = owner_ws.event("message.created").await;
    assert_eq!(created["data"]["files"][0]["filename"], "chart.png");
    // The thumbnail is made off the request path; the message is updated when it is ready.
    let updated = owner_ws.event("message.updated").await;
    assert_eq!(
        updated["data"]["files"][0]["has_thumbnail"], true,
        "{updated}"
    );
    let history = o
        .messages(uuid_of(&secret), &Default::default())
        .await
        .unwrap();
    assert_eq!(history.items[0].files[0].id, f.id);
    assert!(history.items[0].files[0].has_thumbnail);
    let got = download(&o, f.id).await;
    assert_eq!(hex_sha256(&got.body), hex_sha256(&bytes));
    let thumb_url = o.download_url(f.id, true).await.unwrap().url;
    let thumb = o.fetch_download(&thumb_url, None).await.unwrap();
    assert_eq!(thumb.status, StatusCode::OK);
    assert_eq!(thumb.headers["content-type"], "image/png");

    // Bob is not in the conversation: 403 for the file, its URLs and the files panel.
    let b = app.api_as(&bob);
    assert_eq!(
        b.file(f.id).await.unwrap_err().status(),
        Some(StatusCode::FORBIDDEN)
    );
    assert_eq!(
        b.download_url(f.id, false).await.unwrap_err().status(),
        Some(StatusCode::FORBIDDEN)
    );
    assert_eq!(
        b.channel_files(uuid_of(&secret), &PageQuery::default())
            .await
            .unwrap_err()
            .status(),
        Some(StatusCode::FORBIDDEN)
    );
    // Bob cannot attach Alice's file either.
    let general = app.channel(&bob, "bobs", false).await;
    let err = b
        .send_message(
            uuid_of(&general),
            &NewMessage {
                file_ids: &[f.id],
                ..NewMessage::new("mine now")
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
}

#[tokio::test]
async fn the_files_panel_lists_shared_files_newest_first_and_deleting_removes_them() {
    let app = spawn_app().await;
    let (_owner, _ws, alice, bob) = app.team().await;
    let a = app.api_as(&alice);
    let room = app.channel(&alice, "room", false).await;
    app.join(&bob, &room).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let bytes = Bytes::from(format!("file number {i}\n"));
        let name = format!("f{i}.txt");
        let f = a
            .upload(&upload(&name, "text/plain", &bytes), bytes.clone())
            .await
            .unwrap();
        ids.push(f.id);
    }
    a.send_message(
        uuid_of(&room),
        &NewMessage {
            file_ids: &ids[..2],
            ..NewMessage::new("two")
        },
    )
    .await
    .unwrap();
    let last = a
        .send_message(
            uuid_of(&room),
            &NewMessage {
                file_ids: &ids[2..],
                ..NewMessage::new("one")
            },
        )
        .await
        .unwrap();
    let b = app.api_as(&bob);
    let first = b
        .channel_files(
            uuid_of(&room),
            &PageQuery {
                limit: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let listed: Vec<_> = first.items.iter().map(|s| s.file.id).collect();
    assert_eq!(listed, [ids[2], ids[1]]);
    let rest = b
        .channel_files(
            uuid_of(&room),
            &PageQuery {
                limit: Some(2),
                cursor: first.next_cursor,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        rest.items.iter().map(|s| s.file.id).collect::<Vec<_>>(),
        [ids[0]]
    );
    assert!(rest.next_cursor.is_none());

    // Only the uploader (or an admin) deletes; the file leaves the message and the panel.
    assert_eq!(
        b.delete_file(ids[2]).await.unwrap_err().status(),
        Some(StatusCode::FORBIDDEN)
    );
    let mut bob_ws = app.ws(&bob.access).await;
    bob_ws.subscribe(&room).await;
    a.delete_file(ids[2]).await.unwrap();
    let updated = bob_ws.event("message.updated").await;
    assert_eq!(updated["data"]["id"], last.id.to_string());
    // No files left: the event omits the list (as for any message without files).
    assert_eq!(updated["data"].get("files"), None, "{updated}");
    let history = b
        .messages(uuid_of(&room), &Default::default())
        .await
        .unwrap();
    assert!(history.items[0].files.is_empty());
    assert_eq!(history.items[1].files.len(), 2);
    let panel = b
        .channel_files(uuid_of(&room), &PageQuery::default())
        .await
        .unwrap();
    assert_eq!(panel.items.len(), 2);
    assert_eq!(
        a.file(ids[2]).await.unwrap_err().status(),
        Some(StatusCode::NOT_FOUND)
    );
    let key = storage::object_key(ids[2], Variant::Original);
    assert!(
        app.state.storage.size(&key).await.is_err(),
        "the bytes were deleted"
    );
}

#[tokio::test]
async fn attaching_checks_each_file() {
    let app = spawn_app().await;
    let (_owner, _ws, alice, _bob) = app.team().await;
    let a = app.api_as(&alice);
    let room = app.channel(&alice, "room", false).await;
    let bytes = Bytes::from_static(b"x\n");
    let unconfirmed = a
        .upload_url(&upload("u.txt", "text/plain", &bytes))
        .await
        .unwrap();
    let err = a
        .send_message(
            uuid_of(&room),
            &NewMessage {
                file_ids: &[unconfirmed.file_id],
                ..NewMessage::new("x")
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::CONFLICT));
    let f = a
        .upload(&upload("ok.txt", "text/plain", &bytes), bytes.clone())
        .await
        .unwrap();
    let twice = a
        .send_message(
            uuid_of(&room),
            &NewMessage {
                file_ids: &[f.id, f.id],
                ..NewMessage::new("x")
            },
        )
        .await
        .unwrap_err();
    assert_eq!(twice.status(), Some(StatusCode::BAD_REQUEST));
    let eleven = vec![f.id; 11];
    let err = a
        .send_message(
            uuid_of(&room),
            &NewMessage {
                file_ids: &eleven,
                ..NewMessage::new("x")
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
    // A reply carries files too.
    let root = a
        .send_message(uuid_of(&room), &NewMessage::new("root"))
        .await
        .unwrap();
    let reply = app
        .post(
            &format!("/api/v1/messages/{}/threads", root.id),
            Some(&alice.access),
            json!({"content": "with a file", "file_ids": [f.id]}),
        )
        .await
        .expect(201);
    assert_eq!(reply["files"][0]["id"], f.id.to_string());
}

#[tokio::test]
async fn abandoned_uploads_are_collected() {
    let app = spawn_app().await;
    let (_owner, _ws, alice, _bob) = app.team().await;
    let a = app.api_as(&alice);
    let bytes = Bytes::from_static(b"never confirmed\n");
    let target = a
        .upload_url(&upload("a.txt", "text/plain", &bytes))
        .await
        .unwrap();
    a.put_upload(&target, bytes).await.unwrap();
    let fresh = processing::collect_abandoned(&app.state).await.unwrap();
    assert_eq!(fresh, 0, "a new upload is not abandoned");
    // Started two days ago.
    let row = file::Entity::find_by_id(target.file_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let mut row = row.into_active_model();
    row.created_at = Set(time::OffsetDateTime::now_utc() - time::Duration::days(2));
    row.update(&app.state.db).await.unwrap();
    assert_eq!(processing::collect_abandoned(&app.state).await.unwrap(), 1);
    let key = storage::object_key(target.file_id, Variant::Original);
    assert!(app.state.storage.size(&key).await.is_err());
    assert_eq!(
        a.confirm_file(target.file_id).await.unwrap_err().status(),
        Some(StatusCode::NOT_FOUND)
    );
}
