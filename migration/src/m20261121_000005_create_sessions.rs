//! `sessions`, `refresh_tokens` and `login_throttle`: sign-in state shared by every API
//! instance (the servers themselves keep none).
//!
//! A session is one sign-in (one refresh-token family). Each refresh token is stored only
//! as a SHA-256 hash and is single use: presenting a used one revokes its whole session.

use sea_orm_migration::prelude::*;

use crate::ddl::{self, Types};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let Types {
            uuid,
            timestamp,
            integer,
            text,
            ..
        } = Types::for_backend(manager.get_database_backend())?;

        let statements = [
            format!(
                "CREATE TABLE sessions (
    id {uuid} NOT NULL,
    user_id {uuid} NOT NULL,
    created_at {timestamp} NOT NULL,
    expires_at {timestamp} NOT NULL,
    last_refreshed_at {timestamp},
    revoked_at {timestamp},
    revoked_reason {text},
    CONSTRAINT pk_sessions PRIMARY KEY (id),
    CONSTRAINT fk_sessions_user_id FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
)"
            ),
            "CREATE INDEX ix_sessions_user_id ON sessions (user_id)".to_owned(),
            format!(
                "CREATE TABLE refresh_tokens (
    id {uuid} NOT NULL,
    session_id {uuid} NOT NULL,
    token_hash {text} NOT NULL,
    created_at {timestamp} NOT NULL,
    expires_at {timestamp} NOT NULL,
    used_at {timestamp},
    CONSTRAINT pk_refresh_tokens PRIMARY KEY (id),
    CONSTRAINT fk_refresh_tokens_session_id FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
)"
            ),
            "CREATE UNIQUE INDEX ux_refresh_tokens_token_hash ON refresh_tokens (token_hash)"
                .to_owned(),
            "CREATE INDEX ix_refresh_tokens_session_id ON refresh_tokens (session_id)".to_owned(),
            format!(
                "CREATE TABLE login_throttle (
    throttle_key {text} NOT NULL,
    failures {integer} NOT NULL,
    window_started_at {timestamp} NOT NULL,
    locked_until {timestamp},
    CONSTRAINT pk_login_throttle PRIMARY KEY (throttle_key),
    CONSTRAINT ck_login_throttle_failures CHECK (failures >= 0)
)"
            ),
        ];
        ddl::run(manager, &statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(
            manager,
            &[
                "DROP TABLE login_throttle",
                "DROP TABLE refresh_tokens",
                "DROP TABLE sessions",
            ],
        )
        .await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
