//! The `team` list's filter and order inputs.

use async_graphql::Enum;
use entity::team::Column;

use crate::graphql::filter::{IdFilter, StringFilter, record_filter, record_order};
use crate::service::team::TeamSort;

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

/// Fields teams can be ordered by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::service::team::TeamSort")]
pub enum TeamOrderField {
    /// Name.
    Name,
    /// Creation time.
    CreatedAt,
}

record_order! {
    /// One ordering key; ties are broken by the next key, finally by ID.
    TeamOrder, TeamOrderField => TeamSort
}
