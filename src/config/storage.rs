//! The `[storage]` section: where files live (the local disk or S3), what may be uploaded, and
//! how uploads are scanned and thumbnailed.

use std::{path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

use super::{ConfigError, HumanDuration, Secret};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// A directory on the local disk (`storage.root`, default `<data_dir>/files`).
    Fs,
    /// An S3-compatible bucket (`[storage.s3]`).
    S3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScannerKind {
    /// No scanning: a confirmed file is `clean` at once.
    None,
    /// ClamAV's daemon (`storage.clamd_address`), INSTREAM.
    Clamd,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    /// The S3 endpoint the server uses, e.g. `http://127.0.0.1:9000`. Unset: AWS.
    pub endpoint: Option<String>,
    /// The endpoint put into presigned URLs, when clients reach S3 by another address than the
    /// server does (a public hostname in front of a private one). Unset: `endpoint`.
    pub public_endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<Secret>,
    pub secret_access_key: Option<Secret>,
    /// Path-style addressing (`endpoint/bucket/key`), which most self-hosted servers need.
    pub path_style: bool,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            bucket: String::new(),
            endpoint: None,
            public_endpoint: None,
            region: "us-east-1".into(),
            access_key_id: None,
            secret_access_key: None,
            path_style: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub backend: StorageBackend,
    /// fs: the directory holding the files. Unset: `<data_dir>/files`.
    pub root: Option<PathBuf>,
    pub s3: S3Config,
    /// Largest file accepted, in bytes (declared or actual size; larger → 413).
    pub max_file_bytes: u64,
    /// Content types that may be uploaded; `type/*` allows a whole family. The type is checked
    /// against the file's first bytes, not only the declared one.
    pub allowed_content_types: Vec<String>,
    /// Resumable uploads: the chunk size when the client does not choose one.
    pub chunk_size: u64,
    /// How long an upload URL (`POST /files/upload-url`) stays valid.
    pub upload_url_ttl: HumanDuration,
    /// How long a download URL stays valid.
    pub download_url_ttl: HumanDuration,
    /// Resumable uploads untouched for this long are collected (chunks deleted, status failed);
    /// so are direct uploads never confirmed.
    pub abandoned_after: HumanDuration,
    pub scanner: ScannerKind,
    /// `host:port` or `unix:/path/to/clamd.ctl`.
    pub clamd_address: String,
    /// Images with more pixels than this get no thumbnail (and are never decoded).
    pub thumbnail_max_pixels: u64,
    /// The longer side of a thumbnail, in pixels.
    pub thumbnail_size: u32,
}

pub const MIB: u64 = 1024 * 1024;

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Fs,
            root: None,
            s3: S3Config::default(),
            max_file_bytes: 2 * 1024 * MIB,
            allowed_content_types: [
                "image/png",
                "image/jpeg",
                "image/gif",
                "image/webp",
                "application/pdf",
                "text/plain",
                "text/markdown",
                "text/csv",
                "application/json",
                "application/zip",
                "application/gzip",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                "application/vnd.oasis.opendocument.text",
                "application/vnd.oasis.opendocument.spreadsheet",
                "audio/mpeg",
                "audio/ogg",
                "audio/wav",
                "video/mp4",
                "video/webm",
                "video/quicktime",
            ]
            .map(String::from)
            .to_vec(),
            chunk_size: 8 * MIB,
            upload_url_ttl: HumanDuration(Duration::from_secs(15 * 60)),
            download_url_ttl: HumanDuration(Duration::from_secs(5 * 60)),
            abandoned_after: HumanDuration(Duration::from_secs(24 * 3600)),
            scanner: ScannerKind::None,
            clamd_address: "127.0.0.1:3310".into(),
            thumbnail_max_pixels: 50_000_000,
            thumbnail_size: 400,
        }
    }
}

/// The smallest and largest chunk a resumable upload may use (S3 parts are at least 5 MiB, but
/// chunks are reassembled, so any size in range works on both backends).
pub const CHUNK_RANGE: std::ops::RangeInclusive<u64> = MIB..=(64 * MIB);

impl StorageConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &'static str, problem: &str| Err(ConfigError::invalid(key, problem));
        if self.backend == StorageBackend::S3 {
            if self.s3.bucket.is_empty() {
                return invalid(
                    "storage.s3.bucket",
                    "must be set when storage.backend = \"s3\"",
                );
            }
            for (key, value) in [
                ("storage.s3.endpoint", &self.s3.endpoint),
                ("storage.s3.public_endpoint", &self.s3.public_endpoint),
            ] {
                if let Some(v) = value
                    && url::Url::parse(v).is_err()
                {
                    return invalid(key, "must be a URL like http://127.0.0.1:9000");
                }
            }
        }
        if self.max_file_bytes == 0 {
            return invalid("storage.max_file_bytes", "must be at least 1");
        }
        if !CHUNK_RANGE.contains(&self.chunk_size) {
            return invalid("storage.chunk_size", "must be between 1 MiB and 64 MiB");
        }
        for t in &self.allowed_content_types {
            let ok = t.split_once('/').is_some_and(|(a, b)| {
                !a.is_empty() && !b.is_empty() && !t.contains(char::is_whitespace)
            });
            if !ok {
                return invalid(
                    "storage.allowed_content_types",
                    "each entry must be a media type like image/png or image/*",
                );
            }
        }
        for (key, d) in [
            ("storage.upload_url_ttl", self.upload_url_ttl),
            ("storage.download_url_ttl", self.download_url_ttl),
            ("storage.abandoned_after", self.abandoned_after),
        ] {
            if d.secs() == 0 {
                return invalid(key, "must be at least 1s");
            }
        }
        if self.scanner == ScannerKind::Clamd && self.clamd_address.trim().is_empty() {
            return invalid("storage.clamd_address", "must be host:port or unix:/path");
        }
        if !(16..=4096).contains(&self.thumbnail_size) {
            return invalid("storage.thumbnail_size", "must be between 16 and 4096");
        }
        Ok(())
    }

    /// Whether `content_type` (lowercase, without parameters) is on the allowlist.
    pub fn allows(&self, content_type: &str) -> bool {
        self.allowed_content_types.iter().any(|allowed| {
            let allowed = allowed.to_ascii_lowercase();
            match allowed.strip_suffix("/*") {
                Some(family) => content_type
                    .split_once('/')
                    .is_some_and(|(f, _)| f == family),
                None => allowed == content_type,
            }
        })
    }
}
