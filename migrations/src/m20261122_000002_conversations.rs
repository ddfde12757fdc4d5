//! Channels (incl. DMs), members with read state, messages (threads, soft delete, idempotency),
//! mentions, reactions and pins.

use sea_orm_migration::prelude::*;

use crate::helpers::{fk_cascade as fk, index, ts, ts_null, uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    #[allow(
        clippy::too_many_lines,
        reason = "a schema reads best as one list of tables"
    )]
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Channels::Table)
                .col(ColumnDef::new(Channels::Id).uuid().not_null().primary_key())
                .col(uuid(Channels::WorkspaceId))
                .col(ColumnDef::new(Channels::Kind).string().not_null())
                .col(ColumnDef::new(Channels::Name).string().null())
                .col(ColumnDef::new(Channels::Description).string().null())
                .col(ColumnDef::new(Channels::Topic).string().null())
                .col(ColumnDef::new(Channels::DmKey).string().null())
                .col(ColumnDef::new(Channels::CreatedBy).uuid().null())
                .col(ts(Channels::CreatedAt))
                .col(ts(Channels::UpdatedAt))
                .col(ts_null(Channels::ArchivedAt))
                .col(
                    ColumnDef::new(Channels::LastSeq)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(ts_null(Channels::LastMessageAt))
                .foreign_key(&mut fk(
                    (Channels::Table, Channels::WorkspaceId),
                    (Workspaces::Table, Workspaces::Id),
                ))
                .foreign_key(
                    ForeignKey::create()
                        .from(Channels::Table, Channels::CreatedBy)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        // Names are unique per workspace (DMs have none); a participant set has one DM.
        index(
            m,
            "ux_channels_workspace_name",
            Channels::Table,
            &["workspace_id", "name"],
            true,
        )
        .await?;
        index(m, "ux_channels_dm_key", Channels::Table, &["dm_key"], true).await?;
        index(
            m,
            "ix_channels_created_by",
            Channels::Table,
            &["created_by"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ChannelMembers::Table)
                .col(uuid(ChannelMembers::ChannelId))
                .col(uuid(ChannelMembers::UserId))
                .col(ColumnDef::new(ChannelMembers::Role).string().not_null())
                .col(
                    ColumnDef::new(ChannelMembers::LastReadSeq)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(ChannelMembers::Muted)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(ts(ChannelMembers::JoinedAt))
                .primary_key(
                    Index::create()
                        .col(ChannelMembers::ChannelId)
                        .col(ChannelMembers::UserId),
                )
                .foreign_key(&mut fk(
                    (ChannelMembers::Table, ChannelMembers::ChannelId),
                    (Channels::Table, Channels::Id),
                ))
                .foreign_key(&mut fk(
                    (ChannelMembers::Table, ChannelMembers::UserId),
                    (Users::Table, Users::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_channel_members_user",
            ChannelMembers::Table,
            &["user_id"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Messages::Table)
                .col(ColumnDef::new(Messages::Id).uuid().not_null().primary_key())
                .col(uuid(Messages::ChannelId))
                .col(ColumnDef::new(Messages::Seq).big_integer().not_null())
                .col(uuid(Messages::UserId))
                .col(ColumnDef::new(Messages::Content).text().not_null())
                .col(ColumnDef::new(Messages::ThreadRootId).uuid().null())
                .col(
                    ColumnDef::new(Messages::ReplyCount)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(ts_null(Messages::LastReplyAt))
                .col(ColumnDef::new(Messages::ClientId).string().null())
                .col(ts_null(Messages::EditedAt))
                .col(ts_null(Messages::DeletedAt))
                .col(ColumnDef::new(Messages::DeletedBy).uuid().null())
                .col(ts(Messages::CreatedAt))
                .foreign_key(&mut fk(
                    (Messages::Table, Messages::ChannelId),
                    (Channels::Table, Channels::Id),
                ))
                .foreign_key(&mut fk(
                    (Messages::Table, Messages::UserId),
                    (Users::Table, Users::Id),
                ))
                .foreign_key(&mut fk(
                    (Messages::Table, Messages::ThreadRootId),
                    (Messages::Table, Messages::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ux_messages_channel_seq",
            Messages::Table,
            &["channel_id", "seq"],
            true,
        )
        .await?;
        index(
            m,
            "ux_messages_user_client_id",
            Messages::Table,
            &["user_id", "client_id"],
            true,
        )
        .await?;
        index(
            m,
            "ix_messages_thread_root",
            Messages::Table,
            &["thread_root_id", "seq"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Mentions::Table)
                .col(ColumnDef::new(Mentions::Id).uuid().not_null().primary_key())
                .col(uuid(Mentions::MessageId))
                .col(uuid(Mentions::ChannelId))
                .col(ColumnDef::new(Mentions::Seq).big_integer().not_null())
                .col(uuid(Mentions::AuthorId))
                .col(ColumnDef::new(Mentions::Kind).string().not_null())
                .col(ColumnDef::new(Mentions::UserId).uuid().null())
                .foreign_key(&mut fk(
                    (Mentions::Table, Mentions::MessageId),
                    (Messages::Table, Messages::Id),
                ))
                .foreign_key(&mut fk(
                    (Mentions::Table, Mentions::ChannelId),
                    (Channels::Table, Channels::Id),
                ))
                .foreign_key(&mut fk(
                    (Mentions::Table, Mentions::AuthorId),
                    (Users::Table, Users::Id),
                ))
                .foreign_key(&mut fk(
                    (Mentions::Table, Mentions::UserId),
                    (Users::Table, Users::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_mentions_message",
            Mentions::Table,
            &["message_id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_mentions_channel_seq",
            Mentions::Table,
            &["channel_id", "seq"],
            false,
        )
        .await?;
        index(
            m,
            "ix_mentions_user_channel",
            Mentions::Table,
            &["user_id", "channel_id", "seq"],
            false,
        )
        .await?;
        index(
            m,
            "ix_mentions_author",
            Mentions::Table,
            &["author_id"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Reactions::Table)
                .col(
                    ColumnDef::new(Reactions::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(uuid(Reactions::MessageId))
                .col(uuid(Reactions::UserId))
                .col(ColumnDef::new(Reactions::Emoji).string().not_null())
                .col(ts(Reactions::CreatedAt))
                .foreign_key(&mut fk(
                    (Reactions::Table, Reactions::MessageId),
                    (Messages::Table, Messages::Id),
                ))
                .foreign_key(&mut fk(
                    (Reactions::Table, Reactions::UserId),
                    (Users::Table, Users::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ux_reactions_message_user_emoji",
            Reactions::Table,
            &["message_id", "user_id", "emoji"],
            true,
        )
        .await?;
        index(
            m,
            "ix_reactions_user",
            Reactions::Table,
            &["user_id"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Pins::Table)
                .col(
                    ColumnDef::new(Pins::MessageId)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(uuid(Pins::ChannelId))
                .col(uuid(Pins::PinnedBy))
                .col(ts(Pins::PinnedAt))
                .foreign_key(&mut fk(
                    (Pins::Table, Pins::MessageId),
                    (Messages::Table, Messages::Id),
                ))
                .foreign_key(&mut fk(
                    (Pins::Table, Pins::ChannelId),
                    (Channels::Table, Channels::Id),
                ))
                .foreign_key(&mut fk(
                    (Pins::Table, Pins::PinnedBy),
                    (Users::Table, Users::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_pins_channel",
            Pins::Table,
            &["channel_id", "pinned_at"],
            false,
        )
        .await?;
        index(m, "ix_pins_pinned_by", Pins::Table, &["pinned_by"], false).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Pins::Table.into_iden(),
            Reactions::Table.into_iden(),
            Mentions::Table.into_iden(),
            Messages::Table.into_iden(),
            ChannelMembers::Table.into_iden(),
            Channels::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Workspaces {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Channels {
    Table,
    Id,
    WorkspaceId,
    Kind,
    Name,
    Description,
    Topic,
    DmKey,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    ArchivedAt,
    LastSeq,
    LastMessageAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ChannelMembers {
    Table,
    ChannelId,
    UserId,
    Role,
    LastReadSeq,
    Muted,
    JoinedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Messages {
    Table,
    Id,
    ChannelId,
    Seq,
    UserId,
    Content,
    ThreadRootId,
    ReplyCount,
    LastReplyAt,
    ClientId,
    EditedAt,
    DeletedAt,
    DeletedBy,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Mentions {
    Table,
    Id,
    MessageId,
    ChannelId,
    Seq,
    AuthorId,
    Kind,
    UserId,
}

#[derive(DeriveIden, Clone, Copy)]
enum Reactions {
    Table,
    Id,
    MessageId,
    UserId,
    Emoji,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Pins {
    Table,
    MessageId,
    ChannelId,
    PinnedBy,
    PinnedAt,
}
