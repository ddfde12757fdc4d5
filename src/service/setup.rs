//! First-run setup: while no user exists, a one-time token (printed to the log and written to
//! `<data_dir>/setup-token`, mode 0600) lets the first visitor create the owner and workspace.

use std::path::PathBuf;

use tokio::sync::Mutex;

use super::{
    RequestMeta, accounts, accounts::NewAccount, audit, sessions, sessions::TokenPair, workspaces,
};
use crate::{
    app::AppState,
    db::entity::{user, workspace},
    domain::{Email, NewPassword, Role, Username, WorkspaceName},
    error::{AppError, AppResult, ErrorCode},
    identity::{jwt::Scope, keys::write_private_file, opaque, password},
};

pub struct SetupGate {
    /// The pending token; `None` once setup is done. The mutex also serialises setup attempts.
    token: Mutex<Option<String>>,
    file: PathBuf,
}

impl SetupGate {
    /// Open the gate if the database has no user yet (reusing a token file left by an earlier
    /// start, so a printed token stays valid across restarts).
    pub async fn init(
        db: &sea_orm::DatabaseConnection,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let file = data_dir.join("setup-token");
        let token = if accounts::count(db)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            == 0
        {
            let existing = std::fs::read_to_string(&file)
                .ok()
                .map(|t| t.trim().to_string());
            let token = match existing.filter(|t| t.len() >= 32) {
                Some(t) => t,
                None => {
                    let t = opaque::generate();
                    write_private_file(&file, t.as_bytes())?;
                    t
                }
            };
            Some(token)
        } else {
            let _ = std::fs::remove_file(&file);
            None
        };
        Ok(Self {
            token: Mutex::new(token),
            file,
        })
    }

    pub async fn pending_token(&self) -> Option<String> {
        self.token.lock().await.clone()
    }
}

pub struct SetupRequest {
    pub setup_token: String,
    pub email: String,
    pub username: String,
    pub password: String,
    pub workspace_name: String,
}

pub struct SetupResult {
    pub user: user::Model,
    pub workspace: workspace::Model,
    pub tokens: TokenPair,
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty))]
pub async fn complete(
    state: &AppState,
    meta: RequestMeta,
    req: SetupRequest,
) -> AppResult<SetupResult> {
    let mut gate = state.setup.token.lock().await;
    let Some(expected) = gate.as_deref() else {
        return Err(AppError::new(
            ErrorCode::AlreadySetUp,
            "setup has already been completed",
        ));
    };
    if !opaque::constant_time_eq(expected.as_bytes(), req.setup_token.trim().as_bytes()) {
        return Err(AppError::forbidden("the setup token is not valid"));
    }
    let username = Username::parse(&req.username)?;
    let email = Email::parse(&req.email)?;
    let workspace_name = WorkspaceName::parse(&req.workspace_name)?;
    let pw = NewPassword::parse(&req.password, &[username.as_str(), email.as_str()])?;
    let hash = password::hash(pw.expose())
        .await
        .map_err(AppError::internal)?;
    let (tx, _write) = state.begin_write().await?;
    let result = {
        let tx = &tx;
        async {
            if accounts::count(tx).await? > 0 {
                return Err(AppError::new(
                    ErrorCode::AlreadySetUp,
                    "setup has already been completed",
                ));
            }
            let user = accounts::create(
                tx,
                NewAccount {
                    username,
                    email,
                    display_name: None,
                    password_hash: Some(hash),
                    role: Role::Owner,
                    email_verified: true,
                },
            )
            .await?;
            let workspace = workspaces::create_in(tx, meta, &user, workspace_name).await?;
            audit::record(
                tx,
                meta,
                audit::Entry {
                    actor: Some(user.id),
                    action: audit::action::SETUP_COMPLETED,
                    target: Some(("workspace", workspace.id)),
                    details: None,
                },
            )
            .await?;
            // The owner has no second factor yet: when the server requires one, these tokens
            // only allow enrolling (as after a password login).
            let scope = if state.config.auth.require_totp {
                Scope::Enroll
            } else {
                Scope::Full
            };
            let tokens = sessions::start(state, tx, &user, scope).await?;
            Ok::<_, AppError>(SetupResult {
                user,
                workspace,
                tokens,
            })
        }
        .await?
    };
    tx.commit().await?;
    // The workspace's #general was created with its events: wake the relay.
    state.outbox.committed();
    tracing::Span::current().record("user_id", tracing::field::display(result.user.id));
    *gate = None;
    let _ = std::fs::remove_file(&state.setup.file);
    tracing::info!(user = %result.user.username, "setup completed; the setup token is no longer valid");
    Ok(result)
}

/// Whether setup is still pending (a user created meanwhile, e.g. by the CLI, ends it).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn needed(state: &AppState) -> AppResult<bool> {
    if state.setup.pending_token().await.is_none() {
        return Ok(false);
    }
    if accounts::count(&state.db).await? > 0 {
        close(state).await;
        return Ok(false);
    }
    Ok(true)
}

/// After the CLI created a user, the gate closes for good.
pub async fn close(state: &AppState) {
    *state.setup.token.lock().await = None;
    let _ = std::fs::remove_file(&state.setup.file);
}
