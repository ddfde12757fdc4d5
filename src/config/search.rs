//! `[search]`: message search.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where message search runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchBackend {
    /// An index on this node's disk, kept current from the event bus.
    Tantivy,
    /// PostgreSQL full-text search on the messages table itself (a generated `tsvector`
    /// column with a GIN index): every node searches the shared database, nothing to keep on
    /// disk. Only with a PostgreSQL database.
    Postgres,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// `false`: no index and no indexing; the search routes answer 503 `search_unavailable`
    /// (Mattermost's "Enable Post Search" off).
    pub enabled: bool,
    pub backend: SearchBackend,
    /// tantivy: the index directory (default `<data_dir>/search`). Deleting it is safe: the
    /// server rebuilds it from the database.
    pub path: Option<PathBuf>,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            backend: SearchBackend::Tantivy,
            path: None,
        }
    }
}

impl SearchConfig {
    pub fn index_dir(&self, data_dir: &Path) -> PathBuf {
        self.path.clone().unwrap_or_else(|| data_dir.join("search"))
    }
}
