use sea_orm::entity::prelude::*;
use time::OffsetDateTime;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub position: i64,
    #[sea_orm(unique)]
    pub event_id: Uuid,
    pub event_type: String,
    pub workspace_id: Option<Uuid>,
    pub channel_id: Option<Uuid>,
    pub payload: String,
    pub created_at: OffsetDateTime,
    pub published_at: Option<OffsetDateTime>,
    /// The W3C `traceparent` of the request that wrote it, when tracing was on.
    pub traceparent: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
