//! `companies` and `contacts`.
//!
//! Names, domains and emails are unique case-insensitively through expression indexes on
//! `lower(..)`, which both SQLite and PostgreSQL support.

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
                "CREATE TABLE companies (
    id {uuid} NOT NULL,
    name {text} NOT NULL,
    domain {text},
    industry {text},
    size {text},
    address {text},
    city {text},
    state {text},
    country {text},
    phone {text},
    website {text},
    owner_id {uuid} NOT NULL,
    version {integer} NOT NULL DEFAULT 1,
    created_at {timestamp} NOT NULL,
    updated_at {timestamp} NOT NULL,
    CONSTRAINT pk_companies PRIMARY KEY (id),
    CONSTRAINT fk_companies_owner_id FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT ck_companies_name_nonempty CHECK (length(trim(name)) > 0),
    CONSTRAINT ck_companies_name_length CHECK (length(name) <= 200),
    CONSTRAINT ck_companies_domain_nonempty CHECK (length(domain) > 0),
    CONSTRAINT ck_companies_domain_lower CHECK (domain = lower(domain)),
    CONSTRAINT ck_companies_domain_no_spaces CHECK (domain NOT LIKE '% %'),
    CONSTRAINT ck_companies_industry CHECK (industry IN ('Technology', 'Healthcare', 'Finance', 'Retail', 'Manufacturing', 'Other')),
    CONSTRAINT ck_companies_size CHECK (size IN ('1-10', '11-50', '51-200', '201-1000', '1000+')),
    CONSTRAINT ck_companies_version_positive CHECK (version >= 1)
)"
            ),
            "CREATE UNIQUE INDEX ux_companies_name_lower ON companies (lower(name))".to_owned(),
            "CREATE UNIQUE INDEX ux_companies_domain_lower ON companies (lower(domain))".to_owned(),
            "CREATE INDEX ix_companies_owner_id ON companies (owner_id)".to_owned(),
            "CREATE INDEX ix_companies_domain ON companies (domain)".to_owned(),
            "CREATE INDEX ix_companies_created_at_id ON companies (created_at, id)".to_owned(),
            format!(
                "CREATE TABLE contacts (
    id {uuid} NOT NULL,
    company_id {uuid},
    first_name {text},
    last_name {text},
    full_name {text} NOT NULL,
    email {text},
    phone {text},
    mobile {text},
    title {text},
    department {text},
    is_primary {boolean} NOT NULL DEFAULT FALSE,
    linkedin_url {text},
    notes {text},
    owner_id {uuid} NOT NULL,
    version {integer} NOT NULL DEFAULT 1,
    created_at {timestamp} NOT NULL,
    updated_at {timestamp} NOT NULL,
    CONSTRAINT pk_contacts PRIMARY KEY (id),
    CONSTRAINT fk_contacts_company_id FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE SET NULL,
    CONSTRAINT fk_contacts_owner_id FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT ck_contacts_name_present CHECK (first_name IS NOT NULL OR last_name IS NOT NULL),
    CONSTRAINT ck_contacts_department CHECK (department IN ('Sales', 'Marketing', 'Engineering', 'HR', 'Other')),
    CONSTRAINT ck_contacts_version_positive CHECK (version >= 1)
)"
            ),
            "CREATE UNIQUE INDEX ux_contacts_email_lower ON contacts (lower(email))".to_owned(),
            "CREATE INDEX ix_contacts_company_id ON contacts (company_id)".to_owned(),
            "CREATE INDEX ix_contacts_email ON contacts (email)".to_owned(),
            "CREATE INDEX ix_contacts_owner_id ON contacts (owner_id)".to_owned(),
            "CREATE INDEX ix_contacts_created_at_id ON contacts (created_at, id)".to_owned(),
        ];
        ddl::run(manager, &statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, &["DROP TABLE contacts", "DROP TABLE companies"]).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
