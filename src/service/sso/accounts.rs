//! From an identity the provider vouches for to a CoLink account: the linked one, else the one
//! with the same *verified* email (linked now), else a new one (`create_users`); then the
//! provider's roles, when it has a `roles_claim`.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::super::{
    RequestMeta, accounts,
    accounts::NewAccount,
    audit, now,
    people::{self, RoleChange},
    workspaces,
};
use crate::{
    app::AppState,
    config::OidcProvider,
    db::entity::{external_identity, user},
    domain::{DisplayName, Email, Role, Username},
    error::{AppError, AppResult, ErrorCode},
    identity::oidc::ExternalIdentity,
};

/// The account `identity` signs in to, linked, created and given its roles as needed.
pub async fn account_for(
    state: &AppState,
    meta: RequestMeta,
    provider: &OidcProvider,
    identity: &ExternalIdentity,
) -> AppResult<user::Model> {
    match link_or_create(state, meta, provider, identity).await {
        // Another sign-in of the same person linked or created the account first.
        Err(e) if e.code == ErrorCode::Conflict => {
            link_or_create(state, meta, provider, identity).await
        }
        other => other,
    }
}

async fn link_or_create(
    state: &AppState,
    meta: RequestMeta,
    provider: &OidcProvider,
    identity: &ExternalIdentity,
) -> AppResult<user::Model> {
    let provider = provider.clone();
    let identity = identity.clone();
    let user = state
        .write(move |tx| {
            Box::pin(async move {
                let user = match linked(tx, &provider.name, &identity.subject).await? {
                    Some(link) => {
                        let user_id = link.user_id;
                        touch(tx, link, &identity).await?;
                        accounts::get(tx, user_id).await?
                    }
                    None => link_new(tx, meta, &provider, &identity).await?,
                };
                sync_role(tx, meta, &provider, &identity, user).await
            })
        })
        .await?;
    state.token_states.forget(&user.id);
    Ok(user)
}

async fn linked(
    db: &impl ConnectionTrait,
    provider: &str,
    subject: &str,
) -> AppResult<Option<external_identity::Model>> {
    Ok(external_identity::Entity::find()
        .filter(external_identity::Column::Provider.eq(provider))
        .filter(external_identity::Column::Subject.eq(subject))
        .one(db)
        .await?)
}

async fn touch(
    db: &impl ConnectionTrait,
    link: external_identity::Model,
    identity: &ExternalIdentity,
) -> AppResult<()> {
    let mut active: external_identity::ActiveModel = link.into();
    active.last_login_at = Set(now());
    if identity.email_verified {
        active.email = Set(identity.email.clone());
    }
    active.update(db).await?;
    Ok(())
}

/// No link yet: the account with the verified email, or a new one.
async fn link_new(
    tx: &sea_orm::DatabaseTransaction,
    meta: RequestMeta,
    provider: &OidcProvider,
    identity: &ExternalIdentity,
) -> AppResult<user::Model> {
    let email = match (&identity.email, identity.email_verified) {
        (Some(email), true) => Email::parse(email).map_err(|_| {
            AppError::new(
                ErrorCode::SsoRejected,
                "the identity provider's email address is not usable",
            )
        })?,
        _ => {
            return Err(AppError::new(
                ErrorCode::SsoEmailUnverified,
                "the identity provider does not vouch for an email address of this account",
            ));
        }
    };
    let address = email.as_str().to_string();
    let (user, created) = match accounts::find_by_email(tx, &address).await? {
        Some(existing) => (existing, false),
        None if provider.create_users => (create(tx, identity, email).await?, true),
        None => {
            return Err(AppError::new(
                ErrorCode::SsoNoAccount,
                "no account has this email address, and this provider does not create accounts",
            ));
        }
    };
    let at = now();
    external_identity::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user.id),
        provider: Set(provider.name.clone()),
        subject: Set(identity.subject.clone()),
        email: Set(Some(address)),
        created_at: Set(at),
        last_login_at: Set(at),
    }
    .insert(tx)
    .await
    .map_err(accounts::unique_to_conflict)?;
    let action = if created {
        audit::action::USER_CREATED
    } else {
        audit::action::IDENTITY_LINKED
    };
    audit::record(
        tx,
        meta,
        audit::Entry {
            actor: Some(user.id),
            action,
            target: Some(("user", user.id)),
            details: Some(serde_json::json!({ "provider": provider.name })),
        },
    )
    .await?;
    Ok(user)
}

