//! `colink admin reindex`: rebuild the search index (tantivy) or make every search term again
//! (postgres) from the database.

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Instant,
};

use anyhow::Context;

use crate::{
    app::AppState,
    config::SearchBackend,
    search::{
        indexer,
        postgres_index::{Backfill, PostgresIndex},
        tantivy_index::TantivyIndex,
    },
};

pub async fn run(state: &AppState) -> anyhow::Result<()> {
    match state.config.search.backend {
        SearchBackend::Tantivy => tantivy(state).await,
        SearchBackend::Postgres => postgres(state).await,
    }
}

/// Rebuild the index directory (the server must not be running: it holds the index).
async fn tantivy(state: &AppState) -> anyhow::Result<()> {
    let dir = state.config.search.index_dir(&state.config.data_dir);
    if TantivyIndex::in_use(&dir) {
        anyhow::bail!(
            "the search index in {} is in use by a running server: stop it first, or delete that \
             directory and restart the server (it rebuilds the index in the background)",
            dir.display()
        );
    }
    let (index, _) = TantivyIndex::open(&dir)
        .with_context(|| format!("opening the search index in {}", dir.display()))?;
    let writer = index.writer().context("taking the search index's writer")?;
    let (index, writer) = (Arc::new(index), Arc::new(Mutex::new(writer)));
    let bar = Bar::new();
    indexer::rebuild_from(&state.db, &index, &writer, |d, t| bar.show(d, t), || false)
        .await
        .context("rebuilding the search index")?;
    bar.finish();
    println!(
        "search index rebuilt: {} messages in {:.1} s ({})",
        index.len(),
        bar.began.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(())
}

/// Make every message's search terms again (safe while servers run: each message's terms are
/// replaced in one statement, and an edit meanwhile keeps its own).
async fn postgres(state: &AppState) -> anyhow::Result<()> {
    let (index, _) = PostgresIndex::open(state.db.clone())
        .await
        .context("opening PostgreSQL search")?;
    let bar = Bar::new();
    let made = index
        .backfill(Backfill::All, |d, t| bar.show(d, t), || false)
        .await
        .context("making the search terms")?;
    bar.finish();
    println!(
        "search terms made again: {made} messages in {:.1} s (PostgreSQL)",
        bar.began.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The progress bar: redrawn in place on a terminal; a line every few seconds in a log.
struct Bar {
    began: Instant,
    tty: bool,
    last: std::cell::Cell<Instant>,
}

impl Bar {
    fn new() -> Self {
        Self {
            began: Instant::now(),
            tty: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            last: std::cell::Cell::new(Instant::now()),
        }
    }

    fn show(&self, done: u64, total: u64) {
        let every = if self.tty { 0.1 } else { 5.0 };
        if done != total && done != 0 && self.last.get().elapsed().as_secs_f64() < every {
            return;
        }
        self.last.set(Instant::now());
        let line = progress_line(done, total, self.began.elapsed().as_secs_f64());
        let mut err = std::io::stderr().lock();
        let _ = if self.tty {
            write!(err, "\r{line}")
        } else {
            writeln!(err, "{line}")
        };
    }

    fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

/// `[#######.............]  35%  35000/100000 messages  12.0 s`
fn progress_line(done: u64, total: u64, seconds: f64) -> String {
    const WIDTH: u64 = 30;
    let filled = (done * WIDTH)
        .checked_div(total)
        .unwrap_or(WIDTH)
        .min(WIDTH);
    let percent = (done * 100).checked_div(total).unwrap_or(100);
    format!(
        "[{}{}] {percent:>3}%  {done}/{total} messages  {seconds:.1} s",
        "#".repeat(filled as usize),
        ".".repeat((WIDTH - filled) as usize),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bar_fills_with_progress() {
        assert_eq!(
            super::progress_line(35, 100, 1.3),
            "[##########....................]  35%  35/100 messages  1.3 s"
        );
        assert!(super::progress_line(0, 0, 0.0).contains("100%"));
    }
}
