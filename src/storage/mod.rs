//! File storage: one opendal operator for the local disk (`fs`) or an S3 bucket, the object
//! keys, and the URLs clients upload and download with.
//!
//! Object keys come from ids only (`files/<id>/original`, `files/<id>/thumb`,
//! `uploads/<upload id>/<n>`), never from a file name. Clients move bytes with URLs:
//! - S3: URLs presigned for the bucket (by the operator built for `public_endpoint` when
//!   clients reach S3 at another address), so bytes never pass through CoLink;
//! - fs: URLs CoLink serves itself (`/api/v1/files/{id}/content`), signed by [`UrlSigner`].

pub mod scanner;
pub mod signed;
pub mod sniff;
pub mod thumbnail;

use std::{collections::BTreeMap, time::Duration};

use opendal::{ErrorKind, Operator, Reader, Writer, services};
use uuid::Uuid;

pub use signed::{UrlSigner, Variant};

use crate::{
    config::{Config, StorageBackend},
    error::AppError,
};

/// Where a client sends (or fetches) bytes.
pub struct Target {
    pub url: String,
    pub method: String,
    /// Headers the request must carry (S3 signs some of them).
    pub headers: BTreeMap<String, String>,
}

/// A storage failure: the object is missing, or the backend failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("object not found")]
    NotFound,
    #[error("storage: {0}")]
    Backend(opendal::Error),
    /// A streamed store failed on its way to the backend (the body broke off, or S3 refused
    /// the PUT).
    #[error("storage transfer: {0}")]
    Transfer(String),
}

impl StorageError {
    fn of(e: opendal::Error) -> Self {
        if e.kind() == ErrorKind::NotFound {
            Self::NotFound
        } else {
            Self::Backend(e)
        }
    }
}

impl From<opendal::Error> for StorageError {
    fn from(e: opendal::Error) -> Self {
        Self::of(e)
    }
}

impl From<StorageError> for AppError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound => AppError::not_found("file content"),
            StorageError::Backend(e) => {
                tracing::error!(error = %e, "file storage failed");
                AppError::new(
                    crate::error::ErrorCode::Unavailable,
                    "file storage is unavailable",
                )
            }
            StorageError::Transfer(e) => {
                tracing::error!(error = %e, "storing a file's bytes failed");
                AppError::new(
                    crate::error::ErrorCode::Unavailable,
                    "file storage is unavailable",
                )
            }
        }
    }
}

pub struct Storage {
    op: Operator,
    /// S3: the operator URLs are presigned with (its endpoint is the one clients use).
    presigner: Option<Operator>,
    /// S3: the client that streams bodies to the bucket ([`Storage::put_stream`]).
    http: Option<reqwest::Client>,
    signer: UrlSigner,
    /// Where fs-backend URLs point: `<public_url>/api/v1`.
    api_base: String,
    public_origin: Option<String>,
}

/// Bytes read at a time, and written at a time to the local disk.
pub const READ_CHUNK: usize = 256 * 1024;
/// Parts of a multipart upload to S3.
pub const S3_PART: usize = 8 * 1024 * 1024;
/// S3's smallest part (but the last) of a multipart upload.
pub const S3_MIN_PART: usize = 5 * 1024 * 1024;
/// The largest chunk size whose resumable uploads are assembled by copies inside the bucket
/// (their last chunk is buffered whole); larger chunks stream through in [`S3_PART`] parts.
pub const MAX_COPIED_PART: usize = 16 * 1024 * 1024;

/// The key of a file's object.
pub fn object_key(file_id: Uuid, variant: Variant) -> String {
    format!("files/{file_id}/{}", variant.as_str())
}

/// The key of one chunk of a resumable upload.
pub fn chunk_key(upload_id: Uuid, n: u32) -> String {
    format!("uploads/{upload_id}/{n}")
}

/// The prefix of every chunk of a resumable upload.
pub fn chunks_prefix(upload_id: Uuid) -> String {
    format!("uploads/{upload_id}/")
}

