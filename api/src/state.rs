//! What every request handler shares.

use std::sync::Arc;

use anyhow::Context;
use sea_orm::DatabaseConnection;

use crate::auth::token::TokenService;
use crate::authz::Authorizer;
use crate::config::Config;
use crate::graphql::CrmSchema;
use crate::service::Deps;

/// Shared, cheaply clonable application state.
#[derive(Clone)]
pub struct AppState {
    /// The connection pool.
    pub db: DatabaseConnection,
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// What services need (pool, policy, token keys, configuration).
    pub deps: Deps,
    /// The executable GraphQL schema.
    pub schema: CrmSchema,
    /// Persisted queries (automatic, or the trusted documents).
    pub persisted: Arc<crate::persisted::PersistedQueries>,
    /// Each user's requests in progress on this instance (`CRM_MAX_INFLIGHT_PER_USER`),
    /// GraphQL and MCP alike: it protects this process's pool.
    pub in_flight_users: Arc<crate::graphql::limits::KeyedLimiter>,
}

impl AppState {
    /// Builds the state around an open (and migrated) database: loads the policy from
    /// `config.policy_dir` and the token keys, and opens the attachment storage
    /// (`CRM_STORAGE_URL`). A policy error stops here, with file and line.
    pub fn new(db: DatabaseConnection, config: Config) -> anyhow::Result<Self> {
        let storage = crate::storage::Storage::from_config(&config)?;
        Self::with_storage(db, config, storage)
    }

    /// Like [`AppState::new`] with attachments in `storage` (tests configure an S3 store in
    /// code, not through the process environment).
    pub fn with_storage(
        db: DatabaseConnection,
        config: Config,
        storage: crate::storage::Storage,
    ) -> anyhow::Result<Self> {
        let default_dir = std::path::Path::new(crate::config::DEFAULT_POLICY_DIR);
        let authz = if config.policy_dir == default_dir && !default_dir.is_dir() {
            tracing::warn!(
                "no ./policies directory: using the default policy built into the binary (set CRM_POLICY_DIR to use edited policy files)"
            );
            Authorizer::from_sources(crate::authz::builtin::DEFAULT_POLICY)
                .context("loading the built-in default policy")?
        } else {
            Authorizer::load(&config.policy_dir).with_context(|| {
                format!("loading the policy from {}", config.policy_dir.display())
            })?
        };
        Self::assemble(db, config, authz, storage)
    }

    /// Like [`AppState::new`] with an already compiled policy (tests edit policies in memory).
    pub fn with_authorizer(
        db: DatabaseConnection,
        config: Config,
        authz: Authorizer,
    ) -> anyhow::Result<Self> {
        let storage = crate::storage::Storage::from_config(&config)?;
        Self::assemble(db, config, authz, storage)
    }

    fn assemble(
        db: DatabaseConnection,
        config: Config,
        authz: Authorizer,
        storage: crate::storage::Storage,
    ) -> anyhow::Result<Self> {
        let config = Arc::new(config);
        crate::auth::password::set_hash_concurrency(config.password_hash_concurrency);
        let tokens = TokenService::from_config(&config)?;
        let deps = Deps {
            db: db.clone(),
            authz: Arc::new(authz),
            tokens: Arc::new(tokens),
            config: config.clone(),
            live: crate::service::live::Live::default(),
            jobs: crate::service::automation::queue::Jobs::default(),
            storage,
            page_shapes: Arc::default(),
        };
        let in_flight_users = Arc::new(crate::graphql::limits::KeyedLimiter::new(
            config.limits.max_inflight_per_user,
        ));
        let schema = crate::graphql::schema_builder()
            .extension(crate::graphql::limits::RequestLimits::new(
                &config.limits,
                std::time::Duration::from_secs(config.request_timeout_secs),
                in_flight_users.clone(),
            ))
            .data(deps.clone())
            .finish();
        let persisted = match &config.trusted_documents {
            Some(path) => crate::persisted::PersistedQueries::trusted(path)
                .context("loading the trusted documents")?,
            None => crate::persisted::PersistedQueries::automatic(config.apq_cache_bytes),
        };
        Ok(Self {
            db,
            config,
            deps,
            schema,
            persisted: Arc::new(persisted),
            in_flight_users,
        })
    }
}
