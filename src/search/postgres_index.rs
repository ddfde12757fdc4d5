//! The PostgreSQL backend (`search.backend = "postgres"`): full-text search on the messages
//! table itself, shared by every node.
//!
//! **Terms.** The message write path gives each message's text as search terms
//! (`messages.search_terms`: a `tsvector` literal of `analyzer`'s terms with their positions)
//! in the same statement that stores the message, and an edit replaces them in the same
//! `UPDATE`; a trigger keeps them only as `search_vector` (the cast of those terms, with a GIN
//! index) and clears the text, which would be a third of every row (migration 000017). So a
//! message is searchable the moment it is committed, and deleted messages are excluded by
//! `deleted_at`. The terms come from the server's analyzer, not a PostgreSQL text-search
//! configuration, so this backend finds exactly what tantivy finds (stemming, accent folding,
//! CJK bigrams) and queries are `tsquery` literals built from the same terms: words must all
//! occur, phrases as `<->` chains.
//!
//! **Pairs.** The stored terms also hold every two adjacent terms as one lexeme (`'releas
//! note'`, without a position), and a phrase query asks for its pairs besides its `<->` chain.
//! The pairs change no result (a message matching the chain holds them all) but let the GIN
//! index find a phrase: without them a phrase of two common words was the AND of two posting
//! lists of half the table each, every candidate's positions checked, and the slowest search
//! there was. The format is part of the version recorded in `search_state` ([`TERMS_VERSION`]).
//!
//! **Backfill.** Messages stored while another backend was on have no vector (an edit made
//! then clears it). On start, the server fills them in before it answers searches; when the
//! analyzer changed since the terms were made (`search_state`), it makes them all again.
//! `colink admin reindex` makes them all again on demand.
//!
//! **Ranking** mirrors the tantivy backend: `ts_rank` of the words, tripled when all of them
//! occur as the phrase typed, times the same recency factor; ties newest first. The caller's
//! readable conversations and every filter are conditions of the one query, so pages are full.
//! The candidates ranked are the newest `COUNT_LIMIT + 1` matches, and they are the count: a
//! word in most messages is found by walking the newest messages backwards (an index on
//! `created_at`) until enough match, instead of ranking and counting a hundred thousand rows;
//! anything rarer is read from the GIN index whole, so it is ranked and counted exactly. When
//! PostgreSQL's statistics call the words common, the search is first bounded to a window of
//! the newest messages that should hold enough matches, and runs again without it when it does
//! not (`postgres_window`). Each
//! query runs under a `statement_timeout`, planned for its own parameters, without parallel
//! workers (see [`PostgresIndex::run`]).

use std::{fmt::Write as _, sync::Arc, time::Duration};

use migration::{SEARCH_WINDOW_LONG, SEARCH_WINDOW_SHORT};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait, Value,
    sea_query::{Expr, OnConflict, SimpleExpr},
};
use time::OffsetDateTime;
use tokio::sync::OwnedSemaphorePermit;
use uuid::Uuid;

use super::{
    COUNT_LIMIT, MessageSearch, Progress, SearchError, SearchIndex, analyzer,
    postgres_terms::{matching, phrase, tsquery, tsvector},
    postgres_window::{self, StatsCache},
};
use crate::{
    app::AppState,
    db::entity::{message, search_state},
    workers::{Shutdown, Worker},
};

/// This backend's row in `search_state`.
const BACKEND: &str = "postgres";
/// The version of the stored terms (recorded in `search_state`; stored terms of another are
/// made again): the analyzer's version × 100 plus this backend's format — 1: the terms with
/// their positions; 2: and the pairs of adjacent terms (see the module docs); 3: kept only as
/// the vector (migration 000017: terms of version 2 were dropped with their generated column).
const TERMS_VERSION: i32 = analyzer::VERSION * 100 + 3;
/// Recency: a message this many seconds old gets half the boost of one sent now (7 days, as
/// the tantivy backend).
const RECENCY_HALF_SECONDS: u32 = 7 * 86_400;
/// Messages per backfill statement.
const BACKFILL_PAGE: u64 = 1_000;

/// The index: the database.
pub struct PostgresIndex {
    db: DatabaseConnection,
    /// For the time window of common words (`postgres_window`).
    stats: StatsCache,
}

