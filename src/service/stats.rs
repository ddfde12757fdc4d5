//! The admin console's numbers (`GET /admin/stats`): people and their activity, messages per
//! day, files stored, open reports, the busiest channels.
//!
//! Invariant: no query here reads the messages table. Messages are counted from
//! `message_counts` (one row per UTC day and conversation, kept by the message writer in each
//! batch's transaction, see [`count_sent`]); people from `users` through the `last_active_at`
//! index; so the cost follows the number of people, conversations and days, never the number
//! of messages.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, OnConflict, Query},
};
use time::{
    Duration, OffsetDateTime, format_description::BorrowedFormatItem, macros::format_description,
};
use uuid::Uuid;

use crate::{
    app::AppState,
    db::entity::{active_day, channel, file, message_count, report, user},
    error::AppResult,
};

const DAY: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// `at`'s UTC day as `message_counts.day` holds it.
pub fn day_of(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .date()
        .format(DAY)
        .unwrap_or_default()
}

/// Add a batch's messages to the day's counts: `sent` holds (conversation, messages) pairs.
/// One statement; called by the message writer inside the batch's transaction.
pub async fn count_sent(
    tx: &DatabaseTransaction,
    sent: &[(Uuid, i64)],
    at: OffsetDateTime,
) -> Result<(), DbErr> {
    if sent.is_empty() {
        return Ok(());
    }
    let day = day_of(at);
    let rows = sent
        .iter()
        .map(|(channel_id, n)| message_count::ActiveModel {
            day: sea_orm::Set(day.clone()),
            channel_id: sea_orm::Set(*channel_id),
            count: sea_orm::Set(*n),
        });
    message_count::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([message_count::Column::Day, message_count::Column::ChannelId])
                .value(
                    message_count::Column::Count,
                    Expr::cust("message_counts.count + excluded.count"),
                )
                .to_owned(),
        )
        .exec_without_returning(tx)
        .await?;
    Ok(())
}

/// A number for one UTC day.
pub struct DayCount {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub count: i64,
}

pub struct ChannelCount {
    pub channel: channel::Model,
    pub messages: i64,
}

pub struct Stats {
    /// Accounts that are not deactivated, bots left out.
    pub users_total: u64,
    /// Of those, active since 00:00 UTC today / in the last 30 days (from recorded activity,
    /// precise to a minute or so).
    pub users_active_today: u64,
    pub users_active_30_days: u64,
    pub messages_today: i64,
    /// The last 30 UTC days, oldest first, today last; days without messages count 0.
    pub messages_per_day: Vec<DayCount>,
    /// People (as in `users_total`) active on each of the last 30 UTC days, oldest first.
    pub active_per_day: Vec<DayCount>,
    /// Confirmed, not deleted files, and their bytes.
    pub files: u64,
    pub storage_bytes: i64,
    pub open_reports: u64,
    /// Public and private channels (not DMs) with the most messages in the last 7 days (today
    /// included), most first; at most 10.
    pub top_channels: Vec<ChannelCount>,
}

/// `SUM(column)` as a 64-bit integer on every backend (PostgreSQL sums bigints as numeric),
/// 0 for no rows.
fn sum(column: &str) -> Expr {
    Expr::cust(format!("CAST(COALESCE(SUM({column}), 0) AS BIGINT)"))
}

#[tracing::instrument(skip_all)]
pub async fn collect(state: &AppState, now: OffsetDateTime) -> AppResult<Stats> {
    // This server's activity noted since the worker's last flush counts too.
    state.activity.flush(state).await?;
    let db = &state.db;
    let today = now
        .to_offset(time::UtcOffset::UTC)
        .replace_time(time::Time::MIDNIGHT);
    let (users_total, users_active_today, users_active_30_days) = people(db, now, today).await?;
    let messages_per_day = per_day(db, today).await?;
    let (files, storage_bytes) = stored_files(db).await?;
    let open_reports = report::Entity::find()
        .filter(report::Column::OpenFor.is_not_null())
        .count(db)
        .await?;
    Ok(Stats {
        users_total,
        users_active_today,
        users_active_30_days,
        messages_today: messages_per_day.last().map_or(0, |d| d.count),
        messages_per_day,
        active_per_day: active_per_day(db, today).await?,
        files,
        storage_bytes,
        open_reports,
        top_channels: top_channels(db, today).await?,
    })
}

