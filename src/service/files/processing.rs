//! Work on files off the request path, by one background worker: virus scans (with retries and
//! back-off), thumbnails, and collecting abandoned uploads.
//!
//! It wakes when a file is confirmed ([`FileWork::notify`]) and every few seconds (retries,
//! and files confirmed on another node). Each pass takes a bounded batch of each kind of work.
//!
//! Every node of a cluster runs this worker: before scanning or thumbnailing a file, a node
//! claims it ([`claim`]: a conditional update moving `scan_after` forward by [`CLAIM_LEASE`]),
//! so each file is scanned and announced (`file.uploaded`) by one node, and a node that dies
//! mid-work leaves the file to another once the lease runs out.

use std::{sync::Arc, time::Duration};

use futures_util::StreamExt;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use tokio::sync::Notify;

use crate::{
    app::AppState,
    config::ScannerKind,
    db::entity::{file, message_file, upload_session},
    error::AppResult,
    service::{events, latest_page, messages, now, views::FileView},
    storage::{self, Variant, scanner, thumbnail},
    workers::{Shutdown, Worker},
};

/// Wakes the worker; cheap to clone.
#[derive(Clone, Default)]
pub struct FileWork(Arc<Notify>);

impl FileWork {
    pub fn notify(&self) {
        self.0.notify_one();
    }
}

pub struct FileWorker(pub Arc<AppState>);

const BATCH: u64 = 8;
const PERIOD: Duration = Duration::from_secs(5);
/// How long a claimed file is left to the node that claimed it: longer than a scan may take
/// (120 s) plus a thumbnail.
const CLAIM_LEASE: Duration = Duration::from_secs(300);

/// The two kinds of work a file waits for.
#[derive(Clone, Copy)]
pub enum Work {
    Scan,
    Thumbnail,
}

/// Claim `id` for `work` if it still waits for it and nobody holds it (no node, or one whose
/// lease ran out): whether this node got it. One conditional UPDATE, so of several nodes
/// claiming at once exactly one wins.
pub async fn claim(
    db: &impl sea_orm::ConnectionTrait,
    id: uuid::Uuid,
    work: Work,
) -> AppResult<bool> {
    let at = now();
    let waiting = match work {
        Work::Scan => sea_orm::Condition::all().add(file::Column::Status.eq("pending")),
        Work::Thumbnail => sea_orm::Condition::all()
            .add(file::Column::Thumbnail.eq("pending"))
            .add(file::Column::Status.eq("clean")),
    };
    let claimed = file::Entity::update_many()
        .col_expr(
            file::Column::ScanAfter,
            sea_orm::sea_query::Expr::value(at + CLAIM_LEASE),
        )
        .filter(file::Column::Id.eq(id))
        .filter(waiting)
        .filter(
            sea_orm::Condition::any()
                .add(file::Column::ScanAfter.is_null())
                .add(file::Column::ScanAfter.lte(at)),
        )
        .exec(db)
        .await?;
    Ok(claimed.rows_affected == 1)
}

/// Files free to work on: never claimed, or their lease (or retry back-off) is over.
fn unclaimed() -> sea_orm::Condition {
    sea_orm::Condition::any()
        .add(file::Column::ScanAfter.is_null())
        .add(file::Column::ScanAfter.lte(now()))
}
/// The longest wait between scan attempts.
const MAX_BACKOFF_SECS: i64 = 300;

#[async_trait::async_trait]
impl Worker for FileWorker {
    fn name(&self) -> &'static str {
        "files"
    }

    async fn run(self: Box<Self>, mut shutdown: Shutdown) {
        let state = self.0;
        let mut tick = tokio::time::interval(PERIOD);
        loop {
            tokio::select! {
                _ = state.file_work.0.notified() => {}
                _ = tick.tick() => {}
                _ = shutdown.changed() => break,
            }
            if let Err(e) = pass(&state).await {
                tracing::warn!(error = %e, "file work failed");
            }
        }
    }
}

