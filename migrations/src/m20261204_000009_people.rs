//! Administration of people (issue 13).
//!
//! - `users.last_active_at`: when the user last used the API or a WebSocket, to the minute
//!   (`service::activity` records it in batches, never per request). The admin list sorts by it
//!   and the stats count active users from it, so it is indexed.
//! - `audit_log (target_id, created_at)`: "everything that happened to this user / message".
//! - `api_clients.scopes`: what a bot's tokens may do, space-separated (`read`, `write`);
//!   clients made before have both.

use sea_orm_migration::prelude::*;

use crate::helpers::{index, ts_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Users::Table)
                .add_column(ts_null(Users::LastActiveAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_users_last_active",
            Users::Table,
            &["last_active_at"],
            false,
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(ApiClients::Table)
                .add_column(
                    ColumnDef::new(ApiClients::Scopes)
                        .string()
                        .not_null()
                        .default("read write"),
                )
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_audit_log_target",
            AuditLog::Table,
            &["target_id", "created_at"],
            false,
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ApiClients::Table)
                .drop_column(ApiClients::Scopes)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("ix_audit_log_target")
                .table(AuditLog::Table)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("ix_users_last_active")
                .table(Users::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Users::Table)
                .drop_column(Users::LastActiveAt)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    LastActiveAt,
}

#[derive(DeriveIden)]
enum ApiClients {
    Table,
    Scopes,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
}
