//! Typed configuration, read once from flags and environment (see `.env.example`).

use std::path::PathBuf;

/// The default database: an embedded SQLite file next to the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://crm.db?mode=rwc";

/// Server configuration shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Database URL: `sqlite://FILE?mode=rwc` (embedded, the default) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,

    /// Secret for HS256 access tokens. Required on PostgreSQL; on the embedded default a
    /// random per-process secret is used when unset (tokens then die with the process).
    #[arg(long, env = "CRM_JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<String>,

    /// Maximum connections in the database pool.
    #[arg(
        long,
        env = "CRM_DB_MAX_CONNECTIONS",
        default_value_t = 10,
        global = true
    )]
    pub db_max_connections: u32,

    /// Directory holding the `*.polar` authorization policy.
    #[arg(
        long,
        env = "CRM_POLICY_DIR",
        default_value = "policies",
        global = true
    )]
    pub policy_dir: PathBuf,

    /// Base URL GraphiQL loads its four assets from (`graphiql.min.js`, `graphiql.min.css`,
    /// `react.production.min.js`, `react-dom.production.min.js`). The default serves copies
    /// embedded in the binary, so the playground works without internet access.
    #[arg(
        long,
        env = "CRM_GRAPHIQL_ASSETS_URL",
        default_value = "/graphiql/assets",
        global = true
    )]
    pub graphiql_assets_url: String,

    /// Seconds before a request is abandoned with 408.
    #[arg(
        long,
        env = "CRM_REQUEST_TIMEOUT_SECS",
        default_value_t = 30,
        global = true
    )]
    pub request_timeout_secs: u64,

    /// Largest accepted request body in bytes.
    #[arg(long, env = "CRM_BODY_LIMIT_BYTES", default_value_t = 1024 * 1024, global = true)]
    pub body_limit_bytes: usize,

    /// Origins allowed by CORS, comma separated; empty allows none (same-origin only), `*` any.
    #[arg(long, env = "CRM_CORS_ORIGINS", value_delimiter = ',', global = true)]
    pub cors_origins: Vec<String>,

    /// Log output: `text` for people, `json` for log shippers.
    #[arg(long, env = "CRM_LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: LogFormat,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Config {
    /// A configuration for tests and examples: the given database, defaults elsewhere.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            jwt_secret: Some("test-secret-not-for-production-use-0123456789".into()),
            db_max_connections: 5,
            policy_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../policies")),
            graphiql_assets_url: "/graphiql/assets".into(),
            request_timeout_secs: 30,
            body_limit_bytes: 1024 * 1024,
            cors_origins: Vec::new(),
            log_format: LogFormat::Text,
        }
    }

    /// Whether this is the embedded SQLite database (the zero-setup default).
    pub fn is_embedded(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    /// Checks that must pass before serving: PostgreSQL needs an explicit JWT secret.
    pub fn validate(&self) -> Result<(), String> {
        if !self.is_embedded() && self.jwt_secret.as_deref().is_none_or(str::is_empty) {
            return Err(
                "CRM_JWT_SECRET must be set when DATABASE_URL is not the embedded SQLite database"
                    .into(),
            );
        }
        if let Some(secret) = &self.jwt_secret
            && secret.len() < 32
        {
            return Err("CRM_JWT_SECRET must be at least 32 bytes long".into());
        }
        Ok(())
    }
}
