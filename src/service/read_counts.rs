//! Unread and mention counts kept current in the transaction of every change, so reading them
//! costs the same whatever the backlog. The rule (as in Slack; see `read_state`):
//!
//! - unread: top-level messages by others after the member's read marker, not deleted;
//! - mentions: messages (replies too) by others after the marker, not deleted, that mention the
//!   member, `@channel` or `@here`.
//!
//! Stored per conversation: `channels.top_level_count` (top-level messages not deleted); per
//! member: `read_top_level` (of those, the ones at or before the marker), `own_unread` (the
//! member's own ones after the marker) and `mention_count`. Then
//! `unread = top_level_count - read_top_level - own_unread`.
//!
//! Every change that moves one of them goes through this module, in the change's transaction:
//! new messages ([`top_level_count_plus`] and [`on_new_messages`], from the message writer), a moved marker ([`move_marker`]), a
//! deletion ([`on_delete`]), changed mentions ([`on_mentions_changed`]), a new member
//! ([`on_join`]) and a member leaving ([`on_leave`], which also keeps `channels.member_count`). `tests/api/counts.rs` holds them to a brute-force count on random operations.
//!
//! On PostgreSQL the member row is locked (marker update) before anything is counted, and
//! deletions lock the channel row, so a marker move, a join and a deletion that race still agree.

use std::collections::BTreeSet;

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    FromQueryResult, Iterable, QueryFilter, QuerySelect,
    sea_query::{CaseStatement, Expr, ExprTrait, Func, LockType, Query, SelectStatement},
};
use uuid::Uuid;

use crate::db::entity::{channel, channel_member, mention, message};
use crate::service::views::MentionSet;

/// One new message for [`on_new_messages`].
pub struct NewRow<'a> {
    pub channel_id: Uuid,
    pub author: Uuid,
    pub seq: i64,
    pub top_level: bool,
    pub mentions: &'a MentionSet,
}

/// `channels.top_level_count` after a batch that adds `added` top-level messages to each
/// channel, for the message writer's one `UPDATE channels` per batch (the statement that
/// assigns the sequence numbers).
pub fn top_level_count_plus(added: &[(Uuid, i64)]) -> Expr {
    let mut by_channel = CaseStatement::new();
    for (channel_id, n) in added {
        by_channel = by_channel.case(Expr::col(channel::Column::Id).eq(*channel_id), *n);
    }
    let by_channel: Expr = by_channel.finally(0i64).into();
    Expr::col(channel::Column::TopLevelCount).add(by_channel)
}

/// A batch of new messages (the channels' top-level counts are already counted, see
/// [`top_level_count_plus`]): the authors' `own_unread`, in one statement for the batch, and
/// the mention counts of the people each message mentions (one statement per message that
/// mentions anyone).
pub async fn on_new_messages(tx: &DatabaseTransaction, rows: &[NewRow<'_>]) -> Result<(), DbErr> {
    let mut own: Vec<((Uuid, Uuid), i64)> = Vec::new();
    for row in rows.iter().filter(|r| r.top_level) {
        let key = (row.channel_id, row.author);
        match own.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => own.push((key, 1)),
        }
    }
    if !own.is_empty() {
        let mut increment = CaseStatement::new();
        let mut authors = Condition::any();
        for ((channel_id, author), n) in &own {
            let this = Condition::all()
                .add(channel_member::Column::ChannelId.eq(*channel_id))
                .add(channel_member::Column::UserId.eq(*author));
            increment = increment.case(this.clone(), *n);
            authors = authors.add(this);
        }
        let increment: Expr = increment.finally(0i64).into();
        channel_member::Entity::update_many()
            .col_expr(
                channel_member::Column::OwnUnread,
                Expr::col(channel_member::Column::OwnUnread).add(increment),
            )
            .filter(authors)
            .exec(tx)
            .await?;
    }
    let none = MentionSet::default();
    for row in rows.iter().filter(|r| reaches_anyone(r.mentions)) {
        on_mentions_changed(tx, row.channel_id, row.seq, row.author, &none, row.mentions).await?;
    }
    Ok(())
}

fn reaches_anyone(set: &MentionSet) -> bool {
    set.channel || set.here || !set.user_ids.is_empty()
}

