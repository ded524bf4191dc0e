//! `attachments` and `attachment_blobs`: files attached to companies, contacts, deals and
//! activities. The bytes live in object storage under their SHA-256 (`sha256/<hex>`), so
//! the same file uploaded twice is stored once; `attachment_blobs` has one row per stored
//! file, which every attachment references (`fk_attachments_sha256`, restrict), and which
//! uploads and the clean-up of unreferenced files lock to agree on whether a file exists.
//!
//! An attachment belongs to exactly one record (`ck_attachments_one_record`), through a
//! foreign key per kind that cascades: deleting a record deletes its attachments, also
//! when the database deletes the record itself (a deal's activities go with the deal).
//! Each record column has an index with the list order (newest first).

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
            bigint,
            text,
            ..
        } = Types::for_backend(manager.get_database_backend())?;
        let blobs = format!(
            "CREATE TABLE attachment_blobs (
    sha256 VARCHAR(64) NOT NULL,
    created_at {timestamp} NOT NULL,
    CONSTRAINT pk_attachment_blobs PRIMARY KEY (sha256),
    CONSTRAINT ck_attachment_blobs_sha256 CHECK (length(sha256) = 64)
)"
        );
        let one = |c: &str| format!("CASE WHEN {c} IS NULL THEN 0 ELSE 1 END");
        let attachments = format!(
            "CREATE TABLE attachments (
    id {uuid} NOT NULL,
    company_id {uuid},
    contact_id {uuid},
    deal_id {uuid},
    activity_id {uuid},
    file_name {text} NOT NULL,
    content_type VARCHAR(255) NOT NULL,
    size {bigint} NOT NULL,
    sha256 VARCHAR(64) NOT NULL,
    uploaded_by {uuid} NOT NULL,
    created_at {timestamp} NOT NULL,
    CONSTRAINT pk_attachments PRIMARY KEY (id),
    CONSTRAINT fk_attachments_company_id FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE CASCADE,
    CONSTRAINT fk_attachments_contact_id FOREIGN KEY (contact_id) REFERENCES contacts (id) ON DELETE CASCADE,
    CONSTRAINT fk_attachments_deal_id FOREIGN KEY (deal_id) REFERENCES deals (id) ON DELETE CASCADE,
    CONSTRAINT fk_attachments_activity_id FOREIGN KEY (activity_id) REFERENCES activities (id) ON DELETE CASCADE,
    CONSTRAINT fk_attachments_sha256 FOREIGN KEY (sha256) REFERENCES attachment_blobs (sha256) ON DELETE RESTRICT,
    CONSTRAINT fk_attachments_uploaded_by FOREIGN KEY (uploaded_by) REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT ck_attachments_one_record CHECK ({} + {} + {} + {} = 1),
    CONSTRAINT ck_attachments_file_name_nonempty CHECK (length(trim(file_name)) > 0),
    CONSTRAINT ck_attachments_size_nonnegative CHECK (size >= 0)
)",
            one("company_id"),
            one("contact_id"),
            one("deal_id"),
            one("activity_id"),
        );
        ddl::run(
            manager,
            &[
                blobs.as_str(),
                attachments.as_str(),
                "CREATE INDEX ix_attachments_company_id ON attachments (company_id, created_at, id)",
                "CREATE INDEX ix_attachments_contact_id ON attachments (contact_id, created_at, id)",
                "CREATE INDEX ix_attachments_deal_id ON attachments (deal_id, created_at, id)",
                "CREATE INDEX ix_attachments_activity_id ON attachments (activity_id, created_at, id)",
                "CREATE INDEX ix_attachments_sha256 ON attachments (sha256)",
                "CREATE INDEX ix_attachments_uploaded_by ON attachments (uploaded_by)",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(
            manager,
            &["DROP TABLE attachments", "DROP TABLE attachment_blobs"],
        )
        .await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
