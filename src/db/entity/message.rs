use sea_orm::entity::prelude::*;
use time::OffsetDateTime;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub channel_id: Uuid,
    pub seq: i64,
    pub user_id: Uuid,
    pub content: String,
    pub thread_root_id: Option<Uuid>,
    pub reply_count: i32,
    pub last_reply_at: Option<OffsetDateTime>,
    pub client_id: Option<String>,
    pub edited_at: Option<OffsetDateTime>,
    pub deleted_at: Option<OffsetDateTime>,
    pub deleted_by: Option<Uuid>,
    pub created_at: OffsetDateTime,
    /// With `search.backend = "postgres"`, what the write path gives as the text's search terms
    /// (`search::postgres_index`); PostgreSQL keeps them only as `search_vector` and a trigger
    /// clears this column (migration 000017), so it always reads NULL.
    pub search_terms: Option<String>,
    /// Set while a `hide` moderation rule holds the message for review: only its author (and
    /// admins) see it (migration 000011).
    pub hidden_at: Option<OffsetDateTime>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
