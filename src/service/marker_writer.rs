//! Group commit for read markers: the one path by which a read marker moves. Opening a
//! conversation moves the caller's marker, so markers are the most frequent write of a chat
//! server (Mattermost's action mix: 6.5 channel switches per post). Request handlers check
//! access and whether the marker moves at all concurrently; the markers that move are handed to
//! one writer task, which moves every marker waiting at that moment in a single transaction
//! (each with `read_counts::move_marker`, then their `conversation.read` events in one insert)
//! and answers each caller after the commit.
//!
//! If a batch fails (on PostgreSQL, a deadlock with another transaction locking the same member
//! rows in another order), its markers are moved one by one, so one cannot fail the others.

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{events, group_commit, read_counts};
use crate::{
    bus::relay::OutboxFeed,
    db::{WriteGate, entity::channel_member},
    domain::events::{ConversationRead, Event, EventData},
    error::AppResult,
    workers::{Placement, Shutdown, Worker},
};

/// Most markers moved by one transaction.
const MAX_BATCH: usize = 256;

/// A marker to move forward.
#[derive(Debug, Clone, Copy)]
pub struct MarkerMove {
    pub workspace_id: Uuid,
    pub channel_id: Uuid,
    pub user_id: Uuid,
    /// The new marker (already clamped to the conversation's last message).
    pub to: i64,
}

/// The member row after the move and the conversation's top-level total; `None` when the marker
/// was at `to` or past it already (or the membership ended).
pub type Moved = Option<(channel_member::Model, i64)>;

struct Job {
    marker: MarkerMove,
    reply: oneshot::Sender<AppResult<Moved>>,
}

/// The callers' side: cheap to clone, kept in the app state.
#[derive(Clone)]
pub struct MarkerWriter {
    jobs: mpsc::Sender<Job>,
}

/// The writer task's side: a [`Worker`] on a thread of its own with its own database
/// connection (so that it never holds the write gate while waiting for one of the pool's),
/// started by `app.rs`.
pub struct MarkerTask {
    jobs: mpsc::Receiver<Job>,
    writer: Writer,
}

struct Writer {
    db: DatabaseConnection,
    gate: WriteGate,
    outbox: OutboxFeed,
}

pub fn channel(
    db: DatabaseConnection,
    gate: WriteGate,
    outbox: OutboxFeed,
) -> (MarkerWriter, MarkerTask) {
    let (tx, rx) = mpsc::channel(8192);
    (
        MarkerWriter { jobs: tx },
        MarkerTask {
            jobs: rx,
            writer: Writer { db, gate, outbox },
        },
    )
}

impl MarkerWriter {
    /// Move a marker; resolves after the commit.
    pub async fn store(&self, marker: MarkerMove) -> AppResult<Moved> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { marker, reply })
            .await
            .map_err(|_| group_commit::shutting_down())?;
        answer.await.map_err(|_| group_commit::shutting_down())?
    }
}

#[async_trait::async_trait]
impl Worker for MarkerTask {
    fn name(&self) -> &'static str {
        "marker-writer"
    }

    /// Like the message writer: it holds the write gate while it works, so it must not wait in
    /// the shared run queue behind request handlers.
    fn placement(&self) -> Placement {
        Placement::Dedicated
    }

    async fn run(self: Box<Self>, shutdown: Shutdown) {
        let Self { mut jobs, writer } = *self;
        group_commit::run(&mut jobs, shutdown, MAX_BATCH, &writer).await;
    }
}

impl group_commit::Batches<Job> for Writer {
    async fn write(&self, batch: Vec<Job>) {
        let (markers, replies): (Vec<MarkerMove>, Vec<_>) =
            batch.into_iter().map(|j| (j.marker, j.reply)).unzip();
        match self.commit(&markers).await {
            Ok(moved) => {
                for (reply, moved) in replies.into_iter().zip(moved) {
                    let _ = reply.send(Ok(moved));
                }
            }
            Err(e) if markers.len() > 1 => {
                tracing::warn!(error = %e, size = markers.len(), "read marker batch failed; moving one by one");
                for (marker, reply) in markers.into_iter().zip(replies) {
                    let result = self
                        .commit(&[marker])
                        .await
                        .map(|mut moved| moved.pop().flatten())
                        .map_err(Into::into);
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(e.into()));
                }
            }
        }
    }
}

impl Writer {
    /// Move `markers` in one transaction, in order (a later move of the same member sees the
    /// earlier one); one answer per marker. Their events go to the relay after the commit.
    async fn commit(&self, markers: &[MarkerMove]) -> Result<Vec<Moved>, DbErr> {
        let (tx, _write) = crate::db::begin_write(&self.db, &self.gate).await?;
        let mut moved = Vec::with_capacity(markers.len());
        let mut read = Vec::new();
        for m in markers {
            let done = read_counts::move_marker(&tx, m.channel_id, m.user_id, m.to).await?;
            if done.is_some() {
                read.push(Arc::new(Event::new(
                    m.workspace_id,
                    Some(m.channel_id),
                    Some(m.user_id),
                    EventData::ConversationRead(ConversationRead {
                        user_id: m.user_id,
                        last_read_seq: m.to,
                    }),
                )));
            }
            moved.push(done);
        }
        let committed = events::emit_all(&tx, read).await?;
        tx.commit().await?;
        self.outbox.hand_over(committed);
        Ok(moved)
    }
}
