//! The admin console's workspace and channel lists, and the changes only admins make
//! (unarchiving, making a channel public or private). Renaming
//! and archiving are the channel routes' own (`service::channels`), which server admins may use
//! on any public or private channel as moderators.
//!
//! Invariants: the list's numbers come from the channel row (`member_count`, kept by every
//! membership change; `last_seq`, every message ever sent there, replies and deleted ones
//! included), so a page costs one query whatever the number of messages; direct messages are
//! not listed (admins moderate channels, not private conversations).
//! - A public channel made private stops reaching anyone but its members at once: reads and
//!   searches check the kind on every request, and the same transaction emits the internal
//!   `channel.restricted` with the member list, on which every node's hub ends the other
//!   connections' subscriptions. Posting was for members only already.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, Func},
};
use uuid::Uuid;

use super::{Principal, RequestMeta, audit, events, now, read_state, users};
use crate::{
    app::AppState,
    db::entity::{channel, channel_member, workspace, workspace_member},
    domain::{
        ChannelKind,
        events::{ChannelRestricted, EventData},
    },
    error::{AppError, AppResult},
};

/// Which channels the list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archived {
    /// Both.
    Any,
    Live,
    Archived,
}

pub struct ListQuery<'a> {
    /// Part of the name, any case.
    pub text: Option<&'a str>,
    pub workspace_id: Option<Uuid>,
    pub kind: Option<ChannelKind>,
    pub archived: Archived,
    /// The last id of the previous page.
    pub cursor: Option<&'a str>,
    pub limit: u64,
}

pub struct Page {
    pub items: Vec<channel::Model>,
    pub next_cursor: Option<String>,
}

