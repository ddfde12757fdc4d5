//! The indexer: keeps the tantivy index current from the event bus.
//!
//! **Watermark.** Every commit records, in the index itself, the time of the newest event it
//! applied (`Payload::watermark`). On start, the indexer replays the outbox from
//! `watermark − REPLAY_MARGIN` in position order, then follows the bus; a bus subscription that
//! fell behind (`Lagged`) replays the outbox the same way. Replays are harmless: a message's
//! document is replaced by id, and events applied in position order end in the message's
//! current state. The margin covers events that committed out of time order (concurrent
//! PostgreSQL transactions) or were still on their way to the bus when the last commit was made.
//!
//! **Rebuild.** A missing, damaged, half-built or older index, or a watermark older than the
//! outbox keeps rows (`bus.outbox_retention`), is rebuilt from the messages table; searches
//! answer `search_unavailable` meanwhile. The rebuild's watermark is the time it started, so the
//! replay that follows it brings in whatever changed while it ran.
//!
//! **Batching.** Events are applied in batches, committed at most `COMMIT_DELAY` after the first
//! one arrived (so a message is searchable well within a second) or when `MAX_BATCH` are waiting.
//! Writing to the index is blocking work: it runs on the blocking pool.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use tantivy::IndexWriter;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    Document, Progress, SearchError,
    tantivy_index::{Payload, TantivyIndex, payload_json},
};
use crate::{
    app::AppState,
    bus::{Dedup, RecvError},
    db::entity::{message, outbox},
    domain::events::{Event, EventData, EventKind},
    service::{decorate, views::MessageView},
    workers::{Shutdown, Worker},
};

/// Events replayed from before the watermark (see the module docs).
const REPLAY_MARGIN: Duration = Duration::from_secs(60);
/// Longest an applied event waits for its commit.
const COMMIT_DELAY: Duration = Duration::from_millis(200);
/// Commit earlier when this many changes wait.
const MAX_BATCH: usize = 5_000;
/// Rows read per query while rebuilding or replaying.
const PAGE: u64 = 2_000;
/// Wait after a failure before trying again.
const RETRY: Duration = Duration::from_secs(5);

/// What the indexer does first (from `Search::open`).
pub enum Start {
    /// The index is current up to this watermark: replay the outbox from there.
    CatchUp(OffsetDateTime),
    /// The index is empty and must be rebuilt, for this reason.
    Rebuild(String),
}

/// A change to the index.
#[derive(Debug, Clone)]
enum Change {
    Upsert(Document),
    Delete(Uuid),
}

impl Change {
    /// The change an event makes, if any.
    fn of(event: &Event) -> Option<Self> {
        match &event.data {
            EventData::MessageCreated(view) | EventData::MessageUpdated(view) => {
                Some(if view.deleted {
                    Change::Delete(view.id)
                } else {
                    Change::Upsert(document(view))
                })
            }
            EventData::MessageDeleted(deleted) => Some(Change::Delete(deleted.id)),
            _ => None,
        }
    }
}

fn document(view: &MessageView) -> Document {
    Document {
        id: view.id,
        channel_id: view.channel_id,
        user_id: view.user_id,
        created_at: view.created_at,
        has_file: !view.files.is_empty(),
        text: view.content.clone(),
    }
}

const INDEXED_KINDS: [EventKind; 3] = [
    EventKind::MessageCreated,
    EventKind::MessageUpdated,
    EventKind::MessageDeleted,
];

pub struct Indexer {
    pub state: Arc<AppState>,
    pub index: Arc<TantivyIndex>,
    pub start: Start,
}

/// The writer and the changes waiting for its next commit.
struct Batch {
    index: Arc<TantivyIndex>,
    writer: Arc<Mutex<IndexWriter>>,
    changes: Vec<Change>,
    /// Newest event time among everything applied (the watermark once committed).
    newest: Option<OffsetDateTime>,
    /// Oldest event time among `changes` (for the lag).
    oldest: Option<OffsetDateTime>,
    first_at: Option<Instant>,
}

impl Batch {
    fn push(&mut self, change: Change, occurred_at: OffsetDateTime) {
        self.first_at.get_or_insert_with(Instant::now);
        self.oldest = Some(self.oldest.map_or(occurred_at, |o| o.min(occurred_at)));
        self.newest = Some(self.newest.map_or(occurred_at, |n| n.max(occurred_at)));
        self.changes.push(change);
    }

    fn due(&self) -> Option<Instant> {
        self.first_at.map(|t| t + COMMIT_DELAY)
    }

    /// Apply the waiting changes and commit them with the watermark; searches see them after.
    async fn commit(&mut self) -> Result<Option<Progress>, SearchError> {
        let Some(watermark) = self.newest else {
            return Ok(None);
        };
        let changes = std::mem::take(&mut self.changes);
        let (index, writer) = (self.index.clone(), self.writer.clone());
        let oldest = self.oldest.take();
        self.first_at = None;
        blocking(move || apply(&index, &writer, changes, Some(watermark))).await?;
        let lag = oldest.map_or(Duration::ZERO, |o| {
            (crate::domain::clock::now() - o)
                .try_into()
                .unwrap_or(Duration::ZERO)
        });
        Ok(Some(Progress::Ready { watermark, lag }))
    }
}

