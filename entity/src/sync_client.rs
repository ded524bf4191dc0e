//! `sync_clients`: one offline client's replica, made by `syncCursor` (see the migration
//! `m20261201_000011_create_sync` for what the columns hold).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_clients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Whose replica it is.
    pub user_id: Uuid,
    /// The number of the last `changes` answer (or subscription) that wrote pending rows;
    /// a cursor names it so a cursor of an abandoned answer is refused.
    pub call_no: i64,
    /// The sequence number the client last confirmed (by coming back with it).
    pub base_seq: i64,
    /// The highest sequence number handed out.
    pub issued_seq: i64,
    /// The last event (commit order) of the last answer the client applied in full:
    /// nothing newer, nothing to compare.
    pub txid: i64,
    pub position: i64,
    /// The last event of the last answer, if it was complete; it becomes `txid`/`position`
    /// when the client comes back with that answer's final cursor.
    pub pending_txid: Option<i64>,
    pub pending_position: Option<i64>,
    /// The viewer's role, teams and policy the known facts were computed under.
    pub viewer_sig: String,
    /// Made by a subscription without a cursor: kept a day after its last use, not the
    /// whole retention period.
    pub ephemeral: bool,
    pub created_at: DateTimeUtc,
    pub used_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