/// One pass: scans, thumbnails, then abandoned uploads; again at once while work is left.
async fn pass(state: &AppState) -> AppResult<()> {
    loop {
        let scanned = scan_some(state).await?;
        let thumbed = thumbnail_some(state).await?;
        // Leader-only: one node of a cluster collects.
        if state.leadership.is_leader() {
            collect_abandoned(state).await?;
        }
        if scanned < BATCH as usize && thumbed < BATCH as usize {
            return Ok(());
        }
    }
}

async fn scan_some(state: &AppState) -> AppResult<usize> {
    let due = file::Entity::find()
        .filter(file::Column::Status.eq("pending"))
        .filter(file::Column::DeletedAt.is_null())
        .filter(unclaimed())
        .order_by_asc(file::Column::CreatedAt)
        .limit(BATCH)
        .all(&state.db)
        .await?;
    let n = due.len();
    for f in due {
        if !claim(&state.db, f.id, Work::Scan).await? {
            continue;
        }
        let verdict = match state.config.storage.scanner {
            ScannerKind::None => Ok(scanner::Verdict::Clean),
            ScannerKind::Clamd => scan(state, &f).await,
        };
        record_scan(state, f, verdict).await?;
    }
    Ok(n)
}

async fn scan(state: &AppState, f: &file::Model) -> Result<scanner::Verdict, String> {
    let reader = state
        .storage
        .reader(&storage::object_key(f.id, Variant::Original))
        .await
        .map_err(|e| e.to_string())?;
    let stream = reader
        .into_bytes_stream(..)
        .await
        .map_err(|e| e.to_string())?;
    let stream = stream.map(|r| r.map_err(std::io::Error::other));
    scanner::clamd(
        &state.config.storage.clamd_address,
        Box::pin(stream),
        Duration::from_secs(120),
    )
    .await
}

/// Record a scan's outcome, and tell the uploader (`file.uploaded` with the file as it is now:
/// clean, infected, or still pending with the error of the attempt that failed).
async fn record_scan(
    state: &AppState,
    f: file::Model,
    verdict: Result<scanner::Verdict, String>,
) -> AppResult<()> {
    let (id, uploader, attempts) = (f.id, f.uploader_id, f.scan_attempts);
    let mut row = f.into_active_model();
    let (tx, _write) = state.begin_write().await?;
    let stored = match verdict {
        Ok(scanner::Verdict::Clean) => {
            row.status = Set("clean".into());
            row.scan_error = Set(None);
            // The claim is over: the thumbnail may start at once.
            row.scan_after = Set(None);
            let stored = row.update(&tx).await?;
            refresh_messages(&tx, id, uploader).await?;
            stored
        }
        Ok(scanner::Verdict::Infected(signature)) => {
            tracing::warn!(file_id = %id, %signature, "malware found in an upload");
            row.status = Set("infected".into());
            row.scan_error = Set(None);
            row.scan_after = Set(None);
            row.thumbnail = Set("none".into());
            let stored = row.update(&tx).await?;
            super::unlink(&tx, id, uploader).await?;
            stored
        }
        Err(error) => {
            let attempts = attempts.saturating_add(1);
            let backoff = (1i64 << attempts.clamp(0, 9)).min(MAX_BACKOFF_SECS);
            tracing::warn!(file_id = %id, attempts, %error, "scanning an upload failed; will retry");
            row.scan_attempts = Set(attempts);
            row.scan_error = Set(Some(error));
            row.scan_after = Set(Some(now() + Duration::from_secs(backoff.unsigned_abs())));
            row.update(&tx).await?
        }
    };
    events::emit(&tx, &super::uploaded_event(FileView::of(stored))).await?;
    events::commit(state, tx).await
}

