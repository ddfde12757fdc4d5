//! Full-text search of messages.
//!
//! - `query`: the search box's language, parsed at the boundary.
//! - `analyzer`: how text becomes terms (stemming, accent folding, CJK bigrams) and highlights.
//! - [`SearchIndex`]: the port, with two backends (`search.backend`):
//!   - `tantivy_index`: the embedded index; `indexer`: the worker that keeps it current from
//!     the bus and rebuilds it from the database when it is missing, damaged or of an older
//!     version;
//!   - `postgres_index`: PostgreSQL full-text search on the messages table, whose terms the
//!     message write path stores; filled in on start for messages stored without them.
//!
//! [`Search`] is what the rest of the server sees: it answers [`MessageSearch`]es with the ids of
//! the matching messages, best first, and the total. While the index is being built it answers
//! [`SearchError::Unavailable`] rather than partial results. Who may read what is decided by the
//! caller (`service::search`), which passes the readable channels as a filter of the query
//! itself, so pages are full and totals honest.

pub mod analyzer;
pub mod indexer;
pub mod postgres_index;
mod postgres_terms;
mod postgres_window;
pub mod query;
pub mod tantivy_index;

use std::{path::Path, sync::Arc, time::Duration};

use time::OffsetDateTime;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use uuid::Uuid;

use postgres_index::{Backfill, PostgresIndex};
pub use query::SearchQuery;
use tantivy_index::{Opened, TantivyIndex};

/// A place messages are searched: the port the backends implement.
#[async_trait::async_trait]
pub trait SearchIndex: Send + Sync {
    /// The ids of the messages matching `search`, best first, and how many match in all;
    /// abandoned after `limit`. `slot` is held until the work has really ended (a search
    /// whose caller gave up may still be running).
    async fn search(
        self: Arc<Self>,
        search: MessageSearch,
        limit: Duration,
        slot: OwnedSemaphorePermit,
    ) -> Result<(u64, Vec<Uuid>), SearchError>;

    /// Documents in the index, when that is cheap to know.
    fn documents(&self) -> Option<u64>;

    /// What the message write path stores with a message of this text (the PostgreSQL
    /// backend's terms); `None` for a backend that keeps its own index.
    fn stored_terms(&self, _text: &str) -> Option<String> {
        None
    }
}

/// A message as the index sees it.
#[derive(Debug, Clone)]
pub struct Document {
    pub id: Uuid,
    pub channel_id: Uuid,
    pub user_id: Uuid,
    pub created_at: OffsetDateTime,
    pub has_file: bool,
    pub text: String,
}

/// One search, with every filter resolved to ids.
#[derive(Debug, Clone)]
pub struct MessageSearch {
    /// Text clauses: each a list of terms that must occur in order (see `SearchQuery`).
    pub clauses: Vec<Vec<String>>,
    /// Only these conversations (never empty: the caller can read them all).
    pub channels: Vec<Uuid>,
    /// Only messages by these users (empty: anyone).
    pub users: Vec<Uuid>,
    /// Sent at or after.
    pub since: Option<OffsetDateTime>,
    /// Sent before.
    pub until: Option<OffsetDateTime>,
    pub has_file: bool,
    pub offset: usize,
    pub limit: usize,
    /// For ranking by recency.
    pub now: OffsetDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The index is being built (try again shortly), or search is off.
    #[error("{0}")]
    Unavailable(String),
    #[error("search took longer than {0:?}")]
    Timeout(Duration),
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("search index damaged: {0}")]
    Corrupt(String),
    #[error("{action} {path}: {error}")]
    Io {
        action: &'static str,
        path: String,
        error: std::io::Error,
    },
}

impl SearchError {
    fn io(action: &'static str, path: &Path, error: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.display().to_string(),
            error,
        }
    }
}

/// How far the index is.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Being rebuilt from the database: `done` of about `total` messages.
    Rebuilding { done: u64, total: u64 },
    /// Turned off (`search.enabled = false`), or a CLI command: no index, no indexer.
    Off,
    /// Searches the database itself (`postgres`): everything committed is searchable.
    Live,
    /// Current up to `watermark`: every event that occurred before it is searchable. `lag`:
    /// how long the oldest event of the last commit waited to become searchable.
    Ready {
        watermark: OffsetDateTime,
        lag: Duration,
    },
}

/// Matches are counted up to this many; past it a search reports this many and that there are
/// more (results past rank 1,000 are not served anyway). Backends report up to one more.
pub const COUNT_LIMIT: u64 = 1_000;

/// Longest a search may run before it is abandoned with [`SearchError::Timeout`].
const SEARCH_TIME_LIMIT: Duration = Duration::from_secs(2);

/// The search service's handle, shared by request handlers and the indexer.
pub struct Search {
    index: Arc<dyn SearchIndex>,
    progress: watch::Sender<Progress>,
    /// At most one search per core at a time: tantivy's are CPU-bound, and PostgreSQL's must
    /// not take every connection of the pool.
    slots: Arc<Semaphore>,
}

