//! `activities`. The kind column is `type` (quoted: a keyword in SQL dialects and in Rust,
//! where the entity calls it `kind`).

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
            boolean,
            integer,
            text,
            ..
        } = Types::for_backend(manager.get_database_backend())?;

        let statements = [
            format!(
                "CREATE TABLE activities (
    id {uuid} NOT NULL,
    \"type\" {text} NOT NULL,
    subject {text} NOT NULL,
    description {text},
    due_at {timestamp},
    completed {boolean} NOT NULL DEFAULT FALSE,
    completed_at {timestamp},
    company_id {uuid},
    contact_id {uuid},
    deal_id {uuid},
    created_by {uuid} NOT NULL,
    assigned_to {uuid},
    version {integer} NOT NULL DEFAULT 1,
    created_at {timestamp} NOT NULL,
    updated_at {timestamp} NOT NULL,
    CONSTRAINT pk_activities PRIMARY KEY (id),
    CONSTRAINT fk_activities_company_id FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE SET NULL,
    CONSTRAINT fk_activities_contact_id FOREIGN KEY (contact_id) REFERENCES contacts (id) ON DELETE SET NULL,
    CONSTRAINT fk_activities_deal_id FOREIGN KEY (deal_id) REFERENCES deals (id) ON DELETE CASCADE,
    CONSTRAINT fk_activities_created_by FOREIGN KEY (created_by) REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT fk_activities_assigned_to FOREIGN KEY (assigned_to) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT ck_activities_type CHECK (\"type\" IN ('call', 'email', 'meeting', 'note', 'task')),
    CONSTRAINT ck_activities_subject_nonempty CHECK (length(trim(subject)) > 0),
    CONSTRAINT ck_activities_version_positive CHECK (version >= 1)
)"
            ),
            "CREATE INDEX ix_activities_due_at_completed ON activities (due_at, completed)"
                .to_owned(),
            "CREATE INDEX ix_activities_deal_id ON activities (deal_id)".to_owned(),
            "CREATE INDEX ix_activities_company_id ON activities (company_id)".to_owned(),
            "CREATE INDEX ix_activities_contact_id ON activities (contact_id)".to_owned(),
            "CREATE INDEX ix_activities_created_by ON activities (created_by)".to_owned(),
            "CREATE INDEX ix_activities_assigned_to ON activities (assigned_to)".to_owned(),
            "CREATE INDEX ix_activities_created_at_id ON activities (created_at, id)".to_owned(),
        ];
        ddl::run(manager, &statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, &["DROP TABLE activities"]).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
