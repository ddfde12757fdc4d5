//! Group commit for new messages. Request handlers validate and authorise concurrently, then hand
//! the message to one writer task, which stores every message waiting at that moment in a single
//! transaction: one idempotency lookup, one `UPDATE … RETURNING` per channel for the sequence
//! numbers, and multi-row inserts for messages, mentions and outbox events. Each sender gets its
//! answer only after the commit, so a 201 always means durable.
//!
//! If a batch fails, its messages are retried one by one so that one bad message cannot fail the
//! others.

use std::collections::HashMap;

use std::sync::Arc;

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    NotSet, QueryFilter, QueryTrait, Set, SqlErr,
    sea_query::{Expr, ExprTrait},
};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::views::{MentionSet, MessageView};
use crate::{
    bus::relay::{Committed, OutboxFeed},
    db::{
        WriteGate,
        entity::{channel, mention, message, outbox},
    },
    domain::events::{Event, EventData},
    error::{AppError, AppResult},
    workers::Shutdown,
};

/// Most messages stored by one transaction.
const MAX_BATCH: usize = 512;

/// A validated, authorised top-level message waiting to be stored.
pub struct NewMessage {
    pub workspace_id: Uuid,
    pub channel_id: Uuid,
    pub author: Uuid,
    pub content: String,
    pub client_id: Option<String>,
    pub mentions: MentionSet,
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

/// The writer task's side, taken once by `app.rs` when the workers start.
pub struct WriterTask {
    jobs: mpsc::Receiver<Job>,
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
            db,
            gate,
            outbox,
        },
    )
}

impl MessageWriter {
    /// Store a message; resolves after it has been committed.
    pub async fn store(&self, message: NewMessage) -> AppResult<Stored> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { message, reply }).await.map_err(|_| {
            AppError::new(
                crate::error::ErrorCode::Unavailable,
                "the server is shutting down",
            )
        })?;
        answer.await.map_err(|_| {
            AppError::new(
                crate::error::ErrorCode::Unavailable,
                "the server is shutting down",
            )
        })?
    }
}

