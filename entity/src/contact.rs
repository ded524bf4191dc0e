//! `contacts`: people at companies.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::Department;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "contacts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Set to null when the company is deleted.
    pub company_id: Option<Uuid>,
    /// At least one of `first_name` and `last_name` is present.
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Derived from first and last name; stored so it can be searched and sorted.
    pub full_name: String,
    /// Unique case-insensitively.
    pub email: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub title: Option<String>,
    pub department: Option<Department>,
    pub is_primary: bool,
    pub linkedin_url: Option<String>,
    pub notes: Option<String>,
    pub owner_id: Uuid,
    /// Optimistic-concurrency counter, starts at 1.
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `contacts.company_id → companies.id` (on delete: set null).
    #[sea_orm(
        belongs_to = "super::company::Entity",
        from = "Column::CompanyId",
        to = "super::company::Column::Id",
        on_delete = "SetNull"
    )]
    Company,
    /// `contacts.owner_id → users.id` (on delete: restrict).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::OwnerId",
        to = "super::user::Column::Id",
        on_delete = "Restrict"
    )]
    Owner,
    #[sea_orm(has_many = "super::deal::Entity", via_rel = "Relation::Contact")]
    Deals,
    #[sea_orm(has_many = "super::activity::Entity", via_rel = "Relation::Contact")]
    Activities,
}

impl Related<super::company::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Company.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Owner.def()
    }
}

impl Related<super::deal::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Deals.def()
    }
}

impl Related<super::activity::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Activities.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
