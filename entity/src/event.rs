//! `events`: every change as a row, written in the transaction of the change (the audit
//! log, and what live updates and sync read). Append-only; old rows are purged after the
//! retention period.

use sea_orm::entity::prelude::*;

use crate::enums::{AuditAction, RecordKind};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    /// Order of insertion (unique). Within `txid` it is the order of the transaction's
    /// events; across transactions readers order by `(txid, position)`.
    #[sea_orm(primary_key)]
    pub position: i64,
    /// The writing transaction's id on PostgreSQL (`pg_current_xact_id()`, set by the
    /// database), 0 on SQLite (whose writers are serialized, so `position` alone is commit
    /// order).
    pub txid: i64,
    /// When the change was made.
    pub at: DateTimeUtc,
    /// Who made it (`None`: an anonymous sign-in attempt, or the system).
    pub actor_id: Option<Uuid>,
    pub action: AuditAction,
    pub kind: Option<RecordKind>,
    pub record_id: Option<Uuid>,
    /// JSON array of `{"field", "from", "to"}`.
    pub changes: String,
    pub request_id: Option<String>,
    pub ip_address: Option<String>,
    /// The automation that made the change (its `actor_id` is then none).
    pub automation_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
