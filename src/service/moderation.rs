//! Reports and the moderation queue: any member reports a message they can read, and the
//! moderation rules file reports of their own (`moderation_rules`); admins see the open reports
//! grouped by message and resolve them by dismissing them, deleting the message, or restoring a
//! message a `hide` rule held back; admins delete any message, in any conversation (DMs
//! included: reports come from them too).
//!
//! Invariants:
//! - One open report per reporter and message (a unique index, see migration 000010); a
//!   resolved report does not stop a new one.
//! - Resolving closes every open report of the message in the transaction that deletes it or
//!   records the dismissal, with one audit row and one `moderation.action` event.

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set, SqlErr,
    sea_query::{Expr, ExprTrait, Func, LockType},
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    Principal, RequestMeta, access, audit, events, latest_page, messages, now, users, views,
};
use crate::{
    app::AppState,
    db::entity::{channel, message, report, user},
    domain::events::{EventData, ModerationAction, ModerationKind},
    error::{AppError, AppResult},
};

/// The longest reason, in characters.
pub const MAX_REASON: usize = 500;

/// Report `message_id` (which `principal` can read) with a reason.
#[tracing::instrument(skip_all, fields(user_id = %principal.user_id, message_id = %message_id))]
pub async fn report(
    state: &AppState,
    principal: Principal,
    message_id: Uuid,
    reason: &str,
) -> AppResult<report::Model> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(AppError::validation("reason: between 1 and 500 characters"));
    }
    let m = messages::find(&state.db, message_id).await?;
    access::readable(&state.db, principal, m.channel_id).await?;
    if m.deleted_at.is_some() {
        return Err(AppError::not_found("message"));
    }
    let row = report::ActiveModel {
        id: Set(Uuid::now_v7()),
        message_id: Set(m.id),
        channel_id: Set(m.channel_id),
        reporter_id: Set(principal.user_id),
        reason: Set(reason.to_string()),
        open_for: Set(Some(m.id)),
        created_at: Set(now()),
        resolution: Set(None),
        resolved_by: Set(None),
        resolved_at: Set(None),
        rule_id: Set(None),
    };
    state
        .write(move |tx| {
            Box::pin(async move {
                row.insert(tx).await.map_err(|e| match e.sql_err() {
                    Some(SqlErr::UniqueConstraintViolation(_)) => {
                        AppError::conflict("you have already reported this message")
                    }
                    _ => e.into(),
                })
            })
        })
        .await
}

/// A message with open reports.
pub struct QueueEntry {
    pub message: message::Model,
    pub channel: channel::Model,
    pub author: Option<user::Model>,
    /// Oldest first.
    pub reports: Vec<report::Model>,
}

pub struct QueuePage {
    pub items: Vec<QueueEntry>,
    pub next_cursor: Option<String>,
}

/// The open queue: messages with open reports, the longest-waiting first (by their first open
/// report's time, then message id). The cursor is the last entry's `<unix ns>.<message id>`.
/// (Not `MIN(id)`: PostgreSQL has no `min` for uuid.)
#[tracing::instrument(skip_all)]
pub async fn queue(state: &AppState, cursor: Option<&str>, limit: u64) -> AppResult<QueuePage> {
    let limit = limit.clamp(1, users::MAX_PAGE);
    let first = Expr::from(Func::min(Expr::col(report::Column::CreatedAt)));
    let mut q = report::Entity::find()
        .select_only()
        .column(report::Column::OpenFor)
        .expr_as(first.clone(), "first")
        .filter(report::Column::OpenFor.is_not_null())
        .group_by(report::Column::OpenFor)
        .order_by_asc(first.clone())
        .order_by_asc(report::Column::OpenFor)
        .limit(limit + 1);
    if let Some(cursor) = cursor {
        let (at, id) = parse_cursor(cursor)?;
        q = q.having(
            Condition::any().add(first.clone().gt(at)).add(
                Condition::all()
                    .add(first.eq(at))
                    .add(report::Column::OpenFor.gt(id)),
            ),
        );
    }
    let mut waiting: Vec<(Uuid, OffsetDateTime)> = q.into_tuple().all(&state.db).await?;
    let next_cursor = if waiting.len() as u64 > limit {
        waiting.truncate(limit as usize);
        waiting
            .last()
            .map(|(id, at)| format!("{}.{id}", at.unix_timestamp_nanos()))
    } else {
        None
    };
    let ids: Vec<Uuid> = waiting.iter().map(|(id, _)| *id).collect();
    let mut reports: HashMap<Uuid, Vec<report::Model>> = HashMap::new();
    for r in report::Entity::find()
        .filter(report::Column::OpenFor.is_in(ids.clone()))
        .order_by_asc(report::Column::Id)
        .all(&state.db)
        .await?
    {
        reports.entry(r.message_id).or_default().push(r);
    }
    let found: HashMap<Uuid, message::Model> = message::Entity::find()
        .filter(message::Column::Id.is_in(ids.clone()))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    let channel_ids: Vec<Uuid> = found.values().map(|m| m.channel_id).collect();
    let channels: HashMap<Uuid, channel::Model> = channel::Entity::find()
        .filter(channel::Column::Id.is_in(channel_ids))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let author_ids: Vec<Uuid> = found.values().map(|m| m.user_id).collect();
    let authors: HashMap<Uuid, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(author_ids))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let items = ids
        .into_iter()
        .filter_map(|id| {
            let message = found.get(&id)?.clone();
            Some(QueueEntry {
                channel: channels.get(&message.channel_id)?.clone(),
                author: authors.get(&message.user_id).cloned(),
                reports: reports.remove(&id).unwrap_or_default(),
                message,
            })
        })
        .collect();
    Ok(QueuePage { items, next_cursor })
}

