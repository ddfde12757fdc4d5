//! First-run setup.

use crate::domain::{Email, Username, WorkspaceName};
use std::sync::Arc;

use poem::Request;
use poem_openapi::{Object, OpenApi, payload::Json};

use super::{
    ApiTags,
    body::JsonBody,
    dto::{Created, Tokens, User, Workspace},
    security::meta,
    statuses::{self as s, ApiResult},
};
use crate::{app::AppState, service::setup};

pub struct SetupApi {
    pub state: Arc<AppState>,
}

#[derive(Object)]
struct SetupStatus {
    needs_setup: bool,
}

#[derive(Object)]
struct SetupBody {
    /// The token printed in the server log / `<data_dir>/setup-token`.
    #[oai(validator(max_length = 256))]
    setup_token: String,
    email: Email,
    username: Username,
    /// 8–256 characters, not easy to guess.
    #[oai(validator(min_length = 8, max_length = 256))]
    password: String,
    workspace_name: WorkspaceName,
}

#[derive(Object)]
struct SetupDone {
    user: User,
    workspace: Workspace,
    tokens: Tokens,
}

#[OpenApi(prefix_path = "/setup", tag = "ApiTags::Setup")]
impl SetupApi {
    /// Whether the server still waits for its owner account.
    #[oai(path = "/status", method = "get")]
    async fn status(&self) -> ApiResult<Json<SetupStatus>, ()> {
        Ok(Json(SetupStatus {
            needs_setup: setup::needed(&self.state).await?,
        }))
    }

    /// Create the owner account and the first workspace (only while no user exists; 409 after).
    #[oai(path = "/", method = "post")]
    async fn setup(
        &self,
        req: &Request,
        body: JsonBody<SetupBody>,
    ) -> ApiResult<Created<SetupDone>, (s::Body, s::Forbidden, s::Conflict)> {
        let b = body.0;
        let done = setup::complete(
            &self.state,
            meta(&self.state, req),
            setup::SetupRequest {
                setup_token: b.setup_token,
                email: b.email.as_str().to_string(),
                username: b.username.as_str().to_string(),
                password: b.password,
                workspace_name: b.workspace_name.into_inner(),
            },
        )
        .await?;
        Ok(Created::Created(Json(SetupDone {
            user: User::view(done.user, None),
            workspace: done.workspace.into(),
            tokens: done.tokens.into(),
        })))
    }
}