/// Accounts (bots and deactivated ones left out): all, active today, active in 30 days.
pub(crate) async fn people(
    db: &DatabaseConnection,
    now: OffsetDateTime,
    today: OffsetDateTime,
) -> AppResult<(u64, u64, u64)> {
    let people = || {
        user::Entity::find()
            .filter(user::Column::DeactivatedAt.is_null())
            .filter(user::Column::Role.ne("bot"))
    };
    let month_ago = now - Duration::days(30);
    Ok((
        people().count(db).await?,
        people()
            .filter(user::Column::LastActiveAt.gte(today))
            .count(db)
            .await?,
        people()
            .filter(user::Column::LastActiveAt.gte(month_ago))
            .count(db)
            .await?,
    ))
}

/// Messages on each of the 30 days up to `today`, oldest first.
async fn per_day(db: &DatabaseConnection, today: OffsetDateTime) -> AppResult<Vec<DayCount>> {
    let counted: HashMap<String, i64> = message_count::Entity::find()
        .select_only()
        .column(message_count::Column::Day)
        .expr(sum("count"))
        .filter(message_count::Column::Day.gte(day_of(today - Duration::days(29))))
        .group_by(message_count::Column::Day)
        .into_tuple::<(String, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(last_30_days(today, &counted))
}

/// People (bots and deactivated accounts left out, as in [`people`]) active on each of the 30
/// days up to `today`, oldest first, from `active_days` (one row per person and day, see
/// `service::activity`).
async fn active_per_day(
    db: &DatabaseConnection,
    today: OffsetDateTime,
) -> AppResult<Vec<DayCount>> {
    let not_counted = Query::select()
        .column(user::Column::Id)
        .from(user::Entity)
        .cond_where(
            Condition::any()
                .add(user::Column::Role.eq("bot"))
                .add(user::Column::DeactivatedAt.is_not_null()),
        )
        .to_owned();
    let counted: HashMap<String, i64> = active_day::Entity::find()
        .select_only()
        .column(active_day::Column::Day)
        .expr(Expr::cust("COUNT(*)"))
        .filter(active_day::Column::Day.gte(day_of(today - Duration::days(29))))
        .filter(active_day::Column::UserId.not_in_subquery(not_counted))
        .group_by(active_day::Column::Day)
        .into_tuple::<(String, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(last_30_days(today, &counted))
}

/// One entry for each of the 30 days up to `today`, oldest first; 0 for days not in `counted`.
fn last_30_days(today: OffsetDateTime, counted: &HashMap<String, i64>) -> Vec<DayCount> {
    (0..30)
        .rev()
        .map(|ago| {
            let day = day_of(today - Duration::days(ago));
            DayCount {
                count: counted.get(&day).copied().unwrap_or(0),
                day,
            }
        })
        .collect()
}

/// Confirmed, not deleted files and their bytes.
async fn stored_files(db: &DatabaseConnection) -> AppResult<(u64, i64)> {
    let (files, bytes): (i64, i64) = file::Entity::find()
        .select_only()
        .expr(Expr::cust("COUNT(*)"))
        .expr(sum("size_bytes"))
        .filter(file::Column::DeletedAt.is_null())
        .filter(file::Column::ConfirmedAt.is_not_null())
        .into_tuple()
        .one(db)
        .await?
        .unwrap_or((0, 0));
    Ok((u64::try_from(files).unwrap_or(0), bytes))
}

/// The 10 public or private channels with the most messages in the 7 days up to `today`.
async fn top_channels(
    db: &DatabaseConnection,
    today: OffsetDateTime,
) -> AppResult<Vec<ChannelCount>> {
    let channels = Query::select()
        .column(channel::Column::Id)
        .from(channel::Entity)
        .and_where(channel::Column::Kind.is_in(["public", "private"]))
        .to_owned();
    let busiest: Vec<(Uuid, i64)> = message_count::Entity::find()
        .select_only()
        .column(message_count::Column::ChannelId)
        .expr_as(sum("count"), "messages")
        .filter(message_count::Column::Day.gte(day_of(today - Duration::days(6))))
        .filter(message_count::Column::ChannelId.in_subquery(channels))
        .group_by(message_count::Column::ChannelId)
        .order_by_desc(Expr::cust("messages"))
        .order_by_asc(message_count::Column::ChannelId)
        .limit(10)
        .into_tuple()
        .all(db)
        .await?;
    let ids: Vec<Uuid> = busiest.iter().map(|(id, _)| *id).collect();
    let mut found: HashMap<Uuid, channel::Model> = channel::Entity::find()
        .filter(channel::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    Ok(busiest
        .into_iter()
        .filter_map(|(id, messages)| {
            Some(ChannelCount {
                channel: found.remove(&id)?,
                messages,
            })
        })
        .collect())
}
