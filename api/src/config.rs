//! Typed configuration, read once from flags and environment (see `.env.example`).

use std::path::PathBuf;

/// The default database: an embedded SQLite file next to the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://crm.db?mode=rwc";

/// The default policy directory, relative to where the server starts.
pub const DEFAULT_POLICY_DIR: &str = "policies";

/// Headers a browser app's requests carry: ours, Apollo Client's, Sentry's and W3C trace
/// context.
pub const DEFAULT_CORS_ALLOW_HEADERS: &str = "authorization,content-type,accept,x-request-id,apollographql-client-name,apollographql-client-version,apollo-require-preflight,x-apollo-operation-name,sentry-trace,baggage,traceparent,tracestate";

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

    /// Request headers browsers may send cross-origin, comma separated.
    #[arg(
        long,
        env = "CRM_CORS_ALLOW_HEADERS",
        value_delimiter = ',',
        default_value = DEFAULT_CORS_ALLOW_HEADERS,
        global = true
    )]
    pub cors_allow_headers: Vec<String>,

    /// Lifetime of access tokens, in seconds.
    #[arg(long, env = "CRM_ACCESS_TOKEN_TTL_SECS", default_value_t = 15 * 60, global = true)]
    pub access_token_ttl_secs: u64,

    /// Lifetime of a session (refresh tokens rotate within it), in days.
    #[arg(
        long,
        env = "CRM_SESSION_TTL_DAYS",
        default_value_t = 30,
        global = true
    )]
    pub session_ttl_days: u64,

    /// `iss` claim of the access tokens this server issues and accepts.
    #[arg(long, env = "CRM_JWT_ISSUER", default_value = "crm", global = true)]
    pub jwt_issuer: String,

    /// `aud` claim of the access tokens this server issues and accepts.
    #[arg(
        long,
        env = "CRM_JWT_AUDIENCE",
        default_value = "crm-api",
        global = true
    )]
    pub jwt_audience: String,

    /// Failed sign-ins for one account, within the lockout window, before it is locked.
    #[arg(
        long,
        env = "CRM_LOGIN_MAX_FAILURES",
        default_value_t = 5,
        global = true
    )]
    pub login_max_failures: u32,

    /// Failed sign-ins from one client address, within the window, before it is locked.
    #[arg(
        long,
        env = "CRM_LOGIN_MAX_FAILURES_PER_ADDRESS",
        default_value_t = 50,
        global = true
    )]
    pub login_max_failures_per_address: u32,

    /// Length of the failure window and of a lockout, in seconds.
    #[arg(long, env = "CRM_LOGIN_LOCKOUT_SECS", default_value_t = 15 * 60, global = true)]
    pub login_lockout_secs: u64,

    /// Extra delay per repeated failure (after the second), in milliseconds, capped at 2 s.
    #[arg(
        long,
        env = "CRM_LOGIN_SLOWDOWN_MS",
        default_value_t = 250,
        global = true
    )]
    pub login_slowdown_ms: u64,

    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    #[arg(
        long,
        env = "CRM_TRUST_FORWARDED_FOR",
        default_value_t = false,
        global = true
    )]
    pub trust_forwarded_for: bool,

    /// How many trusted proxies stand in front of the server when `X-Forwarded-For` is
    /// trusted: the client is that many entries from the right of the header (every hop
    /// left of it was written by the client and is ignored).
    #[arg(long, env = "CRM_TRUSTED_PROXIES", default_value_t = 1, global = true)]
    pub trusted_proxies: usize,

    /// Sign-ins whose password check (argon2id, 19 MiB each) may run at once; the others
    /// wait. Peak hashing memory is this many times 19 MiB.
    #[arg(
        long,
        env = "CRM_PASSWORD_HASH_CONCURRENCY",
        default_value_t = 4,
        global = true
    )]
    pub password_hash_concurrency: usize,

    /// A refresh token presented again within this many seconds of its first use (a
    /// client's concurrent refreshes) is refused without revoking the session; later reuse
    /// is treated as theft and revokes it.
    #[arg(
        long,
        env = "CRM_REFRESH_REUSE_GRACE_SECS",
        default_value_t = 10,
        global = true
    )]
    pub refresh_reuse_grace_secs: u64,

    /// Seconds to wait for a free database connection before answering `RATE_LIMITED`.
    #[arg(
        long,
        env = "CRM_DB_ACQUIRE_TIMEOUT_SECS",
        default_value_t = 5,
        global = true
    )]
    pub db_acquire_timeout_secs: u64,

    /// Bytes of query text the automatic persisted-query cache keeps (per instance).
    #[arg(
        long,
        env = "CRM_APQ_CACHE_BYTES",
        default_value_t = 8 * 1024 * 1024,
        global = true
    )]
    pub apq_cache_bytes: usize,

    /// An Apollo persisted query manifest: when set, only its operations run (trusted
    /// documents; GraphiQL and ad-hoc queries are refused).
    #[arg(long, env = "CRM_TRUSTED_DOCUMENTS", global = true)]
    pub trusted_documents: Option<PathBuf>,

    /// Bounds on what one request may ask of the server.
    #[command(flatten)]
    pub limits: Limits,

    /// SSO: PEM public key (RSA or EC) of an external identity provider whose RS256/ES256
    /// access tokens are accepted.
    #[arg(long, env = "CRM_SSO_PUBLIC_KEY_FILE", global = true)]
    pub sso_public_key_file: Option<PathBuf>,

    /// SSO: a JWKS file (`{"keys": [...]}`) with the identity provider's public keys.
    #[arg(long, env = "CRM_SSO_JWKS_FILE", global = true)]
    pub sso_jwks_file: Option<PathBuf>,

    /// SSO: required `iss` of external tokens.
    #[arg(long, env = "CRM_SSO_ISSUER", global = true)]
    pub sso_issuer: Option<String>,

    /// SSO: required `aud` of external tokens.
    #[arg(long, env = "CRM_SSO_AUDIENCE", global = true)]
    pub sso_audience: Option<String>,

    /// SSO: the claim holding the user's email.
    #[arg(
        long,
        env = "CRM_SSO_EMAIL_CLAIM",
        default_value = "email",
        global = true
    )]
    pub sso_email_claim: String,

    /// Log output: `text` for people, `json` for log shippers.
    #[arg(long, env = "CRM_LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: LogFormat,

    /// Days the audit log keeps events; older ones are deleted by a daily purge.
    #[arg(
        long,
        env = "CRM_AUDIT_RETENTION_DAYS",
        default_value_t = 365,
        global = true
    )]
    pub audit_retention_days: u32,

    /// SMTP server for automation emails (`smtp://host:port`, `smtps://…`, user and
    /// password in the URL). Unset: email actions are recorded as skipped.
    #[arg(long, env = "CRM_SMTP_URL", global = true)]
    pub smtp_url: Option<String>,

    /// Sender of automation emails.
    #[arg(
        long,
        env = "CRM_MAIL_FROM",
        default_value = "CRM <crm@localhost>",
        global = true
    )]
    pub mail_from: String,

    /// The web app's address, for links in emails and webhooks (`{{ deal.url }}`).
    #[arg(
        long,
        env = "CRM_PUBLIC_URL",
        default_value = "http://localhost:8080",
        global = true
    )]
    pub public_url: String,

    /// Hosts automation webhooks may call, comma-separated (`hooks.slack.com,*.example.com`).
    /// Empty: any host whose addresses are all public (never loopback, private, link-local
    /// or other internal ranges).
    #[arg(
        long,
        env = "CRM_WEBHOOK_ALLOWED_HOSTS",
        value_delimiter = ',',
        global = true
    )]
    pub webhook_allowed_hosts: Vec<String>,

    /// First retry delay of a failed automation action in milliseconds; each later retry
    /// waits twice as long (5 attempts in all).
    #[arg(
        long,
        env = "CRM_JOB_RETRY_BASE_MS",
        default_value_t = 2000,
        global = true
    )]
    pub job_retry_base_ms: u64,

    /// Whether a new database gets the default automations when a server first starts on
    /// it (docs/automation.md).
    #[arg(
        long,
        env = "CRM_DEFAULT_AUTOMATIONS",
        default_value_t = true,
        action = clap::ArgAction::Set,
        global = true
    )]
    pub default_automations: bool,

    /// Most rows in one CSV export (the list's filter and order pick which).
    #[arg(
        long,
        env = "CRM_EXPORT_MAX_ROWS",
        default_value_t = 1000,
        global = true
    )]
    pub export_max_rows: u32,

    /// Most CSV exports per user in any 24 hours (`RATE_LIMITED` past it).
    #[arg(
        long,
        env = "CRM_EXPORT_MAX_PER_DAY",
        default_value_t = 5,
        global = true
    )]
    pub export_max_per_day: u32,

    /// How long an export can be downloaded, in seconds.
    #[arg(
        long,
        env = "CRM_EXPORT_TTL_SECS",
        default_value_t = 3600,
        global = true
    )]
    pub export_ttl_secs: u64,

    /// Most data rows in one CSV import (a larger file is refused before anything is read
    /// into the database).
    #[arg(
        long,
        env = "CRM_IMPORT_MAX_ROWS",
        default_value_t = 10_000,
        global = true
    )]
    pub import_max_rows: u32,

    /// Largest CSV file an import accepts, in bytes.
    #[arg(
        long,
        env = "CRM_IMPORT_MAX_BYTES",
        default_value_t = 10 * 1024 * 1024,
        global = true
    )]
    pub import_max_bytes: usize,

    /// Seconds an import or upload request (`multipart/form-data`) may run before it is
    /// abandoned with 408 (other requests: `CRM_REQUEST_TIMEOUT_SECS`).
    #[arg(
        long,
        env = "CRM_UPLOAD_TIMEOUT_SECS",
        default_value_t = 300,
        global = true
    )]
    pub upload_timeout_secs: u64,

    /// Largest attachment, in bytes.
    #[arg(
        long,
        env = "CRM_ATTACHMENT_MAX_BYTES",
        default_value_t = 25 * 1024 * 1024,
        global = true
    )]
    pub attachment_max_bytes: usize,

    /// Where attachments are stored: `file:///absolute/path` or a plain folder path (default
    /// `crm-attachments` in the working directory, beside the embedded database), or
    /// `s3://bucket` (credentials, region and endpoint from the usual `AWS_*` variables, e.g.
    /// `AWS_ENDPOINT_URL` for an S3-compatible server). Several instances need shared storage.
    #[arg(long, env = "CRM_STORAGE_URL", global = true)]
    pub storage_url: Option<String>,

    /// Whether writes record their events. Always on when serving; only the write
    /// benchmark turns it off, to measure what events cost.
    #[arg(skip = true)]
    #[doc(hidden)]
    pub record_events: bool,
}

