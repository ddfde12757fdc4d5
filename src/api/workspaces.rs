//! Workspaces and invite links.

use crate::domain::WorkspaceName;
use std::sync::Arc;

use poem::Request;
use poem_openapi::{Enum, Object, OpenApi, param::Path, payload::Json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    ApiTags,
    body::JsonBody,
    dto::{Created, NoContent, Workspace},
    security::{BearerAuth, meta},
    statuses::{self as s, ApiResult},
};
use crate::{
    app::AppState,
    service::{invites, workspaces},
};

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

/// Where an invite link stands.
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "snake_case")]
enum InviteState {
    /// People can join with it.
    Active,
    Expired,
    /// Its `max_uses` were all spent.
    UsedUp,
    Revoked,
}

/// An invite link as its managers see it (its token is not shown again).
#[derive(Object)]
struct InviteView {
    id: Uuid,
    workspace_id: Uuid,
    /// Who made it; null when made with the CLI.
    #[oai(nullable)]
    created_by: Option<Uuid>,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    /// Unlimited when null.
    #[oai(nullable)]
    max_uses: Option<i32>,
    /// People who joined with it.
    uses: i32,
    state: InviteState,
}

#[derive(Object)]
struct InviteList {
    /// Newest first (at most 200).
    items: Vec<InviteView>,
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

    /// The workspace's invite links, newest first, with their uses and state (their tokens are
    /// not shown again). Server admins and the workspace's owners and admins.
    #[oai(path = "/workspaces/:id/invites", method = "get")]
    async fn invites(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<InviteList>, (s::Authed, s::BadRequest, s::NotFound)> {
        let at = crate::domain::clock::now();
        let items = invites::list(&self.state, auth.0, id.0)
            .await?
            .into_iter()
            .map(|i| InviteView {
                state: match invites::InviteState::of(&i, at) {
                    invites::InviteState::Active => InviteState::Active,
                    invites::InviteState::Expired => InviteState::Expired,
                    invites::InviteState::UsedUp => InviteState::UsedUp,
                    invites::InviteState::Revoked => InviteState::Revoked,
                },
                id: i.id,
                workspace_id: i.workspace_id,
                created_by: i.created_by,
                created_at: i.created_at,
                expires_at: i.expires_at,
                max_uses: i.max_uses,
                uses: i.uses,
            })
            .collect();
        Ok(Json(InviteList { items }))
    }

    /// Revoke an invite link: nobody joins with it from now on (people who joined stay).
    /// Revoking it again changes nothing. One audit entry.
    #[oai(path = "/workspaces/:id/invites/:invite_id", method = "delete")]
    async fn revoke_invite(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
        invite_id: Path<Uuid>,
    ) -> ApiResult<NoContent, (s::Authed, s::BadRequest, s::NotFound)> {
        let meta = meta(&self.state, req);
        invites::revoke(&self.state, meta, auth.0, id.0, invite_id.0).await?;
        Ok(NoContent::NoContent)
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
