//! Files (issue 11): uploaded files and their metadata, the files each message carries, and the
//! state of resumable uploads.
//!
//! - `files`: one row per upload, from the moment an upload URL is handed out (`uploading`)
//!   through confirm (`pending` until scanned, then `clean` or `infected`). A deleted file keeps
//!   its row (`deleted_at`) so the links of messages that carried it stay valid; its objects are
//!   removed. Storage keys are derived from the id only (`files/<id>/original`).
//! - `message_files`: the files of a message, in order; `channel_id` and `seq` copy the
//!   message's so a channel's files page by an index (`GET /channels/{id}/files`).
//! - `upload_sessions` / `upload_chunks`: a resumable upload and the chunks received so far.

use sea_orm_migration::prelude::*;

use crate::helpers::{fk_cascade, id, index, text, text_null, ts, ts_null, uuid, uuid_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        create_files(m).await?;
        create_message_files(m).await?;
        create_uploads(m).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            UploadChunks::Table.into_iden(),
            UploadSessions::Table.into_iden(),
            MessageFiles::Table.into_iden(),
            Files::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

async fn create_files(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(Files::Table)
            .col(id(Files::Id))
            .col(uuid(Files::UploaderId))
            .col(uuid_null(Files::ChannelId))
            .col(text(Files::Filename))
            .col(text(Files::ContentType))
            .col(ColumnDef::new(Files::SizeBytes).big_integer().not_null())
            .col(text_null(Files::Sha256))
            .col(text(Files::Status))
            .col(text_null(Files::ScanError))
            .col(
                ColumnDef::new(Files::ScanAttempts)
                    .integer()
                    .not_null()
                    .default(0),
            )
            .col(ts_null(Files::ScanAfter))
            .col(ColumnDef::new(Files::Width).integer().null())
            .col(ColumnDef::new(Files::Height).integer().null())
            .col(text(Files::Thumbnail))
            .col(ts(Files::CreatedAt))
            .col(ts_null(Files::ConfirmedAt))
            .col(ts_null(Files::DeletedAt))
            .foreign_key(&mut fk_cascade(
                (Files::Table, Files::UploaderId),
                (Users::Table, Users::Id),
            ))
            .to_owned(),
    )
    .await?;
    index(
        m,
        "idx_files_uploader",
        Files::Table,
        &["uploader_id", "created_at"],
        false,
    )
    .await?;
    index(
        m,
        "idx_files_status",
        Files::Table,
        &["status", "scan_after"],
        false,
    )
    .await?;
    index(
        m,
        "idx_files_thumbnail",
        Files::Table,
        &["thumbnail"],
        false,
    )
    .await?;

    Ok(())
}

async fn create_message_files(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(MessageFiles::Table)
            .col(uuid(MessageFiles::MessageId))
            .col(uuid(MessageFiles::FileId))
            .col(uuid(MessageFiles::ChannelId))
            .col(ColumnDef::new(MessageFiles::Seq).big_integer().not_null())
            .col(ColumnDef::new(MessageFiles::Position).integer().not_null())
            .primary_key(
                Index::create()
                    .col(MessageFiles::MessageId)
                    .col(MessageFiles::FileId),
            )
            .foreign_key(&mut fk_cascade(
                (MessageFiles::Table, MessageFiles::MessageId),
                (Messages::Table, Messages::Id),
            ))
            .foreign_key(&mut fk_cascade(
                (MessageFiles::Table, MessageFiles::FileId),
                (Files::Table, Files::Id),
            ))
            .to_owned(),
    )
    .await?;
    index(
        m,
        "idx_message_files_file",
        MessageFiles::Table,
        &["file_id"],
        false,
    )
    .await?;
    index(
        m,
        "idx_message_files_channel",
        MessageFiles::Table,
        &["channel_id", "seq", "position"],
        false,
    )
    .await?;

    Ok(())
}

async fn create_uploads(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(UploadSessions::Table)
            .col(id(UploadSessions::Id))
            .col(uuid(UploadSessions::UploaderId))
            .col(uuid_null(UploadSessions::ChannelId))
            .col(text(UploadSessions::Filename))
            .col(text(UploadSessions::ContentType))
            .col(
                ColumnDef::new(UploadSessions::SizeBytes)
                    .big_integer()
                    .not_null(),
            )
            .col(
                ColumnDef::new(UploadSessions::ChunkSize)
                    .big_integer()
                    .not_null(),
            )
            .col(
                ColumnDef::new(UploadSessions::TotalChunks)
                    .integer()
                    .not_null(),
            )
            .col(text(UploadSessions::Status))
            .col(uuid_null(UploadSessions::FileId))
            .col(ts(UploadSessions::CreatedAt))
            .col(ts(UploadSessions::UpdatedAt))
            .foreign_key(&mut fk_cascade(
                (UploadSessions::Table, UploadSessions::UploaderId),
                (Users::Table, Users::Id),
            ))
            .to_owned(),
    )
    .await?;
    index(
        m,
        "idx_upload_sessions_status",
        UploadSessions::Table,
        &["status", "updated_at"],
        false,
    )
    .await?;

    m.create_table(
        Table::create()
            .table(UploadChunks::Table)
            .col(uuid(UploadChunks::UploadId))
            .col(ColumnDef::new(UploadChunks::N).integer().not_null())
            .col(
                ColumnDef::new(UploadChunks::SizeBytes)
                    .big_integer()
                    .not_null(),
            )
            .col(text(UploadChunks::Sha256))
            .col(ts(UploadChunks::ReceivedAt))
            .primary_key(
                Index::create()
                    .col(UploadChunks::UploadId)
                    .col(UploadChunks::N),
            )
            .foreign_key(&mut fk_cascade(
                (UploadChunks::Table, UploadChunks::UploadId),
                (UploadSessions::Table, UploadSessions::Id),
            ))
            .to_owned(),
    )
    .await
}

#[derive(DeriveIden)]
enum Files {
    Table,
    Id,
    UploaderId,
    ChannelId,
    Filename,
    ContentType,
    SizeBytes,
    Sha256,
    Status,
    ScanError,
    ScanAttempts,
    ScanAfter,
    Width,
    Height,
    Thumbnail,
    CreatedAt,
    ConfirmedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum MessageFiles {
    Table,
    MessageId,
    FileId,
    ChannelId,
    Seq,
    Position,
}

#[derive(DeriveIden)]
enum UploadSessions {
    Table,
    Id,
    UploaderId,
    ChannelId,
    Filename,
    ContentType,
    SizeBytes,
    ChunkSize,
    TotalChunks,
    Status,
    FileId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UploadChunks {
    Table,
    UploadId,
    N,
    SizeBytes,
    Sha256,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
}
