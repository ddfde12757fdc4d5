//! `settings`: the run-time settings admins change in the console (issue 14), one row per key
//! that differs from the file and environment. The value is the key's JSON, as the
//! configuration would read it; a row is deleted to go back to the file's value.

use sea_orm_migration::prelude::*;

use crate::helpers::{text, ts, uuid_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Settings::Table)
                .col(text(Settings::Key).primary_key())
                .col(ColumnDef::new(Settings::Value).text().not_null())
                .col(uuid_null(Settings::UpdatedBy))
                .col(ts(Settings::UpdatedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Settings::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Settings {
    Table,
    Key,
    Value,
    UpdatedBy,
    UpdatedAt,
}
