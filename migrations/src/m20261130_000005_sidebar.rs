//! What the sidebar shows per conversation, kept on the channel row so that listing conversations
//! reads one row per conversation (issue 9):
//!
//! - `channels.member_count`: the rows of `channel_members` for the channel (was a
//!   `COUNT … GROUP BY` over every member of every listed channel);
//! - `channels.last_top_level_seq`: the seq of the channel's last top-level message, deleted or
//!   not (0 before the first), so the conversation's last message is one look-up by
//!   `(channel_id, seq)` instead of a backwards search past the replies.
//!
//! Existing data is backfilled.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns computed from the members and messages, for the rows that exist.
pub const BACKFILL: &[&str] = &[
    "UPDATE channels SET member_count = (SELECT COUNT(*) FROM channel_members cm \
     WHERE cm.channel_id = channels.id)",
    "UPDATE channels SET last_top_level_seq = COALESCE((SELECT MAX(m.seq) FROM messages m \
     WHERE m.channel_id = channels.id AND m.thread_root_id IS NULL), 0)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for col in [Channels::MemberCount, Channels::LastTopLevelSeq] {
            m.alter_table(
                Table::alter()
                    .table(Channels::Table)
                    .add_column(
                        ColumnDef::new(col)
                            .big_integer()
                            .not_null()
                            .default(0)
                            .to_owned(),
                    )
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
        for col in [Channels::MemberCount, Channels::LastTopLevelSeq] {
            m.alter_table(
                Table::alter()
                    .table(Channels::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Channels {
    Table,
    MemberCount,
    LastTopLevelSeq,
}
