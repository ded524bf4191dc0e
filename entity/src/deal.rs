//! `deals`: sales opportunities moving through the pipeline.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::{DealSource, DealStage, Priority};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "deals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub contact_id: Option<Uuid>,
    /// Non-empty.
    pub title: String,
    /// Amount in minor units of `currency` (cents for USD): money is an exact integer, never a
    /// float. Non-negative.
    pub amount_cents: i64,
    /// ISO 4217 code, three uppercase letters; defaults to `USD`.
    pub currency: String,
    pub stage: DealStage,
    /// Derived from `stage` (`DealStage::probability`), 0–100; not writable by clients.
    pub probability: i16,
    pub expected_close_date: Option<Date>,
    /// Set when the deal is closed (won or lost).
    pub actual_close_date: Option<Date>,
    pub source: Option<DealSource>,
    pub priority: Priority,
    pub notes: Option<String>,
    pub owner_id: Uuid,
    /// Optimistic-concurrency counter, starts at 1.
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `deals.company_id → companies.id` (on delete: restrict).
    #[sea_orm(
        belongs_to = "super::company::Entity",
        from = "Column::CompanyId",
        to = "super::company::Column::Id",
        on_delete = "Restrict"
    )]
    Company,
    /// `deals.contact_id → contacts.id` (on delete: set null).
    #[sea_orm(
        belongs_to = "super::contact::Entity",
        from = "Column::ContactId",
        to = "super::contact::Column::Id",
        on_delete = "SetNull"
    )]
    Contact,
    /// `deals.owner_id → users.id` (on delete: restrict).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::OwnerId",
        to = "super::user::Column::Id",
        on_delete = "Restrict"
    )]
    Owner,
    #[sea_orm(has_many = "super::deal_share::Entity", via_rel = "Relation::Deal")]
    Shares,
    #[sea_orm(has_many = "super::activity::Entity", via_rel = "Relation::Deal")]
    Activities,
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

/// The owner; users the deal is shared with go through `deal_share`.
impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Owner.def()
    }
}

impl Related<super::deal_share::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Shares.def()
    }
}

impl Related<super::activity::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Activities.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