/// Whom a message's mentions reach: everyone (`@channel`, `@here`) or these people.
fn reaches(set: &MentionSet) -> (bool, BTreeSet<Uuid>) {
    (
        set.channel || set.here,
        set.user_ids.iter().copied().collect(),
    )
}

/// The mentions of a message (`seq`, by `author`) went from `before` to `after`: members other
/// than the author whose marker is before the message gain or lose one mention.
pub async fn on_mentions_changed(
    db: &impl ConnectionTrait,
    channel_id: Uuid,
    seq: i64,
    author: Uuid,
    before: &MentionSet,
    after: &MentionSet,
) -> Result<(), DbErr> {
    let (all_before, users_before) = reaches(before);
    let (all_after, users_after) = reaches(after);
    let unread_by_others = || {
        channel_member::Entity::update_many()
            .filter(channel_member::Column::ChannelId.eq(channel_id))
            .filter(channel_member::Column::UserId.ne(author))
            .filter(channel_member::Column::LastReadSeq.lt(seq))
    };
    let add = |delta: i64| Expr::col(channel_member::Column::MentionCount).add(delta);
    match (all_before, all_after) {
        (true, true) => {}
        (false, true) => {
            unread_by_others()
                .col_expr(channel_member::Column::MentionCount, add(1))
                .filter(channel_member::Column::UserId.is_not_in(users_before))
                .exec(db)
                .await?;
        }
        (true, false) => {
            unread_by_others()
                .col_expr(channel_member::Column::MentionCount, add(-1))
                .filter(channel_member::Column::UserId.is_not_in(users_after))
                .exec(db)
                .await?;
        }
        (false, false) => {
            let gained: Vec<Uuid> = users_after.difference(&users_before).copied().collect();
            let lost: Vec<Uuid> = users_before.difference(&users_after).copied().collect();
            for (people, delta) in [(gained, 1), (lost, -1)] {
                if !people.is_empty() {
                    unread_by_others()
                        .col_expr(channel_member::Column::MentionCount, add(delta))
                        .filter(channel_member::Column::UserId.is_in(people))
                        .exec(db)
                        .await?;
                }
            }
        }
    }
    Ok(())
}

/// The mentions a stored message makes, read back from its mention rows.
pub async fn stored_mentions(
    db: &impl ConnectionTrait,
    message_id: Uuid,
) -> Result<MentionSet, DbErr> {
    let mut set = MentionSet::default();
    for m in mention::Entity::find()
        .filter(mention::Column::MessageId.eq(message_id))
        .all(db)
        .await?
    {
        set.add(&m);
    }
    Ok(set)
}

/// A message was deleted (its mentions were `mentions`).
pub async fn on_delete(
    tx: &DatabaseTransaction,
    deleted: &message::Model,
    mentions: &MentionSet,
) -> Result<(), DbErr> {
    if deleted.thread_root_id.is_none() {
        channel::Entity::update_many()
            .col_expr(
                channel::Column::TopLevelCount,
                Expr::col(channel::Column::TopLevelCount).sub(1),
            )
            .filter(channel::Column::Id.eq(deleted.channel_id))
            .exec(tx)
            .await?;
        // Members who had read it: one fewer read; its author, if after their marker: one
        // fewer of their own.
        channel_member::Entity::update_many()
            .col_expr(
                channel_member::Column::ReadTopLevel,
                Expr::col(channel_member::Column::ReadTopLevel).sub(1),
            )
            .filter(channel_member::Column::ChannelId.eq(deleted.channel_id))
            .filter(channel_member::Column::LastReadSeq.gte(deleted.seq))
            .exec(tx)
            .await?;
        channel_member::Entity::update_many()
            .col_expr(
                channel_member::Column::OwnUnread,
                Expr::col(channel_member::Column::OwnUnread).sub(1),
            )
            .filter(channel_member::Column::ChannelId.eq(deleted.channel_id))
            .filter(channel_member::Column::UserId.eq(deleted.user_id))
            .filter(channel_member::Column::LastReadSeq.lt(deleted.seq))
            .exec(tx)
            .await?;
    }
    let none = MentionSet::default();
    on_mentions_changed(
        tx,
        deleted.channel_id,
        deleted.seq,
        deleted.user_id,
        mentions,
        &none,
    )
    .await
}

