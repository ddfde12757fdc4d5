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
    /// The reporting user, or for a rule's report the rule's id (see `rule_id`).
    pub reporter_id: Uuid,
    pub reason: String,
    /// The message id while open; NULL once resolved.
    pub open_for: Option<Uuid>,
    pub created_at: OffsetDateTime,
    /// dismissed, deleted or restored, once resolved.
    pub resolution: Option<String>,
    pub resolved_by: Option<Uuid>,
    pub resolved_at: Option<OffsetDateTime>,
    /// Raised by this moderation rule, not a person (migration 000011).
    pub rule_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
