//! `/admin/audit`: reading and exporting the audit log.

use std::sync::Arc;

use futures_util::TryStreamExt;
use poem::{Body, IntoResponse, Response};
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::Query,
    payload::{Binary, Json},
    registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::Type,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    api::{
        ApiTags,
        dto::Page,
        security::BearerAuth,
        statuses::{self as s, ApiResult},
        users::default_limit,
    },
    app::AppState,
    service::{audit_export, audit_query, users},
};

pub struct AuditApi {
    pub state: Arc<AppState>,
}

#[derive(Object)]
struct AuditEntry {
    id: Uuid,
    #[oai(nullable)]
    actor_id: Option<Uuid>,
    action: String,
    #[oai(nullable)]
    target_type: Option<String>,
    #[oai(nullable)]
    target_id: Option<Uuid>,
    #[oai(nullable)]
    ip: Option<String>,
    #[oai(nullable)]
    details: Option<serde_json::Value>,
    created_at: OffsetDateTime,
}

/// The file format of an export.
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
enum ExportFormat {
    /// RFC 4180, with a header row; `details` is a JSON cell.
    Csv,
    /// One JSON object per line, the fields of `GET /admin/audit`.
    Jsonl,
}

/// The export, streamed.
struct AuditExport(Response);

impl IntoResponse for AuditExport {
    fn into_response(self) -> Response {
        self.0
    }
}

impl ApiResponse for AuditExport {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "Every matching entry, oldest first.",
                status: Some(200),
                status_range: None,
                content: ["text/csv; charset=utf-8", "application/x-ndjson"]
                    .into_iter()
                    .map(|content_type| MetaMediaType {
                        content_type,
                        schema: <Binary<Body> as poem_openapi::payload::Payload>::schema_ref(),
                    })
                    .collect(),
                headers: vec![MetaHeader {
                    name: "Content-Disposition".into(),
                    description: Some(
                        "`attachment; filename=\"colink-audit.csv\"` (or `.jsonl`).".into(),
                    ),
                    required: true,
                    deprecated: false,
                    schema: String::schema_ref(),
                }],
            }],
        }
    }

    fn register(_registry: &mut Registry) {}
}

#[OpenApi(prefix_path = "/admin", tag = "ApiTags::Admin")]
impl AuditApi {
    /// The audit log, newest first: filter by actor, target, action and time (`from` inclusive,
    /// `to` exclusive).
    #[oai(path = "/audit", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn audit(
        &self,
        auth: BearerAuth,
        actor_id: Query<Option<Uuid>>,
        target_id: Query<Option<Uuid>>,
        #[oai(validator(max_length = 100))] action: Query<Option<String>>,
        from: Query<Option<OffsetDateTime>>,
        to: Query<Option<OffsetDateTime>>,
        cursor: Query<Option<String>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<Page<AuditEntry>>, (s::Authed, s::BadRequest)> {
        users::require_admin(auth.0)?;
        let filter = audit_export::Filter {
            actor_id: actor_id.0,
            target_id: target_id.0,
            action: action.0,
            from: from.0,
            to: to.0,
        };
        let page = audit_query::list(&self.state, &filter, cursor.as_deref(), limit.0).await?;
        Ok(Json(Page {
            items: page
                .items
                .into_iter()
                .map(|e| AuditEntry {
                    id: e.id,
                    actor_id: e.actor_id,
                    action: e.action,
                    target_type: e.target_type,
                    target_id: e.target_id,
                    ip: e.ip,
                    details: e.details.and_then(|d| serde_json::from_str(&d).ok()),
                    created_at: e.created_at,
                })
                .collect(),
            next_cursor: page.next_cursor,
        }))
    }

    /// Every matching entry of the audit log, oldest first, as a CSV or JSON-lines download
    /// (streamed: any size).
    #[oai(path = "/audit/export", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn export(
        &self,
        auth: BearerAuth,
        format: Query<Option<ExportFormat>>,
        actor_id: Query<Option<Uuid>>,
        target_id: Query<Option<Uuid>>,
        #[oai(validator(max_length = 100))] action: Query<Option<String>>,
        from: Query<Option<OffsetDateTime>>,
        to: Query<Option<OffsetDateTime>>,
    ) -> ApiResult<AuditExport, (s::Authed, s::BadRequest)> {
        users::require_admin(auth.0)?;
        let format = match format.0.unwrap_or(ExportFormat::Csv) {
            ExportFormat::Csv => audit_export::Format::Csv,
            ExportFormat::Jsonl => audit_export::Format::JsonLines,
        };
        let filter = audit_export::Filter {
            actor_id: actor_id.0,
            target_id: target_id.0,
            action: action.0,
            from: from.0,
            to: to.0,
        };
        let body = audit_export::stream(self.state.db.clone(), filter, format)
            .map_err(|e| std::io::Error::other(e.to_string()));
        let response = Response::builder()
            .header("content-type", format.content_type())
            .header(
                "content-disposition",
                format!(
                    "attachment; filename=\"colink-audit.{}\"",
                    format.extension()
                ),
            )
            .header("cache-control", "no-store")
            .body(Body::from_bytes_stream(body));
        Ok(AuditExport(response))
    }
}
