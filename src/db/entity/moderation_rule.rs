use sea_orm::entity::prelude::*;
use time::OffsetDateTime;

/// A moderation rule (see migration 000011 and `service::moderation_rules`). Never updated:
/// rules are added and removed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "moderation_rules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub pattern: String,
    /// literal or regex.
    pub kind: String,
    /// low, medium or high.
    pub severity: String,
    /// flag, hide or block.
    pub action: String,
    /// The admin who made it; NULL when made with the CLI.
    pub created_by: Option<Uuid>,
    pub created_at: OffsetDateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
