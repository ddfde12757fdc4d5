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

use crate::helpers::{spawn_app, uuid_of};

pub(crate) fn png(w: u32, h: u32) -> Bytes {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out.into()
}

pub(crate) fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn upload<'a>(name: &'a str, content_type: &'a str, bytes: &Bytes) -> NewUpload<'a> {
    NewUpload {
        filename: name,
        content_type,
        size_bytes: bytes.len() as u64,
        channel_id: None,
    }
}

pub(crate) async fn download(api: &Client, id: colink_client::Uuid) -> colink_client::RawResponse {
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
