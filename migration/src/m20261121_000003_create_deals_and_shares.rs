//! `deals` and `deal_shares`.
//!
//! Money is `amount_cents BIGINT` in minor units of `currency`: exact, never a float.

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
            date,
            bigint,
            smallint,
            integer,
            text,
            ..
        } = Types::for_backend(manager.get_database_backend())?;

        let statements = [
            format!(
                "CREATE TABLE deals (
    id {uuid} NOT NULL,
    company_id {uuid} NOT NULL,
    contact_id {uuid},
    title {text} NOT NULL,
    amount_cents {bigint} NOT NULL,
    currency {text} NOT NULL DEFAULT 'USD',
    stage {text} NOT NULL,
    probability {smallint} NOT NULL,
    expected_close_date {date},
    actual_close_date {date},
    source {text},
    priority {text} NOT NULL DEFAULT 'medium',
    notes {text},
    owner_id {uuid} NOT NULL,
    version {integer} NOT NULL DEFAULT 1,
    created_at {timestamp} NOT NULL,
    updated_at {timestamp} NOT NULL,
    CONSTRAINT pk_deals PRIMARY KEY (id),
    CONSTRAINT fk_deals_company_id FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE RESTRICT,
    CONSTRAINT fk_deals_contact_id FOREIGN KEY (contact_id) REFERENCES contacts (id) ON DELETE SET NULL,
    CONSTRAINT fk_deals_owner_id FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT ck_deals_title_nonempty CHECK (length(trim(title)) > 0),
    CONSTRAINT ck_deals_amount_nonneg CHECK (amount_cents >= 0),
    CONSTRAINT ck_deals_currency CHECK (currency = upper(currency) AND length(currency) = 3),
    CONSTRAINT ck_deals_stage CHECK (stage IN ('prospecting', 'qualification', 'proposal', 'negotiation', 'closed_won', 'closed_lost')),
    CONSTRAINT ck_deals_probability_range CHECK (probability BETWEEN 0 AND 100),
    CONSTRAINT ck_deals_source CHECK (source IN ('website', 'referral', 'cold_call', 'event', 'other')),
    CONSTRAINT ck_deals_priority CHECK (priority IN ('low', 'medium', 'high')),
    CONSTRAINT ck_deals_version_positive CHECK (version >= 1)
)"
            ),
            "CREATE INDEX ix_deals_company_id ON deals (company_id)".to_owned(),
            "CREATE INDEX ix_deals_contact_id ON deals (contact_id)".to_owned(),
            "CREATE INDEX ix_deals_stage ON deals (stage)".to_owned(),
            "CREATE INDEX ix_deals_owner_id ON deals (owner_id)".to_owned(),
            "CREATE INDEX ix_deals_expected_close_date ON deals (expected_close_date)".to_owned(),
            "CREATE INDEX ix_deals_created_at_id ON deals (created_at, id)".to_owned(),
            format!(
                "CREATE TABLE deal_shares (
    id {uuid} NOT NULL,
    deal_id {uuid} NOT NULL,
    user_id {uuid} NOT NULL,
    permission {text} NOT NULL,
    created_at {timestamp} NOT NULL,
    CONSTRAINT pk_deal_shares PRIMARY KEY (id),
    CONSTRAINT fk_deal_shares_deal_id FOREIGN KEY (deal_id) REFERENCES deals (id) ON DELETE CASCADE,
    CONSTRAINT fk_deal_shares_user_id FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT ck_deal_shares_permission CHECK (permission IN ('view', 'edit'))
)"
            ),
            // Also serves lookups by deal_id (leading column).
            "CREATE UNIQUE INDEX ux_deal_shares_deal_id_user_id ON deal_shares (deal_id, user_id)"
                .to_owned(),
            "CREATE INDEX ix_deal_shares_user_id ON deal_shares (user_id)".to_owned(),
        ];
        ddl::run(manager, &statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, &["DROP TABLE deal_shares", "DROP TABLE deals"]).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
