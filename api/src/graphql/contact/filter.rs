//! The `contact` list's filter and order inputs.

use async_graphql::Enum;
use chrono::{DateTime, Utc};
use entity::contact::Column;

use crate::graphql::enums::Department;
use crate::graphql::filter::{
    BooleanFilter, EnumFilter, IdFilter, OrdFilter, StringFilter, record_filter, record_order,
};
use crate::service::contact::ContactSort;

record_filter! {
    /// Conditions on contacts; every field given must hold.
    ContactFilter over Column {
        /// The contact's ID.
        id: IdFilter => Column::Id,
        /// Company.
        company_id: IdFilter => Column::CompanyId,
        /// First name.
        first_name: StringFilter => Column::FirstName,
        /// Last name.
        last_name: StringFilter => Column::LastName,
        /// Full name.
        full_name: StringFilter => Column::FullName,
        /// Email (stored lowercase).
        email: StringFilter => Column::Email,
        /// Job title.
        title: StringFilter => Column::Title,
        /// Department.
        department: EnumFilter<Department> => Column::Department,
        /// Main contact of their company.
        is_primary: BooleanFilter => Column::IsPrimary,
        /// Owner.
        owner_id: IdFilter => Column::OwnerId,
        /// Creation time.
        created_at: OrdFilter<DateTime<Utc>> => Column::CreatedAt,
        /// Last change.
        updated_at: OrdFilter<DateTime<Utc>> => Column::UpdatedAt,
    }
}

/// Fields contacts can be ordered by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::service::contact::ContactSort")]
pub enum ContactOrderField {
    /// Address-book order: last name, then first name.
    Name,
    /// First name.
    FirstName,
    /// Last name.
    LastName,
    /// Full name as displayed (first name first).
    FullName,
    /// Email; contacts without one sort as empty.
    Email,
    /// Creation time.
    CreatedAt,
    /// Last change.
    UpdatedAt,
}

record_order! {
    /// One ordering key; ties are broken by the next key, finally by ID.
    ContactOrder, ContactOrderField => ContactSort
}
