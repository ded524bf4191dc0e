//! `companies`: accounts the sales team works with.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::{CompanySize, Industry};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "companies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Non-empty, at most 200 characters, unique case-insensitively.
    pub name: String,
    /// Lowercase, no spaces, unique.
    pub domain: Option<String>,
    pub industry: Option<Industry>,
    pub size: Option<CompanySize>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub website: Option<String>,
    pub owner_id: Uuid,
    /// Optimistic-concurrency counter, starts at 1.
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `companies.owner_id → users.id` (on delete: restrict).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::OwnerId",
        to = "super::user::Column::Id",
        on_delete = "Restrict"
    )]
    Owner,
    #[sea_orm(has_many = "super::contact::Entity", via_rel = "Relation::Company")]
    Contacts,
    #[sea_orm(has_many = "super::deal::Entity", via_rel = "Relation::Company")]
    Deals,
    #[sea_orm(has_many = "super::activity::Entity", via_rel = "Relation::Company")]
    Activities,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Owner.def()
    }
}

impl Related<super::contact::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Contacts.def()
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
