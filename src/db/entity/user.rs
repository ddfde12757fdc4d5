use sea_orm::entity::prelude::*;
use time::OffsetDateTime;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub username: String,
    #[sea_orm(unique)]
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub status_text: Option<String>,
    pub status_emoji: Option<String>,
    pub status_expires_at: Option<OffsetDateTime>,
    pub email_verified_at: Option<OffsetDateTime>,
    pub suspended_at: Option<OffsetDateTime>,
    pub suspended_reason: Option<String>,
    pub deactivated_at: Option<OffsetDateTime>,
    /// Bumped to invalidate every access token issued before (suspend, reset, logout-all).
    pub token_version: i32,
    /// Last API or WebSocket use, to the minute (see `service::activity`).
    pub last_active_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
