//! Group commit: one task takes every item waiting at that moment and stores them in one
//! transaction, so that N waiting writers cost one commit and one turn of the write gate instead
//! of N. Used by the message writer and the read-marker writer; each says how to store a batch
//! ([`Store`]) and this module does the rest: the queue, the batching, the answers, the retry
//! one by one when a batch fails (so one bad item cannot fail the others), and the drain on
//! shutdown. Callers get their answer only after the commit.

use sea_orm::DbErr;
use tokio::sync::{mpsc, oneshot};

use crate::{
    error::{AppError, AppResult, ErrorCode},
    workers::{Placement, Shutdown, Worker},
};

/// Items a queue holds before callers wait to add theirs.
const QUEUE: usize = 8192;

/// How a writer stores its items.
pub trait Store: Sync {
    type Item: Send + Sync;
    type Answer: Send + Sync;

    /// Store `items` in one transaction: one answer per item, in order.
    fn commit(
        &self,
        items: &[Self::Item],
    ) -> impl Future<Output = Result<Vec<AppResult<Self::Answer>>, DbErr>> + Send;

    /// The answer for an item whose own transaction failed with `e`.
    fn failed(
        &self,
        item: &Self::Item,
        e: DbErr,
    ) -> impl Future<Output = AppResult<Self::Answer>> + Send;
}

struct Job<T, R> {
    item: T,
    reply: oneshot::Sender<AppResult<R>>,
}

/// The callers' side: cheap to clone, kept in the app state.
pub struct Submitter<T, R> {
    jobs: mpsc::Sender<Job<T, R>>,
}

impl<T, R> Clone for Submitter<T, R> {
    fn clone(&self) -> Self {
        Self {
            jobs: self.jobs.clone(),
        }
    }
}

/// The writer task's side of a queue.
struct Queue<T, R> {
    jobs: mpsc::Receiver<Job<T, R>>,
}

fn queue<T, R>() -> (Submitter<T, R>, Queue<T, R>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    (Submitter { jobs: tx }, Queue { jobs: rx })
}

/// A group-commit writer's task: a [`Worker`] on a thread of its own, because it holds the write
/// gate while it works and must not wait in the shared run queue behind request handlers.
pub struct WriterTask<S: Store> {
    name: &'static str,
    max: usize,
    queue: Queue<S::Item, S::Answer>,
    store: S,
}

/// A writer named `name` that stores batches of at most `max` items with `store`: the callers'
/// side and the task (listed in `app.rs`).
pub fn writer<S: Store>(
    name: &'static str,
    max: usize,
    store: S,
) -> (Submitter<S::Item, S::Answer>, WriterTask<S>) {
    let (submitter, queue) = queue();
    let task = WriterTask {
        name,
        max,
        queue,
        store,
    };
    (submitter, task)
}

#[async_trait::async_trait]
impl<S: Store + Send + 'static> Worker for WriterTask<S> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn placement(&self) -> Placement {
        Placement::Dedicated
    }

    async fn run(self: Box<Self>, shutdown: Shutdown) {
        let Self {
            name,
            max,
            queue,
            store,
        } = *self;
        run(name, queue, shutdown, max, &store).await;
    }
}

fn shutting_down() -> AppError {
    AppError::new(ErrorCode::Unavailable, "the server is shutting down")
}

impl<T, R> Submitter<T, R> {
    /// Queue `item`; resolves with its answer after the commit.
    pub async fn submit(&self, item: T) -> AppResult<R> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { item, reply })
            .await
            .map_err(|_| shutting_down())?;
        answer.await.map_err(|_| shutting_down())?
    }
}

/// Store batches from `queue` with `store` until the queue closes: wait for one item, add every
/// item already waiting behind it (at most `max`), store them. On shutdown (the HTTP server has
/// stopped accepting requests) close the queue and store what is left, one item at a time.
async fn run<S: Store>(
    name: &'static str,
    mut queue: Queue<S::Item, S::Answer>,
    mut shutdown: Shutdown,
    max: usize,
    store: &S,
) {
    let jobs = &mut queue.jobs;
    loop {
        let first = tokio::select! {
            biased;
            job = jobs.recv() => match job {
                Some(job) => job,
                None => return,
            },
            _ = shutdown.changed() => {
                jobs.close();
                while let Some(job) = jobs.recv().await {
                    write(name, store, vec![job]).await;
                }
                return;
            }
        };
        let mut batch = vec![first];
        while batch.len() < max {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        write(name, store, batch).await;
    }
}

async fn write<S: Store>(name: &'static str, store: &S, batch: Vec<Job<S::Item, S::Answer>>) {
    let (items, replies): (Vec<S::Item>, Vec<_>) =
        batch.into_iter().map(|j| (j.item, j.reply)).unzip();
    match store.commit(&items).await {
        Ok(answers) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(answer);
            }
        }
        Err(e) if items.len() > 1 => {
            tracing::warn!(writer = name, error = %e, size = items.len(), "batch failed; storing one by one");
            for (item, reply) in items.into_iter().zip(replies) {
                let single = [item];
                let answer = match store.commit(&single).await {
                    Ok(mut answers) => answers
                        .pop()
                        .unwrap_or_else(|| Err(AppError::internal("empty batch result"))),
                    Err(e) => store.failed(&single[0], e).await,
                };
                let _ = reply.send(answer);
            }
        }
        Err(e) => {
            if let (Some(item), Some(reply)) = (items.first(), replies.into_iter().next()) {
                let _ = reply.send(store.failed(item, e).await);
            }
        }
    }
}
