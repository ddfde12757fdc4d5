use sea_orm::entity::prelude::*;
use time::OffsetDateTime;

/// A user's relation to a thread: followed or (explicitly) not, and how far they have read it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "thread_follows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// The thread's root message.
    #[sea_orm(primary_key, auto_increment = false)]
    pub root_id: Uuid,
    pub channel_id: Uuid,
    pub following: bool,
    /// Replies up to and including this channel sequence number have been read.
    pub last_read_seq: i64,
    /// When the thread's latest reply was written (copied from the root, for the list's order).
    pub last_reply_at: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
