//! Message search in PostgreSQL (`search.backend = "postgres"`, issue 12).
//!
//! - `messages.search_terms`: the message's text as search terms, written with the message by
//!   the server when that backend is on (`search::postgres_index`): a `tsvector` literal of the
//!   analyzer's terms with their positions. NULL when the message was stored or edited while
//!   another backend was on; the server fills those in before it answers searches. On SQLite the
//!   column stays NULL.
//! - PostgreSQL only: `messages.search_vector`, a generated `tsvector` column cast from
//!   `search_terms` (since migration 000017 a plain column set by a trigger, the text not
//!   kept), with a GIN index — what searches match against. The terms come from the
//!   server's analyzer (not a PostgreSQL text-search configuration) so both backends find the
//!   same messages: stemming, accent folding and CJK bigrams alike. And an index on
//!   `created_at`, by which searches for very common words walk the newest messages.
//! - `search_state`: per backend, the analyzer version its stored terms were made with; a
//!   server whose analyzer differs recomputes them.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

use crate::helpers::text_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE messages ADD COLUMN search_vector tsvector \
     GENERATED ALWAYS AS (CAST(search_terms AS tsvector)) STORED",
    "CREATE INDEX idx_messages_search_vector ON messages USING gin (search_vector)",
    // Newest first across conversations: how a word in most messages is searched.
    "CREATE INDEX idx_messages_created_at ON messages (created_at)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .add_column(text_null(Messages::SearchTerms))
                .to_owned(),
        )
        .await?;
        if m.get_database_backend() == DatabaseBackend::Postgres {
            for statement in POSTGRES_UP {
                m.get_connection().execute_unprepared(statement).await?;
            }
        }
        m.create_table(
            Table::create()
                .table(SearchState::Table)
                .col(
                    ColumnDef::new(SearchState::Backend)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(SearchState::Version).integer().not_null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SearchState::Table).to_owned())
            .await?;
        if m.get_database_backend() == DatabaseBackend::Postgres {
            // Dropping the column drops its GIN index; the other index goes by itself.
            for statement in [
                "DROP INDEX IF EXISTS idx_messages_created_at",
                "ALTER TABLE messages DROP COLUMN search_vector",
            ] {
                m.get_connection().execute_unprepared(statement).await?;
            }
        }
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .drop_column(Messages::SearchTerms)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    SearchTerms,
}

#[derive(DeriveIden)]
enum SearchState {
    Table,
    Backend,
    Version,
}
