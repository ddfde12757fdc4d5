//! Group commit for new messages — top-level messages and thread replies alike: the one path
//! by which a message is written. Request handlers validate and authorise concurrently, then hand
//! the message to one writer task, which stores every message waiting at that moment in a single
//! transaction (see [`store`] for the steps). Each sender gets its answer only after the commit,
//! so a 201 always means durable.
//!
//! If a batch fails, its messages are retried one by one so that one bad message cannot fail the
//! others.

mod store;
#[cfg(test)]
mod tests;

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, SqlErr};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{
    group_commit,
    views::{MentionSet, MessageView},
};
use crate::{
    bus::relay::OutboxFeed,
    db::{WriteGate, entity::message},
    error::{AppError, AppResult},
    workers::{Placement, Shutdown, Worker},
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
}

pub enum Stored {
    Created(Box<MessageView>),
    /// The author sent this `client_id` before: the id of that message.
    Duplicate(Uuid),
}

struct Job {
    message: NewMessage,
    reply: oneshot::Sender<AppResult<Stored>>,
}

/// The senders' side: cheap to clone, kept in the app state.
#[derive(Clone)]
pub struct MessageWriter {
    jobs: mpsc::Sender<Job>,
}

/// The writer task's side: a [`Worker`] on a thread of its own, started by `app.rs`.
pub struct WriterTask {
    jobs: mpsc::Receiver<Job>,
    writer: Writer,
}

/// What stores the batches.
struct Writer {
    db: DatabaseConnection,
    gate: WriteGate,
    outbox: OutboxFeed,
}

pub fn channel(
    db: DatabaseConnection,
    gate: WriteGate,
    outbox: OutboxFeed,
) -> (MessageWriter, WriterTask) {
    let (tx, rx) = mpsc::channel(8192);
    (
        MessageWriter { jobs: tx },
        WriterTask {
            jobs: rx,
            writer: Writer { db, gate, outbox },
        },
    )
}

impl MessageWriter {
    /// Store a message; resolves after it has been committed.
    pub async fn store(&self, message: NewMessage) -> AppResult<Stored> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { message, reply })
            .await
            .map_err(|_| group_commit::shutting_down())?;
        answer.await.map_err(|_| group_commit::shutting_down())?
    }
}

#[async_trait::async_trait]
impl Worker for WriterTask {
    fn name(&self) -> &'static str {
        "message-writer"
    }

    /// Every message goes through this task: it must not queue behind request handlers.
    fn placement(&self) -> Placement {
        Placement::Dedicated
    }

    async fn run(self: Box<Self>, shutdown: Shutdown) {
        self.work(shutdown).await;
    }
}

impl WriterTask {
    async fn work(self, shutdown: Shutdown) {
        let Self { mut jobs, writer } = self;
        group_commit::run(&mut jobs, shutdown, MAX_BATCH, &writer).await;
    }
}

impl group_commit::Batches<Job> for Writer {
    async fn write(&self, batch: Vec<Job>) {
        let (messages, replies): (Vec<NewMessage>, Vec<oneshot::Sender<AppResult<Stored>>>) =
            batch.into_iter().map(|j| (j.message, j.reply)).unzip();
        match self.commit(&messages).await {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) if messages.len() > 1 => {
                tracing::warn!(error = %e, size = messages.len(), "message batch failed; storing one by one");
                for (message, reply) in messages.into_iter().zip(replies) {
                    let single = [message];
                    let result = match self.commit(&single).await {
                        Ok(mut r) => r
                            .pop()
                            .unwrap_or_else(|| Err(AppError::internal("empty batch result"))),
                        Err(e) => self.explain(&single[0], e).await,
                    };
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                let result = self.explain(&messages[0], e).await;
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(result);
                }
            }
        }
    }
}

impl Writer {
    /// A lone message failed: a `client_id` race lost to another transaction is a duplicate.
    async fn explain(&self, m: &NewMessage, e: sea_orm::DbErr) -> AppResult<Stored> {
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

    /// Store `messages` in one transaction; one result per message, in order. Their events go
    /// to the relay after the commit.
    async fn commit(
        &self,
        messages: &[NewMessage],
    ) -> Result<Vec<AppResult<Stored>>, sea_orm::DbErr> {
        let (tx, _write) = crate::db::begin_write(&self.db, &self.gate).await?;
        let (results, committed) = store::store(&tx, messages).await?;
        tx.commit().await?;
        self.outbox.hand_over(committed);
        Ok(results)
    }
}