/// The most messages [`context`] shows on each side of a reported one.
pub const MAX_CONTEXT: u64 = 10;

/// A reported message in its place, for the queue: up to `around` messages before and after
/// it where it was posted (the conversation's top level, or its thread, root included), oldest
/// first, deleted ones left out (the reported one stays), held-back ones included. Only for a
/// message that has been reported (open or resolved; 404 otherwise), so the route is no window
/// into conversations nobody reported.
#[tracing::instrument(skip_all, fields(message_id = %message_id))]
pub async fn context(
    state: &AppState,
    admin: Uuid,
    message_id: Uuid,
    around: u64,
) -> AppResult<Vec<views::MessageView>> {
    let around = Ord::min(around, MAX_CONTEXT);
    let reported = report::Entity::find()
        .filter(report::Column::MessageId.eq(message_id))
        .one(&state.db)
        .await?;
    if reported.is_none() {
        return Err(AppError::not_found("report"));
    }
    let reported = messages::find(&state.db, message_id).await?;
    let place = || {
        let q = message::Entity::find()
            .filter(message::Column::ChannelId.eq(reported.channel_id))
            .filter(message::Column::DeletedAt.is_null());
        match reported.thread_root_id {
            Some(root) => q.filter(
                Condition::any()
                    .add(message::Column::ThreadRootId.eq(root))
                    .add(message::Column::Id.eq(root)),
            ),
            None => q.filter(message::Column::ThreadRootId.is_null()),
        }
    };
    let mut rows = place()
        .filter(message::Column::Seq.lt(reported.seq))
        .order_by_desc(message::Column::Seq)
        .limit(around)
        .all(&state.db)
        .await?;
    rows.reverse();
    let after = place()
        .filter(message::Column::Seq.gt(reported.seq))
        .order_by_asc(message::Column::Seq)
        .limit(around)
        .all(&state.db)
        .await?;
    rows.push(reported);
    rows.extend(after);
    messages::decorate(&state.db, Some(admin), rows).await
}

fn parse_cursor(cursor: &str) -> AppResult<(OffsetDateTime, Uuid)> {
    let bad = || AppError::validation("cursor: not a cursor of this list");
    let (nanos, id) = cursor.split_once('.').ok_or_else(bad)?;
    let nanos: i128 = nanos.parse().map_err(|_| bad())?;
    let at = OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| bad())?;
    Ok((at, id.parse().map_err(|_| bad())?))
}

/// How an admin resolves a queue entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The message stays; its reports close.
    Dismiss,
    /// The message is deleted; its reports close.
    Delete,
    /// The message a `hide` rule held back is shown again; its reports close.
    Restore,
}

/// Resolve the open reports of `message_id`; 404 when it has none.
#[tracing::instrument(skip_all, fields(message_id = %message_id))]
pub async fn resolve(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    message_id: Uuid,
    resolution: Resolution,
) -> AppResult<()> {
    users::require_admin(principal)?;
    let open = report::Entity::find()
        .filter(report::Column::OpenFor.eq(message_id))
        .one(&state.db)
        .await?;
    if open.is_none() {
        return Err(AppError::not_found("open reports for this message"));
    }
    match resolution {
        Resolution::Delete => delete(state, meta, principal, message_id).await,
        Resolution::Restore => restore(state, meta, principal, message_id).await,
        Resolution::Dismiss => {
            let m = messages::find(&state.db, message_id).await?;
            let channel = channel_of(state, &m).await?;
            let (tx, _write) = state.begin_write().await?;
            let n = close_reports(&tx, message_id, principal.audit_actor(), "dismissed").await?;
            if n > 0 {
                record(
                    &tx,
                    meta,
                    principal,
                    &channel,
                    &m,
                    ModerationKind::ReportsDismissed,
                    n,
                )
                .await?;
            }
            events::commit(state, tx).await
        }
    }
}

