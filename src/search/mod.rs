//! Full-text search of messages.
//!
//! - `query`: the search box's language, parsed at the boundary.
//! - `analyzer`: how text becomes terms (stemming, accent folding, CJK bigrams) and highlights.
//! - `tantivy_index`: the embedded index; `indexer`: the worker that keeps it current from the
//!   bus and rebuilds it from the database when it is missing, damaged or of an older version.
//!
//! [`Search`] is what the rest of the server sees: it answers [`MessageSearch`]es with the ids of
//! the matching messages, best first, and the total. While the index is being built it answers
//! [`SearchError::Unavailable`] rather than partial results. Who may read what is decided by the
//! caller (`service::search`), which passes the readable channels as a filter of the query
//! itself, so pages are full and totals honest.

pub mod analyzer;
pub mod indexer;
pub mod query;
pub mod tantivy_index;

use std::{path::Path, sync::Arc, time::Duration};

use time::OffsetDateTime;
use tokio::sync::{Semaphore, watch};
use uuid::Uuid;

pub use query::SearchQuery;
use tantivy_index::{Opened, TantivyIndex};

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
    /// Current up to `watermark`: every event that occurred before it is searchable. `lag`:
    /// how long the oldest event of the last commit waited to become searchable.
    Ready {
        watermark: OffsetDateTime,
        lag: Duration,
    },
}

/// Longest a search may run before it is abandoned with [`SearchError::Timeout`].
const SEARCH_TIME_LIMIT: Duration = Duration::from_secs(2);

/// The search service's handle, shared by request handlers and the indexer.
pub struct Search {
    index: Arc<TantivyIndex>,
    progress: watch::Sender<Progress>,
    /// Searches are CPU-bound: at most one per core at a time.
    slots: Arc<Semaphore>,
}

impl Search {
    /// Open (or create) the index in `dir`. An index that must be rebuilt answers
    /// `Unavailable` until the indexer has rebuilt it.
    pub fn open(dir: &Path) -> Result<(Self, indexer::Start), SearchError> {
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
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok((
            Self {
                index: Arc::new(index),
                progress: watch::channel(progress).0,
                slots: Arc::new(Semaphore::new(cores)),
            },
            start,
        ))
    }

    /// No search: for a server with `search.enabled = false`, and for CLI commands (they run
    /// beside a server and must not take its index). Nothing is indexed; searches answer
    /// `Unavailable`.
    pub fn off() -> Result<Self, SearchError> {
        Ok(Self {
            index: Arc::new(TantivyIndex::in_ram()?),
            progress: watch::channel(Progress::Off).0,
            slots: Arc::new(Semaphore::new(1)),
        })
    }

    pub fn is_off(&self) -> bool {
        self.progress() == Progress::Off
    }

    pub fn progress(&self) -> Progress {
        self.progress.borrow().clone()
    }

    /// Documents in the index.
    pub fn documents(&self) -> u64 {
        self.index.len()
    }

    /// Wait until every event that occurred before `t` is searchable.
    pub async fn caught_up(&self, t: OffsetDateTime) {
        let mut rx = self.progress.subscribe();
        let _ = rx
            .wait_for(|p| matches!(p, Progress::Ready { watermark, .. } if *watermark >= t))
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
            Progress::Ready { .. } => {}
        }
        // The permit travels with the work: a search that outlives its caller still counts.
        let permit = tokio::time::timeout(SEARCH_TIME_LIMIT, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| SearchError::Timeout(SEARCH_TIME_LIMIT))?
            .map_err(|_| SearchError::Unavailable("shutting down".into()))?;
        let index = self.index.clone();
        let work = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            index.search(&search)
        });
        match tokio::time::timeout(SEARCH_TIME_LIMIT, work).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(SearchError::Corrupt(format!("search failed: {e}"))),
            Err(_) => Err(SearchError::Timeout(SEARCH_TIME_LIMIT)),
        }
    }

    fn set_progress(&self, progress: Progress) {
        self.progress.send_replace(progress);
    }
}