/// The messages carrying file `id` changed how they show it: each gets a `message.updated`,
/// and its conversation's version moves.
async fn refresh_messages(
    tx: &sea_orm::DatabaseTransaction,
    id: uuid::Uuid,
    actor: uuid::Uuid,
) -> AppResult<()> {
    let links = message_file::Entity::find()
        .filter(message_file::Column::FileId.eq(id))
        .all(tx)
        .await?;
    let mut channels = Vec::new();
    for link in links {
        let m = messages::find(tx, link.message_id).await?;
        if m.deleted_at.is_none() {
            let channel = crate::db::entity::channel::Entity::find_by_id(m.channel_id)
                .one(tx)
                .await?;
            if let Some(channel) = channel {
                let view = messages::one(tx, actor, m).await?;
                events::emit_in(
                    tx,
                    &channel,
                    actor,
                    crate::domain::events::EventData::MessageUpdated(view),
                )
                .await?;
            }
        }
        if !channels.contains(&link.channel_id) {
            channels.push(link.channel_id);
        }
    }
    for channel_id in channels {
        latest_page::bump(tx, channel_id).await?;
    }
    Ok(())
}

async fn thumbnail_some(state: &AppState) -> AppResult<usize> {
    let due = file::Entity::find()
        .filter(file::Column::Thumbnail.eq("pending"))
        .filter(file::Column::Status.eq("clean"))
        .filter(file::Column::DeletedAt.is_null())
        .filter(unclaimed())
        .order_by_asc(file::Column::CreatedAt)
        .limit(BATCH)
        .all(&state.db)
        .await?;
    let n = due.len();
    for f in due {
        if !claim(&state.db, f.id, Work::Thumbnail).await? {
            continue;
        }
        let outcome = make_thumbnail(state, &f).await;
        let (id, uploader) = (f.id, f.uploader_id);
        let mut row = f.into_active_model();
        let (tx, _write) = state.begin_write().await?;
        match outcome {
            Ok(()) => {
                row.thumbnail = Set("ready".into());
                row.update(&tx).await?;
                refresh_messages(&tx, id, uploader).await?;
            }
            Err(error) => {
                tracing::info!(file_id = %id, %error, "no thumbnail for this image");
                row.thumbnail = Set("failed".into());
                row.update(&tx).await?;
            }
        }
        events::commit(state, tx).await?;
    }
    Ok(n)
}

async fn make_thumbnail(state: &AppState, f: &file::Model) -> Result<(), String> {
    let size = u64::try_from(f.size_bytes).unwrap_or(u64::MAX);
    if size > thumbnail::MAX_SOURCE_BYTES {
        return Err(format!("{size} bytes is too large to decode"));
    }
    let reader = state
        .storage
        .reader(&storage::object_key(f.id, Variant::Original))
        .await
        .map_err(|e| e.to_string())?;
    let bytes = reader.read(..).await.map_err(|e| e.to_string())?.to_vec();
    let (max_pixels, edge) = (
        state.config.storage.thumbnail_max_pixels,
        state.config.storage.thumbnail_size,
    );
    let png = tokio::task::spawn_blocking(move || thumbnail::make(&bytes, max_pixels, edge))
        .await
        .map_err(|e| e.to_string())??;
    let mut writer = state
        .storage
        .writer(&storage::object_key(f.id, Variant::Thumbnail))
        .await
        .map_err(|e| e.to_string())?;
    writer.write(png).await.map_err(|e| e.to_string())?;
    writer.close().await.map_err(|e| e.to_string())?;
    Ok(())
}

