//! Resumable uploads: a large file sent in chunks that may arrive in any order, again, or after
//! a reload; the client asks which are missing and sends those; complete assembles them.
//!
//! - Chunks are numbered from 0; every chunk has `chunk_size` bytes but the last, which has the
//!   rest. Each is stored as its own object (`uploads/<id>/<n>`) with its SHA-256 (checked
//!   against `X-Chunk-Sha256` when sent). Sending a chunk again replaces it: harmless.
//! - Complete writes the chunks in order into the file's object, never holding the file in
//!   memory: on S3, with chunks of 5–16 MiB, a multipart upload whose parts are copied inside
//!   the bucket (UploadPartCopy), then one streamed read to hash and sniff it; otherwise the
//!   chunks stream through CoLink (S3: 8 MiB parts; the local disk: one file written in
//!   parts), hashed and sniffed on the way. It then
//!   confirms the file exactly as a direct upload is confirmed ([`super::direct::finish`]) and
//!   deletes the chunks.
//! - Only the uploader sees a session (others get 404). A session untouched for
//!   `storage.abandoned_after` is collected ([`super::processing::collect_abandoned`]).

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::OnConflict,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::direct::{self, Checked, NewUpload};
use crate::{
    app::AppState,
    config::CHUNK_RANGE,
    db::entity::{file, upload_chunk, upload_session},
    error::{AppError, AppResult, ErrorCode},
    service::{Principal, now, views::FileView},
    storage::{self, Variant},
};

/// At most this many chunks per upload.
pub const MAX_CHUNKS: u64 = 10_000;

/// Where a resumable upload stands.
#[derive(Debug, Clone, poem_openapi::Object)]
pub struct UploadStatus {
    pub upload_id: Uuid,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub chunk_size: u64,
    pub total_chunks: u32,
    /// How many chunks have arrived.
    pub received_chunks: u32,
    /// The chunks still to send, in order.
    pub missing_chunks: Vec<u32>,
    /// Bytes received, as a percentage of the file (0–100).
    pub percentage: f64,
    /// `open`, `complete` or `failed` (abandoned and collected, or refused at complete).
    pub status: String,
    /// The file, once complete.
    #[oai(nullable)]
    pub file_id: Option<Uuid>,
}

/// Open a resumable upload.
pub async fn start(
    state: &AppState,
    principal: Principal,
    req: NewUpload,
    chunk_size: Option<u64>,
) -> AppResult<UploadStatus> {
    let chunk_size = chunk_size.unwrap_or(state.config.storage.chunk_size);
    if !CHUNK_RANGE.contains(&chunk_size) {
        return Err(crate::domain::Invalid::new(
            "chunk_size",
            format!(
                "must be between {} and {} bytes",
                CHUNK_RANGE.start(),
                CHUNK_RANGE.end()
            ),
        )
        .into());
    }
    let total = req.size_bytes.div_ceil(chunk_size).max(1);
    if total > MAX_CHUNKS {
        return Err(crate::domain::Invalid::new(
            "chunk_size",
            format!("the file would take more than {MAX_CHUNKS} chunks: choose larger ones"),
        )
        .into());
    }
    let Checked {
        filename,
        content_type,
    } = direct::check(state, principal, &req).await?;
    let at = now();
    let row = upload_session::Model {
        id: Uuid::now_v7(),
        uploader_id: principal.user_id,
        channel_id: req.channel_id,
        filename: filename.into_inner(),
        content_type,
        size_bytes: i64::try_from(req.size_bytes).unwrap_or(i64::MAX),
        chunk_size: i64::try_from(chunk_size).unwrap_or(i64::MAX),
        total_chunks: i32::try_from(total).unwrap_or(i32::MAX),
        status: "open".into(),
        file_id: None,
        created_at: at,
        updated_at: at,
    };
    let (tx, _write) = state.begin_write().await?;
    let stored = upload_session::ActiveModel::from(row).insert(&tx).await?;
    tx.commit().await?;
    Ok(status_of(stored, &[]))
}

/// The caller's session.
async fn own(state: &AppState, principal: Principal, id: Uuid) -> AppResult<upload_session::Model> {
    upload_session::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|s| s.uploader_id == principal.user_id)
        .ok_or_else(|| AppError::not_found("upload"))
}

async fn received(state: &AppState, id: Uuid) -> AppResult<Vec<u32>> {
    let ns: Vec<i32> = upload_chunk::Entity::find()
        .select_only()
        .column(upload_chunk::Column::N)
        .filter(upload_chunk::Column::UploadId.eq(id))
        .order_by_asc(upload_chunk::Column::N)
        .into_tuple()
        .all(&state.db)
        .await?;
    Ok(ns
        .into_iter()
        .filter_map(|n| u32::try_from(n).ok())
        .collect())
}

