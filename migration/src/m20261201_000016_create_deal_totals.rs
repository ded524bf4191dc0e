//! `deal_totals`: per owner, stage, currency and source (`''` for none: a key column cannot
//! be `NULL`), how many deals there are and the sums of their amounts and
//! probability-weighted amounts — what the pipeline, conversion, per-rep and per-source
//! reports add up, already added up. Kept by triggers in the transaction of every write to `deals` (insert,
//! delete, and an update of a column it sums or groups by), so it is exact at every commit,
//! whoever writes (the API, an import, a migration, a hand-written statement).
//!
//! Money is stored the way the reports sum it (`api::service::report`): each amount in two
//! parts, `amount_cents / 10^8` and `amount_cents % 10^8`, summed separately (and each part
//! times the probability for the weighted sums), so no sum leaves `i64`. The split is
//! spelled out here: a released migration is frozen.
//!
//! Who may read which of these totals is not stored: the reports decide it per owner from
//! the policy at query time (the owner's team is read then, so a team change applies at
//! once) and correct the totals row by row for deals whose readability depends on more than
//! their owner (shares).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl::{self, Types};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `SPLIT_CENTS` of the reports.
const SPLIT: i64 = 100_000_000;

/// The columns of one deal's contribution, for `row` (`NEW` or `OLD`), with `sign`.
fn contribution(row: &str, sign: &str) -> String {
    format!(
        "{sign}1, {sign}({row}.amount_cents / {SPLIT}), {sign}({row}.amount_cents % {SPLIT}), \
         {sign}(({row}.amount_cents / {SPLIT}) * {row}.probability), \
         {sign}(({row}.amount_cents % {SPLIT}) * {row}.probability)"
    )
}

/// Adds `row`'s contribution with `sign` to its group (creating the group when new).
fn apply(row: &str, sign: &str) -> String {
    format!(
        "INSERT INTO deal_totals \
         (owner_id, stage, currency, source, deals, cents_hi, cents_lo, weighted_hi, weighted_lo) \
         VALUES ({row}.owner_id, {row}.stage, {row}.currency, COALESCE({row}.source, ''), {}) \
         ON CONFLICT (owner_id, stage, currency, source) DO UPDATE SET \
         deals = deal_totals.deals + excluded.deals, \
         cents_hi = deal_totals.cents_hi + excluded.cents_hi, \
         cents_lo = deal_totals.cents_lo + excluded.cents_lo, \
         weighted_hi = deal_totals.weighted_hi + excluded.weighted_hi, \
         weighted_lo = deal_totals.weighted_lo + excluded.weighted_lo",
        contribution(row, sign)
    )
}

/// The columns whose change moves a deal between groups or changes its sums.
const SUMMED: &str = "owner_id, stage, currency, source, amount_cents, probability";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let t = Types::for_backend(backend)?;
        let mut statements = vec![
            format!(
                "CREATE TABLE deal_totals (
    owner_id {uuid} NOT NULL,
    stage {text} NOT NULL,
    currency {text} NOT NULL,
    source {text} NOT NULL,
    deals {bigint} NOT NULL,
    cents_hi {bigint} NOT NULL,
    cents_lo {bigint} NOT NULL,
    weighted_hi {bigint} NOT NULL,
    weighted_lo {bigint} NOT NULL,
    PRIMARY KEY (owner_id, stage, currency, source)
)",
                uuid = t.uuid,
                text = t.text,
                bigint = t.bigint,
            ),
            format!(
                "INSERT INTO deal_totals \
                 (owner_id, stage, currency, source, deals, cents_hi, cents_lo, weighted_hi, \
                 weighted_lo) \
                 SELECT owner_id, stage, currency, COALESCE(source, ''), COUNT(*), \
                 SUM(amount_cents / {SPLIT}), SUM(amount_cents % {SPLIT}), \
                 SUM((amount_cents / {SPLIT}) * probability), \
                 SUM((amount_cents % {SPLIT}) * probability) \
                 FROM deals GROUP BY owner_id, stage, currency, COALESCE(source, '')"
            ),
        ];
        match backend {
            DbBackend::Postgres => statements.extend([
                format!(
                    "CREATE FUNCTION deal_totals_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        {};
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        {};
    END IF;
    RETURN NULL;
END
$$",
                    apply("OLD", "-"),
                    apply("NEW", "")
                ),
                format!(
                    "CREATE TRIGGER tr_deal_totals AFTER INSERT OR DELETE OR UPDATE OF {SUMMED} \
                     ON deals FOR EACH ROW EXECUTE FUNCTION deal_totals_apply()"
                ),
            ]),
            DbBackend::Sqlite => statements.extend([
                format!(
                    "CREATE TRIGGER tr_deal_totals_insert AFTER INSERT ON deals \
                     BEGIN {}; END",
                    apply("NEW", "")
                ),
                format!(
                    "CREATE TRIGGER tr_deal_totals_delete AFTER DELETE ON deals \
                     BEGIN {}; END",
                    apply("OLD", "-")
                ),
                format!(
                    "CREATE TRIGGER tr_deal_totals_update AFTER UPDATE OF {SUMMED} ON deals \
                     BEGIN {}; {}; END",
                    apply("OLD", "-"),
                    apply("NEW", "")
                ),
            ]),
            other => return Err(unsupported(other)),
        }
        ddl::run(manager, &statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements: &[&str] = match manager.get_database_backend() {
            DbBackend::Postgres => &[
                "DROP TRIGGER tr_deal_totals ON deals",
                "DROP FUNCTION deal_totals_apply()",
                "DROP TABLE deal_totals",
            ],
            DbBackend::Sqlite => &[
                "DROP TRIGGER tr_deal_totals_update",
                "DROP TRIGGER tr_deal_totals_delete",
                "DROP TRIGGER tr_deal_totals_insert",
                "DROP TABLE deal_totals",
            ],
            other => return Err(unsupported(other)),
        };
        ddl::run(manager, statements).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

fn unsupported(backend: DbBackend) -> DbErr {
    DbErr::Migration(format!(
        "unsupported database backend {backend:?}: the CRM runs on SQLite or PostgreSQL"
    ))
}
