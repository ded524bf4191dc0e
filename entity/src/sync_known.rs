//! `sync_known`: what an offline client was sent of each record (see the migration
//! `m20261201_000011_create_sync`).

use sea_orm::entity::prelude::*;

use crate::enums::RecordKind;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_known")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: RecordKind,
    #[sea_orm(primary_key, auto_increment = false)]
    pub record_id: Uuid,
    /// The version the client holds; `None`: it holds nothing (only a pending send).
    pub version: Option<i32>,
    /// The facts mask it was sent under (which fields it could read).
    pub facts: Option<i32>,
    /// The last answer's change to this record, until confirmed or dropped.
    pub pending_seq: Option<i64>,
    /// `true` an upsert, `false` a tombstone.
    pub pending_present: Option<bool>,
    pub pending_version: Option<i32>,
    pub pending_facts: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