/// `user_id` was just added to `channel_id`: the channel counts one more member, the new
/// member's marker is the channel's last message, and their counters start from the channel row
/// as it is now (written, so locked: no deletion slips between).
pub async fn on_join(
    tx: &DatabaseTransaction,
    channel_id: Uuid,
    user_id: Uuid,
) -> Result<(), DbErr> {
    let Some(channel) = channel::Entity::update_many()
        .col_expr(
            channel::Column::MemberCount,
            Expr::col(channel::Column::MemberCount).add(1i64),
        )
        .filter(channel::Column::Id.eq(channel_id))
        .exec_with_returning(tx)
        .await?
        .pop()
    else {
        return Ok(());
    };
    channel_member::Entity::update_many()
        .col_expr(
            channel_member::Column::LastReadSeq,
            Expr::value(channel.last_seq),
        )
        .col_expr(
            channel_member::Column::ReadTopLevel,
            Expr::value(channel.top_level_count),
        )
        .col_expr(channel_member::Column::OwnUnread, Expr::value(0i64))
        .col_expr(channel_member::Column::MentionCount, Expr::value(0i64))
        .filter(channel_member::Column::ChannelId.eq(channel_id))
        .filter(channel_member::Column::UserId.eq(user_id))
        .exec(tx)
        .await?;
    Ok(())
}

/// A member left `channel_id` (their row is deleted in the same transaction).
pub async fn on_leave(tx: &DatabaseTransaction, channel_id: Uuid) -> Result<(), DbErr> {
    channel::Entity::update_many()
        .col_expr(
            channel::Column::MemberCount,
            Expr::col(channel::Column::MemberCount).sub(1i64),
        )
        .filter(channel::Column::Id.eq(channel_id))
        .exec(tx)
        .await?;
    Ok(())
}

/// Move `user_id`'s marker in `channel_id` forward to `to`, in one statement: an `UPDATE` of the
/// member row (only if its marker is before `to`) that sets the counters for the new marker and
/// returns the row as written and the channel's `top_level_count`. The work is the shorter of
/// two counts over the channel's messages: from the row's own marker up to `to` (the top-level
/// messages now read, their own ones no longer unread), or from `to` to the channel's last
/// message (read = total − what follows; own unread = own ones that follow). Catching up to the
/// latest message after a long absence therefore costs what follows `to` — usually nothing —
/// not the backlog. Mentions are counted after `to` (the `(channel_id, seq)` index of
/// mentions). Two tabs marking read at once count once: the second sees the first's marker
/// (SQLite's one writer; on PostgreSQL the row is locked first, see below). `None`: the marker
/// was at `to` or past it already (or the membership ended).
pub async fn move_marker(
    tx: &DatabaseTransaction,
    channel_id: Uuid,
    user_id: Uuid,
    to: i64,
) -> Result<Option<(channel_member::Model, i64)>, DbErr> {
    use channel_member::Column as M;
    let old_marker = || Expr::col((channel_member::Entity, M::LastReadSeq));
    let channel_value = |column: channel::Column| {
        Expr::from(
            Query::select()
                .column(column)
                .from(channel::Entity)
                .and_where(channel::Column::Id.eq(channel_id))
                .to_owned(),
        )
    };
    let total = || channel_value(channel::Column::TopLevelCount);
    let top_level = || {
        Condition::all()
            .add(Expr::col((message::Entity, message::Column::ThreadRootId)).is_null())
            .add(Expr::col((message::Entity, message::Column::DeletedAt)).is_null())
    };
    let own = || top_level().add(Expr::col((message::Entity, message::Column::UserId)).eq(user_id));
    let range = Range { channel_id, to };
    // Forward when the marker is nearer to `to` than `to` is to the last message.
    let forward = Expr::val(to)
        .sub(old_marker())
        .lte(channel_value(channel::Column::LastSeq).sub(to));
    let read: Expr = CaseStatement::new()
        .case(
            forward.clone(),
            Expr::col(M::ReadTopLevel).add(range.up_to(top_level(), old_marker())),
        )
        .finally(total().sub(range.after(top_level())))
        .into();
    let own_unread: Expr = CaseStatement::new()
        .case(
            forward,
            Expr::col(M::OwnUnread).sub(range.up_to(own(), old_marker())),
        )
        .finally(range.after(own()))
        .into();
    let update = Query::update()
        .table(channel_member::Entity)
        .value(M::ReadTopLevel, read)
        .value(M::OwnUnread, own_unread)
        .value(
            M::MentionCount,
            Expr::from(mentions_after(channel_id, user_id, to)),
        )
        .value(M::LastReadSeq, to)
        .and_where(M::ChannelId.eq(channel_id))
        .and_where(M::UserId.eq(user_id))
        .and_where(M::LastReadSeq.lt(to))
        // The member row, then the channel's total (the last column).
        .returning(
            Query::returning().exprs(
                channel_member::Column::iter()
                    .map(|c| Expr::col((channel_member::Entity, c)))
                    .chain([total()]),
            ),
        )
        .to_owned();
    let backend = tx.get_database_backend();
    if backend == DbBackend::Postgres {
        // Lock the row first. An UPDATE that waits for another transaction's write of the row
        // (the message writer bumping this member's counters) re-evaluates on the new row but
        // keeps its subqueries' older snapshot, so the counts after `to` would miss the
        // messages that write was about; a statement after the lock sees them. (SQLite runs
        // one write transaction at a time: nothing to wait for.)
        channel_member::Entity::find_by_id((channel_id, user_id))
            .select_only()
            .column(M::LastReadSeq)
            .lock(LockType::Update)
            .into_tuple::<i64>()
            .one(tx)
            .await?;
    }
    let Some(row) = tx.query_one_raw(backend.build(&update)).await? else {
        return Ok(None);
    };
    let member = channel_member::Model::from_query_result(&row, "")?;
    let total: i64 = row.try_get_by_index(channel_member::Column::iter().count())?;
    Ok(Some((member, total)))
}