/// What the stored terms need before searches may be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backfill {
    /// Nothing: every live message has current terms.
    None,
    /// Messages stored or edited while another backend was on have none yet.
    Missing,
    /// Terms were made by another analyzer version (or never): make them all again.
    All,
}

impl PostgresIndex {
    /// The index in `db`, and what it needs before it can answer.
    pub async fn open(db: DatabaseConnection) -> Result<(Self, Backfill), SearchError> {
        let backfill = needs(&db).await?;
        Ok((
            Self {
                db,
                stats: StatsCache::default(),
            },
            backfill,
        ))
    }

    /// Fill in terms as `backfill` says, reporting `(done, total)` after each page and giving
    /// up when `stopped()`; returns how many messages got terms. The server (on start) and
    /// `colink admin reindex` both use it.
    pub async fn backfill(
        &self,
        backfill: Backfill,
        progress: impl Fn(u64, u64),
        stopped: impl Fn() -> bool,
    ) -> Result<u64, SearchError> {
        if backfill == Backfill::None {
            return Ok(0);
        }
        let db = &self.db;
        let missing_only = backfill == Backfill::Missing;
        let todo = || {
            let live = message::Entity::find().filter(message::Column::DeletedAt.is_null());
            if missing_only {
                live.filter(no_vector())
            } else {
                live
            }
        };
        let total = todo().count(db).await?;
        progress(0, total);
        let (mut done, mut after) = (0, None::<Uuid>);
        loop {
            if stopped() {
                return Err(SearchError::Unavailable("stopped while backfilling".into()));
            }
            let mut page = todo()
                .select_only()
                .columns([
                    message::Column::Id,
                    message::Column::Content,
                    message::Column::EditedAt,
                ])
                .order_by_asc(message::Column::Id)
                .limit(BACKFILL_PAGE);
            if let Some(last) = after {
                page = page.filter(message::Column::Id.gt(last));
            }
            let rows: Vec<(Uuid, String, Option<OffsetDateTime>)> =
                page.into_tuple().all(db).await?;
            let Some(last) = rows.last() else { break };
            after = Some(last.0);
            done += rows.len() as u64;
            db.execute_raw(store_terms(&rows)).await?;
            progress(done.min(total), total);
        }
        search_state::Entity::insert(search_state::ActiveModel {
            backend: Set(BACKEND.into()),
            version: Set(TERMS_VERSION),
        })
        .on_conflict(
            OnConflict::column(search_state::Column::Backend)
                .update_column(search_state::Column::Version)
                .to_owned(),
        )
        .exec(db)
        .await?;
        tracing::info!(messages = done, "search terms made");
        Ok(done)
    }

    async fn run(
        &self,
        search: &MessageSearch,
        limit: Duration,
    ) -> Result<(u64, Vec<Uuid>), SearchError> {
        let tx = self.db.begin().await?;
        // Abandoned by the database itself, not only by the caller. Planned for these
        // parameters every time: a cached generic plan cannot tell a word in most messages
        // from one in a few, and picks one way for both. No parallel workers: on a small
        // machine a search's two workers only compete with the other searches (four at once on
        // two cores: p95 199 → 179 ms, p99 324 → 275 ms without them; docs/benchmarks.md).
        // Pages costed as on solid-state storage (PostgreSQL's advice: `random_page_cost` near
        // 1): with the default 4, PostgreSQL ANDs a word's few thousand matches with a bitmap of
        // every message of the reader's conversations (250,000 entries, 20 ms) to spare itself
        // fetching the rows (`after:` searches p95 57–59 → 38–42 ms at the SQL level).
        tx.execute_unprepared(&format!(
            "SET LOCAL statement_timeout = {}; SET LOCAL plan_cache_mode = force_custom_plan; \
             SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL random_page_cost = 1.1",
            limit.as_millis()
        ))
        .await?;
        let query = Query::of(search);
        let page = |window| query.page(search.offset, search.limit, window);
        let mut rows = Vec::new();
        if let Some(start) = self.window_start(&tx, search).await {
            rows = tx
                .query_all_raw(page(Some(start)))
                .await
                .map_err(|e| timeout_or(e, limit))?;
            // Fewer candidates than needed in the window (or a page past them): the newest
            // matches may lie before it, so search everything.
            let enough = match rows.first() {
                Some(row) => row.try_get::<i64>("", "total")? > COUNT_LIMIT as i64,
                None => false,
            };
            if !enough {
                rows.clear();
            }
        }
        if rows.is_empty() {
            rows = tx
                .query_all_raw(page(None))
                .await
                .map_err(|e| timeout_or(e, limit))?;
        }
        let mut ids = Vec::with_capacity(rows.len());
        let mut total = 0;
        for row in &rows {
            ids.push(row.try_get::<Uuid>("", "id")?);
            total = row.try_get::<i64>("", "total")?;
        }
        if rows.is_empty() && search.offset > 0 {
            // Past the last page the window counted nothing: count on its own.
            if let Some(row) = tx
                .query_one_raw(query.count())
                .await
                .map_err(|e| timeout_or(e, limit))?
            {
                total = row.try_get::<i64>("", "total")?;
            }
        }
        tx.commit().await?;
        Ok((u64::try_from(total).unwrap_or(0), ids))
    }

