//! OAuth2 client credentials for bots: each client owns a bot user that its tokens act as.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

use super::{RequestMeta, accounts, accounts::NewAccount, audit, now, workspaces};
use crate::{
    app::AppState,
    db::entity::{api_client, user},
    domain::{DisplayName, Email, Role, Username},
    error::{AppError, AppResult, ErrorCode},
    identity::{
        jwt::{Grant, Scope},
        opaque,
    },
};

/// What a bot's tokens may do: `read` (GET requests, WebSocket events) and `write` (requests
/// that change something: posting, reacting, joining).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BotScopes {
    pub read: bool,
    pub write: bool,
}

impl BotScopes {
    pub const ALL: Self = Self {
        read: true,
        write: true,
    };

    /// From names (`read`, `write`), at least one.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> AppResult<Self> {
        let mut scopes = Self {
            read: false,
            write: false,
        };
        for name in names {
            match name.trim() {
                "read" => scopes.read = true,
                "write" => scopes.write = true,
                "" => {}
                other => {
                    return Err(AppError::validation(format!(
                        "scopes: `{other}` is not read or write"
                    )));
                }
            }
        }
        if !scopes.read && !scopes.write {
            return Err(AppError::validation("scopes: give read, write or both"));
        }
        Ok(scopes)
    }

    /// As stored (`api_clients.scopes`); anything unreadable counts as no scope at all.
    pub fn stored(text: &str) -> Option<Self> {
        Self::from_names(text.split(' ')).ok()
    }

    pub fn names(self) -> Vec<&'static str> {
        [(self.read, "read"), (self.write, "write")]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect()
    }
}

pub struct NewClient {
    pub client: api_client::Model,
    pub bot: user::Model,
    /// Shown once; only its hash is stored.
    pub client_secret: String,
}

/// Create a client and its bot user (`username` must be free). `actor` is `None` from the CLI.
#[tracing::instrument(skip_all, fields(actor = ?actor, username = %username))]
pub async fn create(
    state: &AppState,
    meta: RequestMeta,
    actor: Option<Uuid>,
    name: &str,
    username: &str,
    scopes: BotScopes,
) -> AppResult<NewClient> {
    let display = DisplayName::parse(name)?;
    let username = Username::parse(username)?;
    let email = Email::parse(&format!("{}@bots.colink.invalid", username.as_str()))?;
    let client_id = format!("colink_{}", &opaque::generate()[..20]);
    let client_secret = opaque::generate();
    let secret_hash = opaque::hash(&client_secret);
    let (client, bot) = state
        .write(|tx| {
            Box::pin(async move {
                let bot = accounts::create(
                    tx,
                    NewAccount {
                        username,
                        email,
                        display_name: Some(display.clone()),
                        password_hash: None,
                        role: Role::Bot,
                        email_verified: true,
                    },
                )
                .await?;
                if let Some(ws) = workspaces::default_workspace(tx).await? {
                    workspaces::add_member_without_channels(tx, ws.id, bot.id).await?;
                }
                let client = api_client::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    client_id: Set(client_id),
                    secret_hash: Set(secret_hash),
                    name: Set(display.into_inner()),
                    bot_user_id: Set(bot.id),
                    created_by: Set(actor),
                    created_at: Set(now()),
                    revoked_at: Set(None),
                    scopes: Set(scopes.names().join(" ")),
                }
                .insert(tx)
                .await?;
                audit::record(
                    tx,
                    meta,
                    audit::Entry {
                        actor,
                        action: audit::action::CLIENT_CREATED,
                        target: Some(("api_client", client.id)),
                        details: Some(serde_json::json!({
                            "client_id": client.client_id,
                            "bot_user_id": bot.id,
                            "scopes": scopes.names(),
                        })),
                    },
                )
                .await?;
                Ok((client, bot))
            })
        })
        .await?;
    Ok(NewClient {
        client,
        bot,
        client_secret,
    })
}

