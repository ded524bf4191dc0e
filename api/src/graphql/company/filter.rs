//! The `company` list's filter and order inputs.

use async_graphql::Enum;
use chrono::{DateTime, Utc};
use entity::company::Column;

use crate::graphql::enums::{CompanySize, Industry};
use crate::graphql::filter::{
    EnumFilter, IdFilter, OrdFilter, StringFilter, record_filter, record_order,
};
use crate::service::company::CompanySort;

record_filter! {
    /// Conditions on companies; every field given must hold.
    CompanyFilter over Column {
        /// The company's ID.
        id: IdFilter => Column::Id,
        /// Name.
        name: StringFilter => Column::Name,
        /// Domain.
        domain: StringFilter => Column::Domain,
        /// Industry.
        industry: EnumFilter<Industry> => Column::Industry,
        /// Head-count bracket.
        size: EnumFilter<CompanySize> => Column::Size,
        /// City.
        city: StringFilter => Column::City,
        /// State or region.
        state: StringFilter => Column::State,
        /// Country.
        country: StringFilter => Column::Country,
        /// Owner.
        owner_id: IdFilter => Column::OwnerId,
        /// Creation time.
        created_at: OrdFilter<DateTime<Utc>> => Column::CreatedAt,
        /// Last change.
        updated_at: OrdFilter<DateTime<Utc>> => Column::UpdatedAt,
    }
}

/// Fields companies can be ordered by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::service::company::CompanySort")]
pub enum CompanyOrderField {
    /// Name.
    Name,
    /// Creation time.
    CreatedAt,
    /// Last change.
    UpdatedAt,
    /// City; companies without one sort as empty.
    City,
    /// Industry, by name; companies without one sort as empty.
    Industry,
}

record_order! {
    /// One ordering key; ties are broken by the next key, finally by ID.
    CompanyOrder, CompanyOrderField => CompanySort
}
