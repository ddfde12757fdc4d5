//! Cursor pagination (SPEC §4): `?limit=` (default 50, at most 200) and `?cursor=`; a page is
//! `(items, next_cursor)`, `next_cursor` being `None` on the last page. A cursor is the sort key
//! of the last item of the previous page, in one of three shapes:
//!
//! - a name (lists ordered by a unique name: channels, members) — used as it is;
//! - a sequence number (messages, threads) — [`parse_seq`];
//! - an [`ActivityKey`] (lists ordered by last activity, newest first: conversations, DMs, pins).

use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Most items on one page.
pub const MAX_LIMIT: u64 = 200;

/// `limit` within 1..=[`MAX_LIMIT`] (the API refuses other values before this).
pub fn limit(limit: u64) -> u64 {
    limit.clamp(1, MAX_LIMIT)
}

fn bad_cursor() -> AppError {
    AppError::validation("cursor: not a valid cursor")
}

/// Cut `rows` (fetched with `limit + 1`) to one page; the cursor is the key of its last item
/// when more follow.
pub fn split<T>(
    mut rows: Vec<T>,
    limit: u64,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() <= limit {
        return (rows, None);
    }
    rows.truncate(limit);
    let next = rows.last().map(key);
    (rows, next)
}

/// A sequence-number cursor.
pub fn parse_seq(cursor: &str) -> AppResult<i64> {
    cursor
        .parse::<i64>()
        .ok()
        .filter(|s| *s >= 0)
        .ok_or_else(bad_cursor)
}

/// Sort key of lists ordered by last activity (newest first): the time in nanoseconds, then the
/// id to break ties. Encoded as `<nanos>_<uuid>`.
///
/// These lists are ordered in the process, not with `ORDER BY`: SQLite stores timestamps as
/// RFC 3339 text whose fraction has no fixed width (`…:05.1Z` vs `…:05.12Z`), so text order is
/// not time order there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ActivityKey {
    at: i128,
    id: Uuid,
}

impl ActivityKey {
    pub fn new(at: OffsetDateTime, id: Uuid) -> Self {
        Self {
            at: at.unix_timestamp_nanos(),
            id,
        }
    }

    pub fn parse(cursor: &str) -> AppResult<Self> {
        let (at, id) = cursor.split_once('_').ok_or_else(bad_cursor)?;
        Ok(Self {
            at: at.parse().map_err(|_| bad_cursor())?,
            id: id.parse().map_err(|_| bad_cursor())?,
        })
    }

    pub fn encode(&self) -> String {
        format!("{}_{}", self.at, self.id)
    }
}

/// One page of `items` ordered by `key`, newest first, after `cursor`.
pub fn by_activity<T>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> ActivityKey,
    cursor: Option<&str>,
    limit: u64,
) -> AppResult<(Vec<T>, Option<String>)> {
    let after = cursor.map(ActivityKey::parse).transpose()?;
    items.sort_by_key(|t| std::cmp::Reverse(key(t)));
    let limit = self::limit(limit);
    let rows: Vec<T> = items
        .into_iter()
        .filter(|t| after.is_none_or(|a| key(t) < a))
        .take(
            usize::try_from(limit)
                .unwrap_or(usize::MAX)
                .saturating_add(1),
        )
        .collect();
    Ok(split(rows, limit, |t| key(t).encode()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_pages_have_no_gaps_or_duplicates() {
        let base = OffsetDateTime::UNIX_EPOCH;
        // Ties on the time are broken by id.
        let items: Vec<ActivityKey> = (0..7u128)
            .map(|i| {
                ActivityKey::new(
                    base + time::Duration::seconds((i / 2) as i64),
                    Uuid::from_u128(i),
                )
            })
            .collect();
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let (page, next) = by_activity(items.clone(), |k| *k, cursor.as_deref(), 3).unwrap();
            seen.extend(page);
            match next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        let mut expected = items.clone();
        expected.sort_by_key(|k| std::cmp::Reverse(*k));
        assert_eq!(seen, expected);
        assert_eq!(
            ActivityKey::parse(&expected[0].encode()).unwrap(),
            expected[0]
        );
        for bad in [
            "",
            "x",
            "1_",
            "_1",
            "1_nope",
            "a_00000000-0000-0000-0000-000000000000",
        ] {
            assert!(ActivityKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn split_and_seq_cursors() {
        assert_eq!(
            split(vec![1, 2, 3], 3, |n| n.to_string()),
            (vec![1, 2, 3], None)
        );
        assert_eq!(
            split(vec![1, 2, 3, 4], 3, |n| n.to_string()),
            (vec![1, 2, 3], Some("3".to_string()))
        );
        assert_eq!(parse_seq("42").unwrap(), 42);
        assert!(parse_seq("-1").is_err());
        assert!(parse_seq("4x").is_err());
    }
}
