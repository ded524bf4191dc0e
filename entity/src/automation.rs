//! `automations`: what happens by itself when a deal or an activity changes, or on a
//! schedule (docs/automation.md). Managed by admins.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "automations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub enabled: bool,
    /// `deal_created`, `deal_updated`, `deal_stage_changed`, `activity_created`, `schedule`.
    pub trigger_on: String,
    /// The JSON of a `DealFilter` (GraphQL input names), or none.
    pub deal_condition: Option<String>,
    /// A cron expression (UTC) for scheduled automations.
    pub schedule: Option<String>,
    /// JSON array of actions (see `api::service::automation::Action`).
    pub actions: String,
    /// For the defaults a new database starts with: which one (`closing_soon`,
    /// `activity_due`, `weekly_digest`, `stage_change`).
    pub builtin: Option<String>,
    pub created_by: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
