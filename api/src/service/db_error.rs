//! Database errors a write meets under concurrency, mapped to answers a client can act on.
//!
//! A check inside the write's transaction ("the deal exists") can be overtaken on
//! PostgreSQL by another transaction that commits in between (deletes the deal); the
//! statement then fails on a foreign key. The client gets the answer it would have got one
//! moment later, never `INTERNAL`: a vanished target is `NOT_FOUND`, a vanished link is
//! `BAD_USER_INPUT` on its input field. Lock waits that run out (SQLite `SQLITE_BUSY` after
//! the busy timeout, a PostgreSQL deadlock victim, an exhausted pool) are `RATE_LIMITED`
//! with a retry delay. docs/concurrency.md explains why these can happen at all.

use sea_orm::{DbErr, RuntimeErr, SqlErr};

use crate::error::{ApiError, FieldError};

/// A row a write refers to through a foreign key, which another transaction may delete
/// meanwhile.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Parent {
    /// The record the mutation acts on (`shareDeal(id)`'s deal): gone is `NOT_FOUND`.
    Target {
        /// The foreign key's name (`fk_<table>_<column>`).
        constraint: &'static str,
        /// The GraphQL type, for `NOT_FOUND`.
        entity: &'static str,
    },
    /// A record an input field links to: gone is `BAD_USER_INPUT` on that field, the
    /// answer for a link that never existed.
    Link {
        /// The foreign key's name (`fk_<table>_<column>`).
        constraint: &'static str,
        /// The input field, in the client's spelling (`dealId`).
        field: &'static str,
        /// What it names, for the message (`deal`).
        what: &'static str,
    },
}

impl Parent {
    fn constraint(&self) -> &'static str {
        match self {
            Self::Target { constraint, .. } | Self::Link { constraint, .. } => constraint,
        }
    }
}

/// Maps a failed write. `parents` are the foreign keys the statement sets (only those with
/// a value): a violation of one of them answers as if the parent had never existed. Lock
/// timeouts and deadlocks are `RATE_LIMITED`; anything else is logged and `INTERNAL`.
pub(crate) fn write_error(err: DbErr, parents: &[Parent]) -> ApiError {
    if let Some(SqlErr::ForeignKeyConstraintViolation(message)) = err.sql_err() {
        // PostgreSQL names the constraint; SQLite only says "FOREIGN KEY constraint failed"
        // (and cannot get here while writers begin immediate: checks and write are then
        // never interleaved), so without a name every candidate is reported.
        let named: Vec<&Parent> = parents
            .iter()
            .filter(|p| message.contains(p.constraint()))
            .collect();
        let vanished = if named.is_empty() {
            parents.iter().collect()
        } else {
            named
        };
        if let Some(entity) = vanished.iter().find_map(|p| match p {
            Parent::Target { entity, .. } => Some(*entity),
            Parent::Link { .. } => None,
        }) {
            return ApiError::NotFound { entity };
        }
        let fields: Vec<FieldError> = vanished
            .iter()
            .filter_map(|p| match p {
                Parent::Link { field, what, .. } => {
                    Some(FieldError::new(*field, format!("no such {what}")))
                }
                Parent::Target { .. } => None,
            })
            .collect();
        if !fields.is_empty() {
            tracing::info!(error = %err, "write refers to a row deleted meanwhile");
            return ApiError::BadUserInput(fields);
        }
    }
    ApiError::from(err)
}

/// SQLite `SQLITE_BUSY`/`SQLITE_LOCKED` (any extended code), PostgreSQL
/// `serialization_failure`, `deadlock_detected`, `lock_not_available`, or no free pooled
/// connection in time: the same request can succeed when retried.
pub(crate) fn is_transient(err: &DbErr) -> bool {
    use sea_orm::sqlx;
    let e = match err {
        DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout) => return true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    let sqlx::Error::Database(db) = &**e else {
        return matches!(&**e, sqlx::Error::PoolTimedOut);
    };
    let Some(code) = db.code() else {
        return false;
    };
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // The primary result code is the low byte of an extended one.
        code.parse::<i32>()
            .is_ok_and(|c| matches!(c & 0xff, 5 /* BUSY */ | 6 /* LOCKED */))
    } else {
        matches!(code.as_ref(), "40001" | "40P01" | "55P03")
    }
}
