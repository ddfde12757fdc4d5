//! `GET /admin/workspaces`, `GET /admin/channels` and `POST /admin/channels/{id}/unarchive`:
//! see `service::admin_channels`.

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
        dto::{NoContent, Page},
        security::{BearerAuth, meta},
        statuses::{self as s, ApiResult},
        users::default_limit,
    },
    app::AppState,
    db::entity::channel,
    domain::ChannelKind,
    service::{admin_channels, users},
};

pub struct ChannelsAdminApi {
    pub state: Arc<AppState>,
}

/// Which channels `GET /admin/channels` lists.
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
enum ArchivedFilter {
    Any,
    Live,
    Archived,
}

/// A channel as admins see it in the console.
#[derive(Object)]
struct AdminChannel {
    id: Uuid,
    workspace_id: Uuid,
    name: String,
    /// public or private.
    kind: ChannelKind,
    #[oai(nullable)]
    topic: Option<String>,
    /// People in it.
    member_count: i64,
    /// Messages ever sent in it, replies and deleted ones included.
    messages: i64,
    #[oai(nullable)]
    last_message_at: Option<OffsetDateTime>,
    /// Null while live.
    #[oai(nullable)]
    archived_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
}

impl AdminChannel {
    fn of(c: channel::Model) -> Self {
        Self {
            id: c.id,
            workspace_id: c.workspace_id,
            name: c.name.unwrap_or_default(),
            kind: c.kind,
            topic: c.topic,
            member_count: c.member_count,
            messages: c.last_seq,
            last_message_at: c.last_message_at,
            archived_at: c.archived_at,
            created_at: c.created_at,
        }
    }
}

/// What a channel can be made.
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
enum ChannelVisibility {
    Public,
    Private,
}

/// What a channel becomes.
#[derive(Object)]
struct KindBody {
    kind: ChannelVisibility,
}

/// A workspace with its numbers.
#[derive(Object)]
struct AdminWorkspace {
    id: Uuid,
    name: String,
    slug: String,
    created_at: OffsetDateTime,
    /// People in it.
    members: i64,
    /// Public and private channels, archived ones included.
    channels: i64,
    /// Messages ever sent in its channels and direct messages.
    messages: i64,
}

#[derive(Object)]
struct AdminWorkspaceList {
    /// Oldest first (at most 500).
    items: Vec<AdminWorkspace>,
}

#[OpenApi(prefix_path = "/admin", tag = "ApiTags::Admin")]
impl ChannelsAdminApi {
    /// Every workspace with its members, channels and messages, oldest first.
    #[oai(path = "/workspaces", method = "get")]
    async fn workspaces(
        &self,
        auth: BearerAuth,
    ) -> ApiResult<Json<AdminWorkspaceList>, (s::Authed,)> {
        users::require_admin(auth.0)?;
        let items = admin_channels::workspaces(&self.state)
            .await?
            .into_iter()
            .map(|w| AdminWorkspace {
                id: w.workspace.id,
                name: w.workspace.name,
                slug: w.workspace.slug,
                created_at: w.workspace.created_at,
                members: w.members,
                channels: w.channels,
                messages: w.messages,
            })
            .collect();
        Ok(Json(AdminWorkspaceList { items }))
    }

    /// Public and private channels of every workspace, by name, with member and message
    /// counts: search by name, filter by workspace, kind and archived state. Rename and
    /// archive with `PUT` / `DELETE /channels/{id}` (admins may on any channel).
    #[oai(path = "/channels", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn channels(
        &self,
        auth: BearerAuth,
        #[oai(validator(max_length = 100))] query: Query<Option<String>>,
        workspace_id: Query<Option<Uuid>>,
        kind: Query<Option<ChannelKind>>,
        archived: Query<Option<ArchivedFilter>>,
        cursor: Query<Option<String>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<Page<AdminChannel>>, (s::Authed, s::BadRequest)> {
        users::require_admin(auth.0)?;
        let page = admin_channels::list(
            &self.state,
            admin_channels::ListQuery {
                text: query.as_deref(),
                workspace_id: workspace_id.0,
                kind: kind.0,
                archived: match archived.0.unwrap_or(ArchivedFilter::Any) {
                    ArchivedFilter::Any => admin_channels::Archived::Any,
                    ArchivedFilter::Live => admin_channels::Archived::Live,
                    ArchivedFilter::Archived => admin_channels::Archived::Archived,
                },
                cursor: cursor.as_deref(),
                limit: limit.0,
            },
        )
        .await?;
        Ok(Json(Page {
            items: page.items.into_iter().map(AdminChannel::of).collect(),
            next_cursor: page.next_cursor,
        }))
    }

    /// Make a channel public or private. Made private, it stops reaching anyone but its
    /// members at once (their subscriptions end, reads and searches refuse them); made public,
    /// every workspace member may read and join it. Emits `channel.updated`; one audit entry.
    #[oai(path = "/channels/:id/kind", method = "put")]
    async fn set_kind(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: JsonBody<KindBody>,
    ) -> ApiResult<NoContent, (s::Authed, s::Body, s::NotFound, s::Conflict)> {
        let meta = meta(&self.state, req);
        let to = match body.0.kind {
            ChannelVisibility::Public => ChannelKind::Public,
            ChannelVisibility::Private => ChannelKind::Private,
        };
        admin_channels::set_kind(&self.state, meta, auth.0, id.0, to).await?;
        Ok(NoContent::NoContent)
    }

    /// Bring an archived channel back: its members can post again; emits `channel.updated`.
    /// Unarchiving a live channel changes nothing.
    #[oai(path = "/channels/:id/unarchive", method = "post")]
    async fn unarchive(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent, (s::Authed, s::BadRequest, s::NotFound, s::Conflict)> {
        admin_channels::unarchive(&self.state, auth.0, id.0).await?;
        Ok(NoContent::NoContent)
    }
}
