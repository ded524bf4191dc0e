//! Services: the operations of the API. They own transactions and authorization; resolvers
//! only translate to and from GraphQL.

pub mod activity;
pub mod attachment;
pub mod audit;
pub mod auth;
pub mod automation;
pub mod company;
pub mod contact;
pub(crate) mod db_error;
pub mod deal;
pub mod events;
pub mod export;
pub mod filter;
pub mod import;
pub mod list;
pub mod live;
pub mod money;
pub mod notifications;
pub mod record;
pub mod related;
pub mod report;
pub mod sync;
pub mod team;
pub mod user;
pub mod validate;

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr, SqlErr, TransactionTrait};

use crate::auth::token::TokenService;
use crate::authz::Authorizer;
use crate::config::Config;
use crate::error::{ApiError, ApiResult};

/// What services need: the pool, the policy, the token keys, the configuration.
#[derive(Clone)]
pub struct Deps {
    /// The connection pool.
    pub db: DatabaseConnection,
    /// The compiled authorization policy.
    pub authz: Arc<Authorizer>,
    /// Access token keys.
    pub tokens: Arc<TokenService>,
    /// Server configuration.
    pub config: Arc<Config>,
    /// This instance's live delivery (subscriptions).
    pub live: live::Live,
    /// This instance's automation worker.
    pub jobs: automation::queue::Jobs,
    /// Where attachment files are stored.
    pub storage: crate::storage::Storage,
    /// Which viewers read only a few rows of a kind (how their list pages are planned).
    pub page_shapes: Arc<record::PageShapes>,
}

/// Maps a unique-constraint violation to `CONFLICT` on `field`, anything else to `INTERNAL`.
pub(crate) fn unique_violation(err: DbErr, field: &str, what: &str) -> ApiError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => ApiError::Conflict {
            message: format!("{what} already exists"),
            field: Some(field.to_owned()),
        },
        _ => ApiError::from(err),
    }
}

/// Refuses unless the policy lets the viewer perform a role-level `action` (on its kind).
pub(crate) fn require_role_permission(
    deps: &Deps,
    viewer: &crate::authz::Viewer,
    action: impl Into<crate::authz::Action>,
) -> ApiResult<()> {
    let action = action.into();
    if deps.authz.allowed_without_facts(viewer.role, action) {
        Ok(())
    } else {
        let (kind, action) = (action.kind(), action.polar());
        tracing::info!(target: "audit", event = "forbidden", user_id = %viewer.user_id, ?kind, action, "denied by policy");
        Err(ApiError::Forbidden { field: None })
    }
}

/// Refuses with `FORBIDDEN` unless the policy lets the viewer do `action` on a record (of
/// the action's kind) with these facts (from the row's SQL facts column, or computed for a
/// record about to be created or changed).
pub(crate) fn require_allowed(
    deps: &Deps,
    viewer: &crate::authz::Viewer,
    action: impl Into<crate::authz::Action>,
    facts: crate::authz::FactMask,
) -> ApiResult<()> {
    let action = action.into();
    if deps.authz.decide(viewer.role, action, facts) {
        Ok(())
    } else {
        let (kind, action) = (action.kind(), action.polar());
        tracing::info!(target: "audit", event = "forbidden", user_id = %viewer.user_id, ?kind, action, "denied by policy");
        Err(ApiError::Forbidden { field: None })
    }
}

/// Optimistic concurrency: `CONFLICT` (field `expectedVersion`) when the client's version
/// is not the stored one.
pub(crate) fn check_version(expected: Option<i32>, actual: i32) -> ApiResult<()> {
    match expected {
        Some(v) if v != actual => Err(ApiError::Conflict {
            message: format!(
                "the record changed since version {v} (now {actual}); reload and retry"
            ),
            field: Some("expectedVersion".to_owned()),
        }),
        _ => Ok(()),
    }
}

/// Where a write runs: in a transaction of its own (every mutation), or inside a caller's
/// transaction as a savepoint (a CSV import: a failing row undoes only itself, and the whole
/// import commits or rolls back as one).
#[derive(Clone, Copy)]
pub enum At<'a> {
    /// A transaction of its own ([`begin_write`]).
    Own,
    /// A savepoint of this transaction.
    Within(&'a sea_orm::DatabaseTransaction),
}

impl<'a> At<'a> {
    /// Starts the write's transaction (or savepoint).
    pub(crate) async fn begin(self, deps: &Deps) -> ApiResult<sea_orm::DatabaseTransaction> {
        match self {
            At::Own => begin_write(deps).await,
            At::Within(outer) => sea_orm::TransactionTrait::begin(outer)
                .await
                .map_err(ApiError::from),
        }
    }

    /// Where the write's result is read back: the database, or the caller's transaction
    /// (which alone sees the write before it commits).
    pub(crate) fn reader(self, deps: &'a Deps) -> sea_orm::DatabaseExecutor<'a> {
        match self {
            At::Own => sea_orm::DatabaseExecutor::Connection(&deps.db),
            At::Within(outer) => sea_orm::DatabaseExecutor::Transaction(outer),
        }
    }
}

/// Starts a write transaction; every transaction that writes begins here. On SQLite it
/// takes the write lock at `BEGIN` (`IMMEDIATE`), waiting up to the busy timeout: a deferred
/// transaction that read first and then writes fails at once with `SQLITE_BUSY` when
/// another writer committed in between (the busy handler cannot help a reader whose
/// snapshot is stale), so it would answer `INTERNAL`, where waiting for the lock and then
/// reading gives the client the current state. Writers are thereby serialized on SQLite
/// from their first read. A lock still not free after the timeout is `RATE_LIMITED`.
/// Other backends ignore the mode. docs/concurrency.md has the whole story.
pub(crate) async fn begin_write(deps: &Deps) -> ApiResult<sea_orm::DatabaseTransaction> {
    deps.db
        .begin_with_options(sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await
        .map_err(ApiError::from)
}
