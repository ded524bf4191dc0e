//! The one error type of the API and its mapping to GraphQL `extensions.code`.
//!
//! Foreign errors (database, hashing, tokens) never reach clients as text: they are logged
//! here and become `INTERNAL`.

use async_graphql::ErrorExtensions;
use sea_orm::DbErr;

/// A problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The input field, in the client's spelling (`email`, `amount`, `input.name`…).
    pub field: String,
    /// What is wrong, for people.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every error the API returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `UNAUTHENTICATED`: no (valid) identity for something that needs one.
    #[error("authentication required")]
    Unauthenticated,
    /// `UNAUTHENTICATED`: sign-in with a wrong email or password (or a deactivated account;
    /// deliberately not told apart).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// `FORBIDDEN`: the policy denies the action (or writing `field`).
    #[error("{}", forbidden_message(.field.as_deref()))]
    Forbidden {
        /// The guarded field whose write was refused, if the refusal is about one field.
        field: Option<String>,
    },
    /// `NOT_FOUND`: missing, or not readable by the viewer (indistinguishable on purpose).
    #[error("{entity} not found")]
    NotFound {
        /// The kind of record, e.g. `Deal`.
        entity: &'static str,
    },
    /// `BAD_USER_INPUT`: one or more invalid input fields, all reported together.
    #[error("{}", bad_input_message(.0))]
    BadUserInput(Vec<FieldError>),
    /// `CONFLICT`: the write clashes with the current state (stale version, unique value,
    /// a dependent row).
    #[error("{message}")]
    Conflict {
        /// What clashes.
        message: String,
        /// The input field involved, when there is one.
        field: Option<String>,
    },
    /// `RATE_LIMITED`: too many attempts; retry after the given seconds.
    #[error("too many attempts, retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until a retry may succeed.
        retry_after_secs: u64,
    },
    /// `QUERY_TOO_COMPLEX`: the request is over one of the server's limits (nesting,
    /// list length, fields, aliases, time); `limit` names it.
    #[error("{message}")]
    TooComplex {
        /// What is over the limit, for people.
        message: String,
        /// The limit's name (`maxInputDepth`, `maxAliases` …).
        limit: &'static str,
        /// The limit's value.
        max: usize,
    },
    /// `PERSISTED_QUERY_NOT_FOUND`: a persisted-query hash this server does not know; send
    /// the query with it (automatic persisted queries).
    #[error("PersistedQueryNotFound")]
    PersistedQueryNotFound,
    /// `SYNC_CURSOR_EXPIRED`: a sync cursor the server no longer honours (unused for longer
    /// than the retention, or superseded); the client starts over with `syncCursor`.
    #[error("this sync cursor has expired: take a new syncCursor and list everything again")]
    SyncCursorExpired,
    /// `BAD_REQUEST`: the request itself is malformed (not one of its input fields).
    #[error("{0}")]
    BadRequest(String),
    /// `INTERNAL`: anything else. The cause is logged, never sent.
    #[error("internal error")]
    Internal,
}

fn forbidden_message(field: Option<&str>) -> String {
    match field {
        Some(f) => format!("not allowed to write field `{f}`"),
        None => "not allowed".to_owned(),
    }
}

fn bad_input_message(errors: &[FieldError]) -> String {
    let parts: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect();
    format!("invalid input: {}", parts.join("; "))
}

impl ApiError {
    /// A single invalid field.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadUserInput(vec![FieldError::new(field, message)])
    }

    /// Logs `cause` with context and returns `INTERNAL`.
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "{context}");
        Self::Internal
    }

    /// As a request-level error (one not tied to a field), with the same extensions.
    pub fn server_error(&self) -> async_graphql::ServerError {
        let e = self.extend();
        let mut server = async_graphql::ServerError::new(e.message, None);
        server.extensions = e.extensions;
        server
    }

    /// The stable `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated | Self::InvalidCredentials => "UNAUTHENTICATED",
            Self::Forbidden { .. } => "FORBIDDEN",
            Self::NotFound { .. } => "NOT_FOUND",
            Self::BadUserInput(_) => "BAD_USER_INPUT",
            Self::Conflict { .. } => "CONFLICT",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::TooComplex { .. } => "QUERY_TOO_COMPLEX",
            Self::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            Self::SyncCursorExpired => "SYNC_CURSOR_EXPIRED",
            Self::BadRequest(_) => "BAD_REQUEST",
            Self::Internal => "INTERNAL",
        }
    }
}

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        // Every connection stayed busy for the whole acquire timeout, SQLite stayed locked
        // past its busy timeout, PostgreSQL picked this transaction as a deadlock victim:
        // the same request can succeed when retried, which a client treats like a rate
        // limit.
        if crate::service::db_error::is_transient(&err) {
            tracing::warn!(error = %err, "transient database condition; answering RATE_LIMITED");
            return Self::RateLimited {
                retry_after_secs: 1,
            };
        }
        Self::internal("database error", err)
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        async_graphql::Error::new(self.to_string()).extend_with(|_, ext| {
            ext.set("code", self.code());
            match self {
                Self::Forbidden { field: Some(f) } => ext.set("field", f.as_str()),
                Self::BadUserInput(errors) => {
                    if let Some(first) = errors.first() {
                        ext.set("field", first.field.as_str());
                    }
                    let list: Vec<async_graphql::Value> = errors
                        .iter()
                        .map(|e| {
                            let mut m = async_graphql::indexmap::IndexMap::new();
                            m.insert(
                                async_graphql::Name::new("field"),
                                async_graphql::Value::from(e.field.as_str()),
                            );
                            m.insert(
                                async_graphql::Name::new("message"),
                                async_graphql::Value::from(e.message.as_str()),
                            );
                            async_graphql::Value::Object(m)
                        })
                        .collect();
                    ext.set("fields", async_graphql::Value::List(list));
                }
                Self::Conflict { field: Some(f), .. } => ext.set("field", f.as_str()),
                Self::RateLimited { retry_after_secs } => {
                    ext.set("retryAfterSeconds", *retry_after_secs)
                }
                Self::TooComplex { limit, max, .. } => {
                    ext.set("limit", *limit);
                    ext.set("max", *max as u64);
                }
                _ => {}
            }
        })
    }
}

/// Result type of services.
pub type ApiResult<T> = Result<T, ApiError>;