#[tracing::instrument(skip_all)]
pub async fn list(state: &AppState) -> AppResult<Vec<api_client::Model>> {
    Ok(api_client::Entity::find()
        .order_by_asc(api_client::Column::CreatedAt)
        .all(&state.db)
        .await?)
}

/// Revoke a client: its secret stops working and its bot's tokens are invalidated.
#[tracing::instrument(skip_all, fields(actor = %actor, client = %id))]
pub async fn revoke(state: &AppState, meta: RequestMeta, actor: Uuid, id: Uuid) -> AppResult<()> {
    let client = api_client::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::not_found("client"))?;
    let bot_id = client.bot_user_id;
    state
        .write(|tx| {
            Box::pin(async move {
                let mut active = client.into_active_model();
                active.revoked_at = Set(Some(now()));
                active.update(tx).await?;
                super::sessions::revoke_all(tx, bot_id).await?;
                audit::record(
                    tx,
                    meta,
                    audit::Entry {
                        actor: Some(actor),
                        action: audit::action::CLIENT_REVOKED,
                        target: Some(("api_client", id)),
                        details: None,
                    },
                )
                .await
            })
        })
        .await?;
    state.token_states.forget(&bot_id);
    Ok(())
}

/// The client with this `client_id` (`colink_…`).
pub async fn find(state: &AppState, client_id: &str) -> AppResult<Option<api_client::Model>> {
    Ok(api_client::Entity::find()
        .filter(api_client::Column::ClientId.eq(client_id.trim()))
        .one(&state.db)
        .await?)
}

/// Give a client a new secret (shown once): the old one stops working and every token issued
/// with it is revoked.
#[tracing::instrument(skip_all, fields(client = %id))]
pub async fn rotate_secret(
    state: &AppState,
    meta: RequestMeta,
    actor: Option<Uuid>,
    id: Uuid,
) -> AppResult<(api_client::Model, String)> {
    let client = api_client::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::not_found("client"))?;
    if client.revoked_at.is_some() {
        return Err(AppError::conflict("the client is revoked"));
    }
    let bot_id = client.bot_user_id;
    let secret = opaque::generate();
    let secret_hash = opaque::hash(&secret);
    let updated = state
        .write(|tx| {
            Box::pin(async move {
                let mut active = client.into_active_model();
                active.secret_hash = Set(secret_hash);
                let updated = active.update(tx).await?;
                super::sessions::revoke_all(tx, bot_id).await?;
                audit::record(
                    tx,
                    meta,
                    audit::Entry {
                        actor,
                        action: audit::action::CLIENT_SECRET_ROTATED,
                        target: Some(("api_client", id)),
                        details: None,
                    },
                )
                .await?;
                Ok(updated)
            })
        })
        .await?;
    state.token_states.forget(&bot_id);
    Ok((updated, secret))
}

/// The client-credentials grant: an access token for the client's bot user.
#[tracing::instrument(skip_all)]
pub async fn token(
    state: &AppState,
    client_id: &str,
    client_secret: &str,
) -> AppResult<(String, u64)> {
    let invalid = || AppError::new(ErrorCode::InvalidClient, "unknown client or wrong secret");
    let client = api_client::Entity::find()
        .filter(api_client::Column::ClientId.eq(client_id.trim()))
        .one(&state.db)
        .await?
        .ok_or_else(invalid)?;
    let presented = opaque::hash(client_secret.trim());
    if client.revoked_at.is_some()
        || !opaque::constant_time_eq(presented.as_bytes(), client.secret_hash.as_bytes())
    {
        return Err(invalid());
    }
    let bot = accounts::get(&state.db, client.bot_user_id).await?;
    if !super::authn::token_state_of(&bot).active {
        return Err(invalid());
    }
    let scope = BotScopes::stored(&client.scopes)
        .and_then(|s| Scope::for_bot(s.read, s.write))
        .ok_or_else(invalid)?;
    let ttl = state.config.auth.access_ttl.secs();
    Ok((
        state.jwt.issue(Grant {
            user_id: bot.id,
            version: bot.token_version,
            scope,
            session: None,
            ttl_secs: ttl,
        }),
        ttl,
    ))
}
