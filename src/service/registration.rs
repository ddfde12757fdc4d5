//! Self-service registration under the `auth.registration` policy.

use super::{RequestMeta, accounts, accounts::NewAccount, limits, recovery, workspaces};
use crate::{
    app::AppState,
    config::Registration,
    db::entity::user,
    domain::{DisplayName, Email, NewPassword, Role, Username},
    error::{AppError, AppResult, ErrorCode},
    identity::password,
};

pub struct RegisterRequest {
    pub email: String,
    pub username: String,
    pub password: String,
    pub display_name: Option<String>,
    pub invite_token: Option<String>,
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty, invited = req.invite_token.is_some()))]
pub async fn register(
    state: &AppState,
    meta: RequestMeta,
    req: RegisterRequest,
) -> AppResult<user::Model> {
    let policy = state.settings.get().auth.registration;
    if policy == Registration::Closed {
        return Err(AppError::new(
            ErrorCode::RegistrationClosed,
            "registration is closed on this server",
        ));
    }
    let invite_token = req.invite_token.filter(|t| !t.trim().is_empty());
    if policy == Registration::Invite && invite_token.is_none() {
        return Err(AppError::new(
            ErrorCode::InviteRequired,
            "registration needs an invite link",
        ));
    }
    let ip = meta.ip_string().unwrap_or_default();
    limits::hit(
        state,
        &format!("register:ip:{ip}"),
        state.settings.get().limits.register_per_ip,
    )
    .await?;

    let username = Username::parse(&req.username)?;
    let email = Email::parse(&req.email)?;
    let display_name = req
        .display_name
        .as_deref()
        .map(DisplayName::parse)
        .transpose()?;
    let pw = NewPassword::parse(&req.password, &[username.as_str(), email.as_str()])?;
    let hash = password::hash(pw.expose())
        .await
        .map_err(AppError::internal)?;

    let user = state
        .write(|tx| {
            Box::pin(async move {
                let workspace_id = match &invite_token {
                    Some(token) => workspaces::redeem_invite(tx, token).await?.workspace_id,
                    None => {
                        workspaces::default_workspace(tx)
                            .await?
                            .ok_or_else(|| {
                                AppError::new(
                                    ErrorCode::SetupRequired,
                                    "the server has not been set up yet",
                                )
                            })?
                            .id
                    }
                };
                let user = accounts::create(
                    tx,
                    NewAccount {
                        username,
                        email,
                        display_name,
                        password_hash: Some(hash),
                        role: Role::Member,
                        email_verified: false,
                    },
                )
                .await?;
                workspaces::add_member(tx, workspace_id, user.id, "member").await?;
                Ok(user)
            })
        })
        .await?;
    // Joining the workspace joined its #general: wake the relay for that event.
    state.outbox.committed();
    tracing::Span::current().record("user_id", tracing::field::display(user.id));
    // The account exists now: a mail limit (or any failure to queue the mail) must not turn
    // that into an error; the user can ask for the link again.
    if let Err(e) = recovery::send_verification(state, &user).await {
        tracing::warn!(user_id = %user.id, error = %e, "no verification mail sent at registration");
    }
    Ok(user)
}
