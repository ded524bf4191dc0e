//! `ck_deals_amount_max`: a deal's `amount_cents` is at most 99,999,999,999,999
//! (999,999,999,999.99 in the deal's currency), the maximum the API accepts
//! (`api::service::money::MAX_AMOUNT_CENTS`). Without a bound a single deal near `i64::MAX`
//! made every report sum that included it overflow; the API refuses such amounts, and this
//! makes the database refuse them from any other writer too.
//!
//! PostgreSQL gets a real CHECK constraint, added `NOT VALID`: it applies to every row
//! inserted or updated from now on, but the existing rows are not scanned, so a row written
//! before the limit existed (an oversized amount) cannot make this migration fail. Such a
//! row stays readable (the reports sum amounts without overflow whatever they hold) and must
//! be brought under the limit by the next update that touches it. `VALIDATE CONSTRAINT`
//! can be run once old rows are fixed.
//!
//! SQLite cannot add a CHECK to an existing table (short of rebuilding it), so two triggers
//! stand in for it, `BEFORE INSERT` and `BEFORE UPDATE`, raising an error that names the
//! constraint (`ck_deals_amount_max`) as a CHECK violation would; like `NOT VALID`, they
//! do not look at existing rows.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The largest `amount_cents`. Spelled out here rather than imported: a migration is frozen
/// once released, a later change of the limit is a new migration.
const MAX_AMOUNT_CENTS: i64 = 99_999_999_999_999;

/// The SQLite trigger refusing an oversized amount on `event` (`INSERT` or `UPDATE`).
fn sqlite_trigger(event: &str) -> String {
    let name = event.to_lowercase();
    format!(
        "CREATE TRIGGER tr_deals_amount_max_{name} BEFORE {event} ON deals \
         FOR EACH ROW WHEN NEW.amount_cents > {MAX_AMOUNT_CENTS} \
         BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_deals_amount_max'); END"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = match manager.get_database_backend() {
            DbBackend::Postgres => vec![format!(
                "ALTER TABLE deals ADD CONSTRAINT ck_deals_amount_max \
                 CHECK (amount_cents <= {MAX_AMOUNT_CENTS}) NOT VALID"
            )],
            DbBackend::Sqlite => vec![sqlite_trigger("INSERT"), sqlite_trigger("UPDATE")],
            other => return Err(unsupported(other)),
        };
        ddl::run(manager, &statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements: &[&str] = match manager.get_database_backend() {
            DbBackend::Postgres => &["ALTER TABLE deals DROP CONSTRAINT ck_deals_amount_max"],
            DbBackend::Sqlite => &[
                "DROP TRIGGER tr_deals_amount_max_update",
                "DROP TRIGGER tr_deals_amount_max_insert",
            ],
            other => return Err(unsupported(other)),
        };
        ddl::run(manager, statements).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

fn unsupported(backend: DbBackend) -> DbErr {
    DbErr::Migration(format!(
        "unsupported database backend {backend:?}: the CRM runs on SQLite or PostgreSQL"
    ))
}
