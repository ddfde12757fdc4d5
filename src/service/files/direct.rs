//! Direct uploads: an upload URL (S3 presigned, or CoLink's own signed URL on the fs backend),
//! the bytes PUT to it, then confirm — which checks what arrived and records it.
//!
//! [`finish`] is the one place a file becomes confirmed (resumable uploads end there too): the
//! size must be the declared one and within the limit, the bytes must be of the declared type
//! and that type allowed; it records the SHA-256, the type, image dimensions, and emits
//! `file.uploaded` (private to the uploader) in the same transaction.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use super::load;
use crate::{
    app::AppState,
    config::ScannerKind,
    db::entity::file,
    domain::FileName,
    error::{AppError, AppResult, ErrorCode},
    service::{Principal, access, events, limits, now, views::FileView},
    storage::{self, Target, Variant, sniff},
};

/// What a client asks to upload.
pub struct NewUpload {
    pub filename: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub channel_id: Option<Uuid>,
}

/// An upload request that passed the checks every upload makes.
pub struct Checked {
    pub filename: FileName,
    pub content_type: String,
}

/// The checks before any byte moves: rate limit, size limit, allowed type, and (when a
/// conversation is named) that the uploader may post there.
pub async fn check(state: &AppState, principal: Principal, req: &NewUpload) -> AppResult<Checked> {
    let max = state.config.storage.max_file_bytes;
    if req.size_bytes > max {
        return Err(too_large(max));
    }
    let content_type = sniff::normalise(&req.content_type);
    if !state.config.storage.allows(&content_type) {
        return Err(AppError {
            field: Some(crate::domain::Invalid::new(
                "content_type",
                format!("{content_type} files are not allowed here"),
            )),
            ..AppError::new(
                ErrorCode::UnsupportedFileType,
                format!("{content_type} files are not allowed here"),
            )
        });
    }
    if let Some(channel_id) = req.channel_id {
        access::postable(state, principal, channel_id).await?;
    }
    limits::spend(state, principal.user_id, limits::Write::Upload).await?;
    Ok(Checked {
        filename: FileName::sanitize(&req.filename),
        content_type,
    })
}

pub fn too_large(max: u64) -> AppError {
    AppError::new(
        ErrorCode::PayloadTooLarge,
        format!("files may be at most {max} bytes"),
    )
}

/// An upload URL and the file it fills.
pub struct UploadTicket {
    pub file: FileView,
    pub target: Target,
    pub expires_at: OffsetDateTime,
}

/// Record a file awaiting its bytes and hand out the URL to PUT them to.
pub async fn start(
    state: &AppState,
    principal: Principal,
    req: NewUpload,
) -> AppResult<UploadTicket> {
    let checked = check(state, principal, &req).await?;
    let row = new_row(principal.user_id, &req, checked);
    let ttl = state.config.storage.upload_url_ttl.0;
    let target = state
        .storage
        .upload_target(row.id, &row.content_type, ttl)
        .await?;
    let (tx, _write) = state.begin_write().await?;
    let stored = file::ActiveModel::from(row).insert(&tx).await?;
    tx.commit().await?;
    Ok(UploadTicket {
        file: FileView::of(stored),
        target,
        expires_at: now() + ttl,
    })
}

/// A new file row, `uploading`.
pub fn new_row(uploader: Uuid, req: &NewUpload, checked: Checked) -> file::Model {
    file::Model {
        id: Uuid::now_v7(),
        uploader_id: uploader,
        channel_id: req.channel_id,
        filename: checked.filename.into_inner(),
        content_type: checked.content_type,
        size_bytes: i64::try_from(req.size_bytes).unwrap_or(i64::MAX),
        sha256: None,
        status: "uploading".into(),
        scan_error: None,
        scan_attempts: 0,
        scan_after: None,
        width: None,
        height: None,
        thumbnail: "none".into(),
        created_at: now(),
        confirmed_at: None,
        deleted_at: None,
    }
}

/// The fs backend's upload URL: check the signature, then stream the body into the file's
/// object (at most its declared size; more is refused and nothing is kept).
pub async fn receive<S>(
    state: &AppState,
    id: Uuid,
    expires: i64,
    signature: &str,
    body: S,
) -> AppResult<()>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
{
    let now_s = now().unix_timestamp();
    if state.storage.is_s3()
        || !state
            .storage
            .signer()
            .verify("PUT", id, Variant::Original, expires, signature, now_s)
    {
        return Err(AppError::forbidden("the upload URL is invalid or expired"));
    }
    let f = load(&state.db, id).await?;
    if f.status != "uploading" {
        return Err(AppError::conflict("the file was already confirmed"));
    }
    let declared = u64::try_from(f.size_bytes).unwrap_or(0);
    let key = storage::object_key(id, Variant::Original);
    let idle = state.config.server.body_read_timeout.0;
    copy_limited(state, &key, body, declared, idle).await
}