    /// Where `search`'s time window starts, if it has one (see `postgres_window`). The
    /// statistics are only looked at (and read again when stale) for a search that may have one.
    async fn window_start(
        &self,
        tx: &impl ConnectionTrait,
        search: &MessageSearch,
    ) -> Option<OffsetDateTime> {
        if !postgres_window::applies(search) {
            return None;
        }
        let stats = self.stats.get(tx).await;
        let start = stats.window_start(
            stats.matching_share(&search.clauses),
            stats.share_of(&search.channels),
        );
        // An `after:` date later than the window's start is a window of its own.
        match (start, search.since) {
            (Some(start), Some(since)) if since >= start => None,
            (start, _) => start,
        }
    }
}

#[async_trait::async_trait]
impl SearchIndex for PostgresIndex {
    async fn search(
        self: Arc<Self>,
        search: MessageSearch,
        limit: Duration,
        _slot: OwnedSemaphorePermit,
    ) -> Result<(u64, Vec<Uuid>), SearchError> {
        self.run(&search, limit).await
    }

    fn documents(&self) -> Option<u64> {
        None
    }

    fn stored_terms(&self, text: &str) -> Option<String> {
        Some(tsvector(text))
    }
}

/// The server's backfill on start (worker `search-backfill`): searches answer
/// `search_unavailable` until it is done; a failure is retried.
pub struct BackfillWorker {
    pub state: Arc<AppState>,
    pub index: Arc<PostgresIndex>,
    pub backfill: Backfill,
}

/// Wait after a failed backfill before trying again.
const RETRY: Duration = Duration::from_secs(5);

#[async_trait::async_trait]
impl Worker for BackfillWorker {
    fn name(&self) -> &'static str {
        "search-backfill"
    }

    async fn run(self: Box<Self>, mut shutdown: Shutdown) {
        let BackfillWorker {
            state,
            index,
            mut backfill,
        } = *self;
        loop {
            if backfill != Backfill::None {
                tracing::info!(
                    ?backfill,
                    "making search terms for messages stored without them"
                );
            }
            let stop = shutdown.clone();
            let made = index
                .backfill(
                    backfill,
                    |done, total| {
                        state
                            .search
                            .set_progress(Progress::Rebuilding { done, total })
                    },
                    || *stop.borrow(),
                )
                .await;
            match made {
                Ok(_) => {
                    state.search.set_progress(Progress::Live);
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "making search terms failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY) => {}
                        _ = shutdown.changed() => return,
                    }
                    // Start again from what is still missing (or everything, if the version
                    // was never recorded).
                    backfill = match needs(&index.db).await {
                        Ok(b) => b,
                        Err(_) => backfill,
                    };
                }
            }
        }
    }
}

