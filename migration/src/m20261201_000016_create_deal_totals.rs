//! Totals of deals, already added up, for the reports:
//!
//! - `deal_totals`: per owner, stage, currency and source (`''` for none: a key column
//!   cannot be `NULL`) — the pipeline, conversion, per-rep and per-source panels and the
//!   deals count;
//! - `deal_won_months`: per owner, currency and month of `actual_close_date` (`YYYY-MM`) of
//!   the won deals that have one — the revenue panels;
//! - `deal_won_companies`: per owner, currency and company of the won deals — the top
//!   companies.
//!
//! Each holds how many deals there are and the sums of their amounts and
//! probability-weighted amounts. Kept by triggers in the transaction of every write to
//! `deals` (insert, delete, and an update of a column they sum or group by), so they are
//! exact at every commit, whoever writes (the API, an import, a migration, a hand-written
//! statement).
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

use crate::ddl::{self, Types, unsupported};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `SPLIT_CENTS` of the reports.
const SPLIT: i64 = 100_000_000;

/// A totals table: its name, its key columns and the SQL of each key's value for a deal
/// (`{row}` is `NEW`, `OLD` or `deals`), and which deals it holds (`None`: all).
struct Totals {
    table: &'static str,
    key: &'static [(&'static str, &'static str)],
    only: Option<&'static str>,
}

/// The tables. The month of `actual_close_date` is per backend (dates are `YYYY-MM-DD` text
/// on SQLite).
fn tables(backend: DbBackend) -> [Totals; 3] {
    let month: &'static [(&'static str, &'static str)] = match backend {
        DbBackend::Postgres => &[
            ("owner_id", "{row}.owner_id"),
            ("currency", "{row}.currency"),
            ("month", "to_char({row}.actual_close_date, 'YYYY-MM')"),
        ],
        _ => &[
            ("owner_id", "{row}.owner_id"),
            ("currency", "{row}.currency"),
            ("month", "substr({row}.actual_close_date, 1, 7)"),
        ],
    };
    [
        Totals {
            table: "deal_totals",
            key: &[
                ("owner_id", "{row}.owner_id"),
                ("stage", "{row}.stage"),
                ("currency", "{row}.currency"),
                ("source", "COALESCE({row}.source, '')"),
            ],
            only: None,
        },
        Totals {
            table: "deal_won_months",
            key: month,
            only: Some("{row}.stage = 'closed_won' AND {row}.actual_close_date IS NOT NULL"),
        },
        Totals {
            table: "deal_won_companies",
            key: &[
                ("owner_id", "{row}.owner_id"),
                ("currency", "{row}.currency"),
                ("company_id", "{row}.company_id"),
            ],
            only: Some("{row}.stage = 'closed_won'"),
        },
    ]
}

/// The summed columns of one deal, for `row`, with `sign`.
fn contribution(row: &str, sign: &str) -> String {
    format!(
        "{sign}1, {sign}({row}.amount_cents / {SPLIT}), {sign}({row}.amount_cents % {SPLIT}), \
         {sign}(({row}.amount_cents / {SPLIT}) * {row}.probability), \
         {sign}(({row}.amount_cents % {SPLIT}) * {row}.probability)"
    )
}

const SUMS: [&str; 5] = [
    "deals",
    "cents_hi",
    "cents_lo",
    "weighted_hi",
    "weighted_lo",
];

