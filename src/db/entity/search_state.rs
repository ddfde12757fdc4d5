use sea_orm::entity::prelude::*;

/// See migration 000008 and `search::postgres_index`: the analyzer version a backend's stored
/// terms were made with; no row means none are current.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "search_state")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub backend: String,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
