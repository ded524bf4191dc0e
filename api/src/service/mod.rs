//! Services: the operations of the API. They own transactions and authorization; resolvers
//! only translate to and from GraphQL.

pub mod auth;
pub mod deal;
pub mod filter;
pub mod list;
pub mod team;
pub mod user;

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr, SqlErr};

use crate::auth::Actor;
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

/// Refuses unless the policy lets `actor` perform a role-level `action` on `kind`.
pub(crate) fn require_role_permission(
    deps: &Deps,
    actor: &Actor,
    kind: crate::authz::Kind,
    action: &str,
) -> ApiResult<()> {
    if deps.authz.allowed_without_facts(actor.role, kind, action) {
        Ok(())
    } else {
        tracing::info!(target: "audit", event = "forbidden", user_id = %actor.id, ?kind, action, "denied by policy");
        Err(ApiError::Forbidden { field: None })
    }
}
