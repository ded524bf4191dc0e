//! `exports`: CSV exports, kept for their exporter to download until they expire (the
//! file is in the database, so any instance serves it). `ix_exports_user` counts a user's
//! exports of the last day (the daily quota) and serves the purge.

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
            boolean,
            text,
            ..
        } = Types::for_backend(manager.get_database_backend())?;
        let exports = format!(
            "CREATE TABLE exports (
    id {uuid} NOT NULL,
    user_id {uuid} NOT NULL,
    kind VARCHAR(16) NOT NULL,
    row_count {integer} NOT NULL,
    truncated {boolean} NOT NULL,
    content {text} NOT NULL,
    created_at {timestamp} NOT NULL,
    expires_at {timestamp} NOT NULL,
    CONSTRAINT pk_exports PRIMARY KEY (id),
    CONSTRAINT fk_exports_user_id FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
)"
        );
        ddl::run(
            manager,
            &[
                exports.as_str(),
                "CREATE INDEX ix_exports_user ON exports (user_id, created_at)",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, &["DROP TABLE exports"]).await
    }
}
