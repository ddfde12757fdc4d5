//! Workspaces and invite links.

use crate::domain::WorkspaceName;
use std::sync::Arc;

use poem_openapi::{Object, OpenApi, param::Path, payload::Json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    ApiTags,
    body::JsonBody,
    dto::{Created, Workspace},
    security::BearerAuth,
    statuses::{self as s, ApiResult},
};
use crate::{app::AppState, service::workspaces};

pub struct WorkspacesApi {
    pub state: Arc<AppState>,
}

#[derive(Object)]
struct NewWorkspace {
    name: WorkspaceName,
}

#[derive(Object)]
struct InviteBody {
    /// Default 168 (a week); at most 2160.
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "2160")))]
    expires_in_hours: Option<u32>,
    /// Unlimited when absent.
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "100000")))]
    max_uses: Option<u32>,
}

#[derive(Object)]
struct Invite {
    id: Uuid,
    workspace_id: Uuid,
    /// Shown once.
    token: String,
    url: String,
    expires_at: OffsetDateTime,
    #[oai(nullable)]
    max_uses: Option<i32>,
}

#[derive(Object)]
struct WorkspaceList {
    items: Vec<Workspace>,
}

#[OpenApi(tag = "ApiTags::Workspaces")]
impl WorkspacesApi {
    /// Workspaces the caller belongs to.
    #[oai(path = "/workspaces", method = "get")]
    async fn list(&self, auth: BearerAuth) -> ApiResult<Json<WorkspaceList>, (s::Authed,)> {
        let items = workspaces::list_for(&self.state, auth.0).await?;
        Ok(Json(WorkspaceList {
            items: items.into_iter().map(Into::into).collect(),
        }))
    }

    /// Create a workspace (admins).
    #[oai(path = "/workspaces", method = "post")]
    async fn create(
        &self,
        req: &poem::Request,
        auth: BearerAuth,
        body: JsonBody<NewWorkspace>,
    ) -> ApiResult<Created<Workspace>, (s::Authed, s::Body, s::Conflict)> {
        let meta = super::security::meta(&self.state, req);
        let ws = workspaces::create(&self.state, meta, auth.0, body.name.as_str()).await?;
        Ok(Created::Created(Json(ws.into())))
    }

    /// One workspace (members and admins).
    #[oai(path = "/workspaces/:id", method = "get")]
    async fn get(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Workspace>, (s::Authed, s::BadRequest, s::NotFound)> {
        Ok(Json(
            workspaces::get(&self.state, auth.0, id.0).await?.into(),
        ))
    }

    /// Create an invite link.
    #[oai(path = "/workspaces/:id/invites", method = "post")]
    async fn invite(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: JsonBody<InviteBody>,
    ) -> ApiResult<Created<Invite>, (s::Authed, s::Body, s::NotFound, s::TooManyRequests)> {
        let new = workspaces::create_invite(
            &self.state,
            auth.0,
            id.0,
            body.expires_in_hours,
            body.max_uses,
        )
        .await?;
        let url = format!("{}/invite/{}", self.state.config.public_url(), new.token);
        Ok(Created::Created(Json(Invite {
            id: new.invite.id,
            workspace_id: new.invite.workspace_id,
            token: new.token,
            url,
            expires_at: new.invite.expires_at,
            max_uses: new.invite.max_uses,
        })))
    }

    /// Join the invite's workspace as the current user.
    #[oai(path = "/invites/:token/accept", method = "post")]
    async fn accept(
        &self,
        auth: BearerAuth,
        token: Path<String>,
    ) -> ApiResult<Json<Workspace>, (s::Authed, s::BadRequest, s::NotFound, s::Conflict, s::Gone)>
    {
        Ok(Json(
            workspaces::accept_invite(&self.state, auth.0, &token.0)
                .await?
                .into(),
        ))
    }
}
