//! Workspaces, their members, and invite links.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait},
};
use time::Duration;
use uuid::Uuid;

use super::{Principal, RequestMeta, audit, channels, events, limits, now};
use crate::{
    app::AppState,
    db::entity::{channel, invite, user, workspace, workspace_member},
    domain::{ChannelKind, ChannelName, ChannelRole, WorkspaceName, events::EventData},
    error::{AppError, AppResult, ErrorCode},
    identity::opaque,
};

const DEFAULT_INVITE_HOURS: u32 = 7 * 24;
const MAX_INVITE_HOURS: u32 = 90 * 24;

/// The public channel every workspace starts with and everyone who joins is added to (Slack's
/// #general, Mattermost's Town Square). Found by name: renamed or archived, it stops being one.
pub const GENERAL_CHANNEL: &str = "general";

/// Create a workspace with `creator` as its owner, and its #general channel (inside the caller's
/// transaction).
pub async fn create_in(
    db: &DatabaseTransaction,
    meta: RequestMeta,
    creator: &user::Model,
    name: WorkspaceName,
) -> AppResult<workspace::Model> {
    let slug = unique_slug(db, name.as_str()).await?;
    let ws = workspace::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name.into_inner()),
        slug: Set(slug),
        allow_member_invites: Set(false),
        created_by: Set(Some(creator.id)),
        created_at: Set(now()),
    }
    .insert(db)
    .await?;
    insert_member(db, ws.id, creator.id, "owner").await?;
    channels::create_in(
        db,
        ws.id,
        creator.id,
        ChannelName::parse(GENERAL_CHANNEL)?,
        Some("Everyone in the workspace".into()),
        false,
    )
    .await?;
    audit::record(
        db,
        meta,
        audit::Entry {
            actor: Some(creator.id),
            action: audit::action::WORKSPACE_CREATED,
            target: Some(("workspace", ws.id)),
            details: None,
        },
    )
    .await?;
    Ok(ws)
}

/// `POST /workspaces` (server admins only).
#[tracing::instrument(skip_all, fields(user_id = %principal.user_id))]
pub async fn create(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    name: &str,
) -> AppResult<workspace::Model> {
    if !principal.is_admin() {
        return Err(AppError::forbidden("only admins can create workspaces"));
    }
    let name = WorkspaceName::parse(name)?;
    let creator = super::accounts::get(&state.db, principal.user_id).await?;
    let ws = state
        .write(|tx| Box::pin(async move { create_in(tx, meta, &creator, name).await }))
        .await?;
    state.outbox.committed();
    Ok(ws)
}

fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_end_matches('-').chars().take(40).collect();
    if slug.is_empty() {
        "workspace".into()
    } else {
        slug
    }
}

async fn unique_slug(db: &impl ConnectionTrait, name: &str) -> AppResult<String> {
    let base = slugify(name);
    let taken = workspace::Entity::find()
        .filter(workspace::Column::Slug.eq(base.as_str()))
        .one(db)
        .await?
        .is_some();
    if !taken {
        return Ok(base);
    }
    let suffix: String = opaque::random_bytes::<3>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(format!("{base}-{suffix}"))
}

/// Add a person to a workspace and to its #general channel (with the `member.joined` event);
/// wake the relay (`state.outbox.committed()`) after the commit.
pub async fn add_member(
    db: &DatabaseTransaction,
    workspace_id: Uuid,
    user_id: Uuid,
    role: &str,
) -> AppResult<()> {
    insert_member(db, workspace_id, user_id, role).await?;
    let general = channel::Entity::find()
        .filter(channel::Column::WorkspaceId.eq(workspace_id))
        .filter(channel::Column::Name.eq(GENERAL_CHANNEL))
        .filter(channel::Column::Kind.eq(ChannelKind::Public))
        .filter(channel::Column::ArchivedAt.is_null())
        .one(db)
        .await?;
    if let Some(general) = general
        && channels::add_member_in(db, &general, user_id, ChannelRole::Member).await?
    {
        events::emit_member(
            db,
            &general,
            EventData::MemberJoined,
            user_id,
            user_id,
            ChannelRole::Member,
        )
        .await?;
    }
    Ok(())
}

/// Add a bot or a guest to a workspace without #general: they are in the conversations someone
/// adds them to (SPEC §4: a guest sees only those).
pub async fn add_member_without_channels(
    db: &DatabaseTransaction,
    workspace_id: Uuid,
    user_id: Uuid,
) -> AppResult<()> {
    insert_member(db, workspace_id, user_id, "member").await
}

