//! Moderation rules (issue 13): patterns every new and edited message is checked against.
//!
//! - `moderation_rules`: a rule is immutable once made (rules are added and removed, never
//!   edited), so a node knows its cached rules are current when the set of ids is the same.
//!   `kind` is `literal` or `regex`; `action` is `flag`, `hide` or `block`; `severity` is
//!   `low`, `medium` or `high`.
//! - `messages.hidden_at`: set when a `hide` rule matched; the message is shown only to its
//!   author (and admins) until an admin restores or deletes it.
//! - `reports.rule_id`: a report raised by a rule rather than a person. Its `reporter_id` is the
//!   rule's id, so the unique index on `(open_for, reporter_id)` keeps one open report per rule
//!   and message.

use sea_orm_migration::prelude::*;

use crate::helpers::{id, index, text, ts, ts_null, uuid_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ModerationRules::Table)
                .col(id(ModerationRules::Id))
                .col(text(ModerationRules::Pattern))
                .col(text(ModerationRules::Kind))
                .col(text(ModerationRules::Severity))
                .col(text(ModerationRules::Action))
                .col(uuid_null(ModerationRules::CreatedBy))
                .col(ts(ModerationRules::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .add_column(ts_null(Messages::HiddenAt))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Reports::Table)
                .add_column(uuid_null(Reports::RuleId))
                .to_owned(),
        )
        .await?;
        index(m, "ix_reports_rule", Reports::Table, &["rule_id"], false).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_reports_rule")
                .table(Reports::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Reports::Table)
                .drop_column(Reports::RuleId)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .drop_column(Messages::HiddenAt)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(ModerationRules::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ModerationRules {
    Table,
    Id,
    Pattern,
    Kind,
    Severity,
    Action,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    HiddenAt,
}

#[derive(DeriveIden)]
enum Reports {
    Table,
    RuleId,
}
