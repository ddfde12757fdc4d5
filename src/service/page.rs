//! Cursor pagination (SPEC §4): `?limit=` (default 50, at most 200) and `?cursor=`; a page is
//! `(items, next_cursor)`, `next_cursor` being `None` on the last page. A cursor is the sort key
//! of the last item of the previous page, in one of three shapes:
//!
//! - a name (lists ordered by a unique name: channels, members) — used as it is;
//! - a sequence number (messages, threads) — [`parse_seq`];
//! - an [`ActivityKey`] (lists ordered by last activity, newest first: conversations, DMs, pins).
//!
//! Every list pages in SQL (`ORDER BY … LIMIT limit + 1` after the cursor): no list loads more
//! than one page of rows.

use sea_orm::{
    ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select,
    sea_query::{Condition, Expr, ExprTrait},
};
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
/// These lists are ordered with `ORDER BY` on the timestamp column: stored timestamps are fixed
/// width (see [`crate::domain::clock::now`]), so SQLite's text order is time order too.
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

    /// A cursor: `<nanos>_<uuid>`, the time within what a timestamp can hold.
    pub fn parse(cursor: &str) -> AppResult<Self> {
        let (at, id) = cursor.split_once('_').ok_or_else(bad_cursor)?;
        let key = Self {
            at: at.parse().map_err(|_| bad_cursor())?,
            id: id.parse().map_err(|_| bad_cursor())?,
        };
        key.time()?;
        Ok(key)
    }

    pub fn encode(&self) -> String {
        format!("{}_{}", self.at, self.id)
    }

    fn time(&self) -> AppResult<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp_nanos(self.at).map_err(|_| bad_cursor())
    }
}

/// One page of `query`, newest first by `at` (a timestamp expression) then `id` (descending),
/// after `cursor`, in SQL. `key` must give the sort key of a row: the values `at` and `id`
/// have for it.
pub async fn newest_first<E: EntityTrait>(
    db: &impl ConnectionTrait,
    query: Select<E>,
    at: Expr,
    id: Expr,
    key: impl Fn(&E::Model) -> ActivityKey,
    cursor: Option<&str>,
    limit: u64,
) -> AppResult<(Vec<E::Model>, Option<String>)> {
    let limit = self::limit(limit);
    let rows = newest_first_query(query, at, id, cursor, limit)?
        .all(db)
        .await?;
    Ok(split(rows, limit, |r| key(r).encode()))
}

/// The query of [`newest_first`] (cursor condition, order, one row more than `limit`), for
/// queries read otherwise than into one model; cut its rows with [`split`].
pub fn newest_first_query<Q: QueryFilter + QueryOrder + QuerySelect>(
    mut query: Q,
    at: Expr,
    id: Expr,
    cursor: Option<&str>,
    limit: u64,
) -> AppResult<Q> {
    if let Some(after) = cursor.map(ActivityKey::parse).transpose()? {
        let t = after.time()?;
        query = query.filter(
            Condition::any().add(at.clone().lt(t)).add(
                Condition::all()
                    .add(at.clone().eq(t))
                    .add(id.clone().lt(after.id)),
            ),
        );
    }
    Ok(query
        .order_by(at, Order::Desc)
        .order_by(id, Order::Desc)
        .limit(self::limit(limit) + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_cursors_round_trip_and_refuse_garbage() {
        let key = ActivityKey::new(
            OffsetDateTime::UNIX_EPOCH + time::Duration::nanoseconds(1_234_567_891),
            Uuid::from_u128(7),
        );
        assert_eq!(ActivityKey::parse(&key.encode()).unwrap(), key);
        // Ties on the time are broken by id.
        assert!(ActivityKey::new(key.time().unwrap(), Uuid::from_u128(8)) > key);
        for bad in [
            "",
            "x",
            "1_",
            "_1",
            "1_nope",
            "a_00000000-0000-0000-0000-000000000000",
            // Beyond what a timestamp holds.
            "999999999999999999999999999_00000000-0000-0000-0000-000000000000",
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
