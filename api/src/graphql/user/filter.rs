//! The `user` list's filter and order inputs.

use async_graphql::Enum;
use entity::user::Column;

use crate::graphql::enums::Role;
use crate::graphql::filter::{
    BooleanFilter, EnumFilter, IdFilter, StringFilter, record_filter, record_order,
};
use crate::service::user::UserSort;

record_filter! {
    /// Conditions on directory entries; every field given must hold.
    UserFilter over Column {
        /// The user's ID.
        id: IdFilter => Column::Id,
        /// Email.
        email: StringFilter => Column::Email,
        /// Display name.
        name: StringFilter => Column::Name,
        /// Role.
        role: EnumFilter<Role> => Column::Role,
        /// Team.
        team_id: IdFilter => Column::TeamId,
        /// Whether the user may sign in.
        active: BooleanFilter => Column::Active,
    }
}

/// Fields the directory can be ordered by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::service::user::UserSort")]
pub enum UserOrderField {
    /// Display name.
    Name,
    /// Email.
    Email,
    /// Creation time.
    CreatedAt,
}

record_order! {
    /// One ordering key; ties are broken by the next key, finally by ID.
    UserOrder, UserOrderField => UserSort
}
