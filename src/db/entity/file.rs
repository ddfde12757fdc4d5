use sea_orm::entity::prelude::*;
use time::OffsetDateTime;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "files")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub uploader_id: Uuid,
    pub channel_id: Option<Uuid>,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: Option<String>,
    /// `uploading`, `pending` (not scanned yet), `clean` or `infected`.
    pub status: String,
    pub scan_error: Option<String>,
    pub scan_attempts: i32,
    /// When background work on the file (its scan, then its thumbnail) may start: a retry's
    /// back-off, or the end of the lease of the node working on it
    /// (`service::files::processing::claim`).
    pub scan_after: Option<OffsetDateTime>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// `none`, `pending`, `ready` or `failed`.
    pub thumbnail: String,
    pub created_at: OffsetDateTime,
    pub confirmed_at: Option<OffsetDateTime>,
    pub deleted_at: Option<OffsetDateTime>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
