//! Group commit for new messages — top-level messages and thread replies alike: the one path
//! by which a message is written. Request handlers validate and authorise concurrently, then hand
//! the message to one writer task, which stores every message waiting at that moment in a single
//! transaction (see [`store`] for the steps). Each sender gets its answer only after the commit,
//! so a 201 always means durable.
//!
//! If a batch fails, its messages are retried one by one so that one bad message cannot fail the
//! others (`group_commit`).

mod store;
#[cfg(test)]
mod tests;

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, SqlErr};
use uuid::Uuid;

use super::{
    group_commit,
    views::{MentionSet, MessageView},
};
use tracing::Instrument;

use crate::{
    bus::relay::OutboxFeed,
    db::{WriteGate, entity::message},
    error::{AppError, AppResult},
};

/// Most messages stored by one transaction.
const MAX_BATCH: usize = 512;

/// A validated, authorised message waiting to be stored.
pub struct NewMessage {
    pub workspace_id: Uuid,
    pub channel_id: Uuid,
    pub author: Uuid,
    pub content: String,
    pub client_id: Option<String>,
    pub mentions: MentionSet,
    /// For a reply: the root of its thread (in the same channel; checked by the caller).
    pub thread_root_id: Option<Uuid>,
    /// Attached files (checked by the caller), in order.
    pub files: Vec<crate::service::views::FileView>,
    /// The text as stored search terms (`Search::stored_terms`), made by the caller so the
    /// analysis runs in parallel handlers, not in the one writer task.
    pub search_terms: Option<String>,
    /// What the moderation rules said (`moderation_rules::screen`): a `hide` stores the
    /// message hidden; every matching rule files a queue entry.
    pub moderation: crate::service::moderation_rules::Verdict,
    /// The sending request's trace (`telemetry::otlp`), for the writer's and its events' spans.
    pub traceparent: Option<String>,
}

pub enum Stored {
    Created(Box<MessageView>),
    /// The author sent this `client_id` before: the id of that message.
    Duplicate(Uuid),
}

/// The senders' side: cheap to clone, kept in the app state.
pub type MessageWriter = group_commit::Submitter<NewMessage, Stored>;

/// The writer task (see `group_commit::WriterTask`), started by `app.rs`.
pub type WriterTask = group_commit::WriterTask<Writer>;

/// What stores the batches.
pub struct Writer {
    db: DatabaseConnection,
    gate: WriteGate,
    outbox: OutboxFeed,
    /// `messages_created_total`, counted after each commit.
    created: prometheus::IntCounter,
}

pub fn channel(
    db: DatabaseConnection,
    gate: WriteGate,
    outbox: OutboxFeed,
    created: prometheus::IntCounter,
) -> (MessageWriter, WriterTask) {
    let writer = Writer {
        db,
        gate,
        outbox,
        created,
    };
    group_commit::writer("message-writer", MAX_BATCH, writer)
}

impl group_commit::Store for Writer {
    type Item = NewMessage;
    type Answer = Stored;

    /// Store `messages` in one transaction; one result per message, in order. Their events go
    /// to the relay after the commit.
    async fn commit(
        &self,
        messages: &[NewMessage],
    ) -> Result<Vec<AppResult<Stored>>, sea_orm::DbErr> {
        // One transaction for the batch: its span continues the first message's trace.
        let span = crate::telemetry::otlp::continued(
            tracing::debug_span!("db.store_messages", messages = messages.len()),
            messages.first().and_then(|m| m.traceparent.as_deref()),
        );
        let (results, committed) = async {
            let (tx, _write) = crate::db::begin_write(&self.db, &self.gate).await?;
            let stored = store::store(&tx, messages).await?;
            tx.commit().await?;
            Ok::<_, sea_orm::DbErr>(stored)
        }
        .instrument(span)
        .await?;
        self.outbox.hand_over(committed);
        let created = results
            .iter()
            .filter(|r| matches!(r, Ok(Stored::Created(_))))
            .count();
        self.created.inc_by(created as u64);
        Ok(results)
    }

    /// A lone message failed: a `client_id` race lost to another transaction is a duplicate.
    async fn failed(&self, m: &NewMessage, e: sea_orm::DbErr) -> AppResult<Stored> {
        if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
            && let Some(cid) = &m.client_id
            && let Ok(Some(original)) = message::Entity::find()
                .filter(message::Column::UserId.eq(m.author))
                .filter(message::Column::ClientId.eq(cid.as_str()))
                .one(&self.db)
                .await
        {
            if original.channel_id != m.channel_id {
                return Err(AppError::conflict(
                    "client_id was already used for a message in another conversation",
                ));
            }
            return Ok(Stored::Duplicate(original.id));
        }
        Err(e.into())
    }
}
