//! Channels: create, list, get, update, archive, join, leave, add and remove members (the member
//! list: `channel_members`).

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait,
    IntoActiveModel, JoinType, QueryFilter, QueryOrder, QuerySelect, Set, TryInsertResult,
};
use uuid::Uuid;

use super::{
    Principal, access, accounts, events, limits, now, page, read_state, views::ChannelView,
    workspaces,
};
use crate::{
    app::AppState,
    db::entity::{channel, channel_member, workspace_member},
    domain::{
        ChannelKind, ChannelName, ChannelRole, Role,
        events::{ChannelArchived, EventData},
    },
    error::{AppError, AppResult, ErrorCode},
};

pub use super::channel_members::{Member, members};

/// The workspace a request means: the given one (the caller must belong to it), or the caller's
/// first workspace.
pub async fn resolve_workspace(
    db: &impl ConnectionTrait,
    principal: Principal,
    workspace_id: Option<Uuid>,
) -> AppResult<Uuid> {
    match workspace_id {
        Some(id) => {
            if workspaces::membership(db, id, principal.user_id)
                .await?
                .is_none()
            {
                return Err(AppError::forbidden(
                    "you are not a member of this workspace",
                ));
            }
            Ok(id)
        }
        None => workspace_member::Entity::find()
            .filter(workspace_member::Column::UserId.eq(principal.user_id))
            .order_by_asc(workspace_member::Column::JoinedAt)
            .one(db)
            .await?
            .map(|m| m.workspace_id)
            .ok_or_else(|| AppError::forbidden("you are not a member of any workspace")),
    }
}

pub struct NewChannel {
    pub workspace_id: Option<Uuid>,
    pub name: String,
    pub description: Option<String>,
    pub is_private: bool,
}

fn bounded(field: &'static str, value: Option<String>, max: usize) -> AppResult<Option<String>> {
    match value {
        Some(v) if v.chars().count() > max => Err(AppError::validation(format!(
            "{field}: at most {max} characters"
        ))),
        Some(v) if v.trim().is_empty() => Ok(None),
        other => Ok(other.map(|v| v.trim().to_string())),
    }
}

#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id))]
pub async fn create(
    state: &AppState,
    principal: Principal,
    new: NewChannel,
) -> AppResult<ChannelView> {
    if principal.role == Role::Guest {
        return Err(AppError::forbidden("guests cannot create channels"));
    }
    let name = ChannelName::parse(&new.name)?;
    let description = bounded("description", new.description, 250)?;
    limits::spend(state, principal.user_id, limits::Write::Conversation).await?;
    let workspace_id = resolve_workspace(&state.db, principal, new.workspace_id).await?;
    let taken = channel::Entity::find()
        .filter(channel::Column::WorkspaceId.eq(workspace_id))
        .filter(channel::Column::Name.eq(name.as_str()))
        .one(&state.db)
        .await?;
    if taken.is_some() {
        return Err(AppError::conflict(format!(
            "a channel named #{} already exists",
            name.as_str()
        )));
    }
    let (tx, _write) = state.begin_write().await?;
    let channel = create_in(
        &tx,
        workspace_id,
        principal.user_id,
        name,
        description,
        new.is_private,
    )
    .await?;
    events::commit(state, tx).await?;
    get(state, principal, channel.id).await
}

/// Create a channel in the caller's transaction with `creator` as its owner, and write its
/// `channel.created` and `member.joined` events.
pub async fn create_in(
    tx: &DatabaseTransaction,
    workspace_id: Uuid,
    creator: Uuid,
    name: ChannelName,
    description: Option<String>,
    is_private: bool,
) -> AppResult<channel::Model> {
    let at = now();
    let channel = channel::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        kind: Set(if is_private {
            ChannelKind::Private
        } else {
            ChannelKind::Public
        }),
        name: Set(Some(name.into_inner())),
        description: Set(description),
        topic: Set(None),
        dm_key: Set(None),
        created_by: Set(Some(creator)),
        created_at: Set(at),
        updated_at: Set(at),
        archived_at: Set(None),
        last_seq: Set(0),
        last_message_at: Set(None),
        top_level_count: Set(0),
        member_count: Set(0),
        last_top_level_seq: Set(0),
    }
    .insert(tx)
    .await
    .map_err(accounts::unique_to_conflict)?;
    add_member_in(tx, &channel, creator, ChannelRole::Owner).await?;
    let channel = reload(tx, channel).await?;
    let view = ChannelView::of(channel.clone(), Vec::new(), 1);
    events::emit_in(tx, &channel, creator, EventData::ChannelCreated(view)).await?;
    events::emit_member(
        tx,
        &channel,
        EventData::MemberJoined,
        creator,
        creator,
        ChannelRole::Owner,
    )
    .await?;
    Ok(channel)
}

