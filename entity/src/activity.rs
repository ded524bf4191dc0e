//! `activities`: calls, emails, meetings, notes and tasks, optionally attached to a company,
//! contact and/or deal.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::{ActivityStatus, ActivityType, Priority};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "activities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The column is called `type`, a keyword in Rust.
    #[sea_orm(column_name = "type")]
    pub kind: ActivityType,
    /// Non-empty.
    pub subject: String,
    pub description: Option<String>,
    pub due_at: Option<DateTimeUtc>,
    pub completed: bool,
    pub completed_at: Option<DateTimeUtc>,
    /// Low, medium (the default) or high.
    pub priority: Priority,
    /// `Completed` iff `completed`; an open activity is pending or in progress.
    pub status: ActivityStatus,
    /// Set to null when the company is deleted.
    pub company_id: Option<Uuid>,
    /// Set to null when the contact is deleted.
    pub contact_id: Option<Uuid>,
    /// The activity is deleted with its deal.
    pub deal_id: Option<Uuid>,
    pub created_by: Uuid,
    pub assigned_to: Option<Uuid>,
    /// Optimistic-concurrency counter, starts at 1.
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// Two relations lead to `users` (creator, assignee), so there is no `Related<user::Entity>`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `activities.company_id → companies.id` (on delete: set null).
    #[sea_orm(
        belongs_to = "super::company::Entity",
        from = "Column::CompanyId",
        to = "super::company::Column::Id",
        on_delete = "SetNull"
    )]
    Company,
    /// `activities.contact_id → contacts.id` (on delete: set null).
    #[sea_orm(
        belongs_to = "super::contact::Entity",
        from = "Column::ContactId",
        to = "super::contact::Column::Id",
        on_delete = "SetNull"
    )]
    Contact,
    /// `activities.deal_id → deals.id` (on delete: cascade).
    #[sea_orm(
        belongs_to = "super::deal::Entity",
        from = "Column::DealId",
        to = "super::deal::Column::Id",
        on_delete = "Cascade"
    )]
    Deal,
    /// `activities.created_by → users.id` (on delete: restrict).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::CreatedBy",
        to = "super::user::Column::Id",
        on_delete = "Restrict"
    )]
    Creator,
    /// `activities.assigned_to → users.id` (on delete: set null).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::AssignedTo",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    Assignee,
}

impl Related<super::company::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Company.def()
    }
}

impl Related<super::contact::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Contact.def()
    }
}

impl Related<super::deal::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Deal.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
