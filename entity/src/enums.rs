//! Enumerations shared by several tables.
//!
//! Each is stored as a short string; the string values below are part of the schema (the
//! migrations' CHECK constraints list exactly these) and must not change without a migration.
//! Serde uses the same strings, so a serialized model (an audit snapshot, say) reads like the row.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// What a user may do is decided by the policy files; the role is one of its inputs.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[sea_orm(string_value = "sales_rep")]
    SalesRep,
    #[sea_orm(string_value = "manager")]
    Manager,
    #[sea_orm(string_value = "admin")]
    Admin,
}

/// Industry of a company.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum Industry {
    #[sea_orm(string_value = "Technology")]
    Technology,
    #[sea_orm(string_value = "Healthcare")]
    Healthcare,
    #[sea_orm(string_value = "Finance")]
    Finance,
    #[sea_orm(string_value = "Retail")]
    Retail,
    #[sea_orm(string_value = "Manufacturing")]
    Manufacturing,
    #[sea_orm(string_value = "Other")]
    Other,
}

/// Head-count bracket of a company.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum CompanySize {
    #[sea_orm(string_value = "1-10")]
    #[serde(rename = "1-10")]
    S1To10,
    #[sea_orm(string_value = "11-50")]
    #[serde(rename = "11-50")]
    S11To50,
    #[sea_orm(string_value = "51-200")]
    #[serde(rename = "51-200")]
    S51To200,
    #[sea_orm(string_value = "201-1000")]
    #[serde(rename = "201-1000")]
    S201To1000,
    #[sea_orm(string_value = "1000+")]
    #[serde(rename = "1000+")]
    S1000Plus,
}

/// Department a contact works in.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum Department {
    #[sea_orm(string_value = "Sales")]
    Sales,
    #[sea_orm(string_value = "Marketing")]
    Marketing,
    #[sea_orm(string_value = "Engineering")]
    Engineering,
    #[sea_orm(string_value = "HR")]
    #[serde(rename = "HR")]
    Hr,
    #[sea_orm(string_value = "Other")]
    Other,
}

/// Where a deal stands in the sales pipeline.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum DealStage {
    #[sea_orm(string_value = "prospecting")]
    Prospecting,
    #[sea_orm(string_value = "qualification")]
    Qualification,
    #[sea_orm(string_value = "proposal")]
    Proposal,
    #[sea_orm(string_value = "negotiation")]
    Negotiation,
    #[sea_orm(string_value = "closed_won")]
    ClosedWon,
    #[sea_orm(string_value = "closed_lost")]
    ClosedLost,
}

impl DealStage {
    /// Every stage in pipeline order, so reports list stages the same way everywhere.
    pub const ALL: [DealStage; 6] = [
        DealStage::Prospecting,
        DealStage::Qualification,
        DealStage::Proposal,
        DealStage::Negotiation,
        DealStage::ClosedWon,
        DealStage::ClosedLost,
    ];

    /// Win probability in percent implied by the stage.
    ///
    /// A deal's `probability` column is derived from its stage and is never written by clients,
    /// so this is the single place the mapping lives.
    #[must_use]
    pub const fn probability(self) -> i16 {
        match self {
            DealStage::Prospecting => 10,
            DealStage::Qualification => 25,
            DealStage::Proposal => 50,
            DealStage::Negotiation => 75,
            DealStage::ClosedWon => 100,
            DealStage::ClosedLost => 0,
        }
    }

    /// Whether the deal has left the pipeline (won or lost); closed deals carry an
    /// `actual_close_date`.
    #[must_use]
    pub const fn is_closed(self) -> bool {
        matches!(self, DealStage::ClosedWon | DealStage::ClosedLost)
    }
}

/// How a deal came in.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum DealSource {
    #[sea_orm(string_value = "website")]
    Website,
    #[sea_orm(string_value = "referral")]
    Referral,
    #[sea_orm(string_value = "cold_call")]
    ColdCall,
    #[sea_orm(string_value = "event")]
    Event,
    #[sea_orm(string_value = "other")]
    Other,
}

/// Priority of a deal or an activity.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    #[sea_orm(string_value = "low")]
    Low,
    #[sea_orm(string_value = "medium")]
    Medium,
    #[sea_orm(string_value = "high")]
    High,
}

/// Where an activity stands; `completed` iff the activity's `completed` flag is set.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum ActivityStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "in_progress")]
    InProgress,
    #[sea_orm(string_value = "completed")]
    Completed,
}

/// What a deal share grants to the user it is shared with.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum SharePermission {
    #[sea_orm(string_value = "view")]
    View,
    #[sea_orm(string_value = "edit")]
    Edit,
}

