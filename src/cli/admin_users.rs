//! `colink admin users …` and `colink admin audit`: the admin API's people and audit use cases,
//! run against the database (audit actor: none).

use futures_util::StreamExt;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::admin::{UsersAction, cli_error, find, operator};
use crate::{
    app::AppState,
    config::HumanDuration,
    domain::Role,
    service::{RequestMeta, audit_export, people},
};

pub async fn run(state: &AppState, meta: RequestMeta, action: UsersAction) -> anyhow::Result<()> {
    let admin = operator();
    match action {
        UsersAction::List {
            query,
            status,
            role,
        } => list(state, query, &status, role).await?,
        UsersAction::SetRole { user, role } => {
            let user = find(state, &user).await?;
            let role: Role = role.parse()?;
            let updated = people::set_role(state, meta, admin, user.id, role)
                .await
                .map_err(cli_error)?;
            println!("{} is now {}", updated.username, updated.role);
        }
        UsersAction::Suspend { user, reason } => {
            let user = find(state, &user).await?;
            people::set_suspended(state, meta, admin, user.id, Some(reason))
                .await
                .map_err(cli_error)?;
            println!("{} suspended; all sessions ended", user.username);
        }
        UsersAction::Unsuspend { user } => {
            let user = find(state, &user).await?;
            people::set_suspended(state, meta, admin, user.id, None)
                .await
                .map_err(cli_error)?;
            println!("{} unsuspended", user.username);
        }
        UsersAction::Deactivate { user } => {
            let user = find(state, &user).await?;
            people::set_deactivated(state, meta, admin, user.id, true)
                .await
                .map_err(cli_error)?;
            println!("{} deactivated; all sessions ended", user.username);
        }
        UsersAction::Reactivate { user } => {
            let user = find(state, &user).await?;
            people::set_deactivated(state, meta, admin, user.id, false)
                .await
                .map_err(cli_error)?;
            println!("{} reactivated", user.username);
        }
        UsersAction::Reset2fa { user } => {
            let user = find(state, &user).await?;
            people::reset_totp(state, meta, admin, user.id)
                .await
                .map_err(cli_error)?;
            println!(
                "two-factor authentication of {} turned off; all sessions ended",
                user.username
            );
        }
    }
    Ok(())
}

async fn list(
    state: &AppState,
    query: Option<String>,
    status: &str,
    role: Option<String>,
) -> anyhow::Result<()> {
    let status = match status {
        "all" => people::Status::All,
        "active" => people::Status::Active,
        "suspended" => people::Status::Suspended,
        "deactivated" => people::Status::Deactivated,
        other => {
            anyhow::bail!("--status: `{other}` is not one of all, active, suspended, deactivated")
        }
    };
    let role: Option<Role> = role.map(|r| r.parse()).transpose()?;
    let mut out = format!(
        "{:<32} {:<7} {:<11} {:<20} {}\n",
        "USERNAME", "ROLE", "STATUS", "LAST ACTIVE", "EMAIL"
    );
    let mut cursor: Option<String> = None;
    loop {
        let page = people::list(
            state,
            people::ListQuery {
                text: query.as_deref(),
                status,
                role,
                sort: people::Sort::Username,
                cursor: cursor.as_deref(),
                limit: crate::service::users::MAX_PAGE,
            },
        )
        .await
        .map_err(cli_error)?;
        for u in &page.items {
            let status = if u.deactivated_at.is_some() {
                "deactivated"
            } else if u.suspended_at.is_some() {
                "suspended"
            } else {
                "active"
            };
            let last = u
                .last_active_at
                .and_then(|t| t.format(&Rfc3339).ok())
                .map(|t| t.chars().take(16).collect::<String>().replace('T', " "))
                .unwrap_or_else(|| "never".into());
            out.push_str(&format!(
                "{:<32} {:<7} {:<11} {:<20} {}\n",
                u.username, u.role, status, last, u.email
            ));
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    super::output::print(&out)
}

/// `admin audit`, as typed.
pub struct AuditArgs {
    pub since: Option<String>,
    pub until: Option<String>,
    pub action: Option<String>,
    pub actor: Option<String>,
    pub format: String,
}

/// A point in time given as RFC 3339 or as a duration ago.
fn point_in_time(flag: &str, text: &str) -> anyhow::Result<OffsetDateTime> {
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at);
    }
    let ago = HumanDuration::parse(text).map_err(|e| {
        anyhow::anyhow!("{flag}: `{text}` is neither an RFC 3339 time nor a duration ago ({e})")
    })?;
    Ok(OffsetDateTime::now_utc() - ago.0)
}

pub async fn audit(state: &AppState, args: AuditArgs) -> anyhow::Result<()> {
    let format = match args.format.as_str() {
        "csv" => audit_export::Format::Csv,
        "jsonl" => audit_export::Format::JsonLines,
        other => anyhow::bail!("--format: `{other}` is not csv or jsonl"),
    };
    let actor_id = match &args.actor {
        Some(login) => Some(find(state, login).await?.id),
        None => None,
    };
    let filter = audit_export::Filter {
        actor_id,
        target_id: None,
        action: args.action,
        from: args
            .since
            .as_deref()
            .map(|t| point_in_time("--since", t))
            .transpose()?,
        to: args
            .until
            .as_deref()
            .map(|t| point_in_time("--until", t))
            .transpose()?,
    };
    let mut chunks = std::pin::pin!(audit_export::stream(state.db.clone(), filter, format));
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(cli_error)?;
        super::output::print(&String::from_utf8_lossy(&chunk))?;
    }
    Ok(())
}
