//! The outbox relay: publishes committed outbox rows to the bus in `position` order.
//!
//! The outbox table is the truth; the relay keeps an in-memory cursor (the highest position
//! published) and two fast paths around it:
//!
//! - **Hand-over.** The message writer, the one hot writer, hands its committed events (with
//!   their positions) to the relay through the [`OutboxFeed`], so they are published without
//!   being read back from the table. A hand-over that would not fit is dropped: the relay then
//!   finds those rows in the table, like every other committer's rows.
//! - **Lazy recording.** `published_at` is written for published rows in one UPDATE every
//!   `MARK_INTERVAL` (and at shutdown) instead of after every commit, which made the relay a second
//!   writer competing for SQLite's single write lock on every message batch. After a crash, rows
//!   published but not yet recorded are published again: delivery is at-least-once and consumers
//!   dedupe by event id.
//!
//! Other committers only wake the relay ([`OutboxFeed::committed`]); it then reads the rows past
//! its cursor. Before publishing a hand-over that does not continue the cursor, it reads the gap
//! from the table, so events keep their position order.
//!
//! On PostgreSQL, concurrent transactions can commit positions out of order, so a row can become
//! visible behind the cursor; each recording pass therefore also publishes unrecorded rows behind
//! it. Rows of one channel are always in order (their transactions serialise on the channel row).

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use tokio::sync::{Notify, mpsc};
use tracing::Instrument;

use super::{BusError, EventBus};
use crate::{
    db::entity::outbox,
    domain::events::Event,
    telemetry::metrics::DeadLetter,
    workers::{Shutdown, Worker},
};

/// Why a relay pass stopped early; the next pass retries from the cursor, after a back-off.
#[derive(Debug, thiserror::Error)]
enum PassError {
    #[error("reading or recording the outbox failed: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// Longest wait between retries while the database or the bus fails.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

const BATCH: u64 = 500;
/// How often published rows are recorded as such.
const MARK_INTERVAL: Duration = Duration::from_millis(250);
/// Most rows recorded by one UPDATE (the write lock is held meanwhile).
const MARK_RUN: i64 = 2000;
/// Record earlier when this many rows wait to be recorded.
const MARK_MAX: usize = 5000;
/// Hand-overs waiting for the relay; past this, committers fall back to waking it.
const HANDOVER_QUEUE: usize = 1024;

/// Committed events with their outbox positions.
pub type Committed = Vec<(i64, Arc<Event>)>;

/// The committers' side of the relay: cheap to clone, kept in the app state.
#[derive(Clone)]
pub struct OutboxFeed {
    wakeup: Arc<Notify>,
    handovers: mpsc::Sender<Committed>,
    /// The relay's cursor: every row up to it was published (for `outbox_pending_events`).
    published_through: Arc<AtomicI64>,
}

/// The relay's side of the feed.
pub struct FeedReceiver {
    wakeup: Arc<Notify>,
    handovers: mpsc::Receiver<Committed>,
    published_through: Arc<AtomicI64>,
}

pub fn feed() -> (OutboxFeed, FeedReceiver) {
    let wakeup = Arc::new(Notify::new());
    let (tx, rx) = mpsc::channel(HANDOVER_QUEUE);
    let published_through = Arc::new(AtomicI64::new(0));
    (
        OutboxFeed {
            wakeup: wakeup.clone(),
            handovers: tx,
            published_through: published_through.clone(),
        },
        FeedReceiver {
            wakeup,
            handovers: rx,
            published_through,
        },
    )
}

impl OutboxFeed {
    /// A transaction that wrote outbox rows has committed: the relay reads them from the table.
    pub fn committed(&self) {
        self.wakeup.notify_one();
    }

    /// A transaction that wrote these outbox rows has committed: publish them without reading
    /// them back. Never blocks; when the relay is far behind, it reads them from the table.
    pub fn hand_over(&self, committed: Committed) {
        if committed.is_empty() {
            return;
        }
        if self.handovers.try_send(committed).is_err() {
            self.committed();
        }
    }