/// The background work that keeps an index current, for `app.rs` to start.
pub enum Upkeep {
    /// tantivy: follow the bus (see `indexer`).
    Indexer {
        index: Arc<TantivyIndex>,
        start: indexer::Start,
    },
    /// postgres: fill in the terms of messages stored without them (see `postgres_index`).
    Backfill {
        index: Arc<PostgresIndex>,
        backfill: Backfill,
    },
}

impl Search {
    fn new(index: Arc<dyn SearchIndex>, progress: Progress) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            index,
            progress: watch::channel(progress).0,
            slots: Arc::new(Semaphore::new(cores)),
        }
    }

    /// Open (or create) the tantivy index in `dir`. An index that must be rebuilt answers
    /// `Unavailable` until the indexer has rebuilt it.
    pub fn tantivy(dir: &Path) -> Result<(Self, Upkeep), SearchError> {
        let (index, opened) = TantivyIndex::open(dir)?;
        let (progress, start) = match opened {
            // Searchable at once (the indexer catches up in the background).
            Opened::Current { watermark } => (
                Progress::Ready {
                    watermark,
                    lag: Duration::ZERO,
                },
                indexer::Start::CatchUp(watermark),
            ),
            Opened::Rebuild { reason } => (
                Progress::Rebuilding { done: 0, total: 0 },
                indexer::Start::Rebuild(reason),
            ),
        };
        let index = Arc::new(index);
        Ok((
            Self::new(index.clone(), progress),
            Upkeep::Indexer { index, start },
        ))
    }

    /// Search in PostgreSQL. While terms are missing it answers `Unavailable` until the
    /// backfill has made them.
    pub async fn postgres(db: sea_orm::DatabaseConnection) -> Result<(Self, Upkeep), SearchError> {
        let (index, backfill) = PostgresIndex::open(db).await?;
        let progress = match backfill {
            Backfill::None => Progress::Live,
            _ => Progress::Rebuilding { done: 0, total: 0 },
        };
        let index = Arc::new(index);
        Ok((
            Self::new(index.clone(), progress),
            Upkeep::Backfill { index, backfill },
        ))
    }

    /// No search: for a server with `search.enabled = false`, and for CLI commands (they run
    /// beside a server and must not take its index). Nothing is indexed; searches answer
    /// `Unavailable`.
    pub fn off() -> Result<Self, SearchError> {
        Ok(Self::new(Arc::new(TantivyIndex::in_ram()?), Progress::Off))
    }

    pub fn is_off(&self) -> bool {
        self.progress() == Progress::Off
    }

    pub fn progress(&self) -> Progress {
        self.progress.borrow().clone()
    }

    /// Documents in the index, when that is cheap to know.
    pub fn documents(&self) -> Option<u64> {
        self.index.documents()
    }

    /// What the message write path stores with a message of this text (see
    /// [`SearchIndex::stored_terms`]); `None` when search is off.
    pub fn stored_terms(&self, text: &str) -> Option<String> {
        self.index.stored_terms(text)
    }

    /// Wait until every event that occurred before `t` is searchable.
    pub async fn caught_up(&self, t: OffsetDateTime) {
        let mut rx = self.progress.subscribe();
        let _ = rx
            .wait_for(|p| match p {
                Progress::Ready { watermark, .. } => *watermark >= t,
                Progress::Live => true,
                Progress::Rebuilding { .. } | Progress::Off => false,
            })
            .await;
    }

    /// The ids of the matching messages, best first, and how many match in all.
    pub async fn messages(&self, search: MessageSearch) -> Result<(u64, Vec<Uuid>), SearchError> {
        match self.progress() {
            Progress::Rebuilding { done, total } => {
                return Err(SearchError::Unavailable(format!(
                    "the index is being built: {done} of {total} messages indexed"
                )));
            }
            Progress::Off => {
                return Err(SearchError::Unavailable(
                    "search is turned off on this server (search.enabled = false)".into(),
                ));
            }
            Progress::Ready { .. } | Progress::Live => {}
        }
        let started = tokio::time::Instant::now();
        let slot = tokio::time::timeout(SEARCH_TIME_LIMIT, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| SearchError::Timeout(SEARCH_TIME_LIMIT))?
            .map_err(|_| SearchError::Unavailable("shutting down".into()))?;
        let left = SEARCH_TIME_LIMIT.saturating_sub(started.elapsed());
        let work = self.index.clone().search(search, left, slot);
        match tokio::time::timeout(left, work).await {
            Ok(result) => result,
            Err(_) => Err(SearchError::Timeout(SEARCH_TIME_LIMIT)),
        }
    }

    pub(crate) fn set_progress(&self, progress: Progress) {
        self.progress.send_replace(progress);
    }
}