impl Totals {
    fn key_names(&self) -> String {
        self.key
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn key_values(&self, row: &str) -> String {
        self.key
            .iter()
            .map(|(_, v)| v.replace("{row}", row))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn only(&self, row: &str) -> Option<String> {
        self.only.map(|c| c.replace("{row}", row))
    }

    fn create(&self, t: &Types) -> String {
        let keys: Vec<String> = self
            .key
            .iter()
            .map(|(n, _)| {
                let ty = if n.ends_with("_id") { t.uuid } else { t.text };
                format!("    {n} {ty} NOT NULL,\n")
            })
            .collect();
        let sums: Vec<String> = SUMS
            .iter()
            .map(|n| format!("    {n} {} NOT NULL,\n", t.bigint))
            .collect();
        format!(
            "CREATE TABLE {} (\n{}{}    PRIMARY KEY ({})\n)",
            self.table,
            keys.concat(),
            sums.concat(),
            self.key_names()
        )
    }

    /// Fills the table from the deals there are.
    fn backfill(&self) -> String {
        let keys = self.key_values("deals");
        let filter = self
            .only("deals")
            .map(|c| format!(" WHERE {c}"))
            .unwrap_or_default();
        format!(
            "INSERT INTO {table} ({names}, {sums}) \
             SELECT {keys}, COUNT(*), SUM(amount_cents / {SPLIT}), SUM(amount_cents % {SPLIT}), \
             SUM((amount_cents / {SPLIT}) * probability), \
             SUM((amount_cents % {SPLIT}) * probability) \
             FROM deals{filter} GROUP BY {keys}",
            table = self.table,
            names = self.key_names(),
            sums = SUMS.join(", "),
        )
    }

    /// Adds `row`'s contribution with `sign` to its group (creating the group when new),
    /// when the table holds `row`.
    fn apply(&self, row: &str, sign: &str) -> String {
        let updates: Vec<String> = SUMS
            .iter()
            .map(|c| format!("{c} = {t}.{c} + excluded.{c}", t = self.table))
            .collect();
        // `INSERT … SELECT … WHERE` (a WHERE is required before an upsert's ON CONFLICT
        // on SQLite anyway).
        format!(
            "INSERT INTO {table} ({names}, {sums}) SELECT {keys}, {values} WHERE {only} \
             ON CONFLICT ({names}) DO UPDATE SET {updates}",
            table = self.table,
            names = self.key_names(),
            sums = SUMS.join(", "),
            keys = self.key_values(row),
            values = contribution(row, sign),
            only = self.only(row).unwrap_or_else(|| "true".to_owned()),
            updates = updates.join(", "),
        )
    }
}

/// The columns whose change moves a deal between groups or changes its sums.
const SUMMED: &str = "owner_id, stage, currency, source, amount_cents, probability, \
                      actual_close_date, company_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let t = Types::for_backend(backend)?;
        let tables = tables(backend);
        let mut statements: Vec<String> = Vec::new();
        for table in &tables {
            statements.push(table.create(&t));
            statements.push(table.backfill());
        }
        let all = |row: &str, sign: &str| -> Vec<String> {
            tables.iter().map(|t| t.apply(row, sign)).collect()
        };
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
                    all("OLD", "-").join(";\n        "),
                    all("NEW", "").join(";\n        ")
                ),
                format!(
                    "CREATE TRIGGER tr_deal_totals AFTER INSERT OR DELETE OR UPDATE OF {SUMMED} \
                     ON deals FOR EACH ROW EXECUTE FUNCTION deal_totals_apply()"
                ),
            ]),
            DbBackend::Sqlite => statements.extend([
                format!(
                    "CREATE TRIGGER tr_deal_totals_insert AFTER INSERT ON deals BEGIN {}; END",
                    all("NEW", "").join("; ")
                ),
                format!(
                    "CREATE TRIGGER tr_deal_totals_delete AFTER DELETE ON deals BEGIN {}; END",
                    all("OLD", "-").join("; ")
                ),
                format!(
                    "CREATE TRIGGER tr_deal_totals_update AFTER UPDATE OF {SUMMED} ON deals \
                     BEGIN {}; {}; END",
                    all("OLD", "-").join("; "),
                    all("NEW", "").join("; ")
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
                "DROP TABLE deal_won_companies",
                "DROP TABLE deal_won_months",
                "DROP TABLE deal_totals",
            ],
            DbBackend::Sqlite => &[
                "DROP TRIGGER tr_deal_totals_update",
                "DROP TRIGGER tr_deal_totals_delete",
                "DROP TRIGGER tr_deal_totals_insert",
                "DROP TABLE deal_won_companies",
                "DROP TABLE deal_won_months",
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