/// Public and private channels by name (then id), filtered.
#[tracing::instrument(skip_all)]
pub async fn list(state: &AppState, q: ListQuery<'_>) -> AppResult<Page> {
    let limit = q.limit.clamp(1, users::MAX_PAGE);
    let name = || Expr::expr(Func::lower(Expr::col(channel::Column::Name)));
    let mut filter = Condition::all().add(match q.kind {
        Some(kind) if !kind.is_dm() => channel::Column::Kind.eq(kind),
        Some(_) => return Err(AppError::validation("kind: public or private")),
        None => channel::Column::Kind.is_in([ChannelKind::Public, ChannelKind::Private]),
    });
    if let Some(text) = q.text.map(str::trim).filter(|t| !t.is_empty()) {
        let escaped = text.to_lowercase().replace(['%', '_', '\\'], "");
        filter = filter.add(name().like(format!("%{escaped}%")));
    }
    if let Some(ws) = q.workspace_id {
        filter = filter.add(channel::Column::WorkspaceId.eq(ws));
    }
    filter = match q.archived {
        Archived::Any => filter,
        Archived::Live => filter.add(channel::Column::ArchivedAt.is_null()),
        Archived::Archived => filter.add(channel::Column::ArchivedAt.is_not_null()),
    };
    if let Some(cursor) = q.cursor {
        let bad = || AppError::validation("cursor: not a cursor of this list");
        let id: Uuid = cursor.parse().map_err(|_| bad())?;
        let last = channel::Entity::find_by_id(id)
            .one(&state.db)
            .await?
            .ok_or_else(bad)?;
        let last_name = last.name.unwrap_or_default().to_lowercase();
        filter = filter.add(
            Condition::any().add(name().gt(last_name.clone())).add(
                Condition::all()
                    .add(name().eq(last_name))
                    .add(channel::Column::Id.gt(id)),
            ),
        );
    }
    let mut items = channel::Entity::find()
        .filter(filter)
        .order_by_asc(name())
        .order_by_asc(channel::Column::Id)
        .limit(limit + 1)
        .all(&state.db)
        .await?;
    let next_cursor = if items.len() as u64 > limit {
        items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        items.last().map(|c| c.id.to_string())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// The most workspaces [`workspaces`] lists.
pub const MAX_WORKSPACES: u64 = 500;

/// A workspace with its numbers.
pub struct WorkspaceCounts {
    pub workspace: workspace::Model,
    pub members: i64,
    /// Public and private channels, archived ones included.
    pub channels: i64,
    /// Messages ever sent in its channels and DMs.
    pub messages: i64,
}

/// Every workspace, oldest first, with its members, channels and messages: three grouped
/// queries whatever the number of workspaces (at most [`MAX_WORKSPACES`]).
#[tracing::instrument(skip_all)]
pub async fn workspaces(state: &AppState) -> AppResult<Vec<WorkspaceCounts>> {
    let db = &state.db;
    let list = workspace::Entity::find()
        .order_by_asc(workspace::Column::CreatedAt)
        .order_by_asc(workspace::Column::Id)
        .limit(MAX_WORKSPACES)
        .all(db)
        .await?;
    let members: HashMap<Uuid, i64> = workspace_member::Entity::find()
        .select_only()
        .column(workspace_member::Column::WorkspaceId)
        .expr(Expr::cust("COUNT(*)"))
        .group_by(workspace_member::Column::WorkspaceId)
        .into_tuple::<(Uuid, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let channels: HashMap<Uuid, (i64, i64)> = channel::Entity::find()
        .select_only()
        .column(channel::Column::WorkspaceId)
        .expr(Expr::cust(
            "CAST(SUM(CASE WHEN kind IN ('public', 'private') THEN 1 ELSE 0 END) AS BIGINT)",
        ))
        .expr(Expr::cust("CAST(COALESCE(SUM(last_seq), 0) AS BIGINT)"))
        .group_by(channel::Column::WorkspaceId)
        .into_tuple::<(Uuid, i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, n, m)| (id, (n, m)))
        .collect();
    Ok(list
        .into_iter()
        .map(|w| {
            let (channels, messages) = channels.get(&w.id).copied().unwrap_or((0, 0));
            WorkspaceCounts {
                members: members.get(&w.id).copied().unwrap_or(0),
                channels,
                messages,
                workspace: w,
            }
        })
        .collect())
}

/// Bring an archived channel back: people can post in it again. Emits `channel.updated` (the
/// view's `archived_at` is null again). Unarchiving a live channel changes nothing.
#[tracing::instrument(skip_all, fields(user_id = %principal.user_id, id = %id))]
pub async fn unarchive(state: &AppState, principal: Principal, id: Uuid) -> AppResult<()> {
    users::require_admin(principal)?;
    channel_not_dm(state, id, "direct messages are never archived").await?;
    let (tx, _write) = state.begin_write().await?;
    // Conditional, so that of two concurrent unarchives only one announces it.
    let changed = channel::Entity::update_many()
        .col_expr(
            channel::Column::ArchivedAt,
            Expr::value(Option::<time::OffsetDateTime>::None),
        )
        .col_expr(channel::Column::UpdatedAt, Expr::value(now()))
        .filter(channel::Column::Id.eq(id))
        .filter(channel::Column::ArchivedAt.is_not_null())
        .exec_with_returning(&tx)
        .await?;
    let Some(channel) = changed.into_iter().next() else {
        return Ok(());
    };
    announce_updated(&tx, &channel, principal.user_id).await?;
    // Nothing cached needs forgetting: the post cache holds live channels only.
    events::commit(state, tx).await?;
    Ok(())
}

/// Make a channel public or private (admins). Emits `channel.updated`, and when it becomes
/// private `channel.restricted` (see the module docs); one audit entry. The same kind again
/// changes nothing.
#[tracing::instrument(skip_all, fields(user_id = %principal.user_id, id = %id))]
pub async fn set_kind(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    id: Uuid,
    to: ChannelKind,
) -> AppResult<()> {
    users::require_admin(principal)?;
    if to.is_dm() {
        return Err(AppError::validation("kind: public or private"));
    }
    let found = channel_not_dm(
        state,
        id,
        "direct messages are neither public nor private channels",
    )
    .await?;
    if found.kind == to {
        return Ok(());
    }
    let (tx, _write) = state.begin_write().await?;
    // Conditional, so that of two concurrent changes only one announces it.
    let changed = channel::Entity::update_many()
        .col_expr(channel::Column::Kind, Expr::value(to))
        .col_expr(channel::Column::UpdatedAt, Expr::value(now()))
        .filter(channel::Column::Id.eq(id))
        .filter(channel::Column::Kind.eq(found.kind))
        .exec_with_returning(&tx)
        .await?;
    let Some(channel) = changed.into_iter().next() else {
        return Ok(());
    };
    announce_updated(&tx, &channel, principal.user_id).await?;
    if to == ChannelKind::Private {
        let member_ids: Vec<Uuid> = channel_member::Entity::find()
            .select_only()
            .column(channel_member::Column::UserId)
            .filter(channel_member::Column::ChannelId.eq(id))
            .into_tuple()
            .all(&tx)
            .await?;
        let restricted = ChannelRestricted {
            channel_id: id,
            member_ids,
        };
        events::emit_in(
            &tx,
            &channel,
            principal.user_id,
            EventData::ChannelRestricted(restricted),
        )
        .await?;
    }
    audit::record(
        &tx,
        meta,
        audit::Entry {
            actor: principal.audit_actor(),
            action: audit::action::CHANNEL_KIND_CHANGED,
            target: Some(("channel", id)),
            details: Some(serde_json::json!({
                "name": channel.name,
                "from": found.kind.as_str(),
                "to": to.as_str(),
            })),
        },
    )
    .await?;
    events::commit(state, tx).await
}

/// A public or private channel by id: 404 unknown, 409 (`why`) for a direct message.
async fn channel_not_dm(state: &AppState, id: Uuid, why: &str) -> AppResult<channel::Model> {
    let found = channel::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::not_found("channel"))?;
    if found.kind.is_dm() {
        return Err(AppError::conflict(why.to_string()));
    }
    Ok(found)
}

/// `channel.updated` with the channel as it is now inside `tx`.
async fn announce_updated(
    tx: &sea_orm::DatabaseTransaction,
    channel: &channel::Model,
    actor: Uuid,
) -> AppResult<()> {
    let view = read_state::views(tx, vec![channel.clone()])
        .await?
        .pop()
        .ok_or_else(|| AppError::not_found("channel"))?;
    events::emit_in(tx, channel, actor, EventData::ChannelUpdated(view)).await
}
