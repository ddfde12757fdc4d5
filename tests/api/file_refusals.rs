//! Files that must be refused or neutralised (local-disk backend): tampered and expired URLs,
//! sizes over the limit, disallowed and disguised types, decompression bombs, hostile names.

use bytes::Bytes;
use colink::storage::{self, Variant};
use colink_client::StatusCode;

use crate::{
    files::{download, upload},
    helpers::{spawn_app, spawn_with},
};

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
