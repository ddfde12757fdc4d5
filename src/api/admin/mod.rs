//! Administration (role admin or owner): bot clients here, people in [`people`], the audit
//! log in [`audit`], the server itself in [`system`], channels in [`channels`].

mod audit;
mod channels;
mod moderation;
mod people;
mod settings;
mod system;

pub use audit::AuditApi;
pub use channels::ChannelsAdminApi;
pub use moderation::ModerationApi;
pub use people::PeopleApi;
pub use settings::SettingsApi;
pub use system::SystemApi;

use crate::domain::{DisplayName, Username};
use std::sync::Arc;

use poem::Request;
use poem_openapi::{Enum, Object, OpenApi, param::Path, payload::Json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    ApiTags,
    body::JsonBody,
    dto::{Created, NoContent},
    security::{BearerAuth, meta},
    statuses::{self as s, ApiResult},
};
use crate::{
    app::AppState,
    service::{clients, users},
};

pub struct AdminApi {
    pub state: Arc<AppState>,
}

/// Every admin API (one element of the API tuple, which has at most 16).
pub type Apis = (
    AdminApi,
    PeopleApi,
    AuditApi,
    SystemApi,
    ModerationApi,
    ChannelsAdminApi,
    SettingsApi,
);

pub fn apis(state: &Arc<AppState>) -> Apis {
    (
        AdminApi {
            state: state.clone(),
        },
        PeopleApi {
            state: state.clone(),
        },
        AuditApi {
            state: state.clone(),
        },
        SystemApi {
            state: state.clone(),
        },
        ModerationApi {
            state: state.clone(),
        },
        ChannelsAdminApi {
            state: state.clone(),
        },
        SettingsApi {
            state: state.clone(),
        },
    )
}

#[derive(Object)]
struct NewClientBody {
    /// Shown as the bot's display name.
    name: DisplayName,
    /// The bot user's username.
    username: Username,
    /// What its tokens may do (default both): `read` (GET requests and WebSocket events),
    /// `write` (requests that change something: posting, reacting, joining).
    #[oai(
        default = "all_scopes",
        validator(min_items = 1, max_items = 2, unique_items)
    )]
    scopes: Vec<ClientScope>,
}

/// A bot client's permission.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Hash)]
#[oai(rename_all = "lowercase")]
enum ClientScope {
    Read,
    Write,
}

fn all_scopes() -> Vec<ClientScope> {
    vec![ClientScope::Read, ClientScope::Write]
}

#[derive(Object)]
struct Client {
    id: Uuid,
    client_id: String,
    name: String,
    bot_user_id: Uuid,
    created_at: OffsetDateTime,
    revoked: bool,
    scopes: Vec<ClientScope>,
}

#[derive(Object)]
struct CreatedClient {
    #[oai(flatten)]
    client: Client,
    /// Shown once.
    client_secret: String,
}

#[derive(Object)]
struct ClientList {
    items: Vec<Client>,
}

impl From<crate::db::entity::api_client::Model> for Client {
    fn from(c: crate::db::entity::api_client::Model) -> Self {
        Self {
            id: c.id,
            client_id: c.client_id,
            name: c.name,
            bot_user_id: c.bot_user_id,
            created_at: c.created_at,
            revoked: c.revoked_at.is_some(),
            scopes: clients::BotScopes::stored(&c.scopes)
                .map(|s| {
                    s.names()
                        .into_iter()
                        .map(|n| {
                            if n == "read" {
                                ClientScope::Read
                            } else {
                                ClientScope::Write
                            }
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

#[OpenApi(prefix_path = "/admin", tag = "ApiTags::Admin")]
impl AdminApi {
    /// Bot API clients.
    #[oai(path = "/clients", method = "get")]
    async fn clients(&self, auth: BearerAuth) -> ApiResult<Json<ClientList>, (s::Authed,)> {
        users::require_admin(auth.0)?;
        let items = clients::list(&self.state).await?;
        Ok(Json(ClientList {
            items: items.into_iter().map(Into::into).collect(),
        }))
    }

    /// Create a bot client (OAuth2 client credentials); the secret is shown once.
    #[oai(path = "/clients", method = "post")]
    async fn create_client(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: JsonBody<NewClientBody>,
    ) -> ApiResult<Created<CreatedClient>, (s::Authed, s::Body, s::Conflict)> {
        users::require_admin(auth.0)?;
        let new = clients::create(
            &self.state,
            meta(&self.state, req),
            Some(auth.0.user_id),
            body.name.as_str(),
            body.username.as_str(),
            clients::BotScopes {
                read: body.scopes.contains(&ClientScope::Read),
                write: body.scopes.contains(&ClientScope::Write),
            },
        )
        .await?;
        Ok(Created::Created(Json(CreatedClient {
            client: new.client.into(),
            client_secret: new.client_secret,
        })))
    }

    /// Give a bot client a new secret (shown once): the old secret and every token issued with
    /// it stop working at once.
    #[oai(path = "/clients/:id/rotate-secret", method = "post")]
    async fn rotate_secret(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<CreatedClient>, (s::Authed, s::BadRequest, s::NotFound, s::Conflict)> {
        users::require_admin(auth.0)?;
        let (client, client_secret) = clients::rotate_secret(
            &self.state,
            meta(&self.state, req),
            Some(auth.0.user_id),
            id.0,
        )
        .await?;
        Ok(Json(CreatedClient {
            client: client.into(),
            client_secret,
        }))
    }

    /// Revoke a bot client and its tokens.
    #[oai(path = "/clients/:id", method = "delete")]
    async fn revoke_client(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent, (s::Authed, s::BadRequest, s::NotFound)> {
        users::require_admin(auth.0)?;
        clients::revoke(&self.state, meta(&self.state, req), auth.0.user_id, id.0).await?;
        Ok(NoContent::NoContent)
    }
}
