//! `users`: people who log in (sales reps, managers, admins).

use std::fmt;

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::Role;

/// `Debug` is written by hand so the password hash never reaches a log line; `Serialize` skips
/// it for the same reason.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Stored lowercase; unique case-insensitively (`ux_users_email_lower`).
    pub email: String,
    pub name: String,
    /// Argon2id PHC string.
    #[serde(skip_serializing, default)]
    pub password_hash: String,
    pub role: Role,
    pub team_id: Option<Uuid>,
    /// Deactivated users cannot log in but keep owning their records.
    pub active: bool,
    /// Set when an admin created the account or reset the password.
    pub must_change_password: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("password_hash", &"<redacted>")
            .field("role", &self.role)
            .field("team_id", &self.team_id)
            .field("active", &self.active)
            .field("must_change_password", &self.must_change_password)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// Relations to `activities` come in two (creator, assignee) and to `teams` in two (member of,
/// manager of); only `Team` (membership) has a `Related` impl.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `users.team_id → teams.id` (on delete: set null).
    #[sea_orm(
        belongs_to = "super::team::Entity",
        from = "Column::TeamId",
        to = "super::team::Column::Id",
        on_delete = "SetNull"
    )]
    Team,
    /// Teams this user manages.
    #[sea_orm(has_many = "super::team::Entity", via_rel = "Relation::Manager")]
    ManagedTeams,
    #[sea_orm(has_many = "super::company::Entity", via_rel = "Relation::Owner")]
    OwnedCompanies,
    #[sea_orm(has_many = "super::contact::Entity", via_rel = "Relation::Owner")]
    OwnedContacts,
    #[sea_orm(has_many = "super::deal::Entity", via_rel = "Relation::Owner")]
    OwnedDeals,
    /// Deals shared with this user.
    #[sea_orm(has_many = "super::deal_share::Entity", via_rel = "Relation::User")]
    DealShares,
    #[sea_orm(has_many = "super::activity::Entity", via_rel = "Relation::Creator")]
    CreatedActivities,
    #[sea_orm(has_many = "super::activity::Entity", via_rel = "Relation::Assignee")]
    AssignedActivities,
}

impl Related<super::team::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Team.def()
    }
}

impl Related<super::company::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::OwnedCompanies.def()
    }
}

impl Related<super::contact::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::OwnedContacts.def()
    }
}

/// Owned deals only; deals shared with the user go through `deal_share`.
impl Related<super::deal::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::OwnedDeals.def()
    }
}

impl Related<super::deal_share::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::DealShares.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