/// Add `user_id` to `channel` unless they are a member already (`INSERT … ON CONFLICT DO
/// NOTHING`, so concurrent identical requests cannot collide); `true` when this call added them.
pub async fn add_member_in(
    db: &DatabaseTransaction,
    channel: &channel::Model,
    user_id: Uuid,
    role: ChannelRole,
) -> AppResult<bool> {
    let inserted = channel_member::Entity::insert(channel_member::ActiveModel {
        channel_id: Set(channel.id),
        user_id: Set(user_id),
        role: Set(role),
        // New members start with the history read: unread counts begin at their arrival.
        last_read_seq: Set(channel.last_seq),
        read_top_level: Set(0),
        own_unread: Set(0),
        mention_count: Set(0),
        muted: Set(false),
        joined_at: Set(now()),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(db)
    .await?;
    let added = matches!(inserted, TryInsertResult::Inserted(n) if n > 0);
    if added {
        // The marker and read counts from the channel row as it is inside this transaction.
        super::read_counts::on_join(db, channel.id, user_id).await?;
    }
    Ok(added)
}

/// The channel's row as it is now in `db` (after members were added: `member_count`).
pub async fn reload(
    db: &impl ConnectionTrait,
    channel: channel::Model,
) -> AppResult<channel::Model> {
    Ok(channel::Entity::find_by_id(channel.id)
        .one(db)
        .await?
        .unwrap_or(channel))
}

pub struct ListFilter {
    pub workspace_id: Option<Uuid>,
    pub include_archived: bool,
}

/// Public channels of the workspace plus private ones the caller is in (no DMs), by name;
/// the cursor is the last name of the previous page.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id))]
pub async fn list(
    state: &AppState,
    principal: Principal,
    filter: ListFilter,
    cursor: Option<&str>,
    limit: u64,
) -> AppResult<(Vec<ChannelView>, Option<String>)> {
    let workspace_id = resolve_workspace(&state.db, principal, filter.workspace_id).await?;
    let limit = page::limit(limit);
    let mut query = channel::Entity::find()
        .filter(channel::Column::WorkspaceId.eq(workspace_id))
        .filter(if principal.is_guest() {
            // Guests: only what they were added to.
            Condition::all()
                .add(channel::Column::Kind.is_in([ChannelKind::Public, ChannelKind::Private]))
                .add(channel::Column::Id.in_subquery(read_state::memberships_of(principal.user_id)))
        } else {
            Condition::any()
                .add(channel::Column::Kind.eq(ChannelKind::Public))
                .add(
                    Condition::all()
                        .add(channel::Column::Kind.eq(ChannelKind::Private))
                        .add(
                            channel::Column::Id
                                .in_subquery(read_state::memberships_of(principal.user_id)),
                        ),
                )
        })
        .order_by_asc(channel::Column::Name);
    if !filter.include_archived {
        query = query.filter(channel::Column::ArchivedAt.is_null());
    }
    if let Some(after) = cursor {
        query = query.filter(channel::Column::Name.gt(after));
    }
    let rows: Vec<(channel::Model, Option<channel_member::Model>)> = read_state::with_member(
        query.limit(limit + 1),
        JoinType::LeftJoin,
        principal.user_id,
    )
    .all(&state.db)
    .await?
    .into_iter()
    .map(|r| (r.seen.channel, r.member))
    .collect();
    let (rows, next) = page::split(rows, limit, |(c, _)| c.name.clone().unwrap_or_default());
    let views = read_state::member_views(&state.db, rows).await?;
    Ok((views, next))
}

#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id, id = %id))]
pub async fn get(state: &AppState, principal: Principal, id: Uuid) -> AppResult<ChannelView> {
    let access = access::readable(&state.db, principal, id).await?;
    let mut views =
        read_state::member_views(&state.db, vec![(access.channel, access.membership)]).await?;
    views.pop().ok_or_else(|| AppError::not_found("channel"))
}

pub struct ChannelUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub topic: Option<String>,
}

#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id, id = %id))]
pub async fn update(
    state: &AppState,
    principal: Principal,
    id: Uuid,
    change: ChannelUpdate,
) -> AppResult<ChannelView> {
    let access = access::readable(&state.db, principal, id).await?;
    access.require_manage()?;
    access.require_not_archived()?;
    if access.is_dm() {
        return Err(AppError::conflict(
            "direct messages have no name, description or topic",
        ));
    }
    let mut active = access.channel.clone().into_active_model();
    if let Some(name) = change.name {
        let name = ChannelName::parse(&name)?;
        if access.channel.name.as_deref() != Some(name.as_str()) {
            let taken = channel::Entity::find()
                .filter(channel::Column::WorkspaceId.eq(access.channel.workspace_id))
                .filter(channel::Column::Name.eq(name.as_str()))
                .one(&state.db)
                .await?;
            if taken.is_some() {
                return Err(AppError::conflict(format!(
                    "a channel named #{} already exists",
                    name.as_str()
                )));
            }
        }
        active.name = Set(Some(name.into_inner()));
    }
    if change.description.is_some() {
        active.description = Set(bounded("description", change.description, 250)?);
    }
    if change.topic.is_some() {
        active.topic = Set(bounded("topic", change.topic, 250)?);
    }
    active.updated_at = Set(now());
    let (tx, _write) = state.begin_write().await?;
    let channel = active
        .update(&tx)
        .await
        .map_err(accounts::unique_to_conflict)?;
    let mut views = read_state::views(&tx, vec![channel.clone()]).await?;
    let view = views.pop().ok_or_else(|| AppError::not_found("channel"))?;
    events::emit_in(
        &tx,
        &channel,
        principal.user_id,
        EventData::ChannelUpdated(view),
    )
    .await?;
    events::commit(state, tx).await?;
    get(state, principal, id).await
}

/// `DELETE /channels/{id}`: archive (read-only from then on; history kept).
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id, id = %id))]
pub async fn archive(state: &AppState, principal: Principal, id: Uuid) -> AppResult<()> {
    let access = access::readable(&state.db, principal, id).await?;
    access.require_manage()?;
    if access.is_dm() {
        return Err(AppError::conflict("direct messages cannot be archived"));
    }
    if access.channel.archived_at.is_some() {
        return Ok(());
    }
    let (tx, _write) = state.begin_write().await?;
    // Conditional, so that of two concurrent archives only one changes the row and announces it.
    let at = now();
    let archived = channel::Entity::update_many()
        .col_expr(
            channel::Column::ArchivedAt,
            sea_orm::sea_query::Expr::value(Some(at)),
        )
        .col_expr(
            channel::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(at),
        )
        .filter(channel::Column::Id.eq(id))
        .filter(channel::Column::ArchivedAt.is_null())
        .exec_with_returning(&tx)
        .await?;
    let Some(channel) = archived.into_iter().next() else {
        return Ok(());
    };
    let archived = ChannelArchived {
        archived_at: channel.archived_at,
        kind: channel.kind,
    };
    events::emit_in(
        &tx,
        &channel,
        principal.user_id,
        EventData::ChannelArchived(archived),
    )
    .await?;
    events::commit(state, tx).await?;
    state.post_access.forget_channel(id);
    Ok(())
}

