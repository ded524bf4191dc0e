//! Fewer index writes per event on SQLite (docs/events-benchmark.md).
//!
//! On SQLite `txid` is always 0 and `position`, the table's rowid, is commit order, so
//! readers there order by `position` alone (`api::service::audit`). `ix_events_order
//! (txid, position)` then only repeats the table's own order: it goes, and the unfiltered
//! log reads the table in rowid order. The filter indexes become `(column, position)`:
//! the same range scan per filter, without the constant `txid`. One b-tree fewer to update
//! in every write transaction (of six) — every index costs a page write per commit.
//!
//! `position` keeps `AUTOINCREMENT`: without it SQLite hands out the largest rowid plus
//! one, and a position can come back once the newest rows are deleted (the retention purge
//! deletes every event past the retention, whatever its position), while readers and
//! cursors rely on positions never going back.
//!
//! PostgreSQL is unchanged: `txid` is the writing transaction there and the indexes keep
//! it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The filter indexes (name, column) that end with the reading order.
const FILTERS: [(&str, &str); 4] = [
    ("ix_events_actor", "actor_id"),
    ("ix_events_action", "action"),
    ("ix_events_kind", "kind"),
    ("ix_events_record", "record_id"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        let mut statements = vec!["DROP INDEX ix_events_order".to_owned()];
        for (name, column) in FILTERS {
            statements.push(format!("DROP INDEX {name}"));
            statements.push(format!(
                "CREATE INDEX {name} ON events ({column}, position)"
            ));
        }
        ddl::run(manager, &statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        let mut statements = Vec::new();
        for (name, column) in FILTERS {
            statements.push(format!("DROP INDEX {name}"));
            statements.push(format!(
                "CREATE INDEX {name} ON events ({column}, txid, position)"
            ));
        }
        statements.push("CREATE INDEX ix_events_order ON events (txid, position)".to_owned());
        ddl::run(manager, &statements).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