/// Write `changes` and commit with `watermark` (blocking).
fn apply(
    index: &TantivyIndex,
    writer: &Mutex<IndexWriter>,
    changes: Vec<Change>,
    watermark: Option<OffsetDateTime>,
) -> Result<(), SearchError> {
    let mut writer = lock(writer)?;
    for change in changes {
        match change {
            Change::Upsert(doc) => index.upsert(&writer, &doc)?,
            Change::Delete(id) => index.delete(&writer, id),
        }
    }
    let mut commit = writer.prepare_commit()?;
    commit.set_payload(&payload_json(&Payload::at(watermark)));
    commit.commit()?;
    index.reload()?;
    Ok(())
}

#[async_trait::async_trait]
impl Worker for Indexer {
    fn name(&self) -> &'static str {
        "search-indexer"
    }

    async fn run(self: Box<Self>, mut shutdown: Shutdown) {
        let Indexer {
            state,
            index,
            start,
        } = *self;
        let writer = match index.writer() {
            Ok(w) => Arc::new(Mutex::new(w)),
            Err(e) => {
                tracing::error!(error = %e, "the search index cannot be written: search stays unavailable");
                return;
            }
        };
        let mut batch = Batch {
            index,
            writer,
            changes: Vec::new(),
            newest: None,
            oldest: None,
            first_at: None,
        };
        let mut start = Some(start);
        // Start (rebuild or catch up), retrying after failures, until it succeeds or we stop.
        let mut subscription = loop {
            let attempt = begin(&state, &mut batch, start.take(), &mut shutdown).await;
            match attempt {
                Ok(Some(subscription)) => break subscription,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "search indexer could not start; retrying");
                    start = Some(match batch.newest {
                        Some(w) => Start::CatchUp(w),
                        None => Start::Rebuild("the previous attempt failed".into()),
                    });
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY) => {}
                        _ = shutdown.changed() => return,
                    }
                }
            }
        };
        let mut dedup = Dedup::new(65_536);
        loop {
            let due = batch.due();
            let commit_now = async {
                match due {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = commit_now => commit(&state, &mut batch).await,
                received = subscription.recv() => match received {
                    Ok(event) => {
                        if dedup.first_time(event.id)
                            && let Some(change) = Change::of(&event)
                        {
                            batch.push(change, event.occurred_at);
                            if batch.changes.len() >= MAX_BATCH {
                                commit(&state, &mut batch).await;
                            }
                        }
                    }
                    Err(RecvError::Lagged { skipped }) => {
                        tracing::info!(skipped, "search indexer fell behind the bus; replaying the outbox");
                        commit(&state, &mut batch).await;
                        let from = batch.newest.unwrap_or_else(crate::domain::clock::now);
                        if let Err(e) = replay(&state, &mut batch, from).await {
                            tracing::warn!(error = %e, "replaying the outbox into the search index failed");
                        }
                    }
                    Err(RecvError::Closed) => break,
                },
            }
        }
        commit(&state, &mut batch).await;
    }
}

/// Commit the batch and publish the new progress; a failure is logged (the changes are lost
/// for this run; the next start replays them from the outbox).
async fn commit(state: &AppState, batch: &mut Batch) {
    match batch.commit().await {
        Ok(Some(progress)) => state.search.set_progress(progress),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "committing to the search index failed"),
    }
}

/// Rebuild or catch up, then subscribe; `None` when told to stop meanwhile.
async fn begin(
    state: &AppState,
    batch: &mut Batch,
    start: Option<Start>,
    shutdown: &mut Shutdown,
) -> Result<Option<Box<dyn crate::bus::Subscription>>, SearchError> {
    // Subscribe first: events published while we replay are then not missed (a replayed event
    // that arrives again is skipped or re-applied harmlessly).
    let subscription = state
        .bus
        .subscribe()
        .await
        .map_err(|e| SearchError::Corrupt(e.to_string()))?;
    let retention = state.config.bus.outbox_retention.0;
    let from = match start {
        Some(Start::CatchUp(watermark))
            if crate::domain::clock::now() - watermark
                < retention.saturating_sub(Duration::from_secs(3600)) =>
        {
            watermark
        }
        Some(Start::CatchUp(watermark)) => {
            tracing::info!(%watermark, "the search index is older than the outbox keeps events: rebuilding it");
            rebuild(state, batch, shutdown).await?
        }
        Some(Start::Rebuild(reason)) => {
            tracing::info!(%reason, "rebuilding the search index from the database");
            rebuild(state, batch, shutdown).await?
        }
        None => return Ok(None),
    };
    if *shutdown.borrow() {
        return Ok(None);
    }
    replay(state, batch, from).await?;
    Ok(Some(subscription))
}