/// Counts of a channel's messages around a new marker `to`, for [`move_marker`]. Over the
/// channel's `(channel_id, seq)` range, with the conditions inside the sum: a `thread_root_id`
/// filter in the WHERE would let SQLite scan the thread index across every channel instead.
struct Range {
    channel_id: Uuid,
    to: i64,
}

impl Range {
    /// Messages meeting `condition` in `(from, to]`.
    fn up_to(&self, condition: Condition, from: Expr) -> Expr {
        self.count(
            condition,
            Condition::all()
                .add(Expr::col((message::Entity, message::Column::Seq)).gt(from))
                .add(Expr::col((message::Entity, message::Column::Seq)).lte(self.to)),
        )
    }

    /// Messages meeting `condition` after `to`.
    fn after(&self, condition: Condition) -> Expr {
        self.count(
            condition,
            Condition::all().add(Expr::col((message::Entity, message::Column::Seq)).gt(self.to)),
        )
    }

    /// `COALESCE((SELECT CAST(SUM(CASE WHEN condition THEN 1 ELSE 0 END) AS BIGINT) …), 0)`:
    /// `SUM` is NUMERIC on PostgreSQL and NULL for no rows.
    fn count(&self, condition: Condition, seqs: Condition) -> Expr {
        let one: Expr = CaseStatement::new()
            .case(condition, 1i64)
            .finally(0i64)
            .into();
        let sum = Query::select()
            .expr(Func::cast_as(Func::sum(one), "BIGINT"))
            .from(message::Entity)
            .and_where(Expr::col((message::Entity, message::Column::ChannelId)).eq(self.channel_id))
            .cond_where(seqs)
            .to_owned();
        Func::coalesce([Expr::from(sum), Expr::val(0i64)]).into()
    }
}

/// `SELECT COUNT(DISTINCT message_id) …`: messages by others after `marker` that mention
/// `user_id`, `@channel` or `@here` (what is left unread after a marker moves: usually few).
fn mentions_after(channel_id: Uuid, user_id: Uuid, marker: i64) -> SelectStatement {
    Query::select()
        .expr(Expr::col(mention::Column::MessageId).count_distinct())
        .from(mention::Entity)
        .and_where(mention::Column::ChannelId.eq(channel_id))
        .and_where(mention::Column::Seq.gt(marker))
        .and_where(mention::Column::AuthorId.ne(user_id))
        .cond_where(
            Condition::any()
                .add(mention::Column::UserId.eq(user_id))
                .add(mention::Column::Kind.is_in(["channel", "here"])),
        )
        .to_owned()
}