impl WriterTask {
    pub async fn run(mut self, mut shutdown: Shutdown) {
        loop {
            let first = tokio::select! {
                biased;
                job = self.jobs.recv() => match job {
                    Some(job) => job,
                    None => return,
                },
                _ = shutdown.changed() => {
                    // The HTTP server has stopped accepting requests: store what is queued.
                    self.jobs.close();
                    while let Some(job) = self.jobs.recv().await {
                        self.write(vec![job]).await;
                    }
                    return;
                }
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match self.jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.write(batch).await;
        }
    }

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
        let (results, committed) = store(&tx, messages).await?;
        tx.commit().await?;
        self.outbox.hand_over(committed);
        Ok(results)
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "being split into steps on the writepath branch"
)]
async fn store(
    tx: &DatabaseTransaction,
    messages: &[NewMessage],
) -> Result<(Vec<AppResult<Stored>>, Committed), sea_orm::DbErr> {
    let mut results: Vec<Option<AppResult<Stored>>> = messages.iter().map(|_| None).collect();

    // Idempotency: client ids seen before, and repeats within this batch.
    let mut keyed = Condition::any();
    let mut any_key = false;
    for m in messages {
        if let Some(cid) = &m.client_id {
            keyed = keyed.add(
                Condition::all()
                    .add(message::Column::UserId.eq(m.author))
                    .add(message::Column::ClientId.eq(cid.as_str())),
            );
            any_key = true;
        }
    }
    let mut known: HashMap<(Uuid, String), (Uuid, Uuid)> = HashMap::new();
    if any_key {
        for row in message::Entity::find().filter(keyed).all(tx).await? {
            if let Some(cid) = row.client_id {
                known.insert((row.user_id, cid), (row.id, row.channel_id));
            }
        }
    }
    let mut fresh: Vec<usize> = Vec::new();
    let mut ids: Vec<Uuid> = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let id = Uuid::now_v7();
        ids.push(id);
        if let Some(cid) = &m.client_id {
            match known.get(&(m.author, cid.clone())) {
                Some((_, channel)) if *channel != m.channel_id => {
                    results[i] = Some(Err(AppError::conflict(
                        "client_id was already used for a message in another conversation",
                    )));
                    continue;
                }
                Some((original, _)) => {
                    results[i] = Some(Ok(Stored::Duplicate(*original)));
                    continue;
                }
                None => {
                    known.insert((m.author, cid.clone()), (id, m.channel_id));
                }
            }
        }
        fresh.push(i);
    }

    // Sequence numbers: one increment per channel, under the channel row's write lock.
    let now = crate::domain::clock::now();
    let mut per_channel: Vec<(Uuid, Vec<usize>)> = Vec::new();
    for &i in &fresh {
        match per_channel
            .iter_mut()
            .find(|(c, _)| *c == messages[i].channel_id)
        {
            Some((_, list)) => list.push(i),
            None => per_channel.push((messages[i].channel_id, vec![i])),
        }
    }
    // One statement for every channel: last_seq += (that channel's count), RETURNING the new values.
    let mut seqs: HashMap<usize, i64> = HashMap::new();
    if !per_channel.is_empty() {
        let mut increment = sea_orm::sea_query::CaseStatement::new();
        for (channel_id, list) in &per_channel {
            let n = i64::try_from(list.len()).unwrap_or(i64::MAX);
            increment = increment.case(Expr::col(channel::Column::Id).eq(*channel_id), n);
        }
        let increment: Expr = increment.finally(0i64).into();
        let ids: Vec<Uuid> = per_channel.iter().map(|(c, _)| *c).collect();
        let updated = channel::Entity::update_many()
            .col_expr(
                channel::Column::LastSeq,
                Expr::col(channel::Column::LastSeq).add(increment),
            )
            .col_expr(channel::Column::LastMessageAt, Expr::value(now))
            .filter(channel::Column::Id.is_in(ids))
            .exec_with_returning(tx)
            .await?;
        let last: HashMap<Uuid, i64> = updated.into_iter().map(|c| (c.id, c.last_seq)).collect();
        for (channel_id, list) in &per_channel {
            let n = i64::try_from(list.len()).unwrap_or(i64::MAX);
            let last = *last
                .get(channel_id)
                .ok_or_else(|| sea_orm::DbErr::RecordNotFound("channel".into()))?;
            for (k, &i) in list.iter().enumerate() {
                seqs.insert(i, last - n + 1 + i64::try_from(k).unwrap_or(0));
            }
        }
    }

    let mut rows = Vec::with_capacity(fresh.len());
    let mut mention_rows = Vec::new();
    let mut events = Vec::with_capacity(fresh.len());
    let mut published: HashMap<Uuid, Arc<Event>> = HashMap::with_capacity(fresh.len());
    for &i in &fresh {
        let m = &messages[i];
        let seq = seqs[&i];
        let model = message::Model {
            id: ids[i],
            channel_id: m.channel_id,
            seq,
            user_id: m.author,
            content: m.content.clone(),
            thread_root_id: None,
            reply_count: 0,
            last_reply_at: None,
            client_id: m.client_id.clone(),
            edited_at: None,
            deleted_at: None,
            deleted_by: None,
            created_at: now,
        };
        let mention = |kind: &str, user: Option<Uuid>| mention::ActiveModel {
            id: Set(Uuid::now_v7()),
            message_id: Set(model.id),
            channel_id: Set(m.channel_id),
            seq: Set(seq),
            author_id: Set(m.author),
            kind: Set(kind.to_string()),
            user_id: Set(user),
        };
        mention_rows.extend(
            m.mentions
                .user_ids
                .iter()
                .map(|u| mention("user", Some(*u))),
        );
        if m.mentions.channel {
            mention_rows.push(mention("channel", None));
        }
        if m.mentions.here {
            mention_rows.push(mention("here", None));
        }
        let mut view = MessageView::bare(model.clone());
        view.mentions = m.mentions.clone();
        let event = Event::new(
            m.workspace_id,
            Some(m.channel_id),
            Some(m.author),
            EventData::MessageCreated(view.clone()),
        )
        .with_seq(seq);
        events.push(outbox::ActiveModel {
            position: NotSet,
            event_id: Set(event.id),
            event_type: Set(event.kind().as_str().to_string()),
            workspace_id: Set(event.workspace_id),
            channel_id: Set(event.channel_id),
            payload: Set(serde_json::to_string(&event).unwrap_or_default()),
            created_at: Set(event.occurred_at),
            published_at: Set(None),
        });
        published.insert(event.id, Arc::new(event));
        rows.push(message::ActiveModel::from(model));
        results[i] = Some(Ok(Stored::Created(Box::new(view))));
    }
    // Multi-row inserts, in chunks that stay under every backend's bind-parameter limit.
    for chunk in rows.chunks(256) {
        message::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(tx)
            .await?;
    }
    for chunk in mention_rows.chunks(512) {
        mention::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(tx)
            .await?;
    }
    let mut committed = Vec::with_capacity(events.len());
    for chunk in events.chunks(512) {
        let mut insert = outbox::Entity::insert_many(chunk.to_vec()).into_query();
        insert.returning(
            sea_orm::sea_query::Query::returning()
                .columns([outbox::Column::Position, outbox::Column::EventId]),
        );
        for row in tx.query_all(&insert).await? {
            let position: i64 = row.try_get("", "position")?;
            let event_id: Uuid = row.try_get("", "event_id")?;
            if let Some(event) = published.remove(&event_id) {
                committed.push((position, event));
            }
        }
    }
    let results = results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(AppError::internal("message left without a result"))))
        .collect();
    Ok((results, committed))
}