#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id, id = %id))]
pub async fn join(state: &AppState, principal: Principal, id: Uuid) -> AppResult<ChannelView> {
    if principal.is_guest() {
        let access = access::readable(&state.db, principal, id).await?;
        if access.is_member() {
            return get(state, principal, id).await;
        }
        return Err(AppError::forbidden(
            "guests join only the conversations they are added to",
        ));
    }
    let access = access::readable(&state.db, principal, id)
        .await
        .map_err(|e| {
            if e.code == crate::error::ErrorCode::Forbidden {
                AppError::forbidden("private conversations are joined by invitation")
            } else {
                e
            }
        })?;
    if !access.channel.kind.is_public() {
        if access.is_member() {
            return get(state, principal, id).await;
        }
        return Err(AppError::forbidden(
            "private conversations are joined by invitation",
        ));
    }
    access.require_not_archived()?;
    if !access.is_member() {
        if workspaces::membership(&state.db, access.channel.workspace_id, principal.user_id)
            .await?
            .is_none()
        {
            return Err(AppError::forbidden(
                "you are not a member of this workspace",
            ));
        }
        let (tx, _write) = state.begin_write().await?;
        // A concurrent join may have added them meanwhile: then there is nothing to announce.
        if add_member_in(&tx, &access.channel, principal.user_id, ChannelRole::Member).await? {
            events::emit_member(
                &tx,
                &access.channel,
                EventData::MemberJoined,
                principal.user_id,
                principal.user_id,
                ChannelRole::Member,
            )
            .await?;
        }
        events::commit(state, tx).await?;
    }
    get(state, principal, id).await
}

