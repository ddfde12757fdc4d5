//! `colink backup` while a writer sends messages, `colink restore` into a new data dir: the
//! server starts on it with every message acknowledged before the backup began, the files and
//! the same accounts (the master key came along: the old password works).

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use colink_client::NewMessage;

use crate::{
    cli::{channel_messages, colink, text},
    files::{download, hex_sha256, png, upload},
    helpers::{PASSWORD, spawn_app, start, test_config, uuid_of},
};

#[tokio::test]
async fn a_backup_under_write_load_restores_everything_acknowledged_before_it_began() {
    let app = spawn_app().await;
    let data_dir = app.config.data_dir.to_str().unwrap().to_owned();
    let archive_dir = tempfile::tempdir().unwrap();
    let archive = archive_dir.path().join("colink-backup.tar.gz");
    let archive_arg = archive.to_str().unwrap().to_owned();
    if !app.config.is_sqlite() {
        // PostgreSQL: the command says to use pg_dump, and writes nothing.
        let url = app.config.database_url();
        let out = colink(
            &["backup", "--out", &archive_arg],
            &[
                ("COLINK_DATA_DIR", &data_dir),
                ("COLINK_DATABASE__URL", &url),
            ],
            None,
        );
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains("pg_dump"),
            "{}",
            text(&out.stderr)
        );
        assert!(!archive.exists());
        return;
    }
    let (owner, _ws, _alice, _bob) = app.team().await;
    let channel = app.channel(&owner, "backed-up", false).await;
    let api = app.api_as(&owner);
    let bytes = png(64, 48);
    let target = api
        .upload_url(&upload("kept.png", "image/png", &bytes))
        .await
        .unwrap();
    api.put_upload(&target, bytes.clone()).await.unwrap();
    let file = api.confirm_file(target.file_id).await.unwrap();

    // Four writers until told to stop; each acknowledged id is recorded as it arrives.
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (api, acked, stop) = (app.api_as(&owner), acked.clone(), stop.clone());
        let channel = uuid_of(&channel);
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let content = format!("w{w} m{i}");
                let m = api
                    .send_message(channel, &NewMessage::new(&content))
                    .await
                    .unwrap();
                acked.lock().unwrap().push(m.id.to_string());
                i += 1;
            }
        }));
    }
    while acked.lock().unwrap().len() < 100 {
        tokio::task::yield_now().await;
    }
    let before: HashSet<String> = acked.lock().unwrap().iter().cloned().collect();
    let backup = tokio::task::spawn_blocking(move || {
        colink(
            &["backup", "--out", &archive_arg],
            &[("COLINK_DATA_DIR", &data_dir)],
            None,
        )
    })
    .await
    .unwrap();
    let during = acked.lock().unwrap().len() - before.len();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert!(backup.status.success(), "{}", text(&backup.stderr));
    let report = text(&backup.stdout);
    assert!(report.contains("master key: included"), "{report}");
    assert!(during > 0, "the writers kept writing while the backup ran");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&archive).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the archive holds the key: owner-only");
    }

    let restored = tempfile::tempdir().unwrap();
    let restored_dir = restored.path().join("data");
    let restore = colink(
        &["restore", archive.to_str().unwrap()],
        &[("COLINK_DATA_DIR", restored_dir.to_str().unwrap())],
        None,
    );
    assert!(restore.status.success(), "{}", text(&restore.stderr));
    // Never over existing data.
    let again = colink(
        &["restore", archive.to_str().unwrap()],
        &[("COLINK_DATA_DIR", restored_dir.to_str().unwrap())],
        None,
    );
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("empty data dir"),
        "{}",
        text(&again.stderr)
    );

    let app2 = start(test_config(&restored_dir), Arc::new(restored)).await;
    let owner2 = app2.login("owner", PASSWORD).await;
    let stored: HashSet<String> = channel_messages(
        &app2.client,
        &format!("{}/api/v1", app2.base),
        &owner2.access,
        &channel,
    )
    .await
    .into_iter()
    .map(|(id, _)| id)
    .collect();
    let missing = before.iter().filter(|id| !stored.contains(*id)).count();
    assert_eq!(
        missing,
        0,
        "of {} acknowledged before the backup",
        before.len()
    );
    let got = download(&app2.api_as(&owner2), file.id).await;
    assert_eq!(hex_sha256(&got.body), hex_sha256(&bytes));
}
