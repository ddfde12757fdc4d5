//! `colink admin …`: the same use cases as the admin API, run from the shell (audit actor: none).

use std::io::Read;

use clap::Subcommand;

use crate::{
    app::AppState,
    config::Config,
    domain::{DisplayName, Email, NewPassword, Role, Username},
    error::AppError,
    identity::{opaque, password},
    service::{Principal, RequestMeta, accounts, accounts::NewAccount, clients, setup, workspaces},
};

#[derive(Subcommand, Debug)]
pub enum AdminAction {
    /// Rebuild the search index from the database, with a progress bar. Stop the server first
    /// (or delete the index directory and start it: the server rebuilds it in the background).
    Reindex,
    /// Create a user (added to the default workspace). Without --password-stdin a strong
    /// password is generated and printed once.
    CreateUser {
        /// Login name: 2–32 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or
        /// digit.
        #[arg(long)]
        username: String,
        /// Email address (unique; counted as verified).
        #[arg(long)]
        email: String,
        /// Name shown to others (default: the username).
        #[arg(long)]
        display_name: Option<String>,
        /// owner, admin, member or guest.
        #[arg(long, default_value = "member")]
        role: String,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password and end every session of the user. Without --password-stdin a strong
    /// password is generated and printed once.
    ResetPassword {
        /// The user's username or email address.
        user: String,
        /// Read the new password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Find people and act on their accounts (a running server sees changes within 10 s).
    Users {
        #[command(subcommand)]
        action: UsersAction,
    },
    /// Moderation rules checked against every new and edited message (a running server
    /// applies changes within 5 s).
    Rules {
        #[command(subcommand)]
        action: super::admin_moderation::RulesAction,
    },
    /// The moderation queue: reported messages.
    Reports {
        #[command(subcommand)]
        action: super::admin_moderation::ReportsAction,
    },
    /// Print the audit log, oldest first, as CSV or JSON lines.
    Audit {
        /// Entries at or after this time (RFC 3339, e.g. 2026-12-01T00:00:00Z), or this long
        /// ago (30d, 12h, 15m).
        #[arg(long)]
        since: Option<String>,
        /// Entries before this time (RFC 3339) or this long ago.
        #[arg(long)]
        until: Option<String>,
        /// Only this action (e.g. user.suspended).
        #[arg(long)]
        action: Option<String>,
        /// Only entries by this actor (username or email).
        #[arg(long)]
        actor: Option<String>,
        /// csv or jsonl.
        #[arg(long, default_value = "csv")]
        format: String,
    },
    /// Create an OAuth2 client-credentials client for a bot; prints its id and secret once.
    CreateClient {
        /// The bot's display name.
        #[arg(long)]
        name: String,
        /// The bot user's username.
        #[arg(long)]
        username: String,
        /// What its tokens may do, comma-separated: read (GET requests, WebSocket events),
        /// write (posting, reacting, joining).
        #[arg(long, default_value = "read,write")]
        scopes: String,
    },
    /// Give a bot client a new secret (printed once); the old one and its tokens stop working.
    RotateClientSecret {
        /// The client_id (colink_…).
        client_id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum UsersAction {
    /// List people: username, role, status, last activity.
    List {
        /// Only people whose username, display name or email contains this.
        #[arg(long)]
        query: Option<String>,
        /// all, active, suspended or deactivated.
        #[arg(long, default_value = "all")]
        status: String,
        /// Only this role: owner, admin, member, guest or bot.
        #[arg(long)]
        role: Option<String>,
    },
    /// Change a user's role (owner, admin, member, guest).
    SetRole {
        /// The user's username or email address.
        user: String,
        /// The new role: owner, admin, member or guest.
        role: String,
    },
    /// Suspend a user; their sessions end.
    Suspend {
        /// The user's username or email address.
        user: String,
        /// Why (recorded with the suspension and in the audit log).
        #[arg(long, default_value = "suspended from the command line")]
        reason: String,
    },
    /// Lift a suspension.
    Unsuspend {
        /// The user's username or email address.
        user: String,
    },
    /// Deactivate a user: their messages stay, they cannot sign in, their sessions end.
    Deactivate {
        /// The user's username or email address.
        user: String,
    },
    /// Reactivate a deactivated user.
    Reactivate {
        /// The user's username or email address.
        user: String,
    },
    /// Turn a user's two-factor authentication off (a lost phone); their sessions end.
    #[command(name = "reset-2fa")]
    Reset2fa {
        /// The user's username or email address.
        user: String,
    },
}

/// The CLI acts with owner rights, as the machine's operator.
pub(super) fn operator() -> Principal {
    Principal {
        user_id: uuid::Uuid::nil(),
        role: Role::Owner,
        scope: crate::identity::jwt::Scope::Full,
        session_id: None,
        expires_at: None,
    }
}

fn read_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut buf = String::new();
        std::io::stdin().read_to_string(&mut buf)?;
        Ok((buf.trim_end_matches(['\n', '\r']).to_string(), false))
    } else {
        Ok((opaque::generate()[..24].to_string(), true))
    }
}

pub(super) async fn find(
    state: &AppState,
    login: &str,
) -> anyhow::Result<crate::db::entity::user::Model> {
    accounts::find_by_login(&state.db, login)
        .await
        .map_err(cli_error)?
        .ok_or_else(|| anyhow::anyhow!("no user with username or email `{login}`"))
}

pub(super) fn cli_error(e: AppError) -> anyhow::Error {
    anyhow::anyhow!("{}", e.detail)
}

pub async fn run(config: Config, action: AdminAction) -> anyhow::Result<()> {
    let state = AppState::open_for_cli(config).await?;
    let meta = RequestMeta::default();
    match action {
        AdminAction::Reindex => super::reindex::run(&state).await?,
        AdminAction::CreateUser {
            username,
            email,
            display_name,
            role,
            password_stdin,
        } => {
            let new = NewUser {
                username,
                email,
                display_name,
                role,
            };
            create_user(&state, meta, new, password_stdin).await?;
        }
        AdminAction::ResetPassword {
            user,
            password_stdin,
        } => reset_password(&state, meta, &user, password_stdin).await?,
        AdminAction::Users { action } => super::admin_users::run(&state, meta, action).await?,
        AdminAction::Rules { action } => {
            super::admin_moderation::rules(&state, meta, action).await?
        }
        AdminAction::Reports { action } => {
            super::admin_moderation::reports(&state, meta, action).await?
        }
        AdminAction::Audit {
            since,
            until,
            action,
            actor,
            format,
        } => {
            let audit = super::admin_users::AuditArgs {
                since,
                until,
                action,
                actor,
                format,
            };
            super::admin_users::audit(&state, audit).await?
        }
        AdminAction::CreateClient {
            name,
            username,
            scopes,
        } => {
            let scopes = clients::BotScopes::from_names(scopes.split(',')).map_err(cli_error)?;
            let new = clients::create(&state, meta, None, &name, &username, scopes)
                .await
                .map_err(cli_error)?;
            println!("client_id:     {}", new.client.client_id);
            println!("client_secret: {}", new.client_secret);
            println!("bot user:      {} ({})", new.bot.username, new.bot.id);
            println!("exchange them at POST /api/v1/auth/token (grant_type=client_credentials)");
        }
        AdminAction::RotateClientSecret { client_id } => {
            let client = clients::find(&state, &client_id)
                .await
                .map_err(cli_error)?
                .ok_or_else(|| anyhow::anyhow!("no client with client_id `{client_id}`"))?;
            let (_, secret) = clients::rotate_secret(&state, meta, None, client.id)
                .await
                .map_err(cli_error)?;
            println!("client_secret: {secret}");
            println!("the previous secret and every token issued with it no longer work");
        }
    }
    Ok(())
}

/// `admin create-user`, as typed.
struct NewUser {
    username: String,
    email: String,
    display_name: Option<String>,
    role: String,
}

async fn create_user(
    state: &AppState,
    meta: RequestMeta,
    new: NewUser,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let NewUser {
        username,
        email,
        display_name,
        role,
    } = new;
    let username = Username::parse(&username)?;
    let email = Email::parse(&email)?;
    let display_name = display_name
        .as_deref()
        .map(DisplayName::parse)
        .transpose()?;
    let role: Role = role.parse()?;
    if role == Role::Bot {
        anyhow::bail!("bots are created with `colink admin create-client`");
    }
    let (pw, generated) = read_password(password_stdin)?;
    let pw = NewPassword::parse(&pw, &[username.as_str(), email.as_str()])?;
    let hash = password::hash(pw.expose()).await?;
    let user = state
        .write(|tx| {
            Box::pin(async move {
                let user = accounts::create(
                    tx,
                    NewAccount {
                        username,
                        email,
                        display_name,
                        password_hash: Some(hash),
                        role,
                        email_verified: true,
                    },
                )
                .await?;
                match workspaces::default_workspace(tx).await? {
                    Some(ws) if role == Role::Guest => {
                        workspaces::add_member_without_channels(tx, ws.id, user.id).await?
                    }
                    Some(ws) => workspaces::add_member(tx, ws.id, user.id, "member").await?,
                    None => {}
                }
                crate::service::audit::record(
                    tx,
                    meta,
                    crate::service::audit::Entry {
                        actor: None,
                        action: crate::service::audit::action::USER_CREATED,
                        target: Some(("user", user.id)),
                        details: Some(serde_json::json!({ "via": "cli", "role": role.as_str() })),
                    },
                )
                .await?;
                Ok(user)
            })
        })
        .await
        .map_err(cli_error)?;
    setup::close(state).await;
    println!(
        "created user {} ({}) with role {}",
        user.username, user.id, user.role
    );
    if generated {
        println!("password: {}", pw.expose());
    }
    Ok(())
}

async fn reset_password(
    state: &AppState,
    meta: RequestMeta,
    user: &str,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let user = find(state, user).await?;
    let (pw, generated) = read_password(password_stdin)?;
    let pw = NewPassword::parse(&pw, &[&user.username, &user.email])?;
    let hash = password::hash(pw.expose()).await?;
    let user_id = user.id;
    state
        .write(|tx| {
            Box::pin(async move {
                accounts::set_password(tx, user_id, hash).await?;
                crate::service::audit::record(
                    tx,
                    meta,
                    crate::service::audit::Entry {
                        actor: None,
                        action: crate::service::audit::action::PASSWORD_RESET,
                        target: Some(("user", user_id)),
                        details: Some(serde_json::json!({ "via": "cli" })),
                    },
                )
                .await
            })
        })
        .await
        .map_err(cli_error)?;
    println!("password of {} reset; all sessions ended", user.username);
    if generated {
        println!("password: {}", pw.expose());
    }
    Ok(())
}
