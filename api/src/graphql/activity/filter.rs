//! The `activity` list's filter and order inputs.

use chrono::{DateTime, Utc};
use entity::activity::Column;

use crate::graphql::enums::{ActivityStatus, ActivityType, Priority};
use crate::graphql::filter::{
    BooleanFilter, EnumFilter, IdFilter, OrdFilter, StringFilter, order_field_enum, record_filter,
    record_order,
};
use crate::service::activity::{ActivitySort, activity_sort_keys};

record_filter! {
    /// Conditions on activities; every field given must hold.
    ///
    /// "My open tasks", soonest first (`$me` is `me { id }`):
    /// `activities(filter: {assignedTo: {eq: $me}, completed: {eq: false}, type: {eq: TASK}},
    /// orderBy: [{field: DUE_AT}])`; add `dueAt: {lt: "<now>"}` for the overdue ones.
    ActivityFilter over Column {
        /// The activity's ID.
        id: IdFilter => Column::Id,
        /// Kind of activity.
        #[graphql(name = "type")]
        kind: EnumFilter<ActivityType> => Column::Kind,
        /// Subject.
        subject: StringFilter => Column::Subject,
        /// Due time (`isNull: true` for activities without one).
        due_at: OrdFilter<DateTime<Utc>> => Column::DueAt,
        /// Whether it is done.
        completed: BooleanFilter => Column::Completed,
        /// Completion time.
        completed_at: OrdFilter<DateTime<Utc>> => Column::CompletedAt,
        /// Priority.
        priority: EnumFilter<Priority> => Column::Priority,
        /// Status (`status: {in: [PENDING, IN_PROGRESS]}` for the open ones).
        status: EnumFilter<ActivityStatus> => Column::Status,
        /// Company it is about.
        company_id: IdFilter => Column::CompanyId,
        /// Contact it is about.
        contact_id: IdFilter => Column::ContactId,
        /// Deal it is about.
        deal_id: IdFilter => Column::DealId,
        /// The user who logged it.
        created_by: IdFilter => Column::CreatedBy,
        /// The user who should do it.
        assigned_to: IdFilter => Column::AssignedTo,
        /// Creation time.
        created_at: OrdFilter<DateTime<Utc>> => Column::CreatedAt,
        /// Last change.
        updated_at: OrdFilter<DateTime<Utc>> => Column::UpdatedAt,
    }
}

activity_sort_keys!(order_field_enum);

record_order! {
    /// One ordering key; ties are broken by the next key, finally by ID.
    ActivityOrder, ActivityOrderField => ActivitySort
}
