//! Reports (any member) and the moderation queue (admins): see `service::moderation`.

use std::sync::Arc;

use poem::Request;
use poem_openapi::{
    Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    api::{
        ApiTags,
        body::JsonBody,
        dto::{Created, NoContent, Page, User},
        security::{BearerAuth, meta},
        statuses::{self as s, ApiResult},
        users::default_limit,
    },
    app::AppState,
    service::{moderation, users},
};

pub struct ModerationApi {
    pub state: Arc<AppState>,
}

#[derive(Object)]
struct ReportBody {
    /// Why the message should be looked at (shown to admins): not blank.
    #[oai(validator(min_length = 1, max_length = 500, pattern = r"\S"))]
    reason: String,
}

/// A report, as its reporter sees it.
#[derive(Object)]
struct ReportView {
    id: Uuid,
    message_id: Uuid,
    reason: String,
    created_at: OffsetDateTime,
}

/// One report in the queue.
#[derive(Object)]
struct QueueReport {
    id: Uuid,
    reporter_id: Uuid,
    reason: String,
    created_at: OffsetDateTime,
}

/// Where the reported message is.
#[derive(Object)]
struct QueueChannel {
    id: Uuid,
    /// The channel's name; empty for DMs.
    name: String,
    /// public, private, dm or group_dm.
    kind: String,
}

/// A reported message with its open reports.
#[derive(Object)]
struct QueueEntry {
    /// The message's id: resolve the entry with it.
    message_id: Uuid,
    content: String,
    message_created_at: OffsetDateTime,
    /// Already deleted (by its author or a channel admin) while the reports were open.
    deleted: bool,
    channel: QueueChannel,
    #[oai(nullable)]
    author: Option<User>,
    report_count: u64,
    /// Oldest first.
    reports: Vec<QueueReport>,
}

#[derive(Object)]
struct ResolveBody {
    action: ResolveAction,
}

/// What to do with a reported message.
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
enum ResolveAction {
    /// Keep the message; close its reports.
    Dismiss,
    /// Delete the message; close its reports.
    Delete,
}

#[OpenApi(tag = "ApiTags::Admin")]
impl ModerationApi {
    /// Report a message you can read to the admins, with a reason. One open report per
    /// person and message (409 for a second).
    #[oai(
        path = "/messages/:id/report",
        method = "post",
        tag = "ApiTags::Messages"
    )]
    async fn report(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: JsonBody<ReportBody>,
    ) -> ApiResult<Created<ReportView>, (s::Authed, s::Body, s::NotFound, s::Conflict)> {
        let r = moderation::report(&self.state, auth.0, id.0, &body.reason).await?;
        Ok(Created::Created(Json(ReportView {
            id: r.id,
            message_id: r.message_id,
            reason: r.reason,
            created_at: r.created_at,
        })))
    }

    /// The moderation queue: messages with open reports, the longest-waiting first.
    #[oai(path = "/admin/moderation/queue", method = "get")]
    async fn queue(
        &self,
        auth: BearerAuth,
        cursor: Query<Option<String>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<Page<QueueEntry>>, (s::Authed, s::BadRequest)> {
        users::require_admin(auth.0)?;
        let page = moderation::queue(&self.state, cursor.as_deref(), limit.0).await?;
        let items = page
            .items
            .into_iter()
            .map(|e| QueueEntry {
                message_id: e.message.id,
                content: e.message.content.clone(),
                message_created_at: e.message.created_at,
                deleted: e.message.deleted_at.is_some(),
                channel: QueueChannel {
                    id: e.channel.id,
                    name: e.channel.name.clone().unwrap_or_default(),
                    kind: e.channel.kind.as_str().into(),
                },
                author: e.author.map(|u| User::view(u, Some(&auth.0))),
                report_count: e.reports.len() as u64,
                reports: e
                    .reports
                    .into_iter()
                    .map(|r| QueueReport {
                        id: r.id,
                        reporter_id: r.reporter_id,
                        reason: r.reason,
                        created_at: r.created_at,
                    })
                    .collect(),
            })
            .collect();
        Ok(Json(Page {
            items,
            next_cursor: page.next_cursor,
        }))
    }

    /// Resolve a queue entry (by its message id): dismiss the reports, or delete the message.
    /// Either emits `moderation.action` and writes one audit entry. 404 when the message has
    /// no open reports.
    #[oai(path = "/admin/moderation/queue/:id/resolve", method = "post")]
    async fn resolve(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: JsonBody<ResolveBody>,
    ) -> ApiResult<NoContent, (s::Authed, s::Body, s::NotFound)> {
        let resolution = match body.action {
            ResolveAction::Dismiss => moderation::Resolution::Dismiss,
            ResolveAction::Delete => moderation::Resolution::Delete,
        };
        let meta = meta(&self.state, req);
        moderation::resolve(&self.state, meta, auth.0, id.0, resolution).await?;
        Ok(NoContent::NoContent)
    }

    /// Delete any message, in any conversation (DMs too), closing its open reports; emits
    /// `message.deleted` and `moderation.action`, writes one audit entry.
    #[oai(path = "/admin/messages/:id", method = "delete")]
    async fn delete_message(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent, (s::Authed, s::BadRequest, s::NotFound)> {
        let meta = meta(&self.state, req);
        moderation::delete(&self.state, meta, auth.0, id.0).await?;
        Ok(NoContent::NoContent)
    }
}