fn status_of(s: upload_session::Model, received: &[u32]) -> UploadStatus {
    let total = u32::try_from(s.total_chunks).unwrap_or(0);
    let size = u64::try_from(s.size_bytes).unwrap_or(0);
    let chunk = u64::try_from(s.chunk_size).unwrap_or(1);
    let missing: Vec<u32> = (0..total)
        .filter(|n| received.binary_search(n).is_err())
        .collect();
    let bytes: u64 = received
        .iter()
        .map(|&n| chunk_len(size, chunk, total, n))
        .sum();
    let percentage = if s.status == "complete" || size == 0 && missing.is_empty() {
        100.0
    } else if size == 0 {
        0.0
    } else {
        (bytes as f64 * 1000.0 / size as f64).floor() / 10.0
    };
    UploadStatus {
        upload_id: s.id,
        filename: s.filename,
        content_type: s.content_type,
        size_bytes: size,
        chunk_size: chunk,
        total_chunks: total,
        received_chunks: u32::try_from(received.len()).unwrap_or(u32::MAX),
        missing_chunks: missing,
        percentage,
        status: s.status,
        file_id: s.file_id,
    }
}

/// The length of chunk `n`: `chunk` bytes, the last one the rest.
fn chunk_len(size: u64, chunk: u64, total: u32, n: u32) -> u64 {
    if n + 1 < total {
        chunk
    } else {
        size - chunk * u64::from(total.saturating_sub(1))
    }
}

pub async fn status(state: &AppState, principal: Principal, id: Uuid) -> AppResult<UploadStatus> {
    let s = own(state, principal, id).await?;
    let got = received(state, id).await?;
    Ok(status_of(s, &got))
}

/// Store chunk `n` (streamed; exactly its length; its SHA-256 checked when given).
pub async fn put_chunk<S>(
    state: &AppState,
    principal: Principal,
    id: Uuid,
    n: u32,
    sha256: Option<&str>,
    body: S,
) -> AppResult<UploadStatus>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin + Send + 'static,
{
    let s = own(state, principal, id).await?;
    if s.status != "open" {
        return Err(AppError::conflict(format!("the upload is {}", s.status)));
    }
    let total = u32::try_from(s.total_chunks).unwrap_or(0);
    if n >= total {
        return Err(AppError::validation(format!(
            "n: this upload has chunks 0 to {}",
            total.saturating_sub(1)
        )));
    }
    let expected = chunk_len(
        u64::try_from(s.size_bytes).unwrap_or(0),
        u64::try_from(s.chunk_size).unwrap_or(1),
        total,
        n,
    );
    let want_sha = sha256.map(parse_sha256).transpose()?;
    // Hash as the bytes pass on to storage.
    let hasher = std::sync::Arc::new(std::sync::Mutex::new((Sha256::new(), 0u64)));
    let tap = hasher.clone();
    let hashed = body.map(move |chunk| {
        if let Ok(bytes) = &chunk
            && let Ok(mut h) = tap.lock()
        {
            h.0.update(bytes);
            h.1 += bytes.len() as u64;
        }
        chunk
    });
    let key = storage::chunk_key(id, n);
    let idle = state.config.server.body_read_timeout.0;
    direct::copy_exact(state, &key, Box::pin(hashed), expected, idle)
        .await
        .map_err(|e| match e.code {
            ErrorCode::ValidationFailed => AppError::validation(format!(
                "chunk {n} must have {expected} bytes: {}",
                e.detail
            )),
            _ => e,
        })?;
    let digest = {
        let h = hasher
            .lock()
            .map_err(|_| AppError::internal("chunk hasher poisoned"))?;
        hex(&h.0.clone().finalize())
    };
    if want_sha.as_ref().is_some_and(|w| *w != digest) {
        let _ = state.storage.delete(&key).await;
        return Err(AppError::validation(format!(
            "chunk {n}: the bytes do not match X-Chunk-Sha256"
        )));
    }
    record_chunk(state, id, n, expected, digest).await?;
    status(state, principal, id).await
}