/// Stream `body` into the object `key`: at most `max` bytes, each read within `idle`.
pub async fn copy_limited<S>(
    state: &AppState,
    key: &str,
    mut body: S,
    max: u64,
    idle: Duration,
) -> AppResult<()>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
{
    let mut writer = state.storage.writer(key).await?;
    let mut written: u64 = 0;
    let outcome: AppResult<()> = async {
        loop {
            let next = tokio::time::timeout(idle, body.next()).await.map_err(|_| {
                AppError::new(
                    ErrorCode::RequestTimeout,
                    format!("no data arrived for {} s", idle.as_secs()),
                )
            })?;
            let Some(chunk) = next else { return Ok(()) };
            let chunk = chunk.map_err(|e| {
                AppError::new(
                    ErrorCode::BadRequest,
                    format!("the body could not be read: {e}"),
                )
            })?;
            written += chunk.len() as u64;
            if written > max {
                return Err(AppError::new(
                    ErrorCode::PayloadTooLarge,
                    format!("the body is larger than the declared {max} bytes"),
                ));
            }
            writer
                .write(chunk)
                .await
                .map_err(storage::StorageError::from)?;
        }
    }
    .await;
    match outcome {
        Ok(()) => {
            writer.close().await.map_err(storage::StorageError::from)?;
            Ok(())
        }
        Err(e) => {
            let _ = writer.abort().await;
            Err(e)
        }
    }
}

/// Store `body` at `key`: exactly `len` bytes, each piece within `idle` of the one before,
/// streamed to storage as it arrives ([`storage::Storage::put_stream`]: S3 gets one PUT, no
/// buffer). A body that stalls, runs over or ends short is refused with that reason (408, 413,
/// 400) and nothing is stored.
pub async fn copy_exact<S>(
    state: &AppState,
    key: &str,
    body: S,
    len: u64,
    idle: Duration,
) -> AppResult<()>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin + Send + 'static,
{
    let refusal: Arc<Mutex<Option<AppError>>> = Arc::default();
    let slot = refusal.clone();
    let checked = futures_util::stream::unfold(Some((body, 0u64)), move |at| {
        let slot = slot.clone();
        async move {
            let (mut body, seen) = at?;
            let refused = match tokio::time::timeout(idle, body.next()).await {
                Err(_) => AppError::new(
                    ErrorCode::RequestTimeout,
                    format!("no data arrived for {} s", idle.as_secs()),
                ),
                Ok(Some(Ok(piece))) => {
                    let seen = seen + piece.len() as u64;
                    if seen <= len {
                        return Some((Ok(piece), Some((body, seen))));
                    }
                    AppError::new(
                        ErrorCode::PayloadTooLarge,
                        format!("the body is larger than its {len} bytes"),
                    )
                }
                Ok(Some(Err(e))) => AppError::new(
                    ErrorCode::BadRequest,
                    format!("the body could not be read: {e}"),
                ),
                Ok(None) if seen == len => return None,
                Ok(None) => AppError::validation(format!("{len} bytes must arrive; {seen} did")),
            };
            if let Ok(mut first) = slot.lock() {
                first.get_or_insert(refused);
            }
            Some((Err(std::io::Error::other("the body was refused")), None))
        }
    });
    let stored = state.storage.put_stream(key, len, checked).await;
    if let Some(refused) = refusal.lock().ok().and_then(|mut first| first.take()) {
        return Err(refused);
    }
    Ok(stored?)
}

/// Confirm a direct upload: the uploader's own file, whose bytes have arrived.
pub async fn confirm(state: &AppState, principal: Principal, id: Uuid) -> AppResult<FileView> {
    let f = load(&state.db, id).await?;
    if f.uploader_id != principal.user_id {
        return Err(AppError::forbidden("only the uploader can confirm a file"));
    }
    if f.status != "uploading" {
        return Ok(FileView::of(f));
    }
    finish(state, f, None).await
}

/// What was read back from a stored object.
pub struct Inspected {
    pub size: u64,
    pub sha256: String,
    /// The first bytes (enough for the type and, for images, the dimensions).
    pub head: Vec<u8>,
}

/// Bytes kept for the type check and image headers (JPEG dimensions may follow long EXIF data).
const INSPECT_HEAD: usize = 256 * 1024;

/// Builds an [`Inspected`] from the bytes of an object, in order.
#[derive(Default)]
pub struct Inspector {
    hasher: Sha256,
    head: Vec<u8>,
    size: u64,
}