    /// Outbox rows committed and not yet published: those past the relay's cursor. (A row that
    /// commits behind the cursor on PostgreSQL is published within `MARK_INTERVAL` and not
    /// counted meanwhile.)
    pub async fn pending(&self, db: &DatabaseConnection) -> Result<u64, sea_orm::DbErr> {
        use sea_orm::PaginatorTrait;
        outbox::Entity::find()
            .filter(outbox::Column::Position.gt(self.published_through.load(Ordering::Relaxed)))
            .filter(outbox::Column::PublishedAt.is_null())
            .count(db)
            .await
    }
}

pub struct Relay {
    pub db: DatabaseConnection,
    pub bus: Arc<dyn EventBus>,
    pub feed: FeedReceiver,
    pub gate: crate::db::WriteGate,
    pub metrics: Arc<crate::telemetry::Metrics>,
    /// Whether this node relays: always with an in-process bus; with a shared bus, while it
    /// holds the relay lease (`cluster.rs`).
    pub leadership: crate::cluster::Leadership,
}

/// What the relay knows beyond the table.
#[derive(Default)]
struct Progress {
    /// Highest position published.
    cursor: i64,
    /// The cursor when published rows were last recorded: every row published before then is
    /// at or below it.
    recorded_through: i64,
    /// Published since the last recording.
    unrecorded: BTreeSet<i64>,
    /// Handed-over events not yet published, by position.
    handed: BTreeMap<i64, Arc<Event>>,
    /// Rows may have been committed past the cursor without a hand-over: read the table.
    stale: bool,
}

impl Progress {
    /// Whether the row at `position` was published and not yet known to be recorded — or
    /// recorded, for anything at or below `recorded_through` (the catch-up finds exceptions).
    fn seen(&self, position: i64) -> bool {
        position <= self.recorded_through || self.unrecorded.contains(&position)
    }

    fn published(&mut self, position: i64) {
        self.cursor = self.cursor.max(position);
        self.unrecorded.insert(position);
    }
}

#[async_trait::async_trait]
impl Worker for Relay {
    fn name(&self) -> &'static str {
        "outbox-relay"
    }

    async fn run(self: Box<Self>, shutdown: Shutdown) {
        self.work(shutdown).await;
    }
}

impl Relay {
    /// Publish events in order, timed (`outbox_publish_duration_seconds`, one observation per
    /// batch); the span joins the first event's trace.
    async fn publish(&self, events: Vec<Arc<Event>>) -> Result<(), BusError> {
        let Some(first) = events.first() else {
            return Ok(());
        };
        let started = Instant::now();
        let count = events.len() as u64;
        let span = crate::telemetry::otlp::continued(
            tracing::debug_span!("bus.publish", event = first.kind().as_str(), events = count),
            first.traceparent.as_deref(),
        );
        let result = self.bus.publish_all(events).instrument(span).await;
        self.metrics
            .outbox_publish
            .observe(started.elapsed().as_secs_f64());
        if result.is_ok() {
            self.metrics.outbox_published.inc_by(count);
        }
        result
    }

    /// While another node relays: drop hand-overs (that node reads the rows from the table)
    /// until this node leads (`true`) or shuts down (`false`).
    async fn follow(&mut self, shutdown: &mut Shutdown) -> bool {
        loop {
            if self.leadership.is_leader() {
                return true;
            }
            tokio::select! {
                () = self.leadership.changed() => {}
                Some(_) = self.feed.handovers.recv() => {}
                () = self.feed.wakeup.notified() => {}
                _ = shutdown.changed() => return false,
            }
        }
    }