/// A new member account, no password, email verified by the provider, in the default workspace.
async fn create(
    tx: &sea_orm::DatabaseTransaction,
    identity: &ExternalIdentity,
    email: Email,
) -> AppResult<user::Model> {
    let workspace = workspaces::default_workspace(tx).await?.ok_or_else(|| {
        AppError::new(
            ErrorCode::SetupRequired,
            "the server has not been set up yet",
        )
    })?;
    let username = free_username(tx, identity, &email).await?;
    let display_name = identity
        .name
        .as_deref()
        .and_then(|n| DisplayName::parse(n).ok());
    let user = accounts::create(
        tx,
        NewAccount {
            username,
            email,
            display_name,
            password_hash: None,
            role: Role::Member,
            email_verified: true,
        },
    )
    .await?;
    workspaces::add_member(tx, workspace.id, user.id, "member").await?;
    Ok(user)
}

/// The provider's username (or the email's local part), made valid, then made free with a
/// number (`alice-2`), or a random suffix.
async fn free_username(
    db: &impl ConnectionTrait,
    identity: &ExternalIdentity,
    email: &Email,
) -> AppResult<Username> {
    let local = email.as_str().split('@').next().unwrap_or_default();
    let base = identity
        .username
        .as_deref()
        .map(username_base)
        .filter(|b| b.len() >= 2)
        .unwrap_or_else(|| username_base(local));
    let base = if base.len() >= 2 { base } else { "user".into() };
    let mut candidates: Vec<String> = vec![base.clone()];
    let short: String = base.chars().take(28).collect();
    candidates.extend((2..10).map(|n| format!("{short}-{n}")));
    let random: String = crate::identity::opaque::random_bytes::<3>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    candidates.push(format!("{}-{random}", &short[..short.len().min(25)]));
    for candidate in candidates {
        let Ok(username) = Username::parse(&candidate) else {
            continue;
        };
        if !username.is_reserved()
            && accounts::find_by_username(db, username.as_str())
                .await?
                .is_none()
        {
            return Ok(username);
        }
    }
    Err(AppError::conflict("no free username for this account"))
}

/// Lower case; anything but `a-z 0-9 . _ -` becomes `-`; starting with a letter or digit; at
/// most 32 characters.
fn username_base(raw: &str) -> String {
    let mapped: String = raw
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    mapped
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .chars()
        .take(32)
        .collect()
}

/// The role the provider's roles call for, when it differs from `current`: holding an admin
/// role makes an admin; losing them all makes an admin a member. Owners and bots never change.
pub fn mapped_role(current: Role, roles: &[String], admin_roles: &[String]) -> Option<Role> {
    if matches!(current, Role::Owner | Role::Bot) {
        return None;
    }
    let admin = roles.iter().any(|r| admin_roles.contains(r));
    match (admin, current) {
        (true, Role::Admin) | (false, Role::Member | Role::Guest) => None,
        (true, _) => Some(Role::Admin),
        (false, Role::Admin) => Some(Role::Member),
        (false, _) => None,
    }
}

async fn sync_role(
    tx: &sea_orm::DatabaseTransaction,
    meta: RequestMeta,
    provider: &OidcProvider,
    identity: &ExternalIdentity,
    user: user::Model,
) -> AppResult<user::Model> {
    let Some(roles) = &identity.roles else {
        return Ok(user);
    };
    let current: Role = user.role.parse().unwrap_or(Role::Guest);
    let Some(new_role) = mapped_role(current, roles, &provider.admin_roles) else {
        return Ok(user);
    };
    let change = RoleChange {
        actor: Some(user.id),
        new_role,
        source: Some(format!("sso:{}", provider.name)),
    };
    people::apply_role(tx, meta, user, change).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_made_valid() {
        assert_eq!(username_base("Alice.Smith"), "alice.smith");
        assert_eq!(username_base("  José Núñez "), "jos--n--ez");
        assert_eq!(username_base("__bob"), "bob");
        assert_eq!(username_base(&"x".repeat(40)).len(), 32);
        assert!(Username::parse(&username_base("Ünïcode Name")).is_ok());
    }

    #[test]
    fn roles_map_to_admin_and_back_but_never_touch_owners() {
        let admin = vec!["admin".to_string()];
        let has = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            mapped_role(Role::Member, &has(&["user", "admin"]), &admin),
            Some(Role::Admin)
        );
        assert_eq!(
            mapped_role(Role::Guest, &has(&["admin"]), &admin),
            Some(Role::Admin)
        );
        assert_eq!(mapped_role(Role::Admin, &has(&["admin"]), &admin), None);
        assert_eq!(
            mapped_role(Role::Admin, &has(&["user"]), &admin),
            Some(Role::Member)
        );
        assert_eq!(mapped_role(Role::Member, &has(&["user"]), &admin), None);
        assert_eq!(mapped_role(Role::Guest, &has(&[]), &admin), None);
        assert_eq!(mapped_role(Role::Owner, &has(&[]), &admin), None);
        assert_eq!(mapped_role(Role::Bot, &has(&["admin"]), &admin), None);
    }
}