/// Delete any message as an admin (DMs included), closing its open reports.
#[tracing::instrument(skip_all, fields(message_id = %message_id))]
pub async fn delete(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    message_id: Uuid,
) -> AppResult<()> {
    users::require_admin(principal)?;
    let m = messages::find(&state.db, message_id).await?;
    let channel = channel_of(state, &m).await?;
    let (tx, _write) = state.begin_write().await?;
    let deleted = messages::remove(&tx, &channel, principal.user_id, m.id).await?;
    let n = close_reports(&tx, m.id, principal.audit_actor(), "deleted").await?;
    if deleted.is_some() || n > 0 {
        record(
            &tx,
            meta,
            principal,
            &channel,
            &m,
            ModerationKind::MessageDeleted,
            n,
        )
        .await?;
    }
    events::commit(state, tx).await
}

/// Show a message a `hide` rule held back to everyone again (409 when it is not held back),
/// closing its open reports: `message.updated` to the conversation, `moderation.action` and
/// one audit entry.
async fn restore(
    state: &AppState,
    meta: RequestMeta,
    principal: Principal,
    message_id: Uuid,
) -> AppResult<()> {
    let m = messages::find(&state.db, message_id).await?;
    let channel = channel_of(state, &m).await?;
    let (tx, _write) = state.begin_write().await?;
    let locked = messages::lock_live(&tx, m.id, LockType::Update).await?;
    if locked.hidden_at.is_none() {
        return Err(AppError::conflict(
            "the message is not held back: dismiss its reports instead",
        ));
    }
    let mut active = locked.into_active_model();
    active.hidden_at = Set(None);
    let shown = active.update(&tx).await?;
    let n = close_reports(&tx, m.id, principal.audit_actor(), "restored").await?;
    let view = messages::one(&tx, principal.user_id, shown.clone()).await?;
    messages::emit_updated(&tx, &channel, principal.user_id, &view).await?;
    latest_page::bump(&tx, channel.id).await?;
    record(
        &tx,
        meta,
        principal,
        &channel,
        &shown,
        ModerationKind::MessageRestored,
        n,
    )
    .await?;
    events::commit(state, tx).await
}

async fn channel_of(state: &AppState, m: &message::Model) -> AppResult<channel::Model> {
    channel::Entity::find_by_id(m.channel_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::not_found("conversation"))
}

/// Close every open report of `message_id` with `resolution` (by `admin`; none for the CLI);
/// returns how many.
async fn close_reports(
    tx: &sea_orm::DatabaseTransaction,
    message_id: Uuid,
    admin: Option<Uuid>,
    resolution: &str,
) -> AppResult<u64> {
    Ok(report::Entity::update_many()
        .col_expr(report::Column::OpenFor, Expr::value(Option::<Uuid>::None))
        .col_expr(report::Column::Resolution, Expr::value(resolution))
        .col_expr(report::Column::ResolvedBy, Expr::value(admin))
        .col_expr(report::Column::ResolvedAt, Expr::value(now()))
        .filter(Condition::all().add(report::Column::OpenFor.eq(message_id)))
        .exec(tx)
        .await?
        .rows_affected)
}

/// The audit row and the `moderation.action` event of one moderation.
async fn record(
    tx: &sea_orm::DatabaseTransaction,
    meta: RequestMeta,
    principal: Principal,
    channel: &channel::Model,
    m: &message::Model,
    action: ModerationKind,
    reports_resolved: u64,
) -> AppResult<()> {
    let name = match action {
        ModerationKind::MessageDeleted => audit::action::MESSAGE_DELETED_BY_ADMIN,
        ModerationKind::ReportsDismissed => audit::action::REPORTS_DISMISSED,
        ModerationKind::MessageRestored => audit::action::MESSAGE_RESTORED,
    };
    audit::record(
        tx,
        meta,
        audit::Entry {
            actor: principal.audit_actor(),
            action: name,
            target: Some(("message", m.id)),
            details: Some(serde_json::json!({
                "channel_id": channel.id,
                "author_id": m.user_id,
                "reports_resolved": reports_resolved,
            })),
        },
    )
    .await?;
    let data = EventData::ModerationAction(ModerationAction {
        action,
        message_id: m.id,
        author_id: m.user_id,
        reports_resolved,
    });
    events::emit_in(tx, channel, principal.user_id, data).await
}