#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id, id = %id))]
pub async fn leave(state: &AppState, principal: Principal, id: Uuid) -> AppResult<()> {
    let access = access::readable(&state.db, principal, id).await?;
    if access.is_dm() {
        return Err(AppError::conflict("you cannot leave a direct message"));
    }
    if !access.is_member() {
        return Ok(());
    }
    remove(state, &access.channel, principal.user_id, principal.user_id).await
}

async fn remove(
    state: &AppState,
    channel: &channel::Model,
    user_id: Uuid,
    actor: Uuid,
) -> AppResult<()> {
    let (tx, _write) = state.begin_write().await?;
    // The row as deleted: the event tells the role the person had.
    if let Some(gone) = channel_member::Entity::delete_by_id((channel.id, user_id))
        .exec_with_returning(&tx)
        .await?
    {
        super::read_counts::on_leave(&tx, channel.id).await?;
        events::emit_member(
            &tx,
            channel,
            EventData::MemberLeft,
            actor,
            user_id,
            gone.role,
        )
        .await?;
    }
    events::commit(state, tx).await?;
    state.post_access.forget_member(channel.id, user_id);
    Ok(())
}

/// Add someone: channel owners/admins (and server admins); any member for public channels.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id, id = %id))]
pub async fn add_member(
    state: &AppState,
    principal: Principal,
    id: Uuid,
    user_id: Uuid,
) -> AppResult<()> {
    limits::spend(state, principal.user_id, limits::Write::Invite).await?;
    let access = access::readable(&state.db, principal, id).await?;
    if access.is_dm() {
        return Err(AppError::conflict(
            "direct messages have a fixed set of participants",
        ));
    }
    let allowed = access.is_channel_admin()
        || access.is_moderator()
        || (access.channel.kind.is_public() && access.is_member() && !principal.is_guest());
    if !allowed {
        return Err(AppError::forbidden(
            "only channel owners and admins can add people here",
        ));
    }
    access.require_not_archived()?;
    let target = accounts::get(&state.db, user_id).await?;
    if workspaces::membership(&state.db, access.channel.workspace_id, target.id)
        .await?
        .is_none()
        || target.deactivated_at.is_some()
    {
        return Err(AppError::new(
            ErrorCode::NotFound,
            "user_id: that user is not in this workspace",
        ));
    }
    if channel_member::Entity::find_by_id((id, user_id))
        .one(&state.db)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let (tx, _write) = state.begin_write().await?;
    // Added by a concurrent request meanwhile: the same answer, announced once.
    if add_member_in(&tx, &access.channel, user_id, ChannelRole::Member).await? {
        events::emit_member(
            &tx,
            &access.channel,
            EventData::MemberJoined,
            principal.user_id,
            user_id,
            ChannelRole::Member,
        )
        .await?;
    }
    events::commit(state, tx).await
}

/// Remove someone (owners/admins; anyone may remove themselves).
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id, id = %id))]
pub async fn remove_member(
    state: &AppState,
    principal: Principal,
    id: Uuid,
    user_id: Uuid,
) -> AppResult<()> {
    let access = access::readable(&state.db, principal, id).await?;
    if access.is_dm() {
        return Err(AppError::conflict(
            "direct messages have a fixed set of participants",
        ));
    }
    if user_id != principal.user_id {
        access.require_manage()?;
    }
    if channel_member::Entity::find_by_id((id, user_id))
        .one(&state.db)
        .await?
        .is_none()
    {
        return Err(AppError::not_found("channel member"));
    }
    remove(state, &access.channel, user_id, principal.user_id).await
}
