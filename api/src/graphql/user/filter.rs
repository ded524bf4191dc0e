//! The `user` list's filter and order inputs.

use entity::user::Column;

use crate::graphql::enums::Role;
use crate::graphql::filter::{
    BooleanFilter, EnumFilter, IdFilter, StringFilter, order_field_enum, record_filter,
    record_order,
};
use crate::service::user::{UserSort, user_sort_keys};

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

user_sort_keys!(order_field_enum);

record_order! {
    /// One ordering key; ties are broken by the next key, finally by ID.
    UserOrder, UserOrderField => UserSort
}
