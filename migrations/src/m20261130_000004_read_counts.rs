//! Read counts kept in the write transaction, so the sidebar's unread and mention counts cost
//! the same whatever the backlog (issue 9):
//!
//! - `channels.top_level_count`: the channel's top-level messages that are not deleted;
//! - `channel_members.read_top_level`: of those, the ones at or before the member's marker;
//! - `channel_members.own_unread`: the member's own top-level messages after their marker;
//! - `channel_members.mention_count`: messages by others after the marker that mention them.
//!
//! Unread = `top_level_count - read_top_level - own_unread`. Existing data is backfilled.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn counter(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .default(0)
        .to_owned()
}

/// The counters computed from the messages and mentions, for the rows that exist.
pub const BACKFILL: &[&str] = &[
    "UPDATE channels SET top_level_count = (SELECT COUNT(*) FROM messages m \
     WHERE m.channel_id = channels.id AND m.thread_root_id IS NULL AND m.deleted_at IS NULL)",
    "UPDATE channel_members SET read_top_level = (SELECT COUNT(*) FROM messages m \
     WHERE m.channel_id = channel_members.channel_id AND m.thread_root_id IS NULL \
     AND m.deleted_at IS NULL AND m.seq <= channel_members.last_read_seq)",
    "UPDATE channel_members SET own_unread = (SELECT COUNT(*) FROM messages m \
     WHERE m.channel_id = channel_members.channel_id AND m.thread_root_id IS NULL \
     AND m.deleted_at IS NULL AND m.seq > channel_members.last_read_seq \
     AND m.user_id = channel_members.user_id)",
    "UPDATE channel_members SET mention_count = (SELECT COUNT(DISTINCT n.message_id) \
     FROM mentions n WHERE n.channel_id = channel_members.channel_id \
     AND n.seq > channel_members.last_read_seq AND n.author_id <> channel_members.user_id \
     AND (n.user_id = channel_members.user_id OR n.kind IN ('channel', 'here')))",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Channels::Table)
                .add_column(counter(Channels::TopLevelCount))
                .to_owned(),
        )
        .await?;
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for col in [
            ChannelMembers::ReadTopLevel,
            ChannelMembers::OwnUnread,
            ChannelMembers::MentionCount,
        ] {
            m.alter_table(
                Table::alter()
                    .table(ChannelMembers::Table)
                    .add_column(counter(col))
                    .to_owned(),
            )
            .await?;
        }
        for statement in BACKFILL {
            m.get_connection().execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            ChannelMembers::ReadTopLevel,
            ChannelMembers::OwnUnread,
            ChannelMembers::MentionCount,
        ] {
            m.alter_table(
                Table::alter()
                    .table(ChannelMembers::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(Channels::Table)
                .drop_column(Channels::TopLevelCount)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Channels {
    Table,
    TopLevelCount,
}

#[derive(DeriveIden)]
enum ChannelMembers {
    Table,
    ReadTopLevel,
    OwnUnread,
    MentionCount,
}
