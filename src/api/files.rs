//! Files: upload URLs and confirm, metadata, download URLs, delete, a conversation's files, and
//! the fs backend's own signed content URLs (upload by PUT, download with ranges).

use std::{collections::BTreeMap, sync::Arc};

use poem::{Body, IntoResponse, Response, http::StatusCode};
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path, Query},
    payload::{Binary, Json},
    registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::Type,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    ApiTags,
    body::JsonBody,
    dto::{Created, NoContent, Page},
    security::BearerAuth,
    statuses::{self as s, ApiResult},
    users::default_limit,
};
use crate::{
    app::AppState,
    service::{
        files::{
            self, SharedFile,
            content::{self, Served},
            direct::{self, NewUpload},
            resumable::{self, UploadStatus},
        },
        views::FileView,
    },
    storage::Variant,
};

pub struct FilesApi {
    pub state: Arc<AppState>,
}

#[derive(Object)]
struct UploadUrlBody {
    /// The file's name as the uploader knows it; cleaned for display (no directories or control
    /// characters, at most 200 bytes). Never used as a storage path.
    #[oai(validator(min_length = 1, max_length = 16384))]
    filename: String,
    /// The declared type (must be allowed, and agree with the bytes at confirm).
    #[oai(validator(min_length = 3, max_length = 255))]
    content_type: String,
    /// The exact size in bytes (at most `storage.max_file_bytes`; larger → 413).
    size_bytes: u64,
    /// The conversation the file is for (you must be able to post there).
    #[oai(nullable)]
    channel_id: Option<Uuid>,
}

#[derive(Object)]
struct UploadUrl {
    file_id: Uuid,
    /// Send the bytes here, with `method` and `headers`, before `expires_at`.
    upload_url: String,
    method: String,
    headers: BTreeMap<String, String>,
    expires_at: OffsetDateTime,
    /// The file as recorded (`uploading` until confirmed).
    file: FileView,
}

#[derive(Object)]
struct DownloadUrl {
    url: String,
    expires_at: OffsetDateTime,
}

/// A file's bytes (or a range of them), with its stored type.
pub struct FileBytes(Response);

impl IntoResponse for FileBytes {
    fn into_response(self) -> Response {
        self.0
    }
}

impl ApiResponse for FileBytes {
    fn meta() -> MetaResponses {
        let header = |name: &str, description: &str| MetaHeader {
            name: name.into(),
            description: Some(description.into()),
            required: true,
            deprecated: false,
            schema: String::schema_ref(),
        };
        let response = |status, description, range: bool| {
            let mut headers = vec![
                header(
                    "Content-Disposition",
                    "`inline` for safe images, else `attachment`.",
                ),
                header("Accept-Ranges", "`bytes`."),
            ];
            if range {
                headers.push(header("Content-Range", "`bytes FIRST-LAST/TOTAL`."));
            }
            MetaResponse {
                description,
                status: Some(status),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: "*/*",
                    schema: <Binary<Body> as poem_openapi::payload::Payload>::schema_ref(),
                }],
                headers,
            }
        };
        MetaResponses {
            responses: vec![
                response(200, "The file, with its stored type.", false),
                response(206, "The requested range.", true),
            ],
        }
    }

    fn register(_registry: &mut Registry) {}
}

impl From<Served> for FileBytes {
    fn from(served: Served) -> Self {
        let mut builder = Response::builder()
            .header("content-type", served.content_type)
            .header("content-disposition", served.disposition)
            .header("accept-ranges", "bytes")
            .header("content-length", served.length)
            .header("cache-control", "private, max-age=300");
        builder = match served.range {
            Some((first, last, total)) => builder
                .status(StatusCode::PARTIAL_CONTENT)
                .header("content-range", format!("bytes {first}-{last}/{total}")),
            None => builder.status(StatusCode::OK),
        };
        FileBytes(builder.body(Body::from_bytes_stream(served.body)))
    }
}

#[derive(Object)]
struct NewUploadBody {
    /// The file's name (cleaned for display, as for `POST /files/upload-url`).
    #[oai(validator(min_length = 1, max_length = 16384))]
    filename: String,
    #[oai(validator(min_length = 3, max_length = 255))]
    content_type: String,
    /// The exact size in bytes (at most `storage.max_file_bytes`; larger → 413).
    size_bytes: u64,
    /// Bytes per chunk, 1 MiB to 64 MiB (default `storage.chunk_size`, 8 MiB).
    #[oai(validator(minimum(value = "1048576"), maximum(value = "67108864")))]
    chunk_size: Option<u64>,
    /// The conversation the file is for (you must be able to post there).
    #[oai(nullable)]
    channel_id: Option<Uuid>,
}

