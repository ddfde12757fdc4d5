//! The follows a batch of new replies makes, written in the batch's own transaction with a
//! constant number of statements whatever its size (chunked only by bind-parameter limits):
//!
//! 1. `UPDATE … SET last_reply_at` on every follow of the batch's roots (the list's order);
//! 2. one multi-row upsert for the repliers: followed again, marker moved to their reply;
//! 3. one multi-row insert, skipping rows that exist, for the roots' authors and the users
//!    mentioned in a root or a reply — an explicit unfollow sticks.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{
    ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, OnConflict, SimpleExpr},
};
use uuid::Uuid;

use crate::db::entity::thread_follow;

/// Follow rows per multi-row statement (7 columns): under every backend's parameter limit.
const CHUNK: usize = 512;

/// One new reply, as far as follows are concerned.
pub struct Reply {
    pub root_id: Uuid,
    pub channel_id: Uuid,
    pub author: Uuid,
    pub seq: i64,
    /// Users mentioned by name in the reply.
    pub mentioned: Vec<Uuid>,
    pub root_author: Uuid,
    /// Users mentioned by name in the root.
    pub root_mentioned: Vec<Uuid>,
}

/// `last_read_seq` of an upsert: the larger of the stored and the new marker (never backwards).
pub(super) fn greatest_read_seq() -> SimpleExpr {
    Expr::cust(
        "CASE WHEN excluded.last_read_seq > thread_follows.last_read_seq \
         THEN excluded.last_read_seq ELSE thread_follows.last_read_seq END",
    )
}

/// Record the follows `replies` make (inside the batch's transaction).
pub async fn record(
    tx: &DatabaseTransaction,
    replies: &[Reply],
    now: time::OffsetDateTime,
) -> Result<(), DbErr> {
    if replies.is_empty() {
        return Ok(());
    }
    let roots: BTreeSet<Uuid> = replies.iter().map(|r| r.root_id).collect();
    thread_follow::Entity::update_many()
        .col_expr(thread_follow::Column::LastReplyAt, Expr::value(Some(now)))
        .filter(thread_follow::Column::RootId.is_in(roots))
        .exec(tx)
        .await?;

    // (user, root) → (channel, their latest reply's seq).
    let mut repliers: BTreeMap<(Uuid, Uuid), (Uuid, i64)> = BTreeMap::new();
    for r in replies {
        let entry = repliers
            .entry((r.author, r.root_id))
            .or_insert((r.channel_id, r.seq));
        entry.1 = entry.1.max(r.seq);
    }
    let mut others: BTreeMap<(Uuid, Uuid), Uuid> = BTreeMap::new();
    for r in replies {
        let named = r.mentioned.iter().chain(&r.root_mentioned);
        for user in std::iter::once(&r.root_author).chain(named) {
            if !repliers.contains_key(&(*user, r.root_id)) {
                others.insert((*user, r.root_id), r.channel_id);
            }
        }
    }
    let row = |user: Uuid, root: Uuid, channel: Uuid, seq: i64| thread_follow::ActiveModel {
        user_id: Set(user),
        root_id: Set(root),
        channel_id: Set(channel),
        following: Set(true),
        last_read_seq: Set(seq),
        last_reply_at: Set(Some(now)),
        updated_at: Set(now),
    };
    let key = [thread_follow::Column::UserId, thread_follow::Column::RootId];
    let replier_rows: Vec<_> = repliers
        .into_iter()
        .map(|((user, root), (channel, seq))| row(user, root, channel, seq))
        .collect();
    for chunk in replier_rows.chunks(CHUNK) {
        let refollow = OnConflict::columns(key)
            .update_columns([
                thread_follow::Column::Following,
                thread_follow::Column::UpdatedAt,
            ])
            .value(thread_follow::Column::LastReadSeq, greatest_read_seq())
            .to_owned();
        thread_follow::Entity::insert_many(chunk.to_vec())
            .on_conflict(refollow)
            .exec_without_returning(tx)
            .await?;
    }
    let other_rows: Vec<_> = others
        .into_iter()
        .map(|((user, root), channel)| row(user, root, channel, 0))
        .collect();
    for chunk in other_rows.chunks(CHUNK) {
        thread_follow::Entity::insert_many(chunk.to_vec())
            .on_conflict_do_nothing_on(key)
            .exec_without_returning(tx)
            .await?;
    }
    Ok(())
}