impl Storage {
    /// The configured backend, with URLs signed under `url_key`.
    pub fn open(config: &Config, url_key: [u8; 32]) -> anyhow::Result<Self> {
        opendal_http_transport_reqwest::install_default();
        let storage = &config.storage;
        let (op, presigner) = match storage.backend {
            StorageBackend::Fs => {
                let root = config.files_root();
                std::fs::create_dir_all(&root)
                    .map_err(|e| anyhow::anyhow!("storage.root {}: {e}", root.display()))?;
                // Objects are written under `.partial/` and renamed into place when complete:
                // a reader never sees half a file, and an aborted write leaves nothing behind.
                let partial = root.join(".partial");
                std::fs::create_dir_all(&partial)
                    .map_err(|e| anyhow::anyhow!("storage.root {}: {e}", partial.display()))?;
                let fs = services::Fs::default()
                    .root(&root.to_string_lossy())
                    .atomic_write_dir(&partial.to_string_lossy());
                (Operator::new(fs)?, None)
            }
            StorageBackend::S3 => {
                let s3 = &storage.s3;
                let op = Operator::new(s3_builder(config, s3.endpoint.as_deref()))?;
                let presigner = match &s3.public_endpoint {
                    Some(public) => Operator::new(s3_builder(config, Some(public)))?,
                    None => op.clone(),
                };
                (op, Some(presigner))
            }
        };
        let op = op
            .layer(opendal::layers::RetryLayer::new().with_max_times(3))
            .layer(
                opendal::layers::TimeoutLayer::new()
                    .with_timeout(Duration::from_secs(60))
                    .with_io_timeout(Duration::from_secs(30)),
            );
        let public_origin = match storage.backend {
            StorageBackend::Fs => None,
            StorageBackend::S3 => Some(
                storage
                    .s3
                    .public_endpoint
                    .as_ref()
                    .or(storage.s3.endpoint.as_ref())
                    .and_then(|e| url::Url::parse(e).ok())
                    .map(|u| u.origin().ascii_serialization())
                    .unwrap_or_else(|| "https://*.amazonaws.com".into()),
            ),
        };
        let http = match storage.backend {
            StorageBackend::Fs => None,
            StorageBackend::S3 => Some(
                reqwest::Client::builder()
                    .no_proxy()
                    .connect_timeout(Duration::from_secs(10))
                    .read_timeout(Duration::from_secs(60))
                    .build()?,
            ),
        };
        Ok(Self {
            op,
            presigner,
            http,
            public_origin,
            signer: UrlSigner::new(url_key),
            api_base: format!("{}/api/v1", config.public_url()),
        })
    }

    /// Where browsers fetch and send file bytes when that is not CoLink itself (S3: the public
    /// endpoint's origin, or AWS's), for the web app's Content-Security-Policy.
    pub fn public_origin(&self) -> Option<String> {
        self.public_origin.clone()
    }

    pub fn is_s3(&self) -> bool {
        self.presigner.is_some()
    }

    pub fn signer(&self) -> &UrlSigner {
        &self.signer
    }

    /// Where the client PUTs the file's bytes, valid for `ttl`.
    pub async fn upload_target(
        &self,
        file_id: Uuid,
        content_type: &str,
        ttl: Duration,
    ) -> Result<Target, StorageError> {
        let key = object_key(file_id, Variant::Original);
        match &self.presigner {
            Some(presigner) => {
                let signed = presigner
                    .presign_write_with(&key, ttl)
                    .content_type(content_type)
                    .await
                    .map_err(StorageError::of)?;
                Ok(presigned(&signed))
            }
            None => {
                let expires = expiry(ttl);
                let sig = self.signer.sign("PUT", file_id, Variant::Original, expires);
                let mut headers = BTreeMap::new();
                headers.insert("content-type".into(), content_type.into());
                Ok(Target {
                    url: format!(
                        "{}/files/{file_id}/content?expires={expires}&sig={sig}",
                        self.api_base
                    ),
                    method: "PUT".into(),
                    headers,
                })
            }
        }
    }

