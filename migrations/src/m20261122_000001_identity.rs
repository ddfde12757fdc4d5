//! Users, credentials, sessions, bots, workspaces, invites, audit log and the event outbox.

use sea_orm_migration::prelude::*;

use crate::helpers::{fk_cascade, id, index, text, text_null, ts, ts_null, uuid, uuid_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk_user(table: impl IntoIden, col: impl IntoIden) -> ForeignKeyCreateStatement {
    fk_cascade((table, col), (Users::Table, Users::Id))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    #[allow(
        clippy::too_many_lines,
        reason = "a schema reads best as one list of tables"
    )]
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(id(Users::Id))
                .col(text(Users::Username).unique_key())
                .col(text(Users::Email).unique_key())
                .col(text(Users::DisplayName))
                .col(text(Users::Role))
                .col(text_null(Users::StatusText))
                .col(text_null(Users::StatusEmoji))
                .col(ts_null(Users::StatusExpiresAt))
                .col(ts_null(Users::EmailVerifiedAt))
                .col(ts_null(Users::SuspendedAt))
                .col(text_null(Users::SuspendedReason))
                .col(ts_null(Users::DeactivatedAt))
                .col(
                    ColumnDef::new(Users::TokenVersion)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(ts(Users::CreatedAt))
                .col(ts(Users::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Credentials::Table)
                .col(id(Credentials::UserId))
                .col(text_null(Credentials::PasswordHash))
                .col(text_null(Credentials::TotpSecret))
                .col(text_null(Credentials::TotpPendingSecret))
                .col(ts_null(Credentials::TotpEnabledAt))
                .col(
                    ColumnDef::new(Credentials::TotpLastStep)
                        .big_integer()
                        .null(),
                )
                .col(ts(Credentials::UpdatedAt))
                .foreign_key(&mut fk_user(Credentials::Table, Credentials::UserId))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(RecoveryCodes::Table)
                .col(id(RecoveryCodes::Id))
                .col(uuid(RecoveryCodes::UserId))
                .col(text(RecoveryCodes::CodeHash))
                .col(ts_null(RecoveryCodes::UsedAt))
                .col(ts(RecoveryCodes::CreatedAt))
                .foreign_key(&mut fk_user(RecoveryCodes::Table, RecoveryCodes::UserId))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ux_recovery_codes_user_hash",
            RecoveryCodes::Table,
            &["user_id", "code_hash"],
            true,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(RefreshTokens::Table)
                .col(id(RefreshTokens::Id))
                .col(uuid(RefreshTokens::UserId))
                .col(uuid(RefreshTokens::FamilyId))
                .col(text(RefreshTokens::TokenHash).unique_key())
                .col(ts(RefreshTokens::CreatedAt))
                .col(ts(RefreshTokens::ExpiresAt))
                .col(ts_null(RefreshTokens::RotatedAt))
                .col(ts_null(RefreshTokens::RevokedAt))
                .foreign_key(&mut fk_user(RefreshTokens::Table, RefreshTokens::UserId))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_refresh_tokens_user",
            RefreshTokens::Table,
            &["user_id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_refresh_tokens_family",
            RefreshTokens::Table,
            &["family_id"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(EmailTokens::Table)
                .col(id(EmailTokens::Id))
                .col(uuid(EmailTokens::UserId))
                .col(text(EmailTokens::Purpose))
                .col(text(EmailTokens::TokenHash).unique_key())
                .col(ts(EmailTokens::CreatedAt))
                .col(ts(EmailTokens::ExpiresAt))
                .col(ts_null(EmailTokens::UsedAt))
                .foreign_key(&mut fk_user(EmailTokens::Table, EmailTokens::UserId))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_email_tokens_user",
            EmailTokens::Table,
            &["user_id"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ApiClients::Table)
                .col(id(ApiClients::Id))
                .col(text(ApiClients::ClientId).unique_key())
                .col(text(ApiClients::SecretHash))
                .col(text(ApiClients::Name))
                .col(uuid(ApiClients::BotUserId))
                .col(uuid_null(ApiClients::CreatedBy))
                .col(ts(ApiClients::CreatedAt))
                .col(ts_null(ApiClients::RevokedAt))
                .foreign_key(&mut fk_user(ApiClients::Table, ApiClients::BotUserId))
                .foreign_key(
                    ForeignKey::create()
                        .from(ApiClients::Table, ApiClients::CreatedBy)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_api_clients_bot_user",
            ApiClients::Table,
            &["bot_user_id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_api_clients_created_by",
            ApiClients::Table,
            &["created_by"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Workspaces::Table)
                .col(id(Workspaces::Id))
                .col(text(Workspaces::Name))
                .col(text(Workspaces::Slug).unique_key())
                .col(
                    ColumnDef::new(Workspaces::AllowMemberInvites)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(uuid_null(Workspaces::CreatedBy))
                .col(ts(Workspaces::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Workspaces::Table, Workspaces::CreatedBy)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_workspaces_created_by",
            Workspaces::Table,
            &["created_by"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(WorkspaceMembers::Table)
                .col(uuid(WorkspaceMembers::WorkspaceId))
                .col(uuid(WorkspaceMembers::UserId))
                .col(text(WorkspaceMembers::Role))
                .col(ts(WorkspaceMembers::JoinedAt))
                .primary_key(
                    Index::create()
                        .col(WorkspaceMembers::WorkspaceId)
                        .col(WorkspaceMembers::UserId),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(WorkspaceMembers::Table, WorkspaceMembers::WorkspaceId)
                        .to(Workspaces::Table, Workspaces::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(&mut fk_user(
                    WorkspaceMembers::Table,
                    WorkspaceMembers::UserId,
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_workspace_members_user",
            WorkspaceMembers::Table,
            &["user_id"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Invites::Table)
                .col(id(Invites::Id))
                .col(uuid(Invites::WorkspaceId))
                .col(text(Invites::TokenHash).unique_key())
                .col(uuid_null(Invites::CreatedBy))
                .col(ts(Invites::CreatedAt))
                .col(ts(Invites::ExpiresAt))
                .col(ColumnDef::new(Invites::MaxUses).integer().null())
                .col(
                    ColumnDef::new(Invites::Uses)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(ts_null(Invites::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Invites::Table, Invites::WorkspaceId)
                        .to(Workspaces::Table, Workspaces::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Invites::Table, Invites::CreatedBy)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_invites_workspace",
            Invites::Table,
            &["workspace_id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_invites_created_by",
            Invites::Table,
            &["created_by"],
            false,
        )
        .await?;

        // The audit log keeps no foreign keys: entries outlive what they describe.
        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(id(AuditLog::Id))
                .col(uuid_null(AuditLog::ActorId))
                .col(text(AuditLog::Action))
                .col(text_null(AuditLog::TargetType))
                .col(uuid_null(AuditLog::TargetId))
                .col(text_null(AuditLog::Ip))
                .col(ColumnDef::new(AuditLog::Details).text().null())
                .col(ts(AuditLog::CreatedAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_audit_log_created",
            AuditLog::Table,
            &["created_at"],
            false,
        )
        .await?;
        index(
            m,
            "ix_audit_log_actor",
            AuditLog::Table,
            &["actor_id", "created_at"],
            false,
        )
        .await?;
        index(
            m,
            "ix_audit_log_action",
            AuditLog::Table,
            &["action", "created_at"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Outbox::Table)
                .col(
                    ColumnDef::new(Outbox::Position)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(uuid(Outbox::EventId).unique_key())
                .col(text(Outbox::EventType))
                .col(uuid_null(Outbox::WorkspaceId))
                .col(uuid_null(Outbox::ChannelId))
                .col(ColumnDef::new(Outbox::Payload).text().not_null())
                .col(ts(Outbox::CreatedAt))
                .col(ts_null(Outbox::PublishedAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_outbox_unpublished",
            Outbox::Table,
            &["published_at", "position"],
            false,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Outbox::Table.into_iden(),
            AuditLog::Table.into_iden(),
            Invites::Table.into_iden(),
            WorkspaceMembers::Table.into_iden(),
            Workspaces::Table.into_iden(),
            ApiClients::Table.into_iden(),
            EmailTokens::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            RecoveryCodes::Table.into_iden(),
            Credentials::Table.into_iden(),
            Users::Table.into_iden(),
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
    Username,
    Email,
    DisplayName,
    Role,
    StatusText,
    StatusEmoji,
    StatusExpiresAt,
    EmailVerifiedAt,
    SuspendedAt,
    SuspendedReason,
    DeactivatedAt,
    TokenVersion,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Credentials {
    Table,
    UserId,
    PasswordHash,
    TotpSecret,
    TotpPendingSecret,
    TotpEnabledAt,
    TotpLastStep,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RecoveryCodes {
    Table,
    Id,
    UserId,
    CodeHash,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RefreshTokens {
    Table,
    Id,
    UserId,
    FamilyId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    RotatedAt,
    RevokedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum EmailTokens {
    Table,
    Id,
    UserId,
    Purpose,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ApiClients {
    Table,
    Id,
    ClientId,
    SecretHash,
    Name,
    BotUserId,
    CreatedBy,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Workspaces {
    Table,
    Id,
    Name,
    Slug,
    AllowMemberInvites,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WorkspaceMembers {
    Table,
    WorkspaceId,
    UserId,
    Role,
    JoinedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Invites {
    Table,
    Id,
    WorkspaceId,
    TokenHash,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    MaxUses,
    Uses,
    RevokedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditLog {
    Table,
    Id,
    ActorId,
    Action,
    TargetType,
    TargetId,
    Ip,
    Details,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Outbox {
    Table,
    Position,
    EventId,
    EventType,
    WorkspaceId,
    ChannelId,
    Payload,
    CreatedAt,
    PublishedAt,
}
