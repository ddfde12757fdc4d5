//! The postgres backend's time window: how far back a search of a common word must look.
//!
//! Every search ranks the newest `COUNT_LIMIT + 1` matches the caller can read (see
//! `postgres_index`). For a word in a few percent of the messages, read by someone who reads a
//! tenth of them, PostgreSQL finds those by walking the newest messages one by one through the
//! `created_at` index — some 200,000 rows, one heap fetch each — or by reading every match of
//! the word from the GIN index. Bounded in time instead (`created_at >= start`), it reads the
//! readable conversations' messages since the start from an index that holds each message's
//! vector beside its conversation and time (`ix_messages_search_window`, migration 000018) and
//! tests the words there, without fetching a row from the table; the few messages whose vector
//! is too long for that index are read through one of their own, in the same query
//! (docs/benchmarks.md, 2026-12-03: a common word's statement 43 → 26 ms with a bitmap of the
//! window, 22–31 → 8–12 ms with the vectors in the index).
//!
//! **Where the window starts** comes from PostgreSQL's own statistics of the table, read at most
//! every [`REFRESH`]: the share of messages holding each common term (`most_common_elems` of
//! `search_vector`), the `created_at` values that cut the table into equal parts
//! (`histogram_bounds`), and the rows they describe; with them, every conversation's
//! `last_seq`, whose sum over the reader's conversations is their share of the messages (kept
//! here rather than asked for per search: one round trip less; a conversation created since
//! counts as empty, which only widens the window). A search needs `COUNT_LIMIT + 1` readable
//! matches; the window is made [`SAFETY`] times the messages that should hold them.
//!
//! **Never a wrong answer.** The window only shortens the search when it holds at least
//! `COUNT_LIMIT + 1` matches: then the newest that many matches overall lie inside it (it holds
//! every message since its start). When it holds fewer — statistics gone stale, matches deleted —
//! the search runs again without it. Messages added since the statistics were taken are newer
//! than any bound, so they only widen the window. Without statistics (a table never analysed),
//! a term outside the common ones, a `from:` or `has:file` filter, or a `before:` date, there is
//! no window.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{COUNT_LIMIT, MessageSearch};

/// How often the statistics are read again.
const REFRESH: Duration = Duration::from_secs(300);
/// The window holds this many times the messages expected to hold the matches needed.
const SAFETY: f64 = 2.0;

/// What PostgreSQL's statistics say about `messages` (see the module docs).
#[derive(Debug, Default)]
pub(super) struct TableStats {
    /// The share of messages holding each common term (a phrase's pairs included).
    terms: HashMap<String, f64>,
    /// `created_at` values cutting the table, as analysed, into equal parts; ascending.
    bounds: Vec<OffsetDateTime>,
    /// Rows when analysed.
    rows: f64,
    /// Messages ever sent to each conversation (`channels.last_seq`, those with any).
    sent_to: HashMap<Uuid, f64>,
    /// Their sum: the whole the reader's share is taken of.
    sent: f64,
}

impl TableStats {
    /// The share of messages expected to match every clause: the product of each clause's
    /// share (its pairs' for a phrase: those imply its terms); `0` when a term is not common.
    pub(super) fn matching_share(&self, clauses: &[Vec<String>]) -> f64 {
        let mut share = 1.0;
        for clause in clauses {
            let clause_share = match clause.as_slice() {
                [] => 1.0,
                [term] => self.terms.get(term).copied().unwrap_or(0.0),
                terms => terms
                    .windows(2)
                    .map(|w| {
                        self.terms
                            .get(&format!("{} {}", w[0], w[1]))
                            .copied()
                            .unwrap_or(0.0)
                    })
                    .fold(1.0, f64::min),
            };
            share *= clause_share;
        }
        if clauses.is_empty() { 0.0 } else { share }
    }

    /// The share of all messages sent to `conversations` (`0` without statistics).
    pub(super) fn share_of(&self, conversations: &[Uuid]) -> f64 {
        if self.sent <= 0.0 {
            return 0.0;
        }
        let read: f64 = conversations
            .iter()
            .filter_map(|id| self.sent_to.get(id))
            .sum();
        (read / self.sent).min(1.0)
    }

    /// Where the window starts for a search whose matches are `matching_share` of the messages,
    /// by a reader of `reader_share` of them; `None`: search everything.
    pub(super) fn window_start(
        &self,
        matching_share: f64,
        reader_share: f64,
    ) -> Option<OffsetDateTime> {
        if self.bounds.len() < 2 || self.rows <= 0.0 {
            return None;
        }
        let density = matching_share * reader_share;
        if density <= 0.0 {
            return None;
        }
        // Rows (of all conversations) to go back to hold SAFETY × the matches needed.
        let rows_back = needed() / density;
        let kept = 1.0 - rows_back / self.rows;
        if kept <= 0.0 {
            return None;
        }
        // The bound at or before that point (rounded down: a longer window).
        let last = self.bounds.len() - 1;
        let i = ((kept * last as f64).floor() as usize).min(last);
        (i > 0).then(|| self.bounds[i])
    }
}

/// Messages a window should hold matches for.
fn needed() -> f64 {
    SAFETY * (COUNT_LIMIT + 1) as f64
}

/// The statistics, read again at most every [`REFRESH`].
#[derive(Default)]
pub(super) struct StatsCache {
    current: Mutex<Option<(Instant, Arc<TableStats>)>>,
}

