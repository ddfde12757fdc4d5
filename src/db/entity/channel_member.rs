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
    pub muted: bool,
    pub joined_at: OffsetDateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
