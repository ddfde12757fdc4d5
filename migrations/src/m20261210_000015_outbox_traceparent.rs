//! `outbox.traceparent`: the W3C trace context of the request that wrote the event, so the
//! relay's and the WebSocket hub's spans join that request's trace (issue 15, tracing).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Outbox::Table)
                .add_column(ColumnDef::new(Outbox::Traceparent).text().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Outbox::Table)
                .drop_column(Outbox::Traceparent)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Traceparent,
}
