//! The outbox relay: publishes committed outbox rows to the bus in `position` order and marks
//! them published; prunes published rows after the retention period. Woken right after commits
//! on this node, and polls as a fallback (rows written by other nodes or left by a crash).

use std::{sync::Arc, time::Duration};

use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use tokio::sync::Notify;

use super::EventBus;
use crate::{db::entity::outbox, domain::events::Event, workers::Shutdown};

const BATCH: u64 = 500;
const POLL: Duration = Duration::from_millis(500);

pub struct Relay {
    pub db: DatabaseConnection,
    pub bus: Arc<dyn EventBus>,
    pub wakeup: Arc<Notify>,
    pub gate: crate::db::WriteGate,
}

impl Relay {
    pub async fn run(self, mut shutdown: Shutdown) {
        loop {
            match self.drain().await {
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox relay: publishing failed; retrying"),
            }
            tokio::select! {
                _ = self.wakeup.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.changed() => {
                    // Publish what was committed before stopping.
                    let _ = self.drain().await;
                    return;
                }
            }
        }
    }

    /// Publish every unpublished row, oldest first. Returns how many were published.
    pub async fn drain(&self) -> Result<usize, sea_orm::DbErr> {
        let mut total = 0;
        loop {
            let rows = outbox::Entity::find()
                .filter(outbox::Column::PublishedAt.is_null())
                .order_by_asc(outbox::Column::Position)
                .limit(BATCH)
                .all(&self.db)
                .await?;
            if rows.is_empty() {
                return Ok(total);
            }
            let mut published = Vec::with_capacity(rows.len());
            for row in &rows {
                match serde_json::from_str::<Event>(&row.payload) {
                    Ok(event) => {
                        if let Err(e) = self.bus.publish(Arc::new(event)).await {
                            tracing::warn!(error = %e, "outbox relay: bus unavailable");
                            break;
                        }
                    }
                    // A row that can never be published must not block the ones behind it.
                    Err(e) => {
                        tracing::error!(position = row.position, error = %e, "outbox row is not a valid event; skipping")
                    }
                }
                published.push(row.position);
            }
            let n = published.len();
            if n == 0 {
                return Ok(total);
            }
            let _write = self.gate.enter().await;
            outbox::Entity::update_many()
                .col_expr(
                    outbox::Column::PublishedAt,
                    Expr::value(time::OffsetDateTime::now_utc()),
                )
                .filter(outbox::Column::Position.is_in(published))
                .exec(&self.db)
                .await?;
            drop(_write);
            total += n;
            if n < rows.len() {
                return Ok(total);
            }
        }
    }
}

/// Delete published rows older than `retention`.
pub async fn prune(db: &DatabaseConnection, retention: Duration) -> Result<u64, sea_orm::DbErr> {
    let cutoff = time::OffsetDateTime::now_utc() - retention;
    let result = outbox::Entity::delete_many()
        .filter(outbox::Column::PublishedAt.is_not_null())
        .filter(outbox::Column::PublishedAt.lt(cutoff))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
