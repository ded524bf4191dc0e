//! Per-backend column types and a runner for raw DDL.
//!
//! The migrations are written as SQL because the schema leans on features the schema builder
//! does not express portably (named CHECK constraints, expression indexes, a circular foreign
//! key). Only the type names differ between SQLite and PostgreSQL; they live here.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// Column type names for one backend.
///
/// On SQLite, UUIDs are `BLOB` because sqlx binds `Uuid` as 16 raw bytes there, and timestamps
/// and dates are `TEXT` because that is how sqlx encodes chrono values; a column declared with
/// another type would compare differently from the values the application binds.
pub(crate) struct Types {
    pub uuid: &'static str,
    pub timestamp: &'static str,
    pub date: &'static str,
    pub boolean: &'static str,
    pub bigint: &'static str,
    pub smallint: &'static str,
    pub integer: &'static str,
    pub text: &'static str,
}

impl Types {
    pub(crate) fn for_backend(backend: DbBackend) -> Result<Self, DbErr> {
        match backend {
            DbBackend::Postgres => Ok(Self {
                uuid: "UUID",
                timestamp: "TIMESTAMPTZ",
                date: "DATE",
                boolean: "BOOLEAN",
                bigint: "BIGINT",
                smallint: "SMALLINT",
                integer: "INTEGER",
                text: "TEXT",
            }),
            DbBackend::Sqlite => Ok(Self {
                uuid: "BLOB",
                timestamp: "TEXT",
                date: "TEXT",
                boolean: "BOOLEAN",
                bigint: "BIGINT",
                smallint: "SMALLINT",
                integer: "INTEGER",
                text: "TEXT",
            }),
            other => Err(unsupported(other)),
        }
    }
}

/// The error of a migration run on a backend the CRM does not support.
pub(crate) fn unsupported(backend: DbBackend) -> DbErr {
    DbErr::Migration(format!(
        "unsupported database backend {backend:?}: the CRM runs on SQLite or PostgreSQL"
    ))
}

/// Runs the statements one at a time, in order (drivers differ on multi-statement strings).
pub(crate) async fn run<S: AsRef<str>>(
    manager: &SchemaManager<'_>,
    statements: &[S],
) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    for sql in statements {
        conn.execute_unprepared(sql.as_ref()).await?;
    }
    Ok(())
}