/// What the stored terms need (see [`Backfill`]).
async fn needs(db: &DatabaseConnection) -> Result<Backfill, SearchError> {
    let version = search_state::Entity::find_by_id(BACKEND.to_string())
        .one(db)
        .await?
        .map(|s| s.version);
    if version != Some(TERMS_VERSION) {
        return Ok(Backfill::All);
    }
    let missing = message::Entity::find()
        .select_only()
        .column(message::Column::Id)
        .filter(message::Column::DeletedAt.is_null())
        .filter(no_vector())
        .into_tuple::<Uuid>()
        .one(db)
        .await?;
    Ok(if missing.is_some() {
        Backfill::Missing
    } else {
        Backfill::None
    })
}

/// Messages without a vector: stored or edited while another backend was on (the column is
/// PostgreSQL's own, not part of the entity).
fn no_vector() -> SimpleExpr {
    Expr::cust("search_vector IS NULL")
}

/// One `UPDATE` storing the terms of `rows` — unless a message was edited since it was read
/// (the edit stored terms of its own).
fn store_terms(rows: &[(Uuid, String, Option<OffsetDateTime>)]) -> Statement {
    let mut sql = String::from("UPDATE messages SET search_terms = v.terms FROM (VALUES ");
    let mut values: Vec<Value> = Vec::with_capacity(rows.len() * 3);
    for (i, (id, content, edited_at)) in rows.iter().enumerate() {
        let n = i * 3;
        let _ = write!(
            sql,
            "{}(CAST(${} AS uuid), ${}, CAST(${} AS timestamptz))",
            if i == 0 { "" } else { ", " },
            n + 1,
            n + 2,
            n + 3
        );
        values.push((*id).into());
        values.push(tsvector(content).into());
        values.push((*edited_at).into());
    }
    sql.push_str(
        ") AS v(id, terms, edited_at) WHERE messages.id = v.id \
         AND messages.edited_at IS NOT DISTINCT FROM v.edited_at",
    );
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// The search as SQL: which messages match (`matching`: the conditions, with `values` as their
/// parameters) and how they rank.
struct Query {
    matching: String,
    score: String,
    values: Vec<Value>,
}

impl Query {
    fn of(search: &MessageSearch) -> Self {
        let mut values: Vec<Value> = Vec::new();
        let mut param = |v: Value| {
            values.push(v);
            format!("${}", values.len())
        };
        let mut conditions = vec!["m.deleted_at IS NULL".to_string()];
        // The id lists are literals, not parameters: PostgreSQL does not fold a text
        // parameter's cast to `uuid[]` into a constant, and parsed it again for every row
        // examined (7× the time of a common word's search).
        conditions.push(format!(
            "m.channel_id = ANY({})",
            uuid_array(&search.channels)
        ));
        if !search.users.is_empty() {
            conditions.push(format!("m.user_id = ANY({})", uuid_array(&search.users)));
        }
        if let Some(since) = search.since {
            let since = param(since.into());
            conditions.push(format!("m.created_at >= {since}"));
        }
        if let Some(until) = search.until {
            let until = param(until.into());
            conditions.push(format!("m.created_at < {until}"));
        }
        if search.has_file {
            conditions.push(
                "EXISTS (SELECT 1 FROM message_files f WHERE f.message_id = m.id)".to_string(),
            );
        }
        let score = match (tsquery(&search.clauses), matching(&search.clauses)) {
            (Some(words), Some(matching)) => {
                let matching = param(matching.into());
                conditions.push(format!("m.search_vector @@ CAST({matching} AS tsquery)"));
                let words = param(words.into());
                let all: Vec<String> = search.clauses.iter().flatten().cloned().collect();
                let phrase = match phrase(&all) {
                    Some(phrase) if search.clauses.len() >= 2 => {
                        let phrase = param(phrase.into());
                        format!(
                            "CASE WHEN m.search_vector @@ CAST({phrase} AS tsquery) \
                             THEN 3 ELSE 1 END"
                        )
                    }
                    _ => "1".to_string(),
                };
                let now = param(search.now.into());
                format!(
                    "ts_rank(m.search_vector, CAST({words} AS tsquery)) * {phrase} \
                     * (1 + 1 / (1 + GREATEST(EXTRACT(EPOCH FROM ({now} - m.created_at))::float8, 0) \
                     / {RECENCY_HALF_SECONDS}))"
                )
            }
            _ => "1".to_string(),
        };
        Self {
            matching: format!("FROM messages m WHERE {}", conditions.join(" AND ")),
            score,
            values,
        }
    }

    /// The ids of one page, best first, each row with the number of candidates: the newest
    /// `COUNT_LIMIT + 1` matches (see the module docs).
    ///
    /// Only messages sent at or after `window` when given (see `postgres_window`): then asked
    /// for in two parts, the messages whose vector the window index holds and the others
    /// (migration 000018), each stating its part's condition so that PostgreSQL can answer it
    /// from that part's index.
    fn page(&self, offset: usize, limit: usize, window: Option<OffsetDateTime>) -> Statement {
        let mut values = self.values.clone();
        let newest = |conditions: &str| {
            format!(
                "SELECT m.id, m.created_at, m.search_vector {}{conditions} \
                 ORDER BY m.created_at DESC, m.id DESC LIMIT {}",
                self.matching,
                COUNT_LIMIT + 1
            )
        };
        let candidates = match window {
            None => newest(""),
            Some(start) => {
                values.push(start.into());
                let since = format!(" AND m.created_at >= ${}", values.len());
                format!(
                    "SELECT m.id, m.created_at, m.search_vector FROM (({}) UNION ALL ({})) AS m \
                     ORDER BY m.created_at DESC, m.id DESC LIMIT {}",
                    newest(&format!("{since} AND {SEARCH_WINDOW_SHORT}")),
                    newest(&format!("{since} AND {SEARCH_WINDOW_LONG}")),
                    COUNT_LIMIT + 1
                )
            }
        };
        let n = values.len();
        let sql = format!(
            "SELECT m.id, count(*) OVER () AS total FROM ({candidates}) AS m \
             ORDER BY {} DESC, m.created_at DESC, m.id DESC LIMIT ${} OFFSET ${}",
            self.score,
            n + 1,
            n + 2
        );
        values.push((limit as i64).into());
        values.push((offset as i64).into());
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
    }

    /// The number of matches, up to `COUNT_LIMIT + 1`.
    fn count(&self) -> Statement {
        Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "SELECT count(*) AS total FROM (SELECT 1 {} LIMIT {}) AS m",
                self.matching,
                COUNT_LIMIT + 1
            ),
            self.values.clone(),
        )
    }
}