    /// Publish until shutdown; then publish and record what was committed before it.
    async fn work(mut self, mut shutdown: Shutdown) {
        let fresh = || Progress {
            stale: true,
            ..Progress::default()
        };
        let mut progress = fresh();
        let mut last_mark = Instant::now();
        let mut backoff = Duration::ZERO;
        loop {
            if !self.leadership.is_leader() {
                // A new leader starts from the table: every row not recorded as published.
                if !self.follow(&mut shutdown).await {
                    return;
                }
                progress = fresh();
            }
            while let Ok(committed) = self.feed.handovers.try_recv() {
                progress.handed.extend(committed);
            }
            let mut outcome = self.publish_new(&mut progress).await;
            self.feed
                .published_through
                .store(progress.cursor, Ordering::Relaxed);
            // Record and catch up every interval even when nothing new was published: a row can
            // become visible behind the cursor at any time (a late PostgreSQL commit).
            if outcome.is_ok()
                && (Instant::now() >= last_mark + MARK_INTERVAL
                    || progress.unrecorded.len() >= MARK_MAX)
            {
                last_mark = Instant::now();
                outcome = self.mark(&mut progress).await;
            }
            let mut wait = (last_mark + MARK_INTERVAL).saturating_duration_since(Instant::now());
            match outcome {
                Ok(()) => backoff = Duration::ZERO,
                Err(e) => {
                    backoff = (backoff * 2).clamp(Duration::from_millis(100), MAX_BACKOFF);
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "outbox relay: pass failed; retrying");
                    progress.stale = true;
                    wait = backoff;
                }
            }
            tokio::select! {
                () = self.leadership.changed() => {}
                _ = self.feed.wakeup.notified() => progress.stale = true,
                Some(committed) = self.feed.handovers.recv() => progress.handed.extend(committed),
                _ = tokio::time::sleep(wait) => progress.stale = true,
                _ = shutdown.changed() => {
                    // Publish and record what was committed before stopping.
                    while let Ok(committed) = self.feed.handovers.try_recv() {
                        progress.handed.extend(committed);
                    }
                    progress.stale = true;
                    let _ = self.publish_new(&mut progress).await;
                    let _ = self.mark(&mut progress).await;
                    return;
                }
            }
        }
    }

    /// Publish everything past the cursor, oldest first: handed-over events as they continue the
    /// cursor, the table for gaps before them and, when stale, for rows past them.
    async fn publish_new(&self, progress: &mut Progress) -> Result<(), PassError> {
        loop {
            // Hand-overs at or behind the cursor were read from the table already, unless a late
            // commit put them behind it unseen.
            while let Some(entry) = progress.handed.first_entry() {
                let position = *entry.key();
                if position > progress.cursor {
                    break;
                }
                let event = entry.remove();
                if !progress.seen(position) {
                    // On failure the row stays unpublished in the table, for the catch-up.
                    self.publish(vec![event]).await?;
                    progress.unrecorded.insert(position);
                }
            }
            let next_handed = progress.handed.first_key_value().map(|(p, _)| *p);
            match next_handed {
                // Hand-overs continuing the cursor: publish the run of them in one batch.
                Some(position) if position == progress.cursor + 1 => {
                    let run = take_run(&mut progress.handed, position);
                    let events: Vec<Arc<Event>> = run.iter().map(|(_, e)| e.clone()).collect();
                    if let Err(e) = self.publish(events).await {
                        progress.handed.extend(run);
                        return Err(e.into());
                    }
                    for (position, _) in run {
                        progress.published(position);
                    }
                }
                // A gap before the next hand-over: rows of other committers (or a hand-over that
                // did not fit). What the table does not have yet is a late commit, for `mark`.
                Some(position) => {
                    if self.read_past_cursor(progress, Some(position)).await? < BATCH as usize {
                        progress.cursor = progress.cursor.max(position - 1);
                    }
                }
                None if progress.stale => {
                    if self.read_past_cursor(progress, None).await? < BATCH as usize {
                        progress.stale = false;
                        return Ok(());
                    }
                }
                None => return Ok(()),
            }
        }
    }

    /// Publish up to `BATCH` unpublished rows past the cursor (and before `before`); how many.
    async fn read_past_cursor(
        &self,
        progress: &mut Progress,
        before: Option<i64>,
    ) -> Result<usize, PassError> {
        let mut query = outbox::Entity::find()
            .filter(outbox::Column::PublishedAt.is_null())
            .filter(outbox::Column::Position.gt(progress.cursor));
        if let Some(before) = before {
            query = query.filter(outbox::Column::Position.lt(before));
        }
        let rows = query
            .order_by_asc(outbox::Column::Position)
            .limit(BATCH)
            .all(&self.db)
            .await?;
        let n = rows.len();
        let events = self.events_of(&rows, progress);
        self.publish(events).await?;
        for row in rows {
            progress.published(row.position);
        }
        Ok(n)
    }

    /// The events of rows read from the table, using handed-over events where there are some.
    /// A row that is not a valid event is counted and left out: it must not block the ones
    /// behind it.
    fn events_of(&self, rows: &[outbox::Model], progress: &mut Progress) -> Vec<Arc<Event>> {
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(event) = progress.handed.remove(&row.position) {
                events.push(event);
                continue;
            }
            match serde_json::from_str::<Event>(&row.payload) {
                Ok(event) => events.push(Arc::new(Event {
                    traceparent: row.traceparent.clone(),
                    ..event
                })),
                Err(e) => {
                    tracing::error!(position = row.position, error = %e, "outbox row is not a valid event; skipping");
                    self.metrics.dead_letter(DeadLetter::Undecodable);
                }
            }
        }
        events
    }

    /// Record the published rows; then publish rows that committed behind the cursor.
    async fn mark(&self, progress: &mut Progress) -> Result<(), PassError> {
        let now = crate::domain::clock::now();
        for (first, last) in runs(&progress.unrecorded, MARK_RUN) {
            let _write = self.gate.enter().await;
            outbox::Entity::update_many()
                .col_expr(outbox::Column::PublishedAt, Expr::value(now))
                .filter(outbox::Column::Position.between(first, last))
                .exec(&self.db)
                .await?;
            let recorded: Vec<i64> = progress.unrecorded.range(first..=last).copied().collect();
            for position in recorded {
                progress.unrecorded.remove(&position);
            }
        }
        progress.recorded_through = progress.cursor;
        let late = outbox::Entity::find()
            .filter(outbox::Column::PublishedAt.is_null())
            .filter(outbox::Column::Position.lte(progress.cursor))
            .order_by_asc(outbox::Column::Position)
            .limit(BATCH)
            .all(&self.db)
            .await?;
        let late: Vec<outbox::Model> = late
            .into_iter()
            .filter(|row| !progress.unrecorded.contains(&row.position))
            .collect();
        let events = self.events_of(&late, progress);
        self.publish(events).await?;
        for row in late {
            progress.unrecorded.insert(row.position);
        }
        Ok(())
    }
}