/// The chunk row (replacing one sent before) and the session's last activity.
async fn record_chunk(
    state: &AppState,
    id: Uuid,
    n: u32,
    len: u64,
    digest: String,
) -> AppResult<()> {
    let (tx, _write) = state.begin_write().await?;
    upload_chunk::Entity::insert(upload_chunk::ActiveModel {
        upload_id: Set(id),
        n: Set(i32::try_from(n).unwrap_or(i32::MAX)),
        size_bytes: Set(i64::try_from(len).unwrap_or(i64::MAX)),
        sha256: Set(digest),
        received_at: Set(now()),
    })
    .on_conflict(
        OnConflict::columns([upload_chunk::Column::UploadId, upload_chunk::Column::N])
            .update_columns([
                upload_chunk::Column::SizeBytes,
                upload_chunk::Column::Sha256,
                upload_chunk::Column::ReceivedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(&tx)
    .await?;
    upload_session::Entity::update_many()
        .col_expr(
            upload_session::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(now()),
        )
        .filter(upload_session::Column::Id.eq(id))
        .exec(&tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

fn parse_sha256(h: &str) -> AppResult<String> {
    if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(h.to_ascii_lowercase())
    } else {
        Err(AppError::validation(
            "X-Chunk-Sha256: must be 64 hexadecimal digits",
        ))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Assemble the chunks into the file and confirm it (see the module docs). Completing a
/// completed upload answers its file.
pub async fn complete(state: &AppState, principal: Principal, id: Uuid) -> AppResult<FileView> {
    let s = own(state, principal, id).await?;
    if let (Some(file_id), "complete") = (s.file_id, s.status.as_str()) {
        return super::get(state, principal, file_id).await;
    }
    let got = received(state, id).await?;
    let view = status_of(s.clone(), &got);
    if !view.missing_chunks.is_empty() {
        let listed: Vec<String> = view
            .missing_chunks
            .iter()
            .take(100)
            .map(u32::to_string)
            .collect();
        let more = if view.missing_chunks.len() > 100 {
            ", …"
        } else {
            ""
        };
        return Err(AppError::conflict(format!(
            "{} chunks are missing: {}{more}",
            view.missing_chunks.len(),
            listed.join(", ")
        )));
    }
    // One completion at a time: open → assembling.
    let claimed = {
        let (tx, _write) = state.begin_write().await?;
        let claimed = upload_session::Entity::update_many()
            .col_expr(
                upload_session::Column::Status,
                sea_orm::sea_query::Expr::value("assembling"),
            )
            .filter(upload_session::Column::Id.eq(id))
            .filter(upload_session::Column::Status.eq("open"))
            .exec(&tx)
            .await?;
        tx.commit().await?;
        claimed
    };
    if claimed.rows_affected == 0 {
        return Err(AppError::conflict(
            "the upload is being completed or has ended",
        ));
    }
    let outcome = assemble_and_finish(state, &s, view.total_chunks).await;
    let (status, file_id) = match &outcome {
        Ok(f) => ("complete", Some(f.id)),
        Err(e) if e.code == ErrorCode::Unavailable || e.code == ErrorCode::Internal => {
            ("open", None)
        }
        Err(_) => ("failed", None),
    };
    let mut row: upload_session::ActiveModel = s.into();
    row.status = Set(status.into());
    row.file_id = Set(file_id);
    row.updated_at = Set(now());
    {
        let (tx, _write) = state.begin_write().await?;
        row.update(&tx).await?;
        if status != "open" {
            upload_chunk::Entity::delete_many()
                .filter(upload_chunk::Column::UploadId.eq(id))
                .exec(&tx)
                .await?;
        }
        tx.commit().await?;
    }
    if status != "open"
        && let Err(e) = state.storage.delete_all(&storage::chunks_prefix(id)).await
    {
        tracing::warn!(upload_id = %id, error = %e, "deleting an upload's chunks failed");
    }
    outcome
}

async fn assemble_and_finish(
    state: &AppState,
    s: &upload_session::Model,
    total: u32,
) -> AppResult<FileView> {
    let req = NewUpload {
        filename: s.filename.clone(),
        content_type: s.content_type.clone(),
        size_bytes: u64::try_from(s.size_bytes).unwrap_or(0),
        channel_id: s.channel_id,
    };
    let checked = Checked {
        filename: crate::domain::FileName::sanitize(&s.filename),
        content_type: s.content_type.clone(),
    };
    let row = direct::new_row(s.uploader_id, &req, checked);
    let key = storage::object_key(row.id, Variant::Original);
    let size = u64::try_from(s.size_bytes).unwrap_or(0);
    let chunk = u64::try_from(s.chunk_size).unwrap_or(0);
    let inspected = if state.storage.assembles_in_place(chunk) {
        // The bytes stay in the bucket; `finish` reads the file once to hash and sniff it.
        let parts = (0..total).map(|n| {
            (
                storage::chunk_key(s.id, n),
                chunk_len(size, chunk, total, n),
            )
        });
        state.storage.assemble_in_place(&key, chunk, parts).await?;
        None
    } else {
        Some(stream_chunks(state, s.id, total, &key).await?)
    };
    let stored = {
        let (tx, _write) = state.begin_write().await?;
        let stored = file::ActiveModel::from(row).insert(&tx).await?;
        tx.commit().await?;
        stored
    };
    direct::finish(state, stored, inspected).await
}

/// Copy the chunks in order into `key` through this process, hashing and sniffing them on the
/// way (no second read of the file).
async fn stream_chunks(
    state: &AppState,
    upload: Uuid,
    total: u32,
    key: &str,
) -> AppResult<direct::Inspected> {
    let mut writer = state.storage.writer(key).await?;
    let mut inspector = direct::Inspector::default();
    for n in 0..total {
        let reader = state.storage.reader(&storage::chunk_key(upload, n)).await?;
        let mut stream = reader
            .into_bytes_stream(..)
            .await
            .map_err(storage::StorageError::from)?;
        while let Some(bytes) = stream.next().await {
            let bytes = bytes.map_err(|e| {
                AppError::from(storage::StorageError::from(opendal::Error::new(
                    opendal::ErrorKind::Unexpected,
                    e.to_string(),
                )))
            })?;
            inspector.update(&bytes);
            writer
                .write(bytes)
                .await
                .map_err(storage::StorageError::from)?;
        }
    }
    writer.close().await.map_err(storage::StorageError::from)?;
    Ok(inspector.finish())
}
