use sea_orm::entity::prelude::*;
use time::OffsetDateTime;

use crate::domain::ChannelKind;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "channels")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    /// Stored as `public`, `private`, `dm` or `group_dm`.
    pub kind: ChannelKind,
    pub name: Option<String>,
    pub description: Option<String>,
    pub topic: Option<String>,
    /// For DMs: the sorted participant ids; unique, so a participant set has one DM.
    pub dm_key: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub archived_at: Option<OffsetDateTime>,
    /// The last message sequence number assigned (gapless per channel).
    pub last_seq: i64,
    pub last_message_at: Option<OffsetDateTime>,
    /// Top-level messages that are not deleted (see `service::read_counts`).
    pub top_level_count: i64,
    /// Rows of `channel_members` for this channel.
    pub member_count: i64,
    /// The seq of the last top-level message, deleted or not (0 before the first).
    pub last_top_level_seq: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
