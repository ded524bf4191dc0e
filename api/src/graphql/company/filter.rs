//! The `company` list's filter and order inputs.

use chrono::{DateTime, Utc};
use entity::company::Column;

use crate::graphql::enums::{CompanySize, Industry};
use crate::graphql::filter::{
    EnumFilter, IdFilter, OrdFilter, StringFilter, order_field_enum, record_filter, record_order,
};
use crate::service::company::{CompanySort, company_sort_keys};

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

company_sort_keys!(order_field_enum);

record_order! {
    /// One ordering key; ties are broken by the next key, finally by ID.
    CompanyOrder, CompanyOrderField => CompanySort
}
