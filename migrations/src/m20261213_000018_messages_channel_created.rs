//! The postgres search backend's time window, read from an index (issue 12; PostgreSQL only).
//!
//! The backend bounds a search of common words in time (`search::postgres_window`): the newest
//! messages of the reader's conversations, since the window's start, tested against the words.
//! This index holds exactly what that needs — each live message's conversation and time as the
//! key, its id and search vector beside them — so PostgreSQL tests the words on the index's own
//! entries (an index-only scan) instead of fetching every row of the window from the table, one
//! random page each (a common word's search: 22–31 → 8–12 ms at 1,000,000 messages,
//! docs/benchmarks.md).
//!
//! An index entry must fit a third of a page (2,704 bytes), so only vectors whose text form is
//! at most [`SEARCH_WINDOW_SHORT`]'s 1,500 bytes are held (their stored form is at most 1⅔ times
//! that: a one-letter lexeme with one position, the densest there is). The few longer ones have
//! an index of their own without the vector, read in the same search (`SEARCH_WINDOW_LONG`).
//! Messages without a vector (another backend is on) are in neither: nothing is stored for them.
//!
//! Built in the migration's transaction: seconds per million messages, during which messages
//! cannot be sent.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The condition of the messages whose vector is held in `ix_messages_search_window`; a query
/// must state it, as written here, to be answered from that index.
pub const SEARCH_WINDOW_SHORT: &str = "octet_length(CAST(search_vector AS text)) <= 1500";
/// The condition of the other messages with a vector (`ix_messages_search_window_long`).
pub const SEARCH_WINDOW_LONG: &str = "octet_length(CAST(search_vector AS text)) > 1500";

async fn run(m: &SchemaManager<'_>, statements: &[String]) -> Result<(), DbErr> {
    if m.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    for statement in statements {
        m.get_connection().execute_unprepared(statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        run(
            m,
            &[
                format!(
                    "CREATE INDEX ix_messages_search_window ON messages (channel_id, created_at) \
                     INCLUDE (id, search_vector) \
                     WHERE deleted_at IS NULL AND {SEARCH_WINDOW_SHORT}"
                ),
                format!(
                    "CREATE INDEX ix_messages_search_window_long ON messages \
                     (channel_id, created_at) WHERE deleted_at IS NULL AND {SEARCH_WINDOW_LONG}"
                ),
            ],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        run(
            m,
            &[
                "DROP INDEX ix_messages_search_window".to_string(),
                "DROP INDEX ix_messages_search_window_long".to_string(),
            ],
        )
        .await
    }
}