/// Kind of an activity (stored in the column `type`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum ActivityType {
    #[sea_orm(string_value = "call")]
    Call,
    #[sea_orm(string_value = "email")]
    Email,
    #[sea_orm(string_value = "meeting")]
    Meeting,
    #[sea_orm(string_value = "note")]
    Note,
    #[sea_orm(string_value = "task")]
    Task,
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    /// Serde must produce the same strings as the database, or a serialized model would not
    /// read like its row.
    fn assert_serde_matches_db<E>()
    where
        E: ActiveEnum<Value = String>
            + Serialize
            + for<'de> Deserialize<'de>
            + PartialEq
            + std::fmt::Debug,
    {
        for variant in E::iter() {
            let json = serde_json::to_value(&variant).expect("serialize");
            assert_eq!(json, serde_json::Value::String(variant.to_value()));
            let back: E = serde_json::from_value(json).expect("deserialize");
            assert_eq!(back, variant);
        }
    }

    #[test]
    fn serde_strings_are_the_db_strings() {
        assert_serde_matches_db::<Role>();
        assert_serde_matches_db::<Industry>();
        assert_serde_matches_db::<CompanySize>();
        assert_serde_matches_db::<Department>();
        assert_serde_matches_db::<DealStage>();
        assert_serde_matches_db::<DealSource>();
        assert_serde_matches_db::<Priority>();
        assert_serde_matches_db::<SharePermission>();
        assert_serde_matches_db::<ActivityType>();
    }

    #[test]
    fn db_strings() {
        assert_eq!(Role::SalesRep.to_value(), "sales_rep");
        assert_eq!(CompanySize::S1000Plus.to_value(), "1000+");
        assert_eq!(Department::Hr.to_value(), "HR");
        assert_eq!(DealStage::ClosedWon.to_value(), "closed_won");
        assert_eq!(DealSource::ColdCall.to_value(), "cold_call");
    }

    #[test]
    fn stage_all_is_every_variant_in_pipeline_order() {
        assert_eq!(
            DealStage::ALL.to_vec(),
            DealStage::iter().collect::<Vec<_>>()
        );
        let probabilities = DealStage::ALL.map(DealStage::probability);
        assert_eq!(probabilities, [10, 25, 50, 75, 100, 0]);
        let closed = DealStage::ALL.map(DealStage::is_closed);
        assert_eq!(closed, [false, false, false, false, true, true]);
    }
}

/// What an event records. Stored as the GraphQL name, so the events table reads like the
/// API's `AuditAction`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuditAction {
    #[sea_orm(string_value = "RECORD_CREATED")]
    RecordCreated,
    #[sea_orm(string_value = "RECORD_UPDATED")]
    RecordUpdated,
    #[sea_orm(string_value = "RECORD_DELETED")]
    RecordDeleted,
    #[sea_orm(string_value = "USER_LOGIN")]
    UserLogin,
    #[sea_orm(string_value = "USER_LOGIN_FAILED")]
    UserLoginFailed,
    #[sea_orm(string_value = "USER_LOGOUT")]
    UserLogout,
    #[sea_orm(string_value = "SESSION_REVOKED")]
    SessionRevoked,
    #[sea_orm(string_value = "PERMISSION_CHANGED")]
    PermissionChanged,
    #[sea_orm(string_value = "EXPORT_COMPLETED")]
    ExportCompleted,
    #[sea_orm(string_value = "IMPORT_COMPLETED")]
    ImportCompleted,
    #[sea_orm(string_value = "AUTOMATION_RUN")]
    AutomationRun,
}

/// The kind of record an event is about. Stored as the GraphQL name.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecordKind {
    #[sea_orm(string_value = "COMPANY")]
    Company,
    #[sea_orm(string_value = "CONTACT")]
    Contact,
    #[sea_orm(string_value = "DEAL")]
    Deal,
    #[sea_orm(string_value = "ACTIVITY")]
    Activity,
    #[sea_orm(string_value = "USER")]
    User,
    #[sea_orm(string_value = "TEAM")]
    Team,
}

/// What a notification is about. Stored as the GraphQL name.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationKind {
    #[sea_orm(string_value = "DEAL_ASSIGNED")]
    DealAssigned,
    #[sea_orm(string_value = "DEAL_SHARED")]
    DealShared,
    #[sea_orm(string_value = "DEAL_STAGE_CHANGED")]
    DealStageChanged,
    #[sea_orm(string_value = "ACTIVITY_ASSIGNED")]
    ActivityAssigned,
    #[sea_orm(string_value = "DEAL_CLOSING_SOON")]
    DealClosingSoon,
    #[sea_orm(string_value = "ACTIVITY_DUE")]
    ActivityDue,
    #[sea_orm(string_value = "WEEKLY_DIGEST")]
    WeeklyDigest,
    #[sea_orm(string_value = "AUTOMATION")]
    Automation,
}
