//! The outbox relay: publishes committed outbox rows to the bus in `position` order.
//!
//! It publishes eagerly and records lazily: new rows are found by an in-memory position cursor
//! and published at once, while `published_at` is written for them in one UPDATE every
//! `MARK_INTERVAL` (and at shutdown). Marking after every commit made the relay a second writer
//! competing for SQLite's single write lock on every message batch. After a crash, rows published
//! but not yet marked are published again on the next start: delivery is at-least-once and
//! consumers dedupe by event id.
//!
//! On PostgreSQL, concurrent transactions can commit positions out of order, so a row can become
//! visible behind the cursor; each flush therefore also publishes unmarked rows behind it. Rows of
//! one channel are always in order (their transactions serialise on the channel row).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use tokio::sync::Notify;

use super::EventBus;
use crate::{db::entity::outbox, domain::events::Event, workers::Shutdown};

const BATCH: u64 = 500;
/// How often published rows are recorded as such.
const MARK_INTERVAL: Duration = Duration::from_millis(250);
/// Record earlier when this many rows wait to be marked.
const MARK_MAX: usize = 5000;

pub struct Relay {
    pub db: DatabaseConnection,
    pub bus: Arc<dyn EventBus>,
    pub wakeup: Arc<Notify>,
    pub gate: crate::db::WriteGate,
}

/// What the relay has published but not yet recorded.
struct Progress {
    cursor: i64,
    unmarked: Vec<i64>,
    last_mark: Instant,
}

impl Relay {
    pub async fn run(self, mut shutdown: Shutdown) {
        let mut progress = Progress {
            cursor: 0,
            unmarked: Vec::new(),
            last_mark: Instant::now(),
        };
        loop {
            if let Err(e) = self.publish_new(&mut progress).await {
                tracing::warn!(error = %e, "outbox relay: publishing failed; retrying");
            }
            // Record and catch up every interval even when nothing new was published: a row can
            // become visible behind the cursor at any time (a late PostgreSQL commit).
            let due = progress.last_mark + MARK_INTERVAL;
            if (Instant::now() >= due || progress.unmarked.len() >= MARK_MAX)
                && let Err(e) = self.mark(&mut progress).await
            {
                tracing::warn!(error = %e, "outbox relay: recording published rows failed; retrying");
            }
            let wait =
                (progress.last_mark + MARK_INTERVAL).saturating_duration_since(Instant::now());
            tokio::select! {
                _ = self.wakeup.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {
                    // Publish and record what was committed before stopping.
                    let _ = self.publish_new(&mut progress).await;
                    let _ = self.mark(&mut progress).await;
                    return;
                }
            }
        }
    }

    /// Publish rows past the cursor, oldest first.
    async fn publish_new(&self, progress: &mut Progress) -> Result<(), sea_orm::DbErr> {
        loop {
            let rows = outbox::Entity::find()
                .filter(outbox::Column::PublishedAt.is_null())
                .filter(outbox::Column::Position.gt(progress.cursor))
                .order_by_asc(outbox::Column::Position)
                .limit(BATCH)
                .all(&self.db)
                .await?;
            let n = rows.len();
            for row in rows {
                self.publish(&row).await;
                progress.cursor = progress.cursor.max(row.position);
                progress.unmarked.push(row.position);
            }
            if (n as u64) < BATCH {
                return Ok(());
            }
        }
    }

    async fn publish(&self, row: &outbox::Model) {
        match serde_json::from_str::<Event>(&row.payload) {
            Ok(event) => {
                if let Err(e) = self.bus.publish(Arc::new(event)).await {
                    tracing::warn!(error = %e, "outbox relay: bus unavailable");
                }
            }
            // A row that can never be published must not block the ones behind it.
            Err(e) => {
                tracing::error!(position = row.position, error = %e, "outbox row is not a valid event; skipping")
            }
        }
    }

    /// Record the published rows; then publish rows that committed behind the cursor.
    async fn mark(&self, progress: &mut Progress) -> Result<(), sea_orm::DbErr> {
        let now = time::OffsetDateTime::now_utc();
        progress.last_mark = Instant::now();
        for chunk in progress.unmarked.chunks(1000) {
            let _write = self.gate.enter().await;
            outbox::Entity::update_many()
                .col_expr(outbox::Column::PublishedAt, Expr::value(now))
                .filter(outbox::Column::Position.is_in(chunk.to_vec()))
                .exec(&self.db)
                .await?;
        }
        progress.unmarked.clear();
        let late = outbox::Entity::find()
            .filter(outbox::Column::PublishedAt.is_null())
            .filter(outbox::Column::Position.lte(progress.cursor))
            .order_by_asc(outbox::Column::Position)
            .limit(BATCH)
            .all(&self.db)
            .await?;
        for row in late {
            self.publish(&row).await;
            progress.unmarked.push(row.position);
        }
        Ok(())
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
