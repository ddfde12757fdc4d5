//! `active_days`: who used CoLink on which UTC day (issue 14's "active users per day" chart).
//!
//! The activity worker adds (day, user) for every user it stores activity for (see
//! `service::activity`), so a day holds at most one row per person, and the stats count a
//! day's rows: the cost follows people × days, never the number of requests or messages.
//! Rows older than the chart's window are pruned by the same worker. The migration seeds each
//! user's last recorded day of activity.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

use crate::helpers::uuid;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ActiveDays::Table)
                .col(ColumnDef::new(ActiveDays::Day).string().not_null())
                .col(uuid(ActiveDays::UserId))
                .primary_key(Index::create().col(ActiveDays::Day).col(ActiveDays::UserId))
                .to_owned(),
        )
        .await?;
        let day = match m.get_database_backend() {
            DatabaseBackend::Postgres => "to_char(last_active_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
            _ => "substr(last_active_at, 1, 10)",
        };
        m.get_connection()
            .execute_unprepared(&format!(
                "INSERT INTO active_days (day, user_id) \
                 SELECT {day}, id FROM users WHERE last_active_at IS NOT NULL"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ActiveDays::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ActiveDays {
    Table,
    Day,
    UserId,
}