#[derive(poem_openapi::Enum, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
enum VariantParam {
    Original,
    Thumb,
}

#[OpenApi(tag = "ApiTags::Files")]
impl FilesApi {
    /// Start an upload: a URL to PUT the bytes to (S3 presigned, or CoLink's own signed URL),
    /// then `POST /files/{id}/confirm`.
    #[oai(path = "/files/upload-url", method = "post")]
    async fn upload_url(
        &self,
        auth: BearerAuth,
        body: JsonBody<UploadUrlBody>,
    ) -> ApiResult<
        Created<UploadUrl>,
        (
            s::Authed,
            s::Body,
            s::NotFound,
            s::Conflict,
            s::TooManyRequests,
            s::Unavailable,
        ),
    > {
        let b = body.0;
        let ticket = direct::start(
            &self.state,
            auth.0,
            NewUpload {
                filename: b.filename,
                content_type: b.content_type,
                size_bytes: b.size_bytes,
                channel_id: b.channel_id,
            },
        )
        .await?;
        Ok(Created::Created(Json(UploadUrl {
            file_id: ticket.file.id,
            upload_url: ticket.target.url,
            method: ticket.target.method,
            headers: ticket.target.headers,
            expires_at: ticket.expires_at,
            file: ticket.file,
        })))
    }

    /// The upload URL of the local-disk backend: the raw bytes, at most the declared size.
    #[oai(path = "/files/:id/content", method = "put")]
    async fn put_content(
        &self,
        id: Path<Uuid>,
        /// Unix seconds, from the upload URL.
        expires: Query<i64>,
        /// The signature, from the upload URL.
        sig: Query<String>,
        body: Binary<Body>,
    ) -> ApiResult<
        NoContent,
        (
            s::BadRequest,
            s::Forbidden,
            s::NotFound,
            s::RequestTimeout,
            s::Conflict,
            s::PayloadTooLarge,
            s::UnsupportedMediaType,
            s::Unavailable,
        ),
    > {
        let stream = Box::pin(body.0.into_bytes_stream());
        direct::receive(&self.state, id.0, expires.0, &sig.0, stream).await?;
        Ok(NoContent::NoContent)
    }

    /// A download URL of the local-disk backend: the bytes, or one `Range` of them.
    #[oai(path = "/files/:id/content", method = "get")]
    async fn get_content(
        &self,
        id: Path<Uuid>,
        /// Unix seconds, from the download URL.
        expires: Query<i64>,
        /// The signature, from the download URL.
        sig: Query<String>,
        /// `thumb` for the thumbnail.
        variant: Query<Option<VariantParam>>,
        #[oai(name = "Range")] range: Header<Option<String>>,
    ) -> ApiResult<
        FileBytes,
        (
            s::BadRequest,
            s::Forbidden,
            s::NotFound,
            s::Conflict,
            s::RangeNotSatisfiable,
            s::Unavailable,
        ),
    > {
        let variant = match variant.0 {
            Some(VariantParam::Thumb) => Variant::Thumbnail,
            _ => Variant::Original,
        };
        let served = content::serve(
            &self.state,
            id.0,
            variant,
            expires.0,
            &sig.0,
            range.0.as_deref(),
        )
        .await?;
        Ok(served.into())
    }

