//! `channel_versions`: a counter per conversation, raised by every change to messages it already
//! has (edit, delete, reaction, pin). Together with `channels.last_seq` (raised by every new
//! message and reply) it names the state of a conversation's messages, so a node may keep a page
//! of them in memory and know, from the row it reads for the access check anyway, whether the
//! page is still what the database holds (issue 9; `service::latest_page`).
//!
//! A table of its own rather than a column of `channels`: the row is locked by the transactions
//! that raise it, as their last statement, and nothing else locks it, so it adds no lock-order
//! cycle with the message writer (which updates `channels` rows). A missing row is version 0.

use sea_orm_migration::prelude::*;

use crate::helpers::fk_cascade;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ChannelVersions::Table)
                .col(
                    ColumnDef::new(ChannelVersions::ChannelId)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(ChannelVersions::Version)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .foreign_key(&mut fk_cascade(
                    (ChannelVersions::Table, ChannelVersions::ChannelId),
                    (Channels::Table, Channels::Id),
                ))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ChannelVersions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ChannelVersions {
    Table,
    ChannelId,
    Version,
}

#[derive(DeriveIden)]
enum Channels {
    Table,
    Id,
}
