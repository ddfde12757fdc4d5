use sea_orm::entity::prelude::*;
use time::OffsetDateTime;

/// An account's link to an identity provider's subject (see migration 000016 and
/// `service::sso`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "external_identities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// The provider's `name` in `[[auth.oidc.providers]]`.
    pub provider: String,
    /// The provider's stable id for the person (OIDC `sub`, GitHub's numeric user id).
    pub subject: String,
    /// The email the provider vouched for when the link was made or last used.
    pub email: Option<String>,
    pub created_at: OffsetDateTime,
    pub last_login_at: OffsetDateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