impl StatsCache {
    /// The statistics: empty (no window) when there are none (never analysed) or they cannot
    /// be read, until the next refresh.
    pub(super) async fn get(&self, db: &impl ConnectionTrait) -> Arc<TableStats> {
        if let Ok(current) = self.current.lock()
            && let Some((read_at, stats)) = current.as_ref()
            && read_at.elapsed() < REFRESH
        {
            return stats.clone();
        }
        let stats = match read(db).await {
            Ok(stats) => Arc::new(stats),
            Err(e) => {
                tracing::debug!(error = %e, "search statistics unavailable");
                Arc::new(TableStats::default())
            }
        };
        if let Ok(mut current) = self.current.lock() {
            *current = Some((Instant::now(), stats.clone()));
        }
        stats
    }
}

async fn read(db: &impl ConnectionTrait) -> Result<TableStats, DbErr> {
    let pg = |sql: &str| Statement::from_string(DbBackend::Postgres, sql);
    let mut stats = TableStats::default();
    for row in db
        .query_all_raw(pg(
            "SELECT u.term, u.share::float8 AS share FROM pg_stats s, \
             unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) AS u(term, share) \
             WHERE s.schemaname = current_schema() AND s.tablename = 'messages' \
             AND s.attname = 'search_vector' AND u.term IS NOT NULL",
        ))
        .await?
    {
        stats
            .terms
            .insert(row.try_get("", "term")?, row.try_get("", "share")?);
    }
    for row in db
        .query_all_raw(pg(
            "SELECT b.at FROM pg_stats s, unnest(s.histogram_bounds::text::timestamptz[]) AS b(at) \
             WHERE s.schemaname = current_schema() AND s.tablename = 'messages' \
             AND s.attname = 'created_at' ORDER BY b.at",
        ))
        .await?
    {
        stats.bounds.push(row.try_get("", "at")?);
    }
    for row in db
        .query_all_raw(pg(
            "SELECT id, last_seq::float8 AS sent FROM channels WHERE last_seq > 0",
        ))
        .await?
    {
        let sent: f64 = row.try_get("", "sent")?;
        stats.sent += sent;
        stats.sent_to.insert(row.try_get("", "id")?, sent);
    }
    if let Some(row) = db
        .query_one_raw(pg(
            "SELECT reltuples::float8 AS rows FROM pg_class WHERE oid = 'messages'::regclass",
        ))
        .await?
    {
        stats.rows = row.try_get("", "rows")?;
    }
    Ok(stats)
}

/// Whether `search` may be bounded in time at all (see the module docs).
pub(super) fn applies(search: &MessageSearch) -> bool {
    !search.clauses.is_empty()
        && search.users.is_empty()
        && !search.has_file
        && search.until.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(minute)
    }

    fn stats() -> TableStats {
        TableStats {
            terms: [
                ("kiwi", 0.5),
                ("fig", 0.01),
                ("releas note", 0.2),
                ("releas", 0.6),
            ]
            .into_iter()
            .map(|(t, s)| (t.to_string(), s))
            .collect(),
            // 100,000 rows in ten equal parts, one minute each.
            bounds: (0..=10).map(at).collect(),
            rows: 100_000.0,
            sent_to: [(conversation(1), 20_000.0), (conversation(2), 80_000.0)]
                .into_iter()
                .collect(),
            sent: 100_000.0,
        }
    }

    fn conversation(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn clause(terms: &[&str]) -> Vec<String> {
        terms.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn a_search_matches_the_product_of_its_clauses_and_a_phrase_its_pairs() {
        let s = stats();
        assert_eq!(s.matching_share(&[clause(&["kiwi"])]), 0.5);
        assert_eq!(
            s.matching_share(&[clause(&["kiwi"]), clause(&["fig"])]),
            0.005
        );
        assert_eq!(s.matching_share(&[clause(&["releas", "note"])]), 0.2);
        // A term that is not common: no estimate, no window.
        assert_eq!(
            s.matching_share(&[clause(&["kiwi"]), clause(&["plum"])]),
            0.0
        );
        assert_eq!(s.matching_share(&[]), 0.0);
    }

    #[test]
    fn the_window_holds_twice_the_messages_expected_to_hold_the_matches() {
        let s = stats();
        // Half the messages match, the reader reads a fifth: 2 × 1,001 matches need
        // 20,020 rows, a fifth of the table: the window starts at the bound of 80 %.
        let fifth = s.share_of(&[conversation(1)]);
        assert_eq!(fifth, 0.2);
        assert_eq!(s.window_start(0.5, fifth), Some(at(7)));
        // A reader of everything needs 4,004 rows: rounded down to the bound of 90 %.
        let all = s.share_of(&[conversation(1), conversation(2), conversation(3)]);
        assert_eq!(all, 1.0);
        assert_eq!(s.window_start(0.5, all), Some(at(9)));
        // Rarer matches need more of the table than there is: no window.
        assert_eq!(s.window_start(0.01, fifth), None);
        assert_eq!(s.window_start(0.0, fifth), None);
        // A conversation the statistics do not know (created since) holds nothing yet.
        assert_eq!(s.share_of(&[conversation(3)]), 0.0);
    }

    #[test]
    fn without_statistics_there_is_no_window() {
        let s = TableStats::default();
        assert_eq!(s.share_of(&[conversation(1)]), 0.0);
        assert_eq!(s.window_start(0.5, 1.0), None);
    }
}
