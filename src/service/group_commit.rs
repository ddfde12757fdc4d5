//! The batching loop of the group-commit writers (`message_writer`, `marker_writer`): one task
//! takes every job waiting at that moment and stores them in one transaction, so that N waiting
//! writers cost one commit and one turn of the write gate instead of N.

use tokio::sync::mpsc;

use crate::workers::Shutdown;

/// Stores a batch of jobs (in one transaction) and answers each job.
pub trait Batches<J>: Sync {
    fn write(&self, batch: Vec<J>) -> impl Future<Output = ()> + Send;
}

/// Feed `writer` batches from `jobs` until the queue closes: wait for one job, add every job
/// already waiting behind it (at most `max`), write them. On shutdown (the HTTP server has
/// stopped accepting requests) close the queue and write what is left, one job at a time.
pub async fn run<J: Send>(
    jobs: &mut mpsc::Receiver<J>,
    mut shutdown: Shutdown,
    max: usize,
    writer: &impl Batches<J>,
) {
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
                    writer.write(vec![job]).await;
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
        writer.write(batch).await;
    }
}

/// The answer to a job whose writer has gone (the server is shutting down).
pub fn shutting_down() -> crate::error::AppError {
    crate::error::AppError::new(
        crate::error::ErrorCode::Unavailable,
        "the server is shutting down",
    )
}