/// Index every live message again; returns the watermark (when it started).
async fn rebuild(
    state: &AppState,
    batch: &mut Batch,
    shutdown: &mut Shutdown,
) -> Result<OffsetDateTime, SearchError> {
    let stop = shutdown.clone();
    let started = rebuild_from(
        &state.db,
        &batch.index,
        &batch.writer,
        |done, total| {
            state
                .search
                .set_progress(Progress::Rebuilding { done, total })
        },
        || *stop.borrow(),
    )
    .await?;
    batch.newest = Some(started);
    Ok(started)
}

/// Empty the index and add every live message from the database, reporting `(done, total)`
/// after each page and giving up when `stopped()`; commits with the time it started as the
/// watermark, which it returns. The server's indexer and `colink admin reindex` both use it.
pub async fn rebuild_from(
    db: &sea_orm::DatabaseConnection,
    index: &Arc<TantivyIndex>,
    writer: &Arc<Mutex<IndexWriter>>,
    progress: impl Fn(u64, u64),
    stopped: impl Fn() -> bool,
) -> Result<OffsetDateTime, SearchError> {
    let started = crate::domain::clock::now();
    let live = || message::Entity::find().filter(message::Column::DeletedAt.is_null());
    let total = live().count(db).await.map_err(db_error)?;
    let w = writer.clone();
    blocking(move || {
        lock(&w)?.delete_all_documents()?;
        Ok(())
    })
    .await?;
    let mut done = 0;
    let mut after: Option<Uuid> = None;
    progress(0, total);
    loop {
        if stopped() {
            return Err(SearchError::Unavailable("stopped while rebuilding".into()));
        }
        let mut page = live().order_by_asc(message::Column::Id).limit(PAGE);
        if let Some(last) = after {
            page = page.filter(message::Column::Id.gt(last));
        }
        let rows = decorate::flagged(page).all(db).await.map_err(db_error)?;
        let Some(last) = rows.last() else { break };
        after = Some(last.message.id);
        done += rows.len() as u64;
        let docs: Vec<Document> = rows
            .into_iter()
            .map(|row| Document {
                has_file: row.has_files,
                id: row.message.id,
                channel_id: row.message.channel_id,
                user_id: row.message.user_id,
                created_at: row.message.created_at,
                text: row.message.content,
            })
            .collect();
        let (index, w) = (index.clone(), writer.clone());
        blocking(move || {
            let writer = lock(&w)?;
            docs.iter().try_for_each(|doc| index.upsert(&writer, doc))?;
            Ok(())
        })
        .await?;
        progress(done, total);
    }
    let (index, w) = (index.clone(), writer.clone());
    blocking(move || apply(&index, &w, Vec::new(), Some(started))).await?;
    tracing::info!(messages = done, "search index rebuilt");
    Ok(started)
}

/// Run index work on the blocking pool.
async fn blocking(
    work: impl FnOnce() -> Result<(), SearchError> + Send + 'static,
) -> Result<(), SearchError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| SearchError::Corrupt(format!("indexing task failed: {e}")))?
}

fn lock(
    writer: &Mutex<IndexWriter>,
) -> Result<std::sync::MutexGuard<'_, IndexWriter>, SearchError> {
    writer
        .lock()
        .map_err(|_| SearchError::Corrupt("the index writer panicked".into()))
}

/// Apply the outbox's message events from `watermark − REPLAY_MARGIN` on, in position order,
/// and commit; the index is then ready.
async fn replay(
    state: &AppState,
    batch: &mut Batch,
    watermark: OffsetDateTime,
) -> Result<(), SearchError> {
    let from = watermark - REPLAY_MARGIN;
    let kinds: Vec<&str> = INDEXED_KINDS.iter().map(|k| k.as_str()).collect();
    let mut after = i64::MIN;
    loop {
        let rows = outbox::Entity::find()
            .filter(outbox::Column::CreatedAt.gte(from))
            .filter(outbox::Column::Position.gt(after))
            .filter(outbox::Column::EventType.is_in(kinds.clone()))
            .order_by_asc(outbox::Column::Position)
            .limit(PAGE)
            .all(&state.db)
            .await
            .map_err(db_error)?;
        let Some(last) = rows.last() else { break };
        after = last.position;
        for row in rows {
            match serde_json::from_str::<Event>(&row.payload) {
                Ok(event) => {
                    if let Some(change) = Change::of(&event) {
                        batch.push(change, event.occurred_at);
                    }
                }
                Err(e) => {
                    tracing::warn!(position = row.position, error = %e, "an outbox row does not read as an event; skipped");
                }
            }
        }
        commit_or_fail(state, batch).await?;
    }
    // Nothing to replay still makes the index ready at its watermark.
    batch.newest = Some(batch.newest.map_or(watermark, |n| n.max(watermark)));
    state.search.set_progress(Progress::Ready {
        watermark: batch.newest.unwrap_or(watermark),
        lag: Duration::ZERO,
    });
    Ok(())
}

async fn commit_or_fail(state: &AppState, batch: &mut Batch) -> Result<(), SearchError> {
    if let Some(progress) = batch.commit().await? {
        state.search.set_progress(progress);
    }
    Ok(())
}

fn db_error(e: sea_orm::DbErr) -> SearchError {
    SearchError::Corrupt(format!("reading the database: {e}"))
}
