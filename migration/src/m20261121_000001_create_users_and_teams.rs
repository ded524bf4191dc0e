//! `teams` and `users`, which reference each other: `users.team_id → teams` and
//! `teams.manager_id → users`, both `ON DELETE SET NULL`.
//!
//! SQLite accepts a foreign key to a table that does not exist yet (and cannot add one later),
//! so there both are declared in `CREATE TABLE`. PostgreSQL checks the referenced table at once,
//! so `teams` is created first and `fk_teams_manager_id` is added after `users` exists.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl::{self, Types};

#[derive(DeriveMigrationName)]
pub struct Migration;

const MANAGER_FK: &str = "CONSTRAINT fk_teams_manager_id FOREIGN KEY (manager_id) \
     REFERENCES users (id) ON DELETE SET NULL";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let Types {
            uuid,
            timestamp,
            boolean,
            text,
            ..
        } = Types::for_backend(backend)?;
        let inline_manager_fk = match backend {
            DbBackend::Sqlite => format!(",\n    {MANAGER_FK}"),
            _ => String::new(),
        };

        let mut statements = vec![
            format!(
                "CREATE TABLE teams (
    id {uuid} NOT NULL,
    name {text} NOT NULL,
    manager_id {uuid},
    created_at {timestamp} NOT NULL,
    updated_at {timestamp} NOT NULL,
    CONSTRAINT pk_teams PRIMARY KEY (id){inline_manager_fk}
)"
            ),
            format!(
                "CREATE TABLE users (
    id {uuid} NOT NULL,
    email {text} NOT NULL,
    name {text} NOT NULL,
    password_hash {text} NOT NULL,
    role {text} NOT NULL,
    team_id {uuid},
    active {boolean} NOT NULL DEFAULT TRUE,
    must_change_password {boolean} NOT NULL DEFAULT FALSE,
    created_at {timestamp} NOT NULL,
    updated_at {timestamp} NOT NULL,
    CONSTRAINT pk_users PRIMARY KEY (id),
    CONSTRAINT fk_users_team_id FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE SET NULL,
    CONSTRAINT ck_users_role CHECK (role IN ('sales_rep', 'manager', 'admin'))
)"
            ),
        ];
        if backend != DbBackend::Sqlite {
            statements.push(format!("ALTER TABLE teams ADD {MANAGER_FK}"));
        }
        statements.extend(
            [
                "CREATE UNIQUE INDEX ux_users_email_lower ON users (lower(email))",
                "CREATE INDEX ix_users_team_id ON users (team_id)",
                "CREATE INDEX ix_teams_manager_id ON teams (manager_id)",
            ]
            .map(String::from),
        );
        ddl::run(manager, &statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut statements = Vec::new();
        if manager.get_database_backend() != DbBackend::Sqlite {
            statements.push("ALTER TABLE teams DROP CONSTRAINT fk_teams_manager_id");
        }
        statements.extend(["DROP TABLE users", "DROP TABLE teams"]);
        ddl::run(manager, &statements).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
