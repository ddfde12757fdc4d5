//! PostgreSQL keeps a message's search terms once, as the `tsvector` (issue 12).
//!
//! Migration 000008 stored them twice: `messages.search_terms`, the text the server writes, and
//! `search_vector`, a generated column cast from it. The text was a third of every row (~260 of
//! ~740 bytes at 1,000,000 messages, ~250 MB) that nothing reads: searches walk the rows by
//! `search_vector`, so every row they pass cost a third more pages, and every message the
//! server loaded carried the text along.
//!
//! Now `search_vector` is a plain column, set by a trigger from the terms the write path puts
//! in `search_terms`, which the trigger then clears — the write path is unchanged and the text
//! is never stored:
//! - terms given (an insert or edit with the postgres backend on, the backfill): the vector is
//!   made from them and the text dropped;
//! - no terms but new content (an edit made while another backend was on): the vector is
//!   cleared, so it is never stale, and the server makes it again (`search_vector IS NULL`);
//! - anything else (a reply count, a deletion mark): the vector stays.
//!
//! Existing terms are not converted here: the server's terms version changes with this format
//! (`search::postgres_index::TERMS_VERSION`), so it makes them all again on its first start, in
//! the background, as after an analyzer change. SQLite has no vector and keeps `search_terms`
//! NULL; nothing changes there.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    // Dropping the generated column drops its GIN index.
    "ALTER TABLE messages DROP COLUMN search_vector",
    "ALTER TABLE messages ADD COLUMN search_vector tsvector",
    "CREATE FUNCTION colink_messages_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN \
       IF NEW.search_terms IS NOT NULL THEN \
         NEW.search_vector := CAST(NEW.search_terms AS tsvector); \
         NEW.search_terms := NULL; \
       ELSIF TG_OP = 'UPDATE' AND NEW.content IS DISTINCT FROM OLD.content THEN \
         NEW.search_vector := NULL; \
       END IF; \
       RETURN NEW; \
     END $$",
    "CREATE TRIGGER messages_search_vector BEFORE INSERT OR UPDATE ON messages \
     FOR EACH ROW EXECUTE FUNCTION colink_messages_search_vector()",
    "CREATE INDEX idx_messages_search_vector ON messages USING gin (search_vector)",
    // The text of live messages goes when their terms are made again; deleted messages are
    // never searched, so theirs goes now.
    "UPDATE messages SET search_terms = NULL \
     WHERE deleted_at IS NOT NULL AND search_terms IS NOT NULL",
];

const DOWN: &[&str] = &[
    "DROP TRIGGER messages_search_vector ON messages",
    "DROP FUNCTION colink_messages_search_vector()",
    "ALTER TABLE messages DROP COLUMN search_vector",
    // As migration 000008 left it; the terms are made again on the next start (the version
    // recorded in `search_state` is forgotten, so the server does not trust empty text).
    "ALTER TABLE messages ADD COLUMN search_vector tsvector \
     GENERATED ALWAYS AS (CAST(search_terms AS tsvector)) STORED",
    "CREATE INDEX idx_messages_search_vector ON messages USING gin (search_vector)",
    "DELETE FROM search_state WHERE backend = 'postgres'",
];

async fn run(m: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
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
        run(m, UP).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        run(m, DOWN).await
    }
}
