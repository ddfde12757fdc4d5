//! `reports`: members flagging messages for the admins' moderation queue (issue 13).
//!
//! One row per (message, reporter) report. `open_for` is the message id while the report is
//! open and NULL once resolved, so the unique index on `(open_for, reporter_id)` allows one open
//! report per reporter and message (NULLs never collide, on SQLite and PostgreSQL alike) and any
//! number of resolved ones. The queue groups open reports by message.

use sea_orm_migration::prelude::*;

use crate::helpers::{fk_cascade, id, index, text, text_null, ts, ts_null, uuid, uuid_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Reports::Table)
                .col(id(Reports::Id))
                .col(uuid(Reports::MessageId))
                .col(uuid(Reports::ChannelId))
                .col(uuid(Reports::ReporterId))
                .col(text(Reports::Reason))
                .col(uuid_null(Reports::OpenFor))
                .col(ts(Reports::CreatedAt))
                .col(text_null(Reports::Resolution))
                .col(uuid_null(Reports::ResolvedBy))
                .col(ts_null(Reports::ResolvedAt))
                .foreign_key(&mut fk_cascade(
                    (Reports::Table, Reports::MessageId),
                    (Messages::Table, Messages::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ux_reports_open",
            Reports::Table,
            &["open_for", "reporter_id"],
            true,
        )
        .await?;
        index(
            m,
            "ix_reports_message",
            Reports::Table,
            &["message_id"],
            false,
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Reports::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Reports {
    Table,
    Id,
    MessageId,
    ChannelId,
    ReporterId,
    Reason,
    OpenFor,
    CreatedAt,
    Resolution,
    ResolvedBy,
    ResolvedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
}
