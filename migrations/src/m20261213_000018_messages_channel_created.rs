//! An index of each conversation's messages by time, on PostgreSQL (issue 12).
//!
//! The postgres search backend bounds a search of common words in time
//! (`search::postgres_window`): PostgreSQL then ANDs the word's GIN bitmap with one of the
//! readable conversations' messages since the window's start, read from this index, and fetches
//! only the rows in both. `ux_messages_channel_seq` names the same rows but cannot bound them
//! by time. SQLite has no postgres search backend and gets nothing.
//!
//! Built in the migration's transaction: at 1,000,000 messages it took ~5 s, during which
//! messages cannot be sent.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

async fn run(m: &SchemaManager<'_>, statement: &str) -> Result<(), DbErr> {
    if m.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    m.get_connection().execute_unprepared(statement).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        run(
            m,
            "CREATE INDEX ix_messages_channel_created ON messages (channel_id, created_at)",
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        run(m, "DROP INDEX ix_messages_channel_created").await
    }
}
