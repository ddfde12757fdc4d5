//! Schema migrations, shared by SQLite and PostgreSQL. One file per migration.

pub use sea_orm_migration::prelude::*;

mod helpers;
mod m20261122_000001_identity;
mod m20261122_000002_conversations;
mod m20261130_000003_thread_follows;
mod m20261130_000004_read_counts;
mod m20261130_000005_sidebar;
mod m20261201_000006_channel_versions;
mod m20261202_000007_files;
mod m20261203_000008_search;
mod m20261204_000009_people;
mod m20261205_000010_reports;
mod m20261206_000011_moderation_rules;
mod m20261207_000012_message_counts;
mod m20261208_000013_active_days;
mod m20261209_000014_settings;
mod m20261210_000015_outbox_traceparent;
mod m20261211_000016_external_identities;
mod m20261212_000017_search_vector_only;
mod m20261213_000018_messages_channel_created;

/// The statements that compute the read counters from the messages (run by the migration; tests
/// use them to check the counters kept on every change against a recount).
pub use m20261130_000004_read_counts::BACKFILL as READ_COUNTS_BACKFILL;
/// The statements that compute the channels' member counts and last top-level seqs.
pub use m20261130_000005_sidebar::BACKFILL as SIDEBAR_BACKFILL;
/// Which messages the postgres search backend's window indexes hold (see the migration).
pub use m20261213_000018_messages_channel_created::{SEARCH_WINDOW_LONG, SEARCH_WINDOW_SHORT};

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_identity::Migration),
            Box::new(m20261122_000002_conversations::Migration),
            Box::new(m20261130_000003_thread_follows::Migration),
            Box::new(m20261130_000004_read_counts::Migration),
            Box::new(m20261130_000005_sidebar::Migration),
            Box::new(m20261201_000006_channel_versions::Migration),
            Box::new(m20261202_000007_files::Migration),
            Box::new(m20261203_000008_search::Migration),
            Box::new(m20261204_000009_people::Migration),
            Box::new(m20261205_000010_reports::Migration),
            Box::new(m20261206_000011_moderation_rules::Migration),
            Box::new(m20261207_000012_message_counts::Migration),
            Box::new(m20261208_000013_active_days::Migration),
            Box::new(m20261209_000014_settings::Migration),
            Box::new(m20261210_000015_outbox_traceparent::Migration),
            Box::new(m20261211_000016_external_identities::Migration),
            Box::new(m20261212_000017_search_vector_only::Migration),
            Box::new(m20261213_000018_messages_channel_created::Migration),
        ]
    }
}
