//! The `deals` list's filter and order inputs.

use chrono::{DateTime, Utc};
use entity::deal::Column;

use crate::graphql::enums::{DealSource, DealStage, Priority};
use crate::graphql::filter::{
    EnumFilter, IdFilter, OrdFilter, StringFilter, order_field_enum, record_filter, record_order,
};
use crate::graphql::scalars::{Date, Decimal};
use crate::service::deal::{DealSort, deal_sort_keys};

record_filter! {
    /// Conditions on deals; every field given must hold. Amount conditions only match deals
    /// whose amount the viewer may see.
    DealFilter over Column {
        /// The deal's ID.
        id: IdFilter => Column::Id,
        /// Title.
        title: StringFilter => Column::Title,
        /// Amount (visible amounts only).
        amount: OrdFilter<Decimal> => Column::AmountCents,
        /// Currency code.
        currency: StringFilter => Column::Currency,
        /// Stage.
        stage: EnumFilter<DealStage> => Column::Stage,
        /// Source.
        source: EnumFilter<DealSource> => Column::Source,
        /// Priority.
        priority: EnumFilter<Priority> => Column::Priority,
        /// Win probability in percent.
        probability: OrdFilter<i32> => Column::Probability,
        /// Expected close date.
        expected_close_date: OrdFilter<Date> => Column::ExpectedCloseDate,
        /// Actual close date.
        actual_close_date: OrdFilter<Date> => Column::ActualCloseDate,
        /// Owner.
        owner_id: IdFilter => Column::OwnerId,
        /// Company.
        company_id: IdFilter => Column::CompanyId,
        /// Contact.
        contact_id: IdFilter => Column::ContactId,
        /// Creation time.
        created_at: OrdFilter<DateTime<Utc>> => Column::CreatedAt,
        /// Last change.
        updated_at: OrdFilter<DateTime<Utc>> => Column::UpdatedAt,
    }
}

deal_sort_keys!(order_field_enum);

record_order! {
    /// One ordering key; ties are broken by the next key, finally by ID.
    DealOrder, DealOrderField => DealSort
}
