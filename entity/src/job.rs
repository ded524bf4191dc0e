//! `jobs`: an automation action to run, written with the event that caused it; claimed by
//! one instance, retried with backoff.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub automation_id: Uuid,
    /// Which of the automation's actions (as it was when the job was made: see `context`).
    pub action_index: i32,
    pub event_position: Option<i64>,
    /// The deal or activity it is about (none for a scheduled run).
    pub record_id: Option<Uuid>,
    /// JSON: the action itself, the trigger's facts (previous stage, actor), the fire time.
    pub context: String,
    /// `pending`, `running`, `succeeded`, `failed`, `skipped`.
    pub status: String,
    pub attempts: i32,
    pub run_at: DateTimeUtc,
    pub locked_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
