//! Followed threads (issue 9 item 3): who follows which thread, with a read marker per thread,
//! and a backfill of the follows existing threads imply (their roots' authors, repliers and the
//! users mentioned in the root or a reply).

use sea_orm_migration::prelude::*;

use crate::helpers::{fk_cascade as fk, index, ts, ts_null, uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every (user, root) a thread with replies implies, with the root's channel and last reply,
/// the user's channel read marker as the thread's (replies take channel sequence numbers), and
/// `updated_at` copied from a stored timestamp (so it has the stored format on every backend).
const BACKFILL: &str = r#"
INSERT INTO thread_follows
    (user_id, root_id, channel_id, following, last_read_seq, last_reply_at, updated_at)
SELECT f.user_id, r.id, r.channel_id, TRUE,
       COALESCE((SELECT cm.last_read_seq FROM channel_members cm
                 WHERE cm.channel_id = r.channel_id AND cm.user_id = f.user_id), 0),
       r.last_reply_at, r.last_reply_at
FROM (
    SELECT m.user_id AS user_id, m.id AS root_id FROM messages m
    WHERE m.thread_root_id IS NULL AND m.last_reply_at IS NOT NULL
    UNION
    SELECT m.user_id, m.thread_root_id FROM messages m
    WHERE m.thread_root_id IS NOT NULL AND m.deleted_at IS NULL
    UNION
    SELECT mn.user_id, COALESCE(m.thread_root_id, m.id) FROM mentions mn
    JOIN messages m ON m.id = mn.message_id
    WHERE mn.kind = 'user' AND mn.user_id IS NOT NULL
      AND (m.thread_root_id IS NOT NULL OR m.last_reply_at IS NOT NULL)
) f
JOIN messages r ON r.id = f.root_id
WHERE r.last_reply_at IS NOT NULL
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ThreadFollows::Table)
                .col(uuid(ThreadFollows::UserId))
                .col(uuid(ThreadFollows::RootId))
                .col(uuid(ThreadFollows::ChannelId))
                .col(
                    ColumnDef::new(ThreadFollows::Following)
                        .boolean()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ThreadFollows::LastReadSeq)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(ts_null(ThreadFollows::LastReplyAt))
                .col(ts(ThreadFollows::UpdatedAt))
                .primary_key(
                    Index::create()
                        .col(ThreadFollows::UserId)
                        .col(ThreadFollows::RootId),
                )
                .foreign_key(&mut fk(
                    (ThreadFollows::Table, ThreadFollows::UserId),
                    (Users::Table, Users::Id),
                ))
                .foreign_key(&mut fk(
                    (ThreadFollows::Table, ThreadFollows::RootId),
                    (Messages::Table, Messages::Id),
                ))
                .foreign_key(&mut fk(
                    (ThreadFollows::Table, ThreadFollows::ChannelId),
                    (Channels::Table, Channels::Id),
                ))
                .to_owned(),
        )
        .await?;
        // `GET /threads`: a user's followed threads, newest reply first (keyset on the last two).
        index(
            m,
            "ix_thread_follows_user_activity",
            ThreadFollows::Table,
            &["user_id", "following", "last_reply_at", "root_id"],
            false,
        )
        .await?;
        // A new reply moves `last_reply_at` of every follow of its root.
        index(
            m,
            "ix_thread_follows_root",
            ThreadFollows::Table,
            &["root_id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_thread_follows_channel",
            ThreadFollows::Table,
            &["channel_id"],
            false,
        )
        .await?;
        m.get_connection().execute_unprepared(BACKFILL).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ThreadFollows::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum ThreadFollows {
    Table,
    UserId,
    RootId,
    ChannelId,
    Following,
    LastReadSeq,
    LastReplyAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Messages {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Channels {
    Table,
    Id,
}
