//! Indexes for the reports (`pipeline`, `dashboard`).
//!
//! Every report is an aggregate over the deals a viewer may read. For a sales rep that scope
//! is not a range of any index (it is an `OR` of owner, team and share conditions), so the
//! database visits every deal and evaluates the scope on it. `ix_deals_reports` holds every
//! column a report reads (the scope's `owner_id` and `id`, the amount, the stage and its
//! probability, the dates, the company and the source), so that visit reads this narrow
//! index instead of the table (on SQLite a "covering index" scan, about a quarter of the
//! pages). Leading with `stage, actual_close_date` also makes the won-revenue panels a range
//! seek (`stage = 'closed_won' AND actual_close_date >= …`). `ix_deals_owner_reports` does
//! the same for the per-owner panel, whose `GROUP BY owner_id` otherwise walks
//! `ix_deals_owner_id` and fetches every row from the table in owner order (random reads);
//! with it the grouping streams in index order. docs/reports.md has the measurements.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(
            manager,
            &[
                "CREATE INDEX ix_deals_reports ON deals \
                 (stage, actual_close_date, owner_id, amount_cents, probability, company_id, source, id)",
                "CREATE INDEX ix_deals_owner_reports ON deals (owner_id, stage, amount_cents, id)",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(
            manager,
            &[
                "DROP INDEX ix_deals_owner_reports",
                "DROP INDEX ix_deals_reports",
            ],
        )
        .await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