/// `'{id,id,…}'::uuid[]`: a `uuid[]` literal (ids print as hex digits and dashes only, so
/// nothing can end the quoted string).
fn uuid_array(ids: &[Uuid]) -> String {
    let mut out = String::with_capacity(ids.len() * 37 + 12);
    out.push_str("'{");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{id}");
    }
    out.push_str("}'::uuid[]");
    out
}

/// A query cancelled by `statement_timeout` is a timeout; anything else a database error.
fn timeout_or(e: sea_orm::DbErr, limit: Duration) -> SearchError {
    if e.to_string().contains("statement timeout") {
        SearchError::Timeout(limit)
    } else {
        e.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_and_offset_are_the_last_parameters() {
        let search = MessageSearch {
            clauses: vec![vec!["a".into()], vec!["b".into()]],
            channels: vec![Uuid::nil()],
            users: vec![Uuid::nil()],
            since: None,
            until: None,
            has_file: true,
            offset: 20,
            limit: 20,
            now: OffsetDateTime::UNIX_EPOCH,
        };
        let page = Query::of(&search).page(20, 20, None);
        assert_eq!(page.values.map_or(0, |v| v.0.len()), 6);
        assert!(page.sql.ends_with("LIMIT $5 OFFSET $6"), "{}", page.sql);
        let windowed = Query::of(&search).page(20, 20, Some(OffsetDateTime::UNIX_EPOCH));
        assert_eq!(windowed.values.map_or(0, |v| v.0.len()), 7);
        for part in [SEARCH_WINDOW_SHORT, SEARCH_WINDOW_LONG] {
            assert!(
                windowed
                    .sql
                    .contains(&format!("AND m.created_at >= $5 AND {part} ORDER BY")),
                "{}",
                windowed.sql
            );
        }
        assert!(
            windowed.sql.ends_with("LIMIT $6 OFFSET $7"),
            "{}",
            windowed.sql
        );
        assert!(
            page.sql
                .contains(&format!("ANY('{{{}}}'::uuid[])", Uuid::nil()))
        );
    }
}
