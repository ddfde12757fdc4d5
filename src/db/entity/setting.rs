use sea_orm::entity::prelude::*;
use time::OffsetDateTime;

/// A run-time setting changed in the admin console (see migration 000014 and
/// `service::settings`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "settings")]
pub struct Model {
    /// The configuration key, e.g. `auth.registration`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Its value as JSON.
    pub value: String,
    pub updated_by: Option<Uuid>,
    pub updated_at: OffsetDateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
