//! The `team` list's filter and order inputs.

use entity::team::Column;

use crate::graphql::filter::{
    IdFilter, StringFilter, order_field_enum, record_filter, record_order,
};
use crate::service::team::{TeamSort, team_sort_keys};

record_filter! {
    /// Conditions on teams; every field given must hold.
    TeamFilter over Column {
        /// The team's ID.
        id: IdFilter => Column::Id,
        /// Name.
        name: StringFilter => Column::Name,
        /// Manager.
        manager_id: IdFilter => Column::ManagerId,
    }
}

team_sort_keys!(order_field_enum);

record_order! {
    /// One ordering key; ties are broken by the next key, finally by ID.
    TeamOrder, TeamOrderField => TeamSort
}
