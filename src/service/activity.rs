//! Who used CoLink when: `users.last_active_at`, to the minute, for the admin list ("last
//! active"), the stats (active today / in 30 days) and nothing that needs more precision.
//!
//! Recording must cost a request nothing measurable, so a request only notes the user in memory
//! ([`Activity::touch`], a map lookup under a mutex, and at most once a minute per user an
//! insert into the pending set); the [`ActivityWorker`] stores the pending users every
//! `FLUSH_EVERY` in one `UPDATE … WHERE id IN (…)` per 500 users, and once more at shutdown.
//! A stored time is the flush's, so it is late by at most `FLUSH_EVERY`. The memory is bounded:
//! entries older than a minute are dropped at each flush, and past `MAX_PENDING` users awaiting
//! a flush new ones are not noted until the next one (their activity is recorded a minute later).
//!
//! The same flush adds (day, user) rows to `active_days` for the admin console's "active users
//! per day" chart (migration 000013) and prunes the rows older than [`KEEP_DAYS`].

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, OnConflict},
};
use uuid::Uuid;

use super::{now, stats};
use crate::{
    app::AppState,
    db::entity::{active_day, user},
    error::AppResult,
    workers::{Shutdown, Worker},
};

/// How often noted activity is stored.
pub const FLUSH_EVERY: Duration = Duration::from_secs(30);
/// A user noted this recently is not noted again.
const RENOTE_AFTER: Duration = Duration::from_secs(60);
const MAX_PENDING: usize = 100_000;
const CHUNK: usize = 500;
/// Days of `active_days` kept: the stats chart's 30 and some slack.
pub const KEEP_DAYS: i64 = 35;

#[derive(Default)]
pub struct Activity {
    inner: Mutex<Noted>,
}

#[derive(Default)]
struct Noted {
    /// When each recently active user was last noted.
    last_noted: HashMap<Uuid, Instant>,
    /// Noted since the last flush.
    pending: Vec<Uuid>,
}

impl Activity {
    /// `user` just used the API or a WebSocket.
    pub fn touch(&self, user: Uuid) {
        let mut noted = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if let Some(at) = noted.last_noted.get(&user)
            && now.duration_since(*at) < RENOTE_AFTER
        {
            return;
        }
        if noted.pending.len() >= MAX_PENDING {
            return;
        }
        noted.last_noted.insert(user, now);
        noted.pending.push(user);
    }

    /// Store what was noted since the last flush; returns how many users.
    pub async fn flush(&self, state: &AppState) -> AppResult<usize> {
        let pending = {
            let mut noted = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            noted.last_noted.retain(|_, at| at.elapsed() < RENOTE_AFTER);
            std::mem::take(&mut noted.pending)
        };
        if pending.is_empty() {
            return Ok(0);
        }
        let at = now();
        let day = stats::day_of(at);
        for chunk in pending.chunks(CHUNK) {
            let ids = chunk.to_vec();
            let day = day.clone();
            state
                .write(move |tx| {
                    Box::pin(async move {
                        let days = ids.iter().map(|id| active_day::ActiveModel {
                            day: Set(day.clone()),
                            user_id: Set(*id),
                        });
                        active_day::Entity::insert_many(days)
                            .on_conflict(
                                OnConflict::columns([
                                    active_day::Column::Day,
                                    active_day::Column::UserId,
                                ])
                                .do_nothing()
                                .to_owned(),
                            )
                            .exec_without_returning(tx)
                            .await?;
                        user::Entity::update_many()
                            .col_expr(user::Column::LastActiveAt, Expr::value(at))
                            .filter(user::Column::Id.is_in(ids))
                            .exec(tx)
                            .await?;
                        Ok(())
                    })
                })
                .await?;
        }
        let oldest_kept = stats::day_of(at - time::Duration::days(KEEP_DAYS));
        state
            .write(move |tx| {
                Box::pin(async move {
                    active_day::Entity::delete_many()
                        .filter(active_day::Column::Day.lt(oldest_kept))
                        .exec(tx)
                        .await?;
                    Ok(())
                })
            })
            .await?;
        Ok(pending.len())
    }
}

/// Stores noted activity every [`FLUSH_EVERY`] and at shutdown.
pub struct ActivityWorker(pub std::sync::Arc<AppState>);

#[async_trait]
impl Worker for ActivityWorker {
    fn name(&self) -> &'static str {
        "activity"
    }

    async fn run(self: Box<Self>, mut shutdown: Shutdown) {
        let mut interval = tokio::time::interval(FLUSH_EVERY);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let stop = tokio::select! {
                _ = interval.tick() => false,
                _ = shutdown.changed() => true,
            };
            if let Err(e) = self.0.activity.flush(&self.0).await {
                tracing::warn!(error = %e, "storing users' last activity failed");
            }
            if stop {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_noted_once_a_minute_at_most() {
        let activity = Activity::default();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        activity.touch(a);
        activity.touch(a);
        activity.touch(b);
        activity.touch(a);
        let noted = activity.inner.lock().unwrap();
        assert_eq!(noted.pending, vec![a, b]);
    }
}