    /// A URL that GETs the file's object (original or thumbnail), valid for `ttl`; S3 answers
    /// it with `content_type` and `disposition` (the fs route sets them itself).
    pub async fn download_url(
        &self,
        file_id: Uuid,
        variant: Variant,
        content_type: &str,
        disposition: &str,
        ttl: Duration,
    ) -> Result<String, StorageError> {
        match &self.presigner {
            Some(presigner) => {
                let signed = presigner
                    .presign_read_with(&object_key(file_id, variant), ttl)
                    .override_content_type(content_type)
                    .override_content_disposition(disposition)
                    .await
                    .map_err(StorageError::of)?;
                Ok(signed.uri().to_string())
            }
            None => {
                let expires = expiry(ttl);
                let sig = self.signer.sign("GET", file_id, variant, expires);
                let thumb = if variant == Variant::Thumbnail {
                    "&variant=thumb"
                } else {
                    ""
                };
                Ok(format!(
                    "{}/files/{file_id}/content?expires={expires}&sig={sig}{thumb}",
                    self.api_base
                ))
            }
        }
    }

    /// The size of an object.
    pub async fn size(&self, key: &str) -> Result<u64, StorageError> {
        let meta = self.op.stat(key).await.map_err(StorageError::of)?;
        Ok(meta.content_length())
    }

    /// A reader that fetches [`READ_CHUNK`] bytes at a time, so streaming a file of any size
    /// holds about that much of it.
    pub async fn reader(&self, key: &str) -> Result<Reader, StorageError> {
        self.op
            .reader_with(key)
            .chunk(READ_CHUNK)
            .await
            .map_err(StorageError::of)
    }

    /// A writer that streams an object: on S3 a multipart upload of [`S3_PART`] parts (S3's
    /// minimum is 5 MiB), on the local disk in [`READ_CHUNK`] writes.
    pub async fn writer(&self, key: &str) -> Result<Writer, StorageError> {
        let buffered = if self.is_s3() { S3_PART } else { READ_CHUNK };
        self.op
            .writer_with(key)
            .chunk(buffered)
            .await
            .map_err(StorageError::of)
    }

    /// Whether [`Self::assemble_in_place`] keeps the bytes of parts of `part_size` inside the
    /// backend: S3 copies each one with UploadPartCopy when it is at least S3's minimum part
    /// ([`S3_MIN_PART`]) and at most [`MAX_COPIED_PART`]; the local disk never does.
    pub fn assembles_in_place(&self, part_size: u64) -> bool {
        self.op.info().capability().write_can_copy_from
            && (S3_MIN_PART as u64..=MAX_COPIED_PART as u64).contains(&part_size)
    }

    /// Write `parts` (key and length of each, in order; all of `part_size` bytes but the last,
    /// which may be shorter) one after the other into `key`, a multipart upload whose parts
    /// are copied inside the bucket. Only for a `part_size` where
    /// [`Self::assembles_in_place`] holds. The last part, when shorter, goes through a buffer
    /// (opendal copies only whole parts), so this holds at most `part_size` bytes.
    ///
    /// The writer's part size is exactly the parts' size, so every copy starts on an empty
    /// buffer: opendal 0.59.5 schedules a copied part before a buffer that it has just filled
    /// to the part size (a part copied after one that is split across the buffer lands before
    /// the buffered bytes), which scrambled 8 MiB chunks assembled with 5 MiB parts.
    pub async fn assemble_in_place(
        &self,
        key: &str,
        part_size: u64,
        parts: impl IntoIterator<Item = (String, u64)>,
    ) -> Result<(), StorageError> {
        let mut writer = self
            .op
            .writer_with(key)
            .chunk(usize::try_from(part_size).unwrap_or(MAX_COPIED_PART))
            .await
            .map_err(StorageError::of)?;
        for (part, len) in parts {
            if let Err(e) = writer.copy_from(&part, 0..len).await {
                let _ = writer.abort().await;
                return Err(StorageError::of(e));
            }
        }
        writer.close().await.map_err(StorageError::of)?;
        Ok(())
    }

