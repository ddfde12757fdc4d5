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
use uuid::Uuid;

use super::{events, group_commit, read_counts};
use crate::{
    bus::relay::OutboxFeed,
    db::{WriteGate, entity::channel_member},
    domain::events::{ConversationRead, Event, EventData},
    error::AppResult,
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

/// The callers' side: cheap to clone, kept in the app state.
pub type MarkerWriter = group_commit::Submitter<MarkerMove, Moved>;

/// The writer task (see `group_commit::WriterTask`), started by `app.rs` with a database
/// connection of its own, so that it never holds the write gate while waiting for one of the
/// pool's.
pub type MarkerTask = group_commit::WriterTask<Writer>;

/// What moves the batches.
pub struct Writer {
    db: DatabaseConnection,
    gate: WriteGate,
    outbox: OutboxFeed,
}

pub fn channel(
    db: DatabaseConnection,
    gate: WriteGate,
    outbox: OutboxFeed,
) -> (MarkerWriter, MarkerTask) {
    group_commit::writer("marker-writer", MAX_BATCH, Writer { db, gate, outbox })
}

impl group_commit::Store for Writer {
    type Item = MarkerMove;
    type Answer = Moved;

    /// Move `markers` in one transaction, in order (a later move of the same member sees the
    /// earlier one); one answer per marker. Their events go to the relay after the commit.
    async fn commit(&self, markers: &[MarkerMove]) -> Result<Vec<AppResult<Moved>>, DbErr> {
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
            moved.push(Ok(done));
        }
        let committed = events::emit_all(&tx, read).await?;
        tx.commit().await?;
        self.outbox.hand_over(committed);
        Ok(moved)
    }

    async fn failed(&self, _: &MarkerMove, e: DbErr) -> AppResult<Moved> {
        Err(e.into())
    }
}