/// Uploads never finished within `storage.abandoned_after`: direct ones never confirmed lose
/// their object and row; resumable sessions lose their chunks and turn `failed`.
pub async fn collect_abandoned(state: &AppState) -> AppResult<u64> {
    let cutoff = now() - state.config.storage.abandoned_after.0;
    let mut collected = 0;
    let stale_files = file::Entity::find()
        .filter(file::Column::Status.eq("uploading"))
        .filter(file::Column::DeletedAt.is_null())
        .filter(file::Column::CreatedAt.lt(cutoff))
        .limit(100)
        .all(&state.db)
        .await?;
    for f in stale_files {
        let id = f.id;
        let _ = state
            .storage
            .delete(&storage::object_key(id, Variant::Original))
            .await;
        let mut row = f.into_active_model();
        row.deleted_at = Set(Some(now()));
        let (tx, _write) = state.begin_write().await?;
        row.update(&tx).await?;
        tx.commit().await?;
        collected += 1;
    }
    let stale_sessions = upload_session::Entity::find()
        .filter(upload_session::Column::Status.eq("open"))
        .filter(upload_session::Column::UpdatedAt.lt(cutoff))
        .limit(100)
        .all(&state.db)
        .await?;
    for s in stale_sessions {
        let id = s.id;
        if let Err(e) = state.storage.delete_all(&storage::chunks_prefix(id)).await {
            tracing::warn!(upload_id = %id, error = %e, "deleting an abandoned upload's chunks failed");
            continue;
        }
        let mut row = s.into_active_model();
        row.status = Set("failed".into());
        row.updated_at = Set(now());
        let (tx, _write) = state.begin_write().await?;
        row.update(&tx).await?;
        crate::db::entity::upload_chunk::Entity::delete_many()
            .filter(crate::db::entity::upload_chunk::Column::UploadId.eq(id))
            .exec(&tx)
            .await?;
        tx.commit().await?;
        collected += 1;
    }
    if collected > 0 {
        state
            .files_collected
            .fetch_add(collected, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(collected, "abandoned uploads collected");
    }
    Ok(collected)
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveModelTrait, ConnectOptions, Database, DatabaseConnection};

    use super::*;
    use crate::{
        domain::{Email, Role, Username},
        service::accounts::{self, NewAccount},
    };

    async fn database() -> DatabaseConnection {
        let mut options = ConnectOptions::new("sqlite::memory:");
        options.max_connections(1).sqlx_logging(false);
        let db = Database::connect(options).await.unwrap();
        crate::db::migrate_up(&db).await.unwrap();
        db
    }

    async fn waiting_file(db: &DatabaseConnection) -> uuid::Uuid {
        let user = accounts::create(
            db,
            NewAccount {
                username: Username::parse("uploader").unwrap(),
                email: Email::parse("uploader@example.com").unwrap(),
                display_name: None,
                password_hash: None,
                role: Role::Member,
                email_verified: true,
            },
        )
        .await
        .unwrap();
        let id = uuid::Uuid::now_v7();
        file::Model {
            id,
            uploader_id: user.id,
            channel_id: None,
            filename: "cat.png".into(),
            content_type: "image/png".into(),
            size_bytes: 10,
            sha256: None,
            status: "pending".into(),
            scan_error: None,
            scan_attempts: 0,
            scan_after: None,
            width: None,
            height: None,
            thumbnail: "pending".into(),
            created_at: now(),
            confirmed_at: Some(now()),
            deleted_at: None,
        }
        .into_active_model()
        .insert(db)
        .await
        .unwrap();
        id
    }

    async fn set(
        db: &DatabaseConnection,
        id: uuid::Uuid,
        status: &str,
        after: Option<time::OffsetDateTime>,
    ) {
        file::Entity::update_many()
            .col_expr(
                file::Column::Status,
                sea_orm::sea_query::Expr::value(status),
            )
            .col_expr(
                file::Column::ScanAfter,
                sea_orm::sea_query::Expr::value(after),
            )
            .filter(file::Column::Id.eq(id))
            .exec(db)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn of_nodes_claiming_a_file_at_once_exactly_one_gets_it_until_its_lease_ends() {
        let db = database().await;
        let id = waiting_file(&db).await;
        let claims =
            futures_util::future::join_all((0..4).map(|_| claim(&db, id, Work::Scan))).await;
        let won = claims.into_iter().filter(|c| matches!(c, Ok(true))).count();
        assert_eq!(won, 1, "one node scans it");
        assert!(
            !claim(&db, id, Work::Scan).await.unwrap(),
            "held by its lease"
        );
        // Its node died: once the lease is over, another node takes the file.
        set(&db, id, "pending", Some(now() - Duration::from_secs(1))).await;
        assert!(claim(&db, id, Work::Scan).await.unwrap());
        // Scanned clean: the thumbnail is claimed the same way, once.
        set(&db, id, "clean", None).await;
        assert!(
            !claim(&db, id, Work::Scan).await.unwrap(),
            "no scan left to do"
        );
        assert!(claim(&db, id, Work::Thumbnail).await.unwrap());
        assert!(!claim(&db, id, Work::Thumbnail).await.unwrap());
    }
}
