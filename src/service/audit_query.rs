//! Reading the audit log (admin API), newest first, cursor = last entry id (UUIDv7 orders by time).
//! The filter is the export's ([`audit_export::Filter`]): the page and the export of one filter
//! hold the same entries.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::audit_export;
use crate::{
    app::AppState,
    db::entity::audit_log,
    error::{AppError, AppResult},
};

pub struct Page {
    pub items: Vec<audit_log::Model>,
    pub next_cursor: Option<String>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    state: &AppState,
    filter: &audit_export::Filter,
    cursor: Option<&str>,
    limit: u64,
) -> AppResult<Page> {
    let limit = limit.clamp(1, 200);
    let mut q = filter
        .apply(audit_log::Entity::find())
        .order_by_desc(audit_log::Column::Id);
    if let Some(cursor) = cursor {
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
