//! `message_counts`: messages sent per UTC day and conversation (issue 13's admin stats).
//!
//! The message writer adds each batch's messages here in the batch's transaction (one upsert per
//! batch), so the stats read at most one row per conversation and day — their cost does not
//! grow with the number of messages. Deleted messages stay counted: they were sent. `day` is
//! `YYYY-MM-DD` text, which orders like the date on every backend. The migration counts the
//! messages already stored.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

use crate::helpers::uuid;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(MessageCounts::Table)
                .col(ColumnDef::new(MessageCounts::Day).string().not_null())
                .col(uuid(MessageCounts::ChannelId))
                .col(
                    ColumnDef::new(MessageCounts::Count)
                        .big_integer()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(MessageCounts::Day)
                        .col(MessageCounts::ChannelId),
                )
                .to_owned(),
        )
        .await?;
        let day = match m.get_database_backend() {
            DatabaseBackend::Postgres => "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
            _ => "substr(created_at, 1, 10)",
        };
        m.get_connection()
            .execute_unprepared(&format!(
                "INSERT INTO message_counts (day, channel_id, count) \
                 SELECT {day}, channel_id, COUNT(*) FROM messages GROUP BY {day}, channel_id"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(MessageCounts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum MessageCounts {
    Table,
    Day,
    ChannelId,
    Count,
}
