//! What a conversation is ([`ChannelKind`]) and what a member may do in it ([`ChannelRole`]).
//!
//! Each is stored, served and carried in events as the same lowercase string it always was
//! (`public`, `private`, `dm`, `group_dm`; `owner`, `admin`, `member`): serde, the OpenAPI schema
//! (`poem_openapi::Enum`) and the database columns (`DeriveActiveEnum` over a string column, so
//! the entity converts at its boundary and the schema is unchanged) all use those strings.

use sea_orm::{DeriveActiveEnum, EnumIter, sea_query::StringLen};
use serde::{Deserialize, Serialize};

/// The kind of a conversation.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    poem_openapi::Enum,
    EnumIter,
    DeriveActiveEnum,
)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum ChannelKind {
    /// Listed in the workspace; any member may read and join it.
    #[sea_orm(string_value = "public")]
    Public,
    /// Joined by invitation only.
    #[sea_orm(string_value = "private")]
    Private,
    /// A direct message between two people (or one, with oneself).
    #[sea_orm(string_value = "dm")]
    Dm,
    /// A direct message among three or more people.
    #[sea_orm(string_value = "group_dm")]
    GroupDm,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Public => "public",
            ChannelKind::Private => "private",
            ChannelKind::Dm => "dm",
            ChannelKind::GroupDm => "group_dm",
        }
    }

    pub fn is_public(self) -> bool {
        self == ChannelKind::Public
    }

    /// A direct message (one-to-one or group): fixed participants, never archived.
    pub fn is_dm(self) -> bool {
        matches!(self, ChannelKind::Dm | ChannelKind::GroupDm)
    }
}

/// A member's role in one conversation.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    poem_openapi::Enum,
    EnumIter,
    DeriveActiveEnum,
)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum ChannelRole {
    /// Created the channel.
    #[sea_orm(string_value = "owner")]
    Owner,
    #[sea_orm(string_value = "admin")]
    Admin,
    #[sea_orm(string_value = "member")]
    Member,
}

impl ChannelRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelRole::Owner => "owner",
            ChannelRole::Admin => "admin",
            ChannelRole::Member => "member",
        }
    }

    /// Owners and admins manage the channel (settings, members, others' messages).
    pub fn manages(self) -> bool {
        matches!(self, ChannelRole::Owner | ChannelRole::Admin)
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveEnum, Iterable};

    use super::*;

    /// serde, the database and `as_str` agree on every value (the strings stored before).
    #[test]
    fn one_string_per_value_everywhere() {
        let kinds: Vec<&str> = ChannelKind::iter().map(ChannelKind::as_str).collect();
        assert_eq!(kinds, ["public", "private", "dm", "group_dm"]);
        for kind in ChannelKind::iter() {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(kind.to_value(), kind.as_str());
            assert_eq!(ChannelKind::try_from_value(&kind.as_str().into()), Ok(kind));
        }
        let roles: Vec<&str> = ChannelRole::iter().map(ChannelRole::as_str).collect();
        assert_eq!(roles, ["owner", "admin", "member"]);
        for role in ChannelRole::iter() {
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
            assert_eq!(role.to_value(), role.as_str());
            assert_eq!(ChannelRole::try_from_value(&role.as_str().into()), Ok(role));
        }
        assert!(ChannelKind::try_from_value(&"secret".to_string()).is_err());
        assert!(ChannelKind::GroupDm.is_dm() && !ChannelKind::Private.is_dm());
        assert!(ChannelRole::Admin.manages() && !ChannelRole::Member.manages());
    }
}
