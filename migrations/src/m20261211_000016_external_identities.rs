//! `external_identities`: accounts linked to an identity provider's subject (issue 16, OIDC
//! and GitHub sign-in). One row per (provider, subject); a user may be linked to several
//! providers. Deleting a user deletes their links.

use sea_orm_migration::prelude::*;

use crate::helpers::{fk_cascade, id, index, text, text_null, ts, uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ExternalIdentities::Table)
                .col(id(ExternalIdentities::Id))
                .col(uuid(ExternalIdentities::UserId))
                .col(text(ExternalIdentities::Provider))
                .col(text(ExternalIdentities::Subject))
                .col(text_null(ExternalIdentities::Email))
                .col(ts(ExternalIdentities::CreatedAt))
                .col(ts(ExternalIdentities::LastLoginAt))
                .foreign_key(&mut fk_cascade(
                    (ExternalIdentities::Table, ExternalIdentities::UserId),
                    (Users::Table, Users::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "external_identities_provider_subject",
            ExternalIdentities::Table,
            &["provider", "subject"],
            true,
        )
        .await?;
        index(
            m,
            "external_identities_user",
            ExternalIdentities::Table,
            &["user_id"],
            false,
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ExternalIdentities::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ExternalIdentities {
    Table,
    Id,
    UserId,
    Provider,
    Subject,
    Email,
    CreatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