/// Remove the handed-over events at consecutive positions from `first` on (at most `BATCH`).
fn take_run(handed: &mut BTreeMap<i64, Arc<Event>>, first: i64) -> Vec<(i64, Arc<Event>)> {
    let mut run = Vec::new();
    let mut next = first;
    while run.len() < BATCH as usize
        && let Some(event) = handed.remove(&next)
    {
        run.push((next, event));
        next += 1;
    }
    run
}

/// Rows deleted per pruning transaction, so pruning never holds the write lock for long.
const PRUNE_BATCH: u64 = 1000;

/// Consecutive positions as inclusive ranges of at most `max` positions each: one short UPDATE
/// per range instead of a statement binding every position.
fn runs(positions: &BTreeSet<i64>, max: i64) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &p in positions {
        match out.last_mut() {
            Some((first, last)) if p == *last + 1 && p - *first < max => *last = p,
            _ => out.push((p, p)),
        }
    }
    out
}

/// Delete published rows older than `retention`, in short write transactions; how many.
pub async fn prune(
    db: &DatabaseConnection,
    gate: &crate::db::WriteGate,
    retention: Duration,
) -> Result<u64, sea_orm::DbErr> {
    let cutoff = crate::domain::clock::now() - retention;
    let mut pruned = 0;
    loop {
        let positions: Vec<i64> = outbox::Entity::find()
            .select_only()
            .column(outbox::Column::Position)
            .filter(outbox::Column::PublishedAt.is_not_null())
            .filter(outbox::Column::PublishedAt.lt(cutoff))
            .order_by_asc(outbox::Column::Position)
            .limit(PRUNE_BATCH)
            .into_tuple()
            .all(db)
            .await?;
        if positions.is_empty() {
            return Ok(pruned);
        }
        let full = positions.len() as u64 == PRUNE_BATCH;
        let _write = gate.enter().await;
        pruned += outbox::Entity::delete_many()
            .filter(outbox::Column::Position.is_in(positions))
            .exec(db)
            .await?
            .rows_affected;
        if !full {
            return Ok(pruned);
        }
    }
}

#[cfg(test)]
#[path = "relay_tests.rs"]
mod tests;