    /// Store `body`, which must be exactly `len` bytes, at `key` as it arrives, holding no more
    /// of it than the piece in hand: S3 gets one PUT with `Content-Length: len` whose body is
    /// `body` (a request presigned for the server's endpoint), the local disk a streamed write.
    /// A body that fails or ends short fails the store and leaves no object (S3 refuses a PUT
    /// shorter than its length; the local disk's writes are atomic).
    pub async fn put_stream<S>(&self, key: &str, len: u64, body: S) -> Result<(), StorageError>
    where
        S: futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
    {
        use futures_util::StreamExt;
        let Some(http) = &self.http else {
            let mut writer = self.writer(key).await?;
            let mut body = std::pin::pin!(body);
            let mut written = 0u64;
            while let Some(piece) = body.next().await {
                let stored = match piece {
                    Ok(piece) => {
                        written += piece.len() as u64;
                        writer.write(piece).await.map_err(StorageError::of)
                    }
                    Err(e) => Err(StorageError::Transfer(e.to_string())),
                };
                if let Err(e) = stored {
                    let _ = writer.abort().await;
                    return Err(e);
                }
            }
            if written != len {
                let _ = writer.abort().await;
                return Err(StorageError::Transfer(format!(
                    "{written} bytes arrived, {len} expected"
                )));
            }
            return writer.close().await.map(|_| ()).map_err(StorageError::of);
        };
        let signed = self
            .op
            .presign_write(key, Duration::from_secs(15 * 60))
            .await
            .map_err(StorageError::of)?;
        let mut request = http.request(signed.method().clone(), signed.uri().to_string());
        for (name, value) in signed.header() {
            request = request.header(name, value);
        }
        let answer = request
            .header(reqwest::header::CONTENT_LENGTH, len)
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await
            .map_err(|e| StorageError::Transfer(e.to_string()))?;
        if answer.status().is_success() {
            return Ok(());
        }
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        Err(StorageError::Transfer(format!(
            "S3 answered {status}: {}",
            text.chars().take(300).collect::<String>()
        )))
    }

    /// Delete an object (a missing one is not an error).
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.op.delete(key).await.map_err(StorageError::of)
    }

    /// Delete every object under `prefix`.
    pub async fn delete_all(&self, prefix: &str) -> Result<(), StorageError> {
        self.op
            .delete_with(prefix)
            .recursive(true)
            .await
            .map_err(StorageError::of)
    }

    /// Whether the backend answers (for `/ready`).
    pub async fn check(&self) -> Result<(), StorageError> {
        self.op.check().await.map_err(StorageError::of)
    }
}

fn s3_builder(config: &Config, endpoint: Option<&str>) -> services::S3 {
    let s3 = &config.storage.s3;
    let mut builder = services::S3::default()
        .bucket(&s3.bucket)
        .region(&s3.region)
        .disable_config_load()
        .disable_ec2_metadata();
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint(endpoint);
    }
    if let Some(key) = &s3.access_key_id {
        builder = builder.access_key_id(key.expose());
    }
    if let Some(secret) = &s3.secret_access_key {
        builder = builder.secret_access_key(secret.expose());
    }
    if !s3.path_style {
        builder = builder.enable_virtual_host_style();
    }
    builder
}

fn presigned(signed: &opendal::raw::PresignedRequest) -> Target {
    Target {
        url: signed.uri().to_string(),
        method: signed.method().to_string(),
        headers: signed
            .header()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect(),
    }
}

/// Unix seconds `ttl` from now.
fn expiry(ttl: Duration) -> i64 {
    crate::domain::clock::now().unix_timestamp()
        + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2)
}
