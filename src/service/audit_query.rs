//! Reading the audit log (admin API), newest first, cursor = last entry id (UUIDv7 orders by time).

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    app::AppState,
    db::entity::audit_log,
    error::{AppError, AppResult},
};

pub struct Filter {
    pub actor_id: Option<Uuid>,
    /// What the action was about (a user, a message, a client…).
    pub target_id: Option<Uuid>,
    pub action: Option<String>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    pub cursor: Option<String>,
    pub limit: u64,
}

pub struct Page {
    pub items: Vec<audit_log::Model>,
    pub next_cursor: Option<String>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(state: &AppState, f: Filter) -> AppResult<Page> {
    let limit = f.limit.clamp(1, 200);
    let mut q = audit_log::Entity::find().order_by_desc(audit_log::Column::Id);
    if let Some(actor) = f.actor_id {
        q = q.filter(audit_log::Column::ActorId.eq(actor));
    }
    if let Some(target) = f.target_id {
        q = q.filter(audit_log::Column::TargetId.eq(target));
    }
    if let Some(action) = f.action {
        q = q.filter(audit_log::Column::Action.eq(action));
    }
    if let Some(from) = f.from {
        q = q.filter(audit_log::Column::CreatedAt.gte(from));
    }
    if let Some(to) = f.to {
        q = q.filter(audit_log::Column::CreatedAt.lt(to));
    }
    if let Some(cursor) = f.cursor {
        let before: Uuid = cursor
            .parse()
            .map_err(|_| AppError::validation("cursor: not a valid cursor"))?;
        q = q.filter(audit_log::Column::Id.lt(before));
    }
    let mut items = q.limit(limit + 1).all(&state.db).await?;
    let next_cursor = if items.len() as u64 > limit {
        items.truncate(limit as usize);
        items.last().map(|e| e.id.to_string())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}
