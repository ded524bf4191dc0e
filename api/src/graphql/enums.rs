//! The enumerations of the schema (stored values convert through `remote`).

use async_graphql::Enum;

/// A company's industry.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::Industry")]
pub enum Industry {
    /// Software, hardware, internet.
    Technology,
    /// Care providers, pharma, medical devices.
    Healthcare,
    /// Banking, insurance, investment.
    Finance,
    /// Shops and e-commerce.
    Retail,
    /// Making physical goods.
    Manufacturing,
    /// Anything else.
    Other,
}

/// Head count bracket of a company.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::CompanySize")]
pub enum CompanySize {
    /// 1–10 people.
    #[graphql(name = "SIZE_1_10")]
    S1To10,
    /// 11–50 people.
    #[graphql(name = "SIZE_11_50")]
    S11To50,
    /// 51–200 people.
    #[graphql(name = "SIZE_51_200")]
    S51To200,
    /// 201–1000 people.
    #[graphql(name = "SIZE_201_1000")]
    S201To1000,
    /// More than 1000 people.
    #[graphql(name = "SIZE_1000_PLUS")]
    S1000Plus,
}

/// A contact's department.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::Department")]
pub enum Department {
    /// Sales.
    Sales,
    /// Marketing.
    Marketing,
    /// Engineering.
    Engineering,
    /// Human resources.
    #[graphql(name = "HR")]
    Hr,
    /// Anything else.
    Other,
}

/// What kind of activity.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::ActivityType")]
pub enum ActivityType {
    /// A phone call.
    Call,
    /// An email.
    Email,
    /// A meeting.
    Meeting,
    /// A note.
    Note,
    /// A to-do.
    Task,
}

/// What a user may do with a deal shared with them.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::SharePermission")]
pub enum SharePermission {
    /// Read it.
    View,
    /// Read and edit it (including the amount, per the default policy).
    Edit,
}

/// Where a deal stands in the pipeline; the probability follows from it.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::DealStage")]
pub enum DealStage {
    /// First contact (10 %).
    Prospecting,
    /// Need and budget confirmed (25 %).
    Qualification,
    /// Proposal sent (50 %).
    Proposal,
    /// Terms under negotiation (75 %).
    Negotiation,
    /// Won (100 %).
    ClosedWon,
    /// Lost (0 %).
    ClosedLost,
}

/// Where a deal came from.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::DealSource")]
pub enum DealSource {
    /// The website.
    Website,
    /// A referral.
    Referral,
    /// A cold call.
    ColdCall,
    /// An event.
    Event,
    /// Anything else.
    Other,
}

/// How urgent a deal or an activity is.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::Priority")]
pub enum Priority {
    /// Low.
    Low,
    /// Medium (the default).
    Medium,
    /// High.
    High,
}

/// Where an activity stands. `COMPLETED` exactly when `completed` is true.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::ActivityStatus")]
pub enum ActivityStatus {
    /// Not started (the default).
    Pending,
    /// Started, not done.
    InProgress,
    /// Done.
    Completed,
}

/// A user's role; what each role may do is decided by the policy files.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::Role")]
pub enum Role {
    /// Works their own accounts and deals.
    SalesRep,
    /// Manages one or more teams of sales reps.
    Manager,
    /// Administers users, teams and everything else.
    Admin,
}

/// What an audit entry records.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::AuditAction")]
pub enum AuditAction {
    /// A record was created.
    RecordCreated,
    /// A record was changed (a deal moved, reassigned, shared or unshared; an activity
    /// completed; a link cleared because the linked record was deleted).
    RecordUpdated,
    /// A record was deleted (also the activities deleted with their deal).
    RecordDeleted,
    /// A user signed in.
    UserLogin,
    /// A sign-in failed (wrong credentials, or refused while locked); `changes` holds the
    /// email tried and the reason.
    UserLoginFailed,
    /// A user signed out.
    UserLogout,
    /// A session was revoked because its refresh token was used twice (stolen or replayed).
    SessionRevoked,
    /// What a user may do changed: role, team, active, password (reset or changed), or a
    /// team's manager.
    PermissionChanged,
    /// A bulk export finished.
    ExportCompleted,
    /// A bulk import finished.
    ImportCompleted,
    /// An automation ran.
    AutomationRun,
}

/// A kind of record.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::RecordKind")]
pub enum RecordKind {
    /// A company.
    Company,
    /// A contact.
    Contact,
    /// A deal.
    Deal,
    /// An activity.
    Activity,
    /// A user (audit entries only).
    User,
    /// A team (audit entries only).
    Team,
}

/// What a notification is about.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::NotificationKind")]
pub enum NotificationKind {
    /// A deal was created for you or reassigned to you by someone else.
    DealAssigned,
    /// A deal was shared with you (or your access to it changed).
    DealShared,
    /// Someone else moved your deal to another stage.
    DealStageChanged,
    /// Someone else assigned an activity to you.
    ActivityAssigned,
    /// One of your deals closes soon (reminders).
    DealClosingSoon,
    /// One of your activities is due (reminders).
    ActivityDue,
    /// Your weekly digest.
    WeeklyDigest,
    /// Sent by an automation.
    Automation,
}

#[cfg(test)]
mod tests {
    use async_graphql::resolver_utils::EnumType;

    use crate::service::events::enum_name;

    /// Events store enumerations under their names in this schema.
    fn same_names<T: EnumType, M: serde::Serialize + From<T>>() {
        for item in T::items() {
            let stored = M::from(item.value);
            assert_eq!(
                enum_name(&stored),
                item.name,
                "{}",
                std::any::type_name::<M>()
            );
        }
    }

    #[test]
    fn events_name_every_value_as_the_schema_does() {
        use entity::enums as e;
        same_names::<super::Industry, e::Industry>();
        same_names::<super::CompanySize, e::CompanySize>();
        same_names::<super::Department, e::Department>();
        same_names::<super::ActivityType, e::ActivityType>();
        same_names::<super::SharePermission, e::SharePermission>();
        same_names::<super::DealStage, e::DealStage>();
        same_names::<super::DealSource, e::DealSource>();
        same_names::<super::Priority, e::Priority>();
        same_names::<super::ActivityStatus, e::ActivityStatus>();
        same_names::<super::Role, e::Role>();
        same_names::<super::AuditAction, e::AuditAction>();
        same_names::<super::RecordKind, e::RecordKind>();
        same_names::<super::NotificationKind, e::NotificationKind>();
    }
}
