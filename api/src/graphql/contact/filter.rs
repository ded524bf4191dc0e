//! The `contact` list's filter and order inputs.

use chrono::{DateTime, Utc};
use entity::contact::Column;

use crate::graphql::enums::Department;
use crate::graphql::filter::{
    BooleanFilter, EnumFilter, IdFilter, OrdFilter, StringFilter, order_field_enum, record_filter,
    record_order,
};
use crate::service::contact::{ContactSort, contact_sort_keys};

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

contact_sort_keys!(order_field_enum);

record_order! {
    /// One ordering key; ties are broken by the next key, finally by ID.
    ContactOrder, ContactOrderField => ContactSort
}
