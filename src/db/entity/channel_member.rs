use sea_orm::entity::prelude::*;
use time::OffsetDateTime;

use crate::domain::ChannelRole;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "channel_members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub channel_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// Stored as `owner`, `admin` or `member`.
    pub role: ChannelRole,
    pub last_read_seq: i64,
    /// Top-level messages, not deleted, at or before `last_read_seq` (see `service::read_counts`).
    pub read_top_level: i64,
    /// The member's own top-level messages, not deleted, after `last_read_seq`.
    pub own_unread: i64,
    /// Messages by others after `last_read_seq` that mention the member, `@channel` or `@here`.
    pub mention_count: i64,
    pub muted: bool,
    pub joined_at: OffsetDateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
