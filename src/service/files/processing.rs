//! Work on files off the request path, by one background worker: virus scans (with retries and
//! back-off), thumbnails, and collecting abandoned uploads.
//!
//! It wakes when a file is confirmed ([`FileWork::notify`]) and every few seconds (retries,
//! and files confirmed on another node). Each pass takes a bounded batch of each kind of work.

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
        .filter(
            sea_orm::Condition::any()
                .add(file::Column::ScanAfter.is_null())
                .add(file::Column::ScanAfter.lte(now())),
        )
        .order_by_asc(file::Column::CreatedAt)
        .limit(BATCH)
        .all(&state.db)
        .await?;
    let n = due.len();
    for f in due {
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
            let stored = row.update(&tx).await?;
            refresh_messages(&tx, id, uploader).await?;
            stored
        }
        Ok(scanner::Verdict::Infected(signature)) => {
            tracing::warn!(file_id = %id, %signature, "malware found in an upload");
            row.status = Set("infected".into());
            row.scan_error = Set(None);
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
        .order_by_asc(file::Column::CreatedAt)
        .limit(BATCH)
        .all(&state.db)
        .await?;
    let n = due.len();
    for f in due {
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