impl Inspector {
    pub fn update(&mut self, chunk: &[u8]) {
        if self.head.len() < INSPECT_HEAD {
            let take = (INSPECT_HEAD - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.size += chunk.len() as u64;
        self.hasher.update(chunk);
    }

    pub fn finish(self) -> Inspected {
        Inspected {
            size: self.size,
            sha256: hex(&self.hasher.finalize()),
            head: self.head,
        }
    }
}

/// Read an object once, streaming: its size, SHA-256 and first bytes.
pub async fn inspect(state: &AppState, key: &str) -> AppResult<Inspected> {
    let reader = state.storage.reader(key).await?;
    let mut stream = reader
        .into_bytes_stream(..)
        .await
        .map_err(storage::StorageError::from)?;
    let mut inspector = Inspector::default();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            AppError::from(if e.kind() == std::io::ErrorKind::NotFound {
                storage::StorageError::NotFound
            } else {
                storage::StorageError::from(opendal::Error::new(
                    opendal::ErrorKind::Unexpected,
                    e.to_string(),
                ))
            })
        })?;
        inspector.update(&chunk);
    }
    Ok(inspector.finish())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Check the bytes of `f`'s object and record the confirmed file (see the module docs). A
/// refused file's object is deleted; the row stays `uploading`.
/// `inspected`: what was learned while the object was written (resumable uploads hash as
/// they assemble); `None` reads the object once here.
pub async fn finish(
    state: &AppState,
    f: file::Model,
    inspected: Option<Inspected>,
) -> AppResult<FileView> {
    let key = storage::object_key(f.id, Variant::Original);
    let inspected = match inspected {
        Some(known) => known,
        None => match inspect(state, &key).await {
            Err(e) if e.code == ErrorCode::NotFound => {
                return Err(AppError::conflict(
                    "nothing was uploaded to this file's URL yet",
                ));
            }
            other => other?,
        },
    };
    let declared = u64::try_from(f.size_bytes).unwrap_or(0);
    let max = state.config.storage.max_file_bytes;
    let refusal = if inspected.size > max {
        Some(too_large(max))
    } else if inspected.size != declared {
        Some(AppError::validation(format!(
            "{} bytes arrived, but {declared} were declared",
            inspected.size
        )))
    } else {
        match sniff::resolve(&f.content_type, sniff::sniff(&inspected.head)) {
            Err(why) => Some(AppError::new(ErrorCode::UnsupportedFileType, why)),
            Ok(t) if !state.config.storage.allows(&t) => Some(AppError::new(
                ErrorCode::UnsupportedFileType,
                format!("{t} files are not allowed here"),
            )),
            Ok(_) => match image_dimensions(&f.content_type, &inspected.head) {
                Some((w, h))
                    if u64::from(w) * u64::from(h) > state.config.storage.thumbnail_max_pixels =>
                {
                    Some(AppError::validation(format!(
                        "the image is {w}×{h} pixels, more than the {} allowed",
                        state.config.storage.thumbnail_max_pixels
                    )))
                }
                _ => None,
            },
        }
    };
    if let Some(refusal) = refusal {
        if let Err(e) = state.storage.delete(&key).await {
            tracing::warn!(file_id = %f.id, error = %e, "deleting a refused upload failed");
        }
        return Err(refusal);
    }
    let dimensions = image_dimensions(&f.content_type, &inspected.head);
    let scanned = state.config.storage.scanner == ScannerKind::None;
    let thumbnail = match dimensions {
        Some(_) if inspected.size <= crate::storage::thumbnail::MAX_SOURCE_BYTES => "pending",
        _ => "none",
    };
    let mut row = f.into_active_model();
    row.status = Set(if scanned { "clean" } else { "pending" }.into());
    row.sha256 = Set(Some(inspected.sha256));
    row.width = Set(dimensions.and_then(|d| i32::try_from(d.0).ok()));
    row.height = Set(dimensions.and_then(|d| i32::try_from(d.1).ok()));
    row.thumbnail = Set(thumbnail.into());
    row.confirmed_at = Set(Some(now()));
    let (tx, _write) = state.begin_write().await?;
    let stored = row.update(&tx).await?;
    let view = FileView::of(stored);
    let event = super::uploaded_event(view.clone());
    events::emit(&tx, &event).await?;
    events::commit(state, tx).await?;
    state.metrics.uploads_completed.inc();
    state.file_work.notify();
    Ok(view)
}

/// The pixel size an image declares in its header (nothing is decoded).
fn image_dimensions(content_type: &str, head: &[u8]) -> Option<(u32, u32)> {
    if !sniff::is_safe_image(content_type) {
        return None;
    }
    image::ImageReader::new(std::io::Cursor::new(head))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}
