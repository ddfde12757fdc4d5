//! Statements per request: every statement the database runs inside a request's task is counted
//! for that request (a task-local the edge sets around each request, see [`counted`]), and the
//! access log reports the number as `db_statements`. Work outside a request (the message writer,
//! the relay, workers) is not counted anywhere.

use std::{cell::Cell, future::Future};

tokio::task_local! {
    static STATEMENTS: Cell<u32>;
}

/// Run `work`, counting the statements it runs.
pub async fn counted<F: Future>(work: F) -> (F::Output, u32) {
    STATEMENTS
        .scope(Cell::new(0), async move {
            let out = work.await;
            (out, STATEMENTS.with(Cell::get))
        })
        .await
}

/// One statement ran (called by the connection's metric callback, in the task that ran it).
pub(super) fn note() {
    let _ = STATEMENTS.try_with(|c| c.set(c.get().saturating_add(1)));
}