async fn insert_member(
    db: &impl ConnectionTrait,
    workspace_id: Uuid,
    user_id: Uuid,
    role: &str,
) -> AppResult<()> {
    workspace_member::ActiveModel {
        workspace_id: Set(workspace_id),
        user_id: Set(user_id),
        role: Set(role.to_string()),
        joined_at: Set(now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn membership(
    db: &impl ConnectionTrait,
    workspace_id: Uuid,
    user_id: Uuid,
) -> AppResult<Option<workspace_member::Model>> {
    Ok(
        workspace_member::Entity::find_by_id((workspace_id, user_id))
            .one(db)
            .await?,
    )
}

/// The oldest workspace: where open registration and CLI-created users land.
pub async fn default_workspace(db: &impl ConnectionTrait) -> AppResult<Option<workspace::Model>> {
    Ok(workspace::Entity::find()
        .order_by_asc(workspace::Column::CreatedAt)
        .order_by_asc(workspace::Column::Id)
        .one(db)
        .await?)
}

#[tracing::instrument(skip_all, fields(user_id = %principal.user_id))]
pub async fn list_for(state: &AppState, principal: Principal) -> AppResult<Vec<workspace::Model>> {
    let ids: Vec<Uuid> = workspace_member::Entity::find()
        .select_only()
        .column(workspace_member::Column::WorkspaceId)
        .filter(workspace_member::Column::UserId.eq(principal.user_id))
        .into_tuple()
        .all(&state.db)
        .await?;
    Ok(workspace::Entity::find()
        .filter(workspace::Column::Id.is_in(ids))
        .order_by_asc(workspace::Column::CreatedAt)
        .all(&state.db)
        .await?)
}

/// A workspace the caller may see: members, and server admins.
#[tracing::instrument(skip_all, fields(user_id = %principal.user_id, workspace_id = %id))]
pub async fn get(state: &AppState, principal: Principal, id: Uuid) -> AppResult<workspace::Model> {
    let ws = workspace::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::not_found("workspace"))?;
    if !principal.is_admin()
        && membership(&state.db, id, principal.user_id)
            .await?
            .is_none()
    {
        return Err(AppError::forbidden(
            "you are not a member of this workspace",
        ));
    }
    Ok(ws)
}

pub struct NewInvite {
    pub token: String,
    pub invite: invite::Model,
}

/// Create an invite link. Server admins and workspace owners/admins may; members too when the
/// workspace allows it.
#[tracing::instrument(skip_all, fields(user_id = %principal.user_id, workspace_id = %workspace_id))]
pub async fn create_invite(
    state: &AppState,
    principal: Principal,
    workspace_id: Uuid,
    expires_in_hours: Option<u32>,
    max_uses: Option<u32>,
) -> AppResult<NewInvite> {
    limits::spend(state, principal.user_id, limits::Write::Invite).await?;
    let ws = get(state, principal, workspace_id).await?;
    let member_role = membership(&state.db, ws.id, principal.user_id)
        .await?
        .map(|m| m.role);
    let may_invite = principal.is_admin()
        || matches!(member_role.as_deref(), Some("owner" | "admin"))
        || (ws.allow_member_invites
            && member_role.as_deref() == Some("member")
            && !principal.is_guest());
    if !may_invite {
        return Err(AppError::forbidden(
            "only workspace admins can invite people here",
        ));
    }
    let hours = expires_in_hours.unwrap_or(DEFAULT_INVITE_HOURS);
    if hours == 0 || hours > MAX_INVITE_HOURS {
        return Err(AppError::validation(format!(
            "expires_in_hours: must be 1 to {MAX_INVITE_HOURS}"
        )));
    }
    let max_uses = match max_uses {
        Some(n) if !(1..=100_000).contains(&n) => {
            return Err(AppError::validation("max_uses: must be 1 to 100000"));
        }
        other => other.map(|n| i32::try_from(n).unwrap_or(i32::MAX)),
    };
    let token = opaque::generate();
    let at = now();
    let invite = invite::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(ws.id),
        token_hash: Set(opaque::hash(&token)),
        created_by: Set(Some(principal.user_id)),
        created_at: Set(at),
        expires_at: Set(at + Duration::hours(i64::from(hours))),
        max_uses: Set(max_uses),
        uses: Set(0),
        revoked_at: Set(None),
    };
    let invite = state
        .write(move |tx| Box::pin(async move { Ok(invite.insert(tx).await?) }))
        .await?;
    Ok(NewInvite { token, invite })
}

/// Spend one use of an invite (atomically: expiry and max uses hold under concurrency).
pub async fn redeem_invite(db: &impl ConnectionTrait, token: &str) -> AppResult<invite::Model> {
    let Some(invite) = invite::Entity::find()
        .filter(invite::Column::TokenHash.eq(opaque::hash(token.trim())))
        .one(db)
        .await?
    else {
        return Err(AppError::not_found("invite"));
    };
    let spent = invite::Entity::update_many()
        .col_expr(invite::Column::Uses, Expr::col(invite::Column::Uses).add(1))
        .filter(invite::Column::Id.eq(invite.id))
        .filter(invite::Column::RevokedAt.is_null())
        .filter(invite::Column::ExpiresAt.gt(now()))
        .filter(
            invite::Column::MaxUses
                .is_null()
                .or(Expr::col(invite::Column::Uses).lt(Expr::col(invite::Column::MaxUses))),
        )
        .exec(db)
        .await?;
    if spent.rows_affected != 1 {
        return Err(AppError::new(
            ErrorCode::InviteExpired,
            "this invite has expired or been used up",
        ));
    }
    Ok(invite)
}

/// `POST /invites/{token}/accept`: an existing user joins the invite's workspace.
#[tracing::instrument(skip_all, fields(user_id = %principal.user_id))]
pub async fn accept_invite(
    state: &AppState,
    principal: Principal,
    token: &str,
) -> AppResult<workspace::Model> {
    let token = token.to_string();
    let user_id = principal.user_id;
    let ws = state
        .write(|tx| {
            Box::pin(async move {
                let Some(invite) = invite::Entity::find()
                    .filter(invite::Column::TokenHash.eq(opaque::hash(token.trim())))
                    .one(tx)
                    .await?
                else {
                    return Err(AppError::not_found("invite"));
                };
                // Already a member: nothing to spend.
                if membership(tx, invite.workspace_id, user_id)
                    .await?
                    .is_none()
                {
                    redeem_invite(tx, &token).await?;
                    add_member(tx, invite.workspace_id, user_id, "member").await?;
                }
                workspace::Entity::find_by_id(invite.workspace_id)
                    .one(tx)
                    .await?
                    .ok_or_else(|| AppError::not_found("workspace"))
            })
        })
        .await?;
    state.outbox.committed();
    Ok(ws)
}
