use sea_orm::entity::prelude::*;
use time::OffsetDateTime;

/// A member's report of a message (see migration 000010).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub message_id: Uuid,
    pub channel_id: Uuid,
    pub reporter_id: Uuid,
    pub reason: String,
    /// The message id while open; NULL once resolved.
    pub open_for: Option<Uuid>,
    pub created_at: OffsetDateTime,
    /// dismissed or deleted, once resolved.
    pub resolution: Option<String>,
    pub resolved_by: Option<Uuid>,
    pub resolved_at: Option<OffsetDateTime>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
