//! Files: upload (URL, bytes, confirm), metadata, downloads, delete, a conversation's files.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Error, Method, Page, PageQuery, RawResponse, query};

/// A file's metadata (`FileView` on the server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct File {
    pub id: Uuid,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: u64,
    /// `uploading`, `pending`, `clean` or `infected`.
    pub status: String,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
    pub has_thumbnail: bool,
    #[serde(default)]
    pub scan_error: Option<String>,
    pub uploader_id: Uuid,
    #[serde(default)]
    pub channel_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// What `POST /files/upload-url` asks for.
#[derive(Debug, Clone, Serialize)]
pub struct NewUpload<'a> {
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<Uuid>,
}

/// Where to send a file's bytes.
#[derive(Debug, Clone, Deserialize)]
pub struct UploadUrl {
    pub file_id: Uuid,
    pub upload_url: String,
    pub method: String,
    pub headers: BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub file: File,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DownloadUrl {
    pub url: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// A file in a conversation's files panel.
#[derive(Debug, Clone, Deserialize)]
pub struct SharedFile {
    pub file: File,
    pub message_id: Uuid,
    pub seq: i64,
    pub shared_by: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub shared_at: OffsetDateTime,
}

/// What `POST /files/uploads` asks for.
#[derive(Debug, Clone, Serialize)]
pub struct NewResumable<'a> {
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<Uuid>,
}

/// Where a resumable upload stands.
#[derive(Debug, Clone, Deserialize)]
pub struct UploadStatus {
    pub upload_id: Uuid,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub chunk_size: u64,
    pub total_chunks: u32,
    pub received_chunks: u32,
    pub missing_chunks: Vec<u32>,
    pub percentage: f64,
    pub status: String,
    #[serde(default)]
    pub file_id: Option<Uuid>,
}

const NONE: Option<&()> = None;

impl crate::Client {
    pub async fn upload_url(&self, body: &NewUpload<'_>) -> Result<UploadUrl, Error> {
        self.call(Method::POST, "/files/upload-url", Some(body))
            .await
    }

    /// Send bytes to an upload URL as it says (method and headers), whatever the answer.
    pub async fn put_upload(&self, target: &UploadUrl, bytes: Bytes) -> Result<RawResponse, Error> {
        let method = Method::from_bytes(target.method.as_bytes()).unwrap_or(Method::PUT);
        let mut req = self.http().request(method, &target.upload_url).body(bytes);
        for (name, value) in &target.headers {
            req = req.header(name, value);
        }
        self.send_raw(req).await
    }

    pub async fn confirm_file(&self, id: Uuid) -> Result<File, Error> {
        self.call(Method::POST, &format!("/files/{id}/confirm"), NONE)
            .await
    }

    /// Upload `bytes` whole: an upload URL, the bytes, confirm.
    pub async fn upload(&self, file: &NewUpload<'_>, bytes: Bytes) -> Result<File, Error> {
        let target = self.upload_url(file).await?;
        let put = self.put_upload(&target, bytes).await?;
        if !put.status.is_success() {
            return Err(Error::Api(Box::new(crate::ApiError::new(
                Method::PUT,
                "upload URL".into(),
                put.status,
                &put.headers,
                &put.body,
            ))));
        }
        self.confirm_file(target.file_id).await
    }

    pub async fn start_upload(&self, body: &NewResumable<'_>) -> Result<UploadStatus, Error> {
        self.call(Method::POST, "/files/uploads", Some(body)).await
    }

    pub async fn upload_status(&self, id: Uuid) -> Result<UploadStatus, Error> {
        self.call(Method::GET, &format!("/files/uploads/{id}"), NONE)
            .await
    }

    /// Send chunk `n` of a resumable upload (with its SHA-256 when given), whatever the answer.
    pub async fn put_chunk(
        &self,
        id: Uuid,
        n: u32,
        bytes: Bytes,
        sha256: Option<&str>,
    ) -> Result<RawResponse, Error> {
        let mut req = self
            .request(Method::PUT, &format!("/files/uploads/{id}/chunks/{n}"))
            .header("content-type", "application/octet-stream")
            .body(bytes);
        if let Some(sha) = sha256 {
            req = req.header("x-chunk-sha256", sha);
        }
        self.send_raw(req).await
    }

    pub async fn complete_upload(&self, id: Uuid) -> Result<File, Error> {
        self.call(Method::POST, &format!("/files/uploads/{id}/complete"), NONE)
            .await
    }

    pub async fn file(&self, id: Uuid) -> Result<File, Error> {
        self.call(Method::GET, &format!("/files/{id}"), NONE).await
    }

    pub async fn download_url(&self, id: Uuid, thumbnail: bool) -> Result<DownloadUrl, Error> {
        let q = if thumbnail { "?thumbnail=true" } else { "" };
        self.call(Method::GET, &format!("/files/{id}/download-url{q}"), NONE)
            .await
    }

    /// GET a download URL (no credentials: the URL is the credential), whatever the answer.
    pub async fn fetch_download(
        &self,
        url: &str,
        range: Option<&str>,
    ) -> Result<RawResponse, Error> {
        let mut req = self.http().get(url);
        if let Some(range) = range {
            req = req.header("range", range);
        }
        self.send_raw(req).await
    }

    pub async fn delete_file(&self, id: Uuid) -> Result<(), Error> {
        self.call_empty(Method::DELETE, &format!("/files/{id}"), NONE)
            .await
    }

    pub async fn channel_files(
        &self,
        channel: Uuid,
        page: &PageQuery,
    ) -> Result<Page<SharedFile>, Error> {
        let q = query(&[
            ("cursor", page.cursor.clone()),
            ("limit", page.limit.map(|l| l.to_string())),
        ]);
        self.call(Method::GET, &format!("/channels/{channel}/files{q}"), NONE)
            .await
    }
}