/// Bounds on what one request may make the server do, checked before any work starts
/// (the same over HTTP and WebSocket).
#[derive(Debug, Clone, clap::Args)]
pub struct Limits {
    /// Deepest nesting of an input value (objects and lists, e.g. `filter: {not: {not: …}}`).
    #[arg(long, env = "CRM_MAX_INPUT_DEPTH", default_value_t = 16, global = true)]
    pub max_input_depth: usize,

    /// Longest list in an input value (e.g. an `in` list).
    #[arg(
        long,
        env = "CRM_MAX_LIST_LENGTH",
        default_value_t = 1000,
        global = true
    )]
    pub max_list_length: usize,

    /// Most input objects in one argument or variable (e.g. conditions under `and`/`or`).
    #[arg(
        long,
        env = "CRM_MAX_INPUT_OBJECTS",
        default_value_t = 200,
        global = true
    )]
    pub max_input_objects: usize,

    /// Longest string in an input value, in characters: a backstop well above every
    /// field's own limit (which validation reports together with the other fields).
    #[arg(
        long,
        env = "CRM_MAX_STRING_LENGTH",
        default_value_t = 100_000,
        global = true
    )]
    pub max_string_length: usize,

    /// Longest text to search for (`search`, `contains`, `startsWith`), in characters.
    #[arg(
        long,
        env = "CRM_MAX_SEARCH_LENGTH",
        default_value_t = 200,
        global = true
    )]
    pub max_search_length: usize,

    /// Files the request being checked carries (set per request by the HTTP layer, not
    /// configuration): a value naming a file must name one of them.
    #[arg(skip)]
    pub uploads: usize,

    /// Most fields one operation selects, with fragments expanded and introspection fields
    /// (`__typename`, `__schema` …) counted.
    #[arg(long, env = "CRM_MAX_FIELDS", default_value_t = 1000, global = true)]
    pub max_fields: usize,

    /// Most aliased fields in one document.
    #[arg(long, env = "CRM_MAX_ALIASES", default_value_t = 50, global = true)]
    pub max_aliases: usize,

    /// Top-level fields of one request resolved at the same time (each may hold a database
    /// connection); the others wait their turn.
    #[arg(
        long,
        env = "CRM_MAX_PARALLEL_FIELDS",
        default_value_t = 2,
        global = true
    )]
    pub max_parallel_fields: usize,

    /// Requests (or WebSocket operations) of one signed-in user executing at once on this
    /// instance; more wait up to two seconds, then get `RATE_LIMITED`.
    #[arg(
        long,
        env = "CRM_MAX_INFLIGHT_PER_USER",
        default_value_t = 8,
        global = true
    )]
    pub max_inflight_per_user: usize,

    /// Requests from one client address executing at once on this instance.
    #[arg(
        long,
        env = "CRM_MAX_INFLIGHT_PER_ADDRESS",
        default_value_t = 32,
        global = true
    )]
    pub max_inflight_per_address: usize,

    /// Most operations in one batched request (a JSON array).
    #[arg(long, env = "CRM_MAX_BATCH", default_value_t = 10, global = true)]
    pub max_batch: usize,

    /// Seconds a WebSocket may stay open without a valid `connection_init` (then 4408).
    #[arg(
        long,
        env = "CRM_WS_INIT_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub ws_init_timeout_secs: u64,

    /// Operations one WebSocket may run at once (more get an error for that operation).
    #[arg(
        long,
        env = "CRM_WS_MAX_OPERATIONS",
        default_value_t = 16,
        global = true
    )]
    pub ws_max_operations: usize,

    /// A viewer who can read at most this many rows of a kind gets list pages that
    /// read those rows through the policy scope's indexes and sort them, instead of walking
    /// the list's order through the whole table; 0 turns this off (docs/performance.md).
    #[arg(long, env = "CRM_FEW_ROWS", default_value_t = 1000, global = true)]
    pub few_rows: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_input_depth: 16,
            max_list_length: 1000,
            max_input_objects: 500,
            max_string_length: 100_000,
            uploads: 0,
            max_search_length: 200,
            max_fields: 1000,
            max_aliases: 50,
            max_parallel_fields: 2,
            max_inflight_per_user: 8,
            max_inflight_per_address: 32,
            max_batch: 10,
            ws_init_timeout_secs: 10,
            ws_max_operations: 16,
            few_rows: 1000,
        }
    }
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
            cors_allow_headers: DEFAULT_CORS_ALLOW_HEADERS
                .split(',')
                .map(str::to_owned)
                .collect(),
            access_token_ttl_secs: 15 * 60,
            session_ttl_days: 30,
            jwt_issuer: "crm".into(),
            jwt_audience: "crm-api".into(),
            login_max_failures: 5,
            login_max_failures_per_address: 50,
            login_lockout_secs: 15 * 60,
            login_slowdown_ms: 10,
            trust_forwarded_for: false,
            trusted_proxies: 1,
            password_hash_concurrency: 4,
            refresh_reuse_grace_secs: 10,
            db_acquire_timeout_secs: 5,
            apq_cache_bytes: 8 * 1024 * 1024,
            trusted_documents: None,
            limits: Limits::default(),
            sso_public_key_file: None,
            sso_jwks_file: None,
            sso_issuer: None,
            sso_audience: None,
            sso_email_claim: "email".into(),
            log_format: LogFormat::Text,
            audit_retention_days: 365,
            smtp_url: None,
            mail_from: "CRM <crm@localhost>".into(),
            public_url: "http://localhost:8080".into(),
            webhook_allowed_hosts: Vec::new(),
            job_retry_base_ms: 2000,
            default_automations: true,
            export_max_rows: 1000,
            export_max_per_day: 5,
            export_ttl_secs: 3600,
            import_max_rows: 10_000,
            import_max_bytes: 10 * 1024 * 1024,
            upload_timeout_secs: 300,
            attachment_max_bytes: 25 * 1024 * 1024,
            storage_url: None,
            record_events: true,
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
        let sso = self.sso_public_key_file.is_some() || self.sso_jwks_file.is_some();
        if sso && (self.sso_issuer.is_none() || self.sso_audience.is_none()) {
            return Err("SSO needs both CRM_SSO_ISSUER and CRM_SSO_AUDIENCE".into());
        }
        Ok(())
    }
}