    /// Confirm an upload: the bytes are checked (size, type against the content) and recorded;
    /// `file.uploaded` follows. Confirming again answers the file as it is.
    #[oai(path = "/files/:id/confirm", method = "post")]
    async fn confirm(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<
        Json<FileView>,
        (
            s::Authed,
            s::BadRequest,
            s::NotFound,
            s::Conflict,
            s::PayloadTooLarge,
            s::Unavailable,
        ),
    > {
        Ok(Json(direct::confirm(&self.state, auth.0, id.0).await?))
    }

    /// A file's metadata (its uploader, and members of conversations it was shared in).
    #[oai(path = "/files/:id", method = "get")]
    async fn get(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<FileView>, (s::Authed, s::BadRequest, s::NotFound)> {
        Ok(Json(files::get(&self.state, auth.0, id.0).await?))
    }

    /// A URL that downloads the file (or, with `thumbnail=true`, its thumbnail), valid for
    /// 5 minutes. Infected files: 403; not scanned yet: 409.
    #[oai(path = "/files/:id/download-url", method = "get")]
    async fn download_url(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        #[oai(default)] thumbnail: Query<bool>,
    ) -> ApiResult<
        Json<DownloadUrl>,
        (
            s::Authed,
            s::BadRequest,
            s::NotFound,
            s::Conflict,
            s::Unavailable,
        ),
    > {
        let (url, expires_at) = files::download_url(&self.state, auth.0, id.0, thumbnail.0).await?;
        Ok(Json(DownloadUrl { url, expires_at }))
    }

    /// Delete a file (uploader or admin): it leaves every message that carried it.
    #[oai(path = "/files/:id", method = "delete")]
    async fn delete(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent, (s::Authed, s::BadRequest, s::NotFound)> {
        files::delete(&self.state, auth.0, id.0).await?;
        Ok(NoContent::NoContent)
    }

    /// Start a resumable upload: send its chunks (any order, again if unsure), then complete.
    #[oai(path = "/files/uploads", method = "post")]
    async fn start_upload(
        &self,
        auth: BearerAuth,
        body: JsonBody<NewUploadBody>,
    ) -> ApiResult<
        Created<UploadStatus>,
        (
            s::Authed,
            s::Body,
            s::NotFound,
            s::Conflict,
            s::TooManyRequests,
        ),
    > {
        let b = body.0;
        let req = NewUpload {
            filename: b.filename,
            content_type: b.content_type,
            size_bytes: b.size_bytes,
            channel_id: b.channel_id,
        };
        let started = resumable::start(&self.state, auth.0, req, b.chunk_size).await?;
        Ok(Created::Created(Json(started)))
    }

    /// Where a resumable upload stands: which chunks are missing.
    #[oai(path = "/files/uploads/:id", method = "get")]
    async fn upload_status(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<UploadStatus>, (s::Authed, s::BadRequest, s::NotFound)> {
        Ok(Json(resumable::status(&self.state, auth.0, id.0).await?))
    }

    /// Send chunk `n` (from 0) as the raw body: `chunk_size` bytes, the last chunk the rest.
    /// With `X-Chunk-Sha256`, bytes that do not match are refused. Sending a chunk again
    /// replaces it.
    #[oai(path = "/files/uploads/:id/chunks/:n", method = "put")]
    async fn put_chunk(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        /// The chunk's number, from 0.
        #[oai(validator(maximum(value = "9999")))]
        n: Path<u32>,
        /// Hex SHA-256 of the chunk.
        #[oai(name = "X-Chunk-Sha256")]
        sha256: Header<Option<String>>,
        body: Binary<Body>,
    ) -> ApiResult<
        Json<UploadStatus>,
        (
            s::Authed,
            s::BadRequest,
            s::NotFound,
            s::RequestTimeout,
            s::Conflict,
            s::PayloadTooLarge,
            s::UnsupportedMediaType,
            s::Unavailable,
        ),
    > {
        let stream = Box::pin(body.0.into_bytes_stream());
        let status =
            resumable::put_chunk(&self.state, auth.0, id.0, n.0, sha256.0.as_deref(), stream)
                .await?;
        Ok(Json(status))
    }

    /// Assemble the chunks into the file and confirm it (409 listing the missing chunks).
    #[oai(path = "/files/uploads/:id/complete", method = "post")]
    async fn complete_upload(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<
        Json<FileView>,
        (
            s::Authed,
            s::BadRequest,
            s::NotFound,
            s::Conflict,
            s::PayloadTooLarge,
            s::Unavailable,
        ),
    > {
        Ok(Json(resumable::complete(&self.state, auth.0, id.0).await?))
    }

    /// The files shared in a conversation, newest first.
    #[oai(path = "/channels/:id/files", method = "get")]
    async fn channel_files(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        cursor: Query<Option<String>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<Page<SharedFile>>, (s::Authed, s::BadRequest, s::NotFound)> {
        let (items, next_cursor) =
            files::in_channel(&self.state, auth.0, id.0, cursor.as_deref(), limit.0).await?;
        Ok(Json(Page { items, next_cursor }))
    }
}
