//! Reports: the pipeline board and the dashboard panels, each one (or two) SQL aggregates.
//!
//! Every statement reads `deals` under the viewer's `read` scope, so a count never includes a
//! row the viewer cannot list, and every money sum adds `amount_cents` only where the
//! policy's `read:amount` condition holds (`SUM(CASE WHEN <read:amount> THEN amount_cents
//! ELSE 0 END)`), so an amount the viewer may not read counts as zero. Both conditions come
//! from the authorizer; nothing here knows what a role may see. Money is summed as integer
//! cents in the database and converted exactly; rows are never loaded to be added up in Rust
//! (the closing-soon panel loads at most [`CLOSING_SOON_LIMIT`] rows to *list* them).
//!
//! Sums never overflow: a plain `SUM(amount_cents)` fails past `i64` on both backends
//! (SQLite raises "integer overflow", PostgreSQL's `numeric` sum no longer decodes as
//! `bigint`), which a few large deals reach. Every money sum is therefore read in two parts,
//! `SUM(cents / 10^8)` and `SUM(cents % 10^8)` (see [`Parts`] and
//! [`crate::service::money::SPLIT_CENTS`]), each safely inside `i64`, and recombined here as
//! an exact `i128`; the weighted amount splits the amount before multiplying by the
//! probability. The same SQL on both backends, no floating point anywhere.
//!
//! Dates: month boundaries are computed here and bound as parameters, so the same
//! comparisons work on SQLite (dates stored as `YYYY-MM-DD` text) and PostgreSQL (`DATE`);
//! only the month key of the revenue-by-month grouping is backend-specific.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Datelike, Days, Months, NaiveDate};
use entity::deal;
use entity::enums::{DealSource, DealStage};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Order, Query, SelectStatement};
use sea_orm::{
    ActiveEnum, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QueryResult, QuerySelect,
};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::authz::{
    Authorizer, CompanyAction, DealAction, FACTS_COLUMN, FactMask, Kind, Shape, Viewer,
};
use crate::error::{ApiError, ApiResult};
use crate::service::deal::{DealRow, col};
use crate::service::filter::{Env, Filter};
use crate::service::list::read_facts;
use crate::service::record::Record;
use crate::service::{Deps, money};

/// Most deals the closing-soon panel lists (its count and amount cover all of them).
pub const CLOSING_SOON_LIMIT: u64 = 50;
/// How many companies the top-companies panel lists.
pub const TOP_COMPANIES: u64 = 10;
/// Default number of months of the revenue-by-month panel.
pub const DEFAULT_MONTHS: u32 = 12;
/// The most months the revenue-by-month panel covers.
pub const MAX_MONTHS: u32 = 60;
/// Default window of the closing-soon panel, in days after the reference date.
pub const DEFAULT_CLOSING_DAYS: u32 = 7;
/// The widest closing-soon window, in days.
pub const MAX_CLOSING_DAYS: u32 = 366;

/// The stages a deal is still open in, in pipeline order.
pub const OPEN_STAGES: [DealStage; 4] = [
    DealStage::Prospecting,
    DealStage::Qualification,
    DealStage::Proposal,
    DealStage::Negotiation,
];

/// Whose deals a report covers, among those the viewer may read. A narrowing filter, not an
/// authorization rule: the policy's `read` scope always applies as well.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Owners {
    /// Deals the viewer owns.
    Mine,
    /// Deals owned by the viewer or by a member of one of their teams (their own team and the
    /// teams they manage).
    MyTeams,
    /// Every deal the viewer may read.
    #[default]
    All,
}

/// Totals of the deals in one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageTotal {
    /// The stage.
    pub stage: DealStage,
    /// Readable deals in the stage.
    pub count: u64,
    /// Sum of the amounts the viewer may read, in cents.
    pub amount_cents: i128,
    /// Sum of readable amount × probability, in cents × percent (÷ 10,000 for the currency
    /// unit; see [`weighted_amount`]).
    pub weighted_cent_percent: i128,
}

impl StageTotal {
    fn zero(stage: DealStage) -> Self {
        Self {
            stage,
            count: 0,
            amount_cents: 0,
            weighted_cent_percent: 0,
        }
    }
}

/// Won revenue of the reference month and the month before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revenue {
    /// First day of the reference month.
    pub this_month: NaiveDate,
    /// First day of the month before.
    pub last_month: NaiveDate,
    /// Visible amounts of deals won in the reference month, in cents.
    pub this_month_cents: i128,
    /// Visible amounts of deals won in the month before, in cents.
    pub last_month_cents: i128,
    /// Readable deals won in the reference month.
    pub this_month_deals: u64,
    /// Readable deals won in the month before.
    pub last_month_deals: u64,
}

/// Won revenue of one calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthTotal {
    /// First day of the month.
    pub month: NaiveDate,
    /// Readable deals won in the month.
    pub deals: u64,
    /// Their visible amounts, in cents.
    pub amount_cents: i128,
}

/// Closed deals, for the conversion rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversion {
    /// Readable deals won.
    pub won: u64,
    /// Readable deals lost.
    pub lost: u64,
}

/// Won business with one company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyTotal {
    /// The company.
    pub company_id: Uuid,
    /// Its name.
    pub name: String,
    /// Readable deals won with it.
    pub won_deals: u64,
    /// Their visible amounts, in cents.
    pub won_cents: i128,
}

/// One owner's deals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerTotal {
    /// The owner.
    pub owner_id: Uuid,
    /// Readable deals they own.
    pub deals: u64,
    /// Of which won.
    pub won: u64,
    /// Of which lost.
    pub lost: u64,
    /// Visible amounts of the won ones, in cents.
    pub won_cents: i128,
}

/// Deals from one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceTotal {
    /// The source; `None` for deals without one.
    pub source: Option<DealSource>,
    /// Readable deals.
    pub count: u64,
    /// Their visible amounts, in cents.
    pub amount_cents: i128,
}

/// Open deals expected to close soon.
#[derive(Debug, Clone)]
pub struct ClosingSoon {
    /// First day of the window.
    pub from: NaiveDate,
    /// Last day of the window (inclusive).
    pub to: NaiveDate,
    /// Readable open deals expected to close in the window.
    pub count: u64,
    /// Their visible amounts, in cents.
    pub amount_cents: i128,
    /// The first [`CLOSING_SOON_LIMIT`] of them, soonest first (then by id).
    pub deals: Vec<DealRow>,
}

/// The dates a dashboard is computed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// The reference day ("today").
    pub as_of: NaiveDate,
    /// Months of the revenue-by-month panel, ending with the reference month.
    pub months: u32,
    /// Days after `as_of` the closing-soon window reaches (inclusive).
    pub closing_days: u32,
}

impl Period {
    /// Checks the bounds: `months` in 1..=[`MAX_MONTHS`], `closing_days` in
    /// 1..=[`MAX_CLOSING_DAYS`], and every boundary a representable date. Field names are
    /// the client's (`range.months`, …).
    pub fn new(as_of: NaiveDate, months: u32, closing_days: u32) -> ApiResult<Self> {
        let mut errors = Vec::new();
        if !(1..=MAX_MONTHS).contains(&months) {
            errors.push(crate::error::FieldError::new(
                "range.months",
                format!("must be between 1 and {MAX_MONTHS}"),
            ));
        }
        if !(1..=MAX_CLOSING_DAYS).contains(&closing_days) {
            errors.push(crate::error::FieldError::new(
                "range.closingWithinDays",
                format!("must be between 1 and {MAX_CLOSING_DAYS}"),
            ));
        }
        if !errors.is_empty() {
            return Err(ApiError::BadUserInput(errors));
        }
        let period = Self {
            as_of,
            months,
            closing_days,
        };
        let representable = month_start(as_of)
            .checked_sub_months(Months::new(months))
            .and_then(|_| month_start(as_of).checked_add_months(Months::new(1)))
            .and_then(|_| as_of.checked_add_days(Days::new(u64::from(closing_days))));
        if representable.is_none() {
            return Err(ApiError::bad_input("range.asOf", "is out of range"));
        }
        Ok(period)
    }

    /// First day of the reference month.
    pub fn this_month(&self) -> NaiveDate {
        month_start(self.as_of)
    }

    /// First day of the month before the reference month.
    pub fn last_month(&self) -> NaiveDate {
        self.months_back(1)
    }

    /// First day of the month after the reference month (the exclusive end of everything).
    pub fn next_month(&self) -> NaiveDate {
        self.this_month()
            .checked_add_months(Months::new(1))
            .unwrap_or(NaiveDate::MAX)
    }

    /// First days of the months of the revenue-by-month panel, oldest first.
    pub fn month_starts(&self) -> Vec<NaiveDate> {
        (0..self.months)
            .rev()
            .map(|n| self.months_back(n))
            .collect()
    }

    /// Last day of the closing-soon window (inclusive).
    pub fn closing_until(&self) -> NaiveDate {
        self.as_of
            .checked_add_days(Days::new(u64::from(self.closing_days)))
            .unwrap_or(NaiveDate::MAX)
    }

    fn months_back(&self, n: u32) -> NaiveDate {
        self.this_month()
            .checked_sub_months(Months::new(n))
            .unwrap_or(NaiveDate::MIN)
    }
}

/// The first day of `d`'s month.
pub fn month_start(d: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or(d)
}

/// A weighted amount (cents × percent) as an exact decimal in the currency unit: two decimal
/// places, or three or four when the product needs them (no rounding ever). `INTERNAL` only
/// past the range of [`Decimal`], which sums of the reports never reach (see
/// [`money::sum_from_cents`]).
pub fn weighted_amount(cent_percent: i128) -> ApiResult<Decimal> {
    let mut d = money::scaled(cent_percent, 4)?.normalize();
    if d.scale() < 2 {
        d.rescale(2);
    }
    Ok(d)
}

/// `part ÷ whole` in percent, rounded to two decimal places (half away from zero); `None`
/// when `whole` is zero. Computed in integers (hundredths of a percent), so it is exact for
/// any sum the reports produce; `INTERNAL` only if the percentage itself exceeds the range
/// of [`Decimal`] (about 7.9 × 10^26 %).
pub fn percent(part: i128, whole: i128) -> ApiResult<Option<Decimal>> {
    if whole == 0 {
        return Ok(None);
    }
    let out_of_range = || ApiError::internal("percentage", "outside the Decimal range");
    let scaled = part.checked_mul(10_000).ok_or_else(out_of_range)?;
    let (quotient, remainder) = (scaled / whole, scaled % whole);
    // Half away from zero: round up in magnitude when the remainder is at least half of
    // `whole` (both sides are below 2^127: |remainder| < |whole|).
    let rounded = if remainder.unsigned_abs() * 2 >= whole.unsigned_abs() {
        quotient + (scaled.signum() * whole.signum())
    } else {
        quotient
    };
    // Always two places ("50.00", not "50"), like money.
    money::scaled(rounded, 2).map(Some)
}

/// Which deals a report covers, besides the viewer's `read` scope: whose (`owners`), in
/// which currency, matching which filter. Built by [`DealSet::new`].
///
/// The viewer's shared deals in the set, which [`summed`] corrects the totals with, are read
/// once per set (the dashboard's panels share one set, so one read serves all of them).
#[derive(Clone, Debug)]
pub struct DealSet(Condition, Summed, SharedDeals);

/// The deals of a [`DealSet`] on which a share fact may hold, read once when first needed.
type SharedDeals = Arc<OnceCell<Vec<SharedDeal>>>;

/// Whether a [`DealSet`]'s condition reads only columns `deal_totals` groups by (owner,
/// currency): then the stage totals are added up from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Summed {
    Yes,
    No,
}

impl DealSet {
    /// Every deal the viewer may read.
    pub fn everything() -> Self {
        Self(Condition::all(), Summed::Yes, SharedDeals::default())
    }

    /// The deals of `owners` in `currency` (ISO 4217, any case; `BAD_USER_INPUT` on
    /// `currency` when malformed) matching `filter`.
    pub fn new(
        deps: &Deps,
        viewer: &Viewer,
        owners: Owners,
        currency: Option<&str>,
        filter: &Filter<deal::Column>,
    ) -> ApiResult<Self> {
        let mut all = owners_condition(viewer, owners);
        if let Some(code) = currency {
            all = all.add(currency_condition(code)?);
        }
        let filter = filter.condition(&Env { deps, viewer });
        let summed = if filter.is_empty() {
            Summed::Yes
        } else {
            Summed::No
        };
        Ok(Self(all.add(filter), summed, SharedDeals::default()))
    }
}

/// The narrowing condition of `owners` (the `read` scope is added separately).
fn owners_condition(viewer: &Viewer, owners: Owners) -> Condition {
    let owner = col(deal::Column::OwnerId);
    match owners {
        Owners::All => Condition::all(),
        Owners::Mine => Condition::all().add(owner.eq(viewer.user_id)),
        Owners::MyTeams => {
            let mut any = Condition::any().add(owner.clone().eq(viewer.user_id));
            if !viewer.team_ids.is_empty() {
                let members = Query::select()
                    .column(("report_users", "id"))
                    .from_as("users", "report_users")
                    .cond_where(
                        Expr::col(("report_users", "team_id"))
                            .is_in(viewer.team_ids.iter().copied()),
                    )
                    .to_owned();
                any = any.add(owner.in_subquery(members));
            }
            Condition::all().add(any)
        }
    }
}

/// Only deals in currency `code` (ISO 4217, any case). A malformed code is `BAD_USER_INPUT`
/// on `currency`.
fn currency_condition(code: &str) -> ApiResult<Condition> {
    let code = code.trim().to_uppercase();
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ApiError::bad_input(
            "currency",
            "is not an ISO 4217 currency code",
        ));
    }
    Ok(Condition::all().add(col(deal::Column::Currency).eq(code)))
}

// ---------------------------------------------------------------------------------------
// SQL building blocks
// ---------------------------------------------------------------------------------------

/// `amount_cents` where the viewer may read it, 0 elsewhere, in [`Parts`]: the only way
/// amounts enter a sum.
fn visible_cents(deps: &Deps, viewer: &Viewer) -> Parts {
    let cond = deps.authz.field_condition(viewer, DealAction::ReadAmount);
    Parts::of(when(cond, col(deal::Column::AmountCents)))
}

/// `SUM(expr)` as a 64-bit integer on every backend (PostgreSQL sums `bigint` as `numeric`).
/// Only for counts and the parts of [`Parts`], whose sums fit.
fn sum(expr: Expr) -> Expr {
    expr.sum().cast_as("bigint")
}

/// `SUM(CASE WHEN cond THEN expr ELSE 0 END)`.
fn sum_if(cond: impl Into<Condition>, expr: Expr) -> Expr {
    sum(when(cond, expr))
}

/// `CASE WHEN cond THEN expr ELSE 0 END`.
fn when(cond: impl Into<Condition>, expr: Expr) -> Expr {
    Expr::case(cond.into(), expr)
        .finally(Expr::val(0i64))
        .into()
}

/// A per-row money value in two parts, `hi × SPLIT_CENTS + lo`, summed separately so that
/// neither a row's value nor either sum can leave `i64` (bounds at
/// [`money::SPLIT_CENTS`]). [`Parts::select`] adds the two sums to a statement,
/// [`read_sum`] recombines them exactly. The split is a literal, not a bound parameter, so
/// the planner sees one constant.
#[derive(Clone)]
struct Parts {
    hi: Expr,
    lo: Expr,
}

impl Parts {
    /// The parts of a cents expression.
    fn of(cents: Expr) -> Self {
        Self {
            hi: cents.clone().div(split()),
            lo: cents.modulo(split()),
        }
    }

    /// Each part times `factor` (a probability): the product of the whole value could
    /// overflow for an amount stored before the maximum existed, the parts' cannot.
    fn times(self, factor: Expr) -> Self {
        Self {
            hi: self.hi.mul(factor.clone()),
            lo: self.lo.mul(factor),
        }
    }

    /// Zero where `cond` does not hold.
    fn when(self, cond: impl Into<Condition>) -> Self {
        let cond = cond.into();
        Self {
            hi: when(cond.clone(), self.hi),
            lo: when(cond, self.lo),
        }
    }

    /// The sum as two columns, `{alias}_hi` and `{alias}_lo` (one aggregate each).
    fn select(&self, select: &mut SelectStatement, alias: &str) {
        select
            .expr_as(sum(self.hi.clone()), Alias::new(format!("{alias}_hi")))
            .expr_as(sum(self.lo.clone()), Alias::new(format!("{alias}_lo")));
    }
}

/// `SPLIT_CENTS` as a SQL literal.
fn split() -> Expr {
    Expr::cust(money::SPLIT_CENTS.to_string())
}

/// Order-preserving keys of a sum selected by [`Parts::select`] from the subquery `table`:
/// `hi + lo / S` and `lo % S`. For non-negative sums (amounts are never negative) this is
/// the total's quotient and remainder by `S`, so ordering by the two keys orders by the
/// exact total, with no expression that could overflow.
fn order_keys(table: &Alias, alias: &str) -> [Expr; 2] {
    let hi = Expr::col((table.clone(), Alias::new(format!("{alias}_hi"))));
    let lo = Expr::col((table.clone(), Alias::new(format!("{alias}_lo"))));
    [hi.add(lo.clone().div(split())), lo.modulo(split())]
}

/// The exact sum selected by [`Parts::select`] as `alias`.
fn read_sum(row: &QueryResult, alias: &str) -> Result<i128, DbErr> {
    let hi = int(row, &format!("{alias}_hi"))?;
    let lo = int(row, &format!("{alias}_lo"))?;
    Ok(i128::from(hi) * i128::from(money::SPLIT_CENTS) + i128::from(lo))
}

fn count_all() -> Expr {
    Expr::cust("COUNT(*)")
}

fn stage_is(stage: DealStage) -> Expr {
    col(deal::Column::Stage).eq(stage.to_value())
}

fn stage_in(stages: &[DealStage]) -> Expr {
    col(deal::Column::Stage).is_in(stages.iter().map(|s| s.to_value()))
}

/// The base of every report: the readable deals matching `filter`, as `"deals"`.
///
/// - SQLite: `SELECT … FROM deals WHERE <scope> AND <filter>`; SQLite serves the scope's
///   `OR` from its terms' indexes itself (a multi-index `OR`), or a panel's own index (stage,
///   close date) with the scope tested per row, and the load benchmark measured the
///   dashboard 40-100 % dearer over the union below.
/// - PostgreSQL, when the scope has several disjoint parts (`Authorizer::disjoint_scopes`):
///   `SELECT … FROM (<part 1> UNION ALL <part 2> …) AS deals`, each part read through the
///   index of its leading term; PostgreSQL otherwise scans every deal testing the whole `OR`
///   (a rep's pipeline: 45 → 25 ms of database CPU at 100,000 deals).
fn readable_deals(deps: &Deps, viewer: &Viewer, filter: &DealSet) -> SelectStatement {
    let deals = Alias::new("deals");
    let backend = deps.db.get_database_backend();
    let part = |scope: Condition| {
        Query::select()
            .from(deals.clone())
            .cond_where(Condition::all().add(scope).add(filter.0.clone()))
            .to_owned()
    };
    if backend != DbBackend::Postgres {
        return part(deps.authz.aggregate_scope(viewer, DealAction::Read));
    }
    let mut parts: Vec<SelectStatement> = deps
        .authz
        .disjoint_scopes(viewer, DealAction::Read, backend)
        .into_iter()
        .map(part)
        .collect();
    match parts.len() {
        // Nothing readable.
        0 => part(Condition::all().add(Expr::cust("1 = 0"))),
        1 => parts.remove(0),
        _ => {
            let mut parts = parts.into_iter().map(|mut p| {
                p.column((deals.clone(), sea_orm::sea_query::Asterisk));
                p
            });
            let mut union = parts.next().expect("several parts");
            for p in parts {
                union.union(sea_orm::sea_query::UnionType::All, p);
            }
            Query::select().from_subquery(union, deals).to_owned()
        }
    }
}

/// A grouping key for `column` of the readable deals. On SQLite, for a viewer whose scope
/// restricts the rows, `+column` (the same value: unary `+` is a no-op there): a plain
/// column would let the planner produce the group order by walking an index on it through
/// every deal in the table, testing the scope on each, where the expression leaves it free
/// to read only the scope's rows and group them in a temporary B-tree (50-60 ms against
/// under 10 ms for a rep's owners at 100,000 deals).
fn group_key(deps: &Deps, viewer: &Viewer, column: deal::Column) -> Expr {
    let restricted = !deps.authz.scope(viewer, DealAction::Read).is_empty();
    if restricted && deps.db.get_database_backend() == DbBackend::Sqlite {
        Expr::cust(format!(
            "+\"deals\".\"{}\"",
            sea_orm::IdenStatic::as_str(&column)
        ))
    } else {
        col(column)
    }
}

/// The `YYYY-MM` of `actual_close_date`: dates are `YYYY-MM-DD` text on SQLite and `DATE`
/// on PostgreSQL.
fn close_month_key(backend: DbBackend) -> Expr {
    match backend {
        DbBackend::Postgres => Expr::cust("to_char(\"deals\".\"actual_close_date\", 'YYYY-MM')"),
        _ => Expr::cust("substr(\"deals\".\"actual_close_date\", 1, 7)"),
    }
}

fn int(row: &QueryResult, column: &str) -> Result<i64, DbErr> {
    Ok(row.try_get::<Option<i64>>("", column)?.unwrap_or(0))
}

fn count(row: &QueryResult, column: &str) -> Result<u64, DbErr> {
    Ok(u64::try_from(int(row, column)?).unwrap_or(0))
}

// ---------------------------------------------------------------------------------------
// Panels
// ---------------------------------------------------------------------------------------

/// Per stage, in pipeline order (every stage, zeros included): readable deals matching
/// `filter`, the sum of the amounts the viewer may read and the probability-weighted sum.
/// One statement.
pub async fn pipeline(
    deps: &Deps,
    viewer: &Viewer,
    filter: &DealSet,
) -> ApiResult<Vec<StageTotal>> {
    stage_totals(deps, viewer, filter, &DealStage::ALL).await
}

/// Like [`pipeline`] for the open stages only.
pub async fn open_by_stage(
    deps: &Deps,
    viewer: &Viewer,
    filter: &DealSet,
) -> ApiResult<Vec<StageTotal>> {
    stage_totals(deps, viewer, filter, &OPEN_STAGES).await
}

/// Per stage of `stages`, in that order, zeros included. From `deal_totals` when the set
/// allows ([`summed_stage_totals`]); otherwise one statement: the readable deals grouped by
/// stage (see [`readable_deals`] and [`group_key`]), the visible amount computed once per
/// deal.
async fn stage_totals(
    deps: &Deps,
    viewer: &Viewer,
    filter: &DealSet,
    stages: &[DealStage],
) -> ApiResult<Vec<StageTotal>> {
    if filter.1 == Summed::Yes {
        return summed_stage_totals(deps, viewer, filter, stages).await;
    }
    let visible = visible_cents(deps, viewer);
    let weighted = visible.clone().times(col(deal::Column::Probability));
    let mut select = readable_deals(deps, viewer, filter);
    if stages.len() < DealStage::ALL.len() {
        select.cond_where(stage_in(stages));
    }
    let mut totals: Vec<StageTotal> = stages.iter().map(|s| StageTotal::zero(*s)).collect();
    let stage = group_key(deps, viewer, deal::Column::Stage);
    select
        .expr_as(stage.clone(), Alias::new("stage"))
        .expr_as(count_all(), Alias::new("n"));
    visible.select(&mut select, "cents");
    weighted.select(&mut select, "weighted");
    select.add_group_by([stage]);
    for row in deps.db.query_all(&select).await? {
        let stage: String = row.try_get("", "stage")?;
        if let Some(t) = totals.iter_mut().find(|t| t.stage.to_value() == stage) {
            t.count = count(&row, "n")?;
            t.amount_cents = read_sum(&row, "cents")?;
            t.weighted_cent_percent = read_sum(&row, "weighted")?;
        }
    }
    Ok(totals)
}

/// A column `deal_totals` groups by, with the same name and values in `deals` (a missing
/// source is `''` there, `NULL` here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum By {
    Stage,
    Owner,
    Source,
    /// The `YYYY-MM` of `actual_close_date` (`deal_won_months` only).
    Month,
    /// The company (`deal_won_companies` only).
    Company,
}

impl By {
    fn column(self) -> &'static str {
        match self {
            By::Stage => "stage",
            By::Owner => "owner_id",
            By::Source => "source",
            By::Month => "month",
            By::Company => "company_id",
        }
    }

    /// The column's value on a row of `deals`.
    fn of_deal(self, backend: DbBackend) -> Expr {
        match self {
            By::Month => close_month_key(backend),
            _ => Expr::col((Alias::new("deals"), Alias::new(self.column()))),
        }
    }

    fn read(self, row: &QueryResult) -> Result<Key, DbErr> {
        Ok(match self {
            By::Owner | By::Company => Key::Id(row.try_get("", self.column())?),
            By::Stage | By::Source | By::Month => {
                match row.try_get::<Option<String>>("", self.column())? {
                    Some(s) if !s.is_empty() => Key::Text(s),
                    _ => Key::Missing,
                }
            }
        })
    }
}

/// One value of a [`By`] column.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Text(String),
    Id(Uuid),
    /// No source.
    Missing,
}

/// The sums of one group of [`summed`].
#[derive(Clone, Copy, Debug, Default)]
struct Sums {
    /// Readable deals.
    count: i64,
    /// Their visible amounts, in cents.
    cents: i128,
    /// Their visible amounts × probability.
    weighted: i128,
}

impl Sums {
    /// Adds `other` into these sums.
    fn add(&mut self, other: Sums) {
        self.count += other.count;
        self.cents += other.cents;
        self.weighted += other.weighted;
    }
}

/// Which totals [`summed`] reads, and which deals they cover.
#[derive(Clone, Copy, Debug)]
enum Summary<'a> {
    /// `deal_totals` (per owner, stage, currency and source): the deals in these stages.
    Stages(&'a [DealStage]),
    /// `deal_won_months` (per owner, currency and close month): the won deals closed from
    /// month `from` to before month `until` (both first days of a month).
    WonMonths { from: NaiveDate, until: NaiveDate },
    /// `deal_won_companies` (per owner, currency and company): the won deals.
    WonCompanies,
}

impl<'a> Summary<'a> {
    fn table(self) -> &'static str {
        match self {
            Summary::Stages(_) => "deal_totals",
            Summary::WonMonths { .. } => "deal_won_months",
            Summary::WonCompanies => "deal_won_companies",
        }
    }

    /// The condition on the totals table (aliased `deals`).
    fn on_totals(self) -> Condition {
        match self {
            Summary::Stages(stages) if stages.len() < DealStage::ALL.len() => {
                Condition::all().add(stage_in(stages))
            }
            Summary::Stages(_) | Summary::WonCompanies => Condition::all(),
            Summary::WonMonths { from, until } => {
                let month = Expr::col((Alias::new("deals"), Alias::new("month")));
                Condition::all()
                    .add(month.clone().gte(from.format("%Y-%m").to_string()))
                    .add(month.lt(until.format("%Y-%m").to_string()))
            }
        }
    }

    /// The same deals as a condition on `deals`.
    fn on_deals(self) -> Condition {
        match self {
            Summary::Stages(_) => self.on_totals(),
            Summary::WonCompanies => Condition::all().add(stage_is(DealStage::ClosedWon)),
            Summary::WonMonths { from, until } => {
                let close = col(deal::Column::ActualCloseDate);
                Condition::all()
                    .add(stage_is(DealStage::ClosedWon))
                    .add(close.clone().gte(Expr::val(from)))
                    .add(close.lt(Expr::val(until)))
            }
        }
    }

    /// Whether a deal is among the deals these totals cover (the same test as
    /// [`Summary::on_totals`] and the totals table's own condition, on one deal); the
    /// month bounds are formatted once, not per deal.
    fn covers(self) -> impl Fn(&SharedDeal) -> bool + 'a {
        let months = match self {
            Summary::WonMonths { from, until } => Some((
                from.format("%Y-%m").to_string(),
                until.format("%Y-%m").to_string(),
            )),
            _ => None,
        };
        move |deal| {
            let won = deal.stage == DealStage::ClosedWon;
            match (self, &months, deal.close_month.as_deref()) {
                (Summary::Stages(stages), _, _) => stages.contains(&deal.stage),
                (Summary::WonCompanies, _, _) => won,
                (Summary::WonMonths { .. }, Some((from, until)), Some(month)) => {
                    won && month >= from.as_str() && month < until.as_str()
                }
                (Summary::WonMonths { .. }, _, _) => false,
            }
        }
    }
}

/// A deal of a [`DealSet`] on which a share fact may hold: its facts, what it adds to a
/// total and every column the totals group by.
#[derive(Clone, Debug)]
struct SharedDeal {
    facts: FactMask,
    amount_cents: i64,
    probability: i16,
    stage: DealStage,
    /// The `YYYY-MM` of `actual_close_date`.
    close_month: Option<String>,
    /// Per [`By`] column, in [`SharedDeal::BY`] order.
    keys: [Key; 5],
}

impl SharedDeal {
    const BY: [By; 5] = [By::Stage, By::Owner, By::Source, By::Month, By::Company];

    fn key(&self, by: &[By]) -> Vec<Key> {
        by.iter()
            .map(|b| {
                let at = Self::BY.iter().position(|x| x == b).unwrap_or_default();
                self.keys[at].clone()
            })
            .collect()
    }
}

/// The deals of `filter` on which a share fact may hold (the viewer's shared deals, a
/// handful), when the role's decisions read shares at all; read once per set. From the
/// viewer's shares outwards: on SQLite a `CROSS JOIN` from the share ids fixes the order; on
/// PostgreSQL `id = ANY(ARRAY(share ids))` is an index condition on the deals' key. The
/// statement carries no range condition (the panels' stages and months are tested in Rust),
/// so PostgreSQL's generic plan for it is the index plan too.
async fn shared_deals<'a>(
    deps: &Deps,
    viewer: &Viewer,
    filter: &'a DealSet,
) -> ApiResult<&'a [SharedDeal]> {
    let deals = filter
        .2
        .get_or_try_init(|| read_shared_deals(deps, viewer, filter))
        .await?;
    Ok(deals)
}

async fn read_shared_deals(
    deps: &Deps,
    viewer: &Viewer,
    filter: &DealSet,
) -> ApiResult<Vec<SharedDeal>> {
    let authz = &deps.authz;
    let lookups = authz.lookup_facts(Kind::Deal);
    let Some(shares) = authz
        .lookup_ids(viewer, Kind::Deal)
        .filter(|_| authz.relevant_facts(viewer.role, Kind::Deal).bits() & lookups.bits() != 0)
    else {
        return Ok(Vec::new());
    };
    let backend = deps.db.get_database_backend();
    let deals = Alias::new("deals");
    let column = |name: &str| Expr::col((deals.clone(), Alias::new(name)));
    let mut select = Query::select();
    if backend == DbBackend::Postgres {
        select
            .from(deals.clone())
            .and_where(column("id").eq(crate::authz::any_of(shares)));
    } else {
        let mine = Alias::new("authz_mine");
        select
            .from_subquery(shares, mine.clone())
            .cross_join(deals.clone())
            .and_where(column("id").equals((mine, Alias::new("record_id"))));
    }
    select
        .expr_as(column("amount_cents"), Alias::new("amount_cents"))
        .expr_as(column("probability"), Alias::new("probability"))
        .expr_as(
            authz.facts_expr(viewer, Kind::Deal),
            Alias::new(FACTS_COLUMN),
        )
        .cond_where(filter.0.clone());
    for b in SharedDeal::BY {
        select.expr_as(b.of_deal(backend), Alias::new(b.column()));
    }
    let rows = deps.db.query_all(&select).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let keys = SharedDeal::BY.map(|b| b.read(&row));
        let [stage, owner, source, month, company] = keys;
        let keys = [stage?, owner?, source?, month?, company?];
        let stage = match &keys[0] {
            Key::Text(stage) => DealStage::try_from_value(stage)
                .map_err(|e| DbErr::Type(format!("deal stage: {e}")))?,
            _ => return Err(DbErr::Type("deal without a stage".into()).into()),
        };
        out.push(SharedDeal {
            facts: read_facts(&row, "")?,
            amount_cents: row.try_get("", "amount_cents")?,
            probability: row.try_get("", "probability")?,
            stage,
            close_month: match &keys[3] {
                Key::Text(month) => Some(month.clone()),
                _ => None,
            },
            keys,
        });
    }
    Ok(out)
}

/// Per group of `by`, the readable deals of `filter` (whose condition must read only
/// columns the totals have: see [`Summed`]) among those `summary` covers, added up from a
/// totals table (kept by triggers in every write transaction; see the migration
/// `create_deal_totals`) instead of from every readable deal: a rep's reports read a few
/// hundred totals rather than tens of thousands of deals. Groups with no readable deal are
/// left out. Two statements, both decided by the policy:
///
/// 1. The totals of the owners whose deals the viewer may read when nothing but the owner
///    is known (`Authorizer::scope_without_lookups`: the compiled scope with the share
///    facts false, written over the owner column), the amounts counted where `read:amount`
///    holds on the same terms.
/// 2. The deals on which a share fact may hold (the viewer's shares, a handful, read once
///    per set by [`shared_deals`]), each with its facts: the policy decides it with and without its share facts, and the
///    difference corrects the totals (a deal shared with the viewer outside their team is
///    added; a teammate's deal shared "edit" adds its amount).
///
/// Exact: every deal is counted by the first statement as if it had no share, and the
/// second replaces that by its true decision wherever a share could change it.
async fn summed(
    deps: &Deps,
    viewer: &Viewer,
    filter: &DealSet,
    summary: Summary<'_>,
    by: &[By],
) -> ApiResult<HashMap<Vec<Key>, Sums>> {
    let mut groups: HashMap<Vec<Key>, Sums> = HashMap::new();
    // The statement groups by exactly `by`: one row per key.
    for row in deps
        .db
        .query_all(&totals_select(deps, viewer, filter, summary, by))
        .await?
    {
        groups.insert(totals_key(&row, by)?, read_sums(&row)?);
    }
    for (key, change) in share_corrections(deps, viewer, filter, summary, by).await? {
        groups.entry(key).or_default().add(change);
    }
    groups.retain(|_, sums| sums.count > 0);
    Ok(groups)
}

/// The key of a row of [`totals_select`].
fn totals_key(row: &QueryResult, by: &[By]) -> Result<Vec<Key>, DbErr> {
    by.iter().map(|b| b.read(row)).collect()
}

/// The sums of a row of [`totals_select`].
fn read_sums(row: &QueryResult) -> Result<Sums, DbErr> {
    Ok(Sums {
        count: int(row, "n")?,
        cents: read_sum(row, "cents")?,
        weighted: read_sum(row, "weighted")?,
    })
}

/// The first statement of [`summed`]: per group of `by`, the totals of the owners whose
/// deals the viewer may read when nothing but the owner is known (`n`, `cents_hi`,
/// `cents_lo`, `weighted_hi`, `weighted_lo` and the `by` columns).
fn totals_select(
    deps: &Deps,
    viewer: &Viewer,
    filter: &DealSet,
    summary: Summary<'_>,
    by: &[By],
) -> SelectStatement {
    let authz = &deps.authz;
    let deals = Alias::new("deals");
    let column = |name: &str| Expr::col((deals.clone(), Alias::new(name)));
    // The owners as arrays on PostgreSQL: its totals are read through their key (a
    // table written as often as the deals can hold many dead rows between vacuums: the
    // owners of a sparse viewer are then 16 pages, not all 11,640 of the table after a
    // 1,000,000-deal import). The amounts' condition is tested on every row: hashed sets.
    let owners = Authorizer::index_shape(deps.db.get_database_backend());
    let amounts = authz.scope_without_lookups(viewer, DealAction::ReadAmount, Shape::Set);
    let mut select = Query::select();
    select
        .from_as(Alias::new(summary.table()), deals.clone())
        .expr_as(sum(column("deals")), Alias::new("n"))
        .cond_where(
            Condition::all()
                .add(authz.scope_without_lookups(viewer, DealAction::Read, owners))
                .add(filter.0.clone())
                .add(summary.on_totals()),
        );
    for part in ["cents_hi", "cents_lo", "weighted_hi", "weighted_lo"] {
        select.expr_as(sum_if(amounts.clone(), column(part)), Alias::new(part));
    }
    for b in by {
        select.expr_as(column(b.column()), Alias::new(b.column()));
        select.add_group_by([column(b.column())]);
    }
    select
}

/// The second half of [`summed`]: per group of `by`, what the viewer's shared deals
/// change in the totals of [`totals_select`] (each counted there as if it had no share,
/// replaced here by its true decision). Groups no share changes are absent.
async fn share_corrections(
    deps: &Deps,
    viewer: &Viewer,
    filter: &DealSet,
    summary: Summary<'_>,
    by: &[By],
) -> ApiResult<HashMap<Vec<Key>, Sums>> {
    let authz = &deps.authz;
    let lookups = authz.lookup_facts(Kind::Deal);
    let read = |facts: FactMask| authz.decide(viewer.role, DealAction::Read, facts);
    let shown =
        |facts: FactMask| read(facts) && authz.decide(viewer.role, DealAction::ReadAmount, facts);
    let covers = summary.covers();
    let mut changes: HashMap<Vec<Key>, Sums> = HashMap::new();
    for deal in shared_deals(deps, viewer, filter).await? {
        if !covers(deal) {
            continue;
        }
        let alone = FactMask::from_bits(deal.facts.bits() & !lookups.bits());
        let count = i64::from(read(deal.facts)) - i64::from(read(alone));
        let amount = i128::from(shown(deal.facts)) - i128::from(shown(alone));
        if count == 0 && amount == 0 {
            continue;
        }
        let cents = i128::from(deal.amount_cents);
        changes.entry(deal.key(by)).or_default().add(Sums {
            count,
            cents: amount * cents,
            weighted: amount * cents * i128::from(deal.probability),
        });
    }
    Ok(changes)
}

/// How many deals the viewer may read (a deals list's `totalCount` without a filter), from
/// [`summed`].
pub async fn readable_deals_count(deps: &Deps, viewer: &Viewer) -> ApiResult<u64> {
    let groups = summed(
        deps,
        viewer,
        &DealSet::everything(),
        Summary::Stages(&DealStage::ALL),
        &[],
    )
    .await?;
    Ok(groups
        .values()
        .map(|sums| u64::try_from(sums.count).unwrap_or(0))
        .sum())
}

/// [`stage_totals`] from [`summed`].
async fn summed_stage_totals(
    deps: &Deps,
    viewer: &Viewer,
    filter: &DealSet,
    stages: &[DealStage],
) -> ApiResult<Vec<StageTotal>> {
    let groups = summed(deps, viewer, filter, Summary::Stages(stages), &[By::Stage]).await?;
    Ok(stages
        .iter()
        .map(|stage| {
            let key = vec![Key::Text(stage.to_value())];
            groups
                .get(&key)
                .map_or(StageTotal::zero(*stage), |sums| StageTotal {
                    stage: *stage,
                    count: u64::try_from(sums.count).unwrap_or(0),
                    amount_cents: sums.cents,
                    weighted_cent_percent: sums.weighted,
                })
        })
        .collect())
}

/// Won revenue (visible amounts, by `actual_close_date`) of the reference month and the
/// month before.
pub async fn revenue(
    deps: &Deps,
    viewer: &Viewer,
    filter: &DealSet,
    period: &Period,
) -> ApiResult<Revenue> {
    let this_month = period.this_month();
    let last_month = period.last_month();
    let months = won_by_month(deps, viewer, filter, last_month, period.next_month()).await?;
    let of = |month: NaiveDate| {
        months
            .get(&month.format("%Y-%m").to_string())
            .copied()
            .unwrap_or((0, 0))
    };
    let ((this_n, this_cents), (last_n, last_cents)) = (of(this_month), of(last_month));
    Ok(Revenue {
        this_month,
        last_month,
        this_month_cents: this_cents,
        last_month_cents: last_cents,
        this_month_deals: this_n,
        last_month_deals: last_n,
    })
}

/// Won revenue per calendar month of the period (oldest first, every month present), by
/// `actual_close_date`.
pub async fn revenue_by_month(
    deps: &Deps,
    viewer: &Viewer,
    filter: &DealSet,
    period: &Period,
) -> ApiResult<Vec<MonthTotal>> {
    let starts = period.month_starts();
    let first = starts
        .first()
        .copied()
        .unwrap_or_else(|| period.this_month());
    let by_key = won_by_month(deps, viewer, filter, first, period.next_month()).await?;
    Ok(starts
        .into_iter()
        .map(|month| {
            let (deals, amount_cents) = by_key
                .get(&month.format("%Y-%m").to_string())
                .copied()
                .unwrap_or((0, 0));
            MonthTotal {
                month,
                deals,
                amount_cents,
            }
        })
        .collect())
}

/// Readable won deals and their visible amounts per `YYYY-MM` of `actual_close_date`, for
/// deals closed from `from` to before `until` (first days of months). From
/// `deal_won_months` when the set allows ([`summed`]); otherwise one `GROUP BY month`
/// statement over the readable deals.
async fn won_by_month(
    deps: &Deps,
    viewer: &Viewer,
    filter: &DealSet,
    from: NaiveDate,
    until: NaiveDate,
) -> ApiResult<HashMap<String, (u64, i128)>> {
    let summary = Summary::WonMonths { from, until };
    let mut by_key: HashMap<String, (u64, i128)> = HashMap::new();
    if filter.1 == Summed::Yes {
        for (key, sums) in summed(deps, viewer, filter, summary, &[By::Month]).await? {
            if let Some(Key::Text(month)) = key.first() {
                let count = u64::try_from(sums.count).unwrap_or(0);
                by_key.insert(month.clone(), (count, sums.cents));
            }
        }
        return Ok(by_key);
    }
    let key = close_month_key(deps.db.get_database_backend());
    let mut select = readable_deals(deps, viewer, filter);
    select
        .cond_where(summary.on_deals())
        .expr_as(key.clone(), Alias::new("month"))
        .expr_as(count_all(), Alias::new("n"));
    visible_cents(deps, viewer).select(&mut select, "cents");
    select.add_group_by([key]);
    for row in deps.db.query_all(&select).await? {
        let month: Option<String> = row.try_get("", "month")?;
        if let Some(month) = month {
            by_key.insert(month, (count(&row, "n")?, read_sum(&row, "cents")?));
        }
    }
    Ok(by_key)
}

/// Won and lost readable deals (all time).
pub async fn conversion(deps: &Deps, viewer: &Viewer, filter: &DealSet) -> ApiResult<Conversion> {
    let totals = stage_totals(
        deps,
        viewer,
        filter,
        &[DealStage::ClosedWon, DealStage::ClosedLost],
    )
    .await?;
    let of = |stage| {
        totals
            .iter()
            .find(|t| t.stage == stage)
            .map_or(0, |t| t.count)
    };
    Ok(Conversion {
        won: of(DealStage::ClosedWon),
        lost: of(DealStage::ClosedLost),
    })
}

/// The companies with the largest visible won amount (all time), at most
/// [`TOP_COMPANIES`]: only companies the viewer may read, only readable deals, only visible
/// amounts; companies whose visible won amount is zero are left out. Ties go by company id.
///
/// One statement: the won deals are summed per company first, so the company's `read`
/// scope is evaluated once per company, not once per deal.
pub async fn top_companies(
    deps: &Deps,
    viewer: &Viewer,
    filter: &DealSet,
) -> ApiResult<Vec<CompanyTotal>> {
    if filter.1 == Summed::Yes {
        return summed_top_companies(deps, viewer, filter).await;
    }
    let company_id = col(deal::Column::CompanyId);
    let visible = visible_cents(deps, viewer);
    let mut per_company = readable_deals(deps, viewer, filter);
    per_company
        .cond_where(stage_is(DealStage::ClosedWon))
        .expr_as(company_id.clone(), Alias::new("company_id"))
        .expr_as(count_all(), Alias::new("n"));
    visible.select(&mut per_company, "cents");
    // Amounts are never negative (`ck_deals_amount_nonneg`), so the sum is positive exactly
    // when one of its parts is.
    per_company.add_group_by([company_id]).cond_having(
        Condition::any()
            .add(sum(visible.hi).gt(0i64))
            .add(sum(visible.lo).gt(0i64)),
    );
    let totals = Alias::new("report_totals");
    let [quotient, remainder] = order_keys(&totals, "cents");
    let companies = Alias::new("companies");
    let select = Query::select()
        .from_subquery(per_company, totals.clone())
        .inner_join(
            companies.clone(),
            Expr::col((companies.clone(), Alias::new("id")))
                .equals((totals.clone(), Alias::new("company_id"))),
        )
        .cond_where(deps.authz.aggregate_scope(viewer, CompanyAction::Read))
        .column((totals.clone(), Alias::new("company_id")))
        .column((companies, Alias::new("name")))
        .column((totals.clone(), Alias::new("n")))
        .column((totals.clone(), Alias::new("cents_hi")))
        .column((totals.clone(), Alias::new("cents_lo")))
        .order_by_expr(quotient, Order::Desc)
        .order_by_expr(remainder, Order::Desc)
        .order_by((totals, Alias::new("company_id")), Order::Asc)
        .limit(TOP_COMPANIES)
        .to_owned();
    deps.db
        .query_all(&select)
        .await?
        .iter()
        .map(|row| {
            Ok(CompanyTotal {
                company_id: row.try_get("", "company_id")?,
                name: row.try_get("", "name")?,
                won_deals: count(row, "n")?,
                won_cents: read_sum(row, "cents")?,
            })
        })
        .collect::<Result<_, DbErr>>()
        .map_err(Into::into)
}

/// [`top_companies`] from the won-companies totals, ranked in the database: the totals
/// statement ([`totals_select`]) ordered by visible won amount (largest first, then by id:
/// UUIDs compare bytewise, in both databases and here), the companies a share correction
/// changes first, at most `limit` rows. Every other company's sum is final there, so the
/// rows read, corrected, are ranked exactly down to the last uncorrected one (every company
/// ranking above it was read). Names are read under the company `read` scope down that
/// ranking until [`TOP_COMPANIES`] readable ones are found; when the ranking runs out first
/// and the statement stopped at its limit, again with a larger limit. A rep's dashboard
/// reads a dozen rows instead of every company their team won business with.
async fn summed_top_companies(
    deps: &Deps,
    viewer: &Viewer,
    filter: &DealSet,
) -> ApiResult<Vec<CompanyTotal>> {
    let by = [By::Company];
    let summary = Summary::WonCompanies;
    let changes = share_corrections(deps, viewer, filter, summary, &by).await?;
    let changed: Vec<Uuid> = changes
        .keys()
        .filter_map(|key| match key.first() {
            Some(Key::Id(id)) => Some(*id),
            _ => None,
        })
        .collect();
    let wanted = usize::try_from(TOP_COMPANIES).unwrap_or(usize::MAX);
    let mut limit = wanted + changed.len();
    loop {
        let totals = Alias::new("report_totals");
        let company = Expr::col((totals.clone(), Alias::new("company_id")));
        let [quotient, remainder] = order_keys(&totals, "cents");
        let mut select = Query::select();
        select.column(Asterisk).from_subquery(
            totals_select(deps, viewer, filter, summary, &by),
            totals.clone(),
        );
        if !changed.is_empty() {
            let first = Condition::all().add(company.clone().is_in(changed.iter().copied()));
            select.order_by_expr(
                Expr::case(first, Expr::val(0)).finally(Expr::val(1)).into(),
                Order::Asc,
            );
        }
        select
            .order_by_expr(quotient, Order::Desc)
            .order_by_expr(remainder, Order::Desc)
            .order_by_expr(company, Order::Asc)
            .limit(u64::try_from(limit).unwrap_or(u64::MAX));
        let rows = deps.db.query_all(&select).await?;
        let stopped = rows.len() >= limit;
        let mut groups: HashMap<Uuid, Sums> = HashMap::with_capacity(rows.len());
        // The last uncorrected company read (rows come in rank order after the changed).
        let mut boundary: Option<(i128, Uuid)> = None;
        for row in &rows {
            let id: Uuid = row.try_get("", "company_id")?;
            let sums = read_sums(row)?;
            if !changed.contains(&id) {
                boundary = Some((sums.cents, id));
            }
            groups.insert(id, sums);
        }
        for (key, change) in &changes {
            if let Some(Key::Id(id)) = key.first() {
                groups.entry(*id).or_default().add(*change);
            }
        }
        let mut ranked: Vec<(Uuid, u64, i128)> = groups
            .into_iter()
            .filter(|(_, sums)| sums.count > 0 && sums.cents > 0)
            .map(|(id, sums)| (id, u64::try_from(sums.count).unwrap_or(0), sums.cents))
            .collect();
        ranked.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        if stopped && let Some((cents, id)) = boundary {
            ranked.retain(|c| c.2 > cents || (c.2 == cents && c.0 <= id));
        }
        let out = readable_companies(deps, viewer, &ranked, wanted).await?;
        if out.len() >= wanted || !stopped {
            return Ok(out);
        }
        limit = limit.saturating_mul(4);
    }
}

/// The first `wanted` companies of `ranked` (id, won deals, won cents) the viewer may read,
/// in order, with their names: read under the company `read` scope, fifty at a time
/// (probed per listed company: the `Set` shape would gather the company of every readable
/// deal first, 10 ms for a rep at 100,000 deals).
async fn readable_companies(
    deps: &Deps,
    viewer: &Viewer,
    ranked: &[(Uuid, u64, i128)],
    wanted: usize,
) -> ApiResult<Vec<CompanyTotal>> {
    let mut out = Vec::new();
    for chunk in ranked.chunks(50) {
        let names: HashMap<Uuid, String> = entity::company::Entity::find()
            .select_only()
            .column(entity::company::Column::Id)
            .column(entity::company::Column::Name)
            .filter(entity::company::Column::Id.is_in(chunk.iter().map(|c| c.0)))
            .filter(deps.authz.scope(viewer, CompanyAction::Read))
            .into_tuple::<(Uuid, String)>()
            .all(&deps.db)
            .await?
            .into_iter()
            .collect();
        for (company_id, won_deals, won_cents) in chunk {
            if let Some(name) = names.get(company_id) {
                out.push(CompanyTotal {
                    company_id: *company_id,
                    name: name.clone(),
                    won_deals: *won_deals,
                    won_cents: *won_cents,
                });
                if out.len() == wanted {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

/// Per owner of a readable deal (all time): deals, won, lost, visible won amount; largest
/// won amount first, then most won, then by owner id.
pub async fn owners(deps: &Deps, viewer: &Viewer, filter: &DealSet) -> ApiResult<Vec<OwnerTotal>> {
    let mut totals = if filter.1 == Summed::Yes {
        summed_owners(deps, viewer, filter).await?
    } else {
        scanned_owners(deps, viewer, filter).await?
    };
    // Every group is returned, so the order is applied here, on the exact sums (UUIDs
    // compare bytewise, as both databases compare them).
    totals.sort_by(|a, b| {
        b.won_cents
            .cmp(&a.won_cents)
            .then(b.won.cmp(&a.won))
            .then(a.owner_id.cmp(&b.owner_id))
    });
    Ok(totals)
}

/// [`owners`] from [`summed`] (per owner and stage).
async fn summed_owners(
    deps: &Deps,
    viewer: &Viewer,
    filter: &DealSet,
) -> ApiResult<Vec<OwnerTotal>> {
    let groups = summed(
        deps,
        viewer,
        filter,
        Summary::Stages(&DealStage::ALL),
        &[By::Owner, By::Stage],
    )
    .await?;
    let mut owners: HashMap<Uuid, OwnerTotal> = HashMap::new();
    let won = Key::Text(DealStage::ClosedWon.to_value());
    let lost = Key::Text(DealStage::ClosedLost.to_value());
    for (key, sums) in groups {
        let [Key::Id(owner_id), stage] = key.as_slice() else {
            continue;
        };
        let total = owners.entry(*owner_id).or_insert(OwnerTotal {
            owner_id: *owner_id,
            deals: 0,
            won: 0,
            lost: 0,
            won_cents: 0,
        });
        let count = u64::try_from(sums.count).unwrap_or(0);
        total.deals += count;
        if *stage == won {
            total.won += count;
            total.won_cents += sums.cents;
        } else if *stage == lost {
            total.lost += count;
        }
    }
    Ok(owners.into_values().collect())
}

/// [`owners`] over every readable deal of `filter`, one statement.
async fn scanned_owners(
    deps: &Deps,
    viewer: &Viewer,
    filter: &DealSet,
) -> ApiResult<Vec<OwnerTotal>> {
    let owner = group_key(deps, viewer, deal::Column::OwnerId);
    let mut select = readable_deals(deps, viewer, filter);
    select
        .expr_as(owner.clone(), Alias::new("owner_id"))
        .expr_as(count_all(), Alias::new("n"))
        .expr_as(
            sum_if(stage_is(DealStage::ClosedWon), Expr::val(1i64)),
            Alias::new("won"),
        )
        .expr_as(
            sum_if(stage_is(DealStage::ClosedLost), Expr::val(1i64)),
            Alias::new("lost"),
        )
        .add_group_by([owner]);
    visible_cents(deps, viewer)
        .when(stage_is(DealStage::ClosedWon))
        .select(&mut select, "won_cents");
    deps.db
        .query_all(&select)
        .await?
        .iter()
        .map(|row| {
            Ok(OwnerTotal {
                owner_id: row.try_get("", "owner_id")?,
                deals: count(row, "n")?,
                won: count(row, "won")?,
                lost: count(row, "lost")?,
                won_cents: read_sum(row, "won_cents")?,
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()
        .map_err(Into::into)
}

/// Readable deals (all stages) per source: every source in declaration order, zeros
/// included, then deals without a source (`None`) if there are any.
pub async fn by_source(
    deps: &Deps,
    viewer: &Viewer,
    filter: &DealSet,
) -> ApiResult<Vec<SourceTotal>> {
    let all = [
        DealSource::Website,
        DealSource::Referral,
        DealSource::ColdCall,
        DealSource::Event,
        DealSource::Other,
    ];
    let mut out: Vec<SourceTotal> = all
        .iter()
        .map(|s| SourceTotal {
            source: Some(*s),
            count: 0,
            amount_cents: 0,
        })
        .collect();
    let groups: Vec<(Option<String>, u64, i128)> = if filter.1 == Summed::Yes {
        summed(
            deps,
            viewer,
            filter,
            Summary::Stages(&DealStage::ALL),
            &[By::Source],
        )
        .await?
        .into_iter()
        .map(|(key, sums)| {
            let source = match key.first() {
                Some(Key::Text(s)) => Some(s.clone()),
                _ => None,
            };
            (source, u64::try_from(sums.count).unwrap_or(0), sums.cents)
        })
        .collect()
    } else {
        let source = col(deal::Column::Source);
        let mut select = readable_deals(deps, viewer, filter);
        select
            .expr_as(source.clone(), Alias::new("source"))
            .expr_as(count_all(), Alias::new("n"));
        visible_cents(deps, viewer).select(&mut select, "cents");
        select.add_group_by([source]);
        deps.db
            .query_all(&select)
            .await?
            .iter()
            .map(|row| {
                Ok((
                    row.try_get("", "source")?,
                    count(row, "n")?,
                    read_sum(row, "cents")?,
                ))
            })
            .collect::<Result<_, DbErr>>()?
    };
    for (raw, n, cents) in groups {
        let source = match raw {
            Some(s) => match DealSource::try_from_value(&s) {
                Ok(s) => Some(s),
                Err(_) => continue,
            },
            None => None,
        };
        let total = SourceTotal {
            source,
            count: n,
            amount_cents: cents,
        };
        match out.iter_mut().find(|t| t.source == source) {
            Some(t) => *t = total,
            None => out.push(total),
        }
    }
    Ok(out)
}

/// Open readable deals expected to close from the reference day through
/// [`Period::closing_until`]: their count and visible amount (one statement) and the first
/// [`CLOSING_SOON_LIMIT`] of them, soonest first.
pub async fn closing_soon(
    deps: &Deps,
    viewer: &Viewer,
    filter: &DealSet,
    period: &Period,
) -> ApiResult<ClosingSoon> {
    let from = period.as_of;
    let to = period.closing_until();
    let expected = col(deal::Column::ExpectedCloseDate);
    let window = DealSet(
        Condition::all()
            .add(filter.0.clone())
            .add(stage_in(&OPEN_STAGES))
            .add(expected.clone().gte(Expr::val(from)))
            .add(expected.lte(Expr::val(to))),
        Summed::No,
        SharedDeals::default(),
    );
    let mut select = readable_deals(deps, viewer, &window);
    select.expr_as(count_all(), Alias::new("n"));
    visible_cents(deps, viewer).select(&mut select, "cents");
    let (n, cents) = match deps.db.query_one(&select).await? {
        Some(r) => (count(&r, "n")?, read_sum(&r, "cents")?),
        None => (0, 0),
    };
    let deals = deal::Entity::readable(deps, viewer)
        .filter(window.0)
        .order_by_asc(col(deal::Column::ExpectedCloseDate))
        .order_by_asc(col(deal::Column::Id))
        .limit(CLOSING_SOON_LIMIT)
        .into_model::<DealRow>()
        .all(&deps.db)
        .await?;
    Ok(ClosingSoon {
        from,
        to,
        count: n,
        amount_cents: cents,
        deals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn weighted_amounts_are_exact() {
        let w = |cp: i128| weighted_amount(cp).unwrap().to_string();
        assert_eq!(w(0), "0.00");
        assert_eq!(w(1_000_000), "100.00");
        assert_eq!(w(308_625), "30.8625");
        assert_eq!(w(12_345 * 10), "12.345");
        assert_eq!(w(12_345 * 100), "123.45");
        // 3,000 deals at the maximum amount, won (probability 100): past `i64`.
        let big = 3_000 * i128::from(money::MAX_AMOUNT_CENTS) * 100;
        assert_eq!(w(big), "2999999999999970.00");
        assert!(
            weighted_amount(i128::MAX).is_err(),
            "refused, not saturated"
        );
    }

    #[test]
    fn percents_round_half_away_from_zero() {
        let p = |part: i128, whole: i128| percent(part, whole).unwrap();
        assert_eq!(p(1, 0), None);
        assert_eq!(p(1, 2).unwrap().to_string(), "50.00");
        assert_eq!(p(-3, 2).unwrap().to_string(), "-150.00");
        assert_eq!(p(2, 3).unwrap().to_string(), "66.67");
        assert_eq!(p(0, 3).unwrap().to_string(), "0.00");
        assert_eq!(p(1, 3), Some(d("33.33")));
        assert_eq!(p(2, 3), Some(d("66.67")));
        assert_eq!(p(1, 8), Some(d("12.50")));
        assert_eq!(p(-1, 8), Some(d("-12.50")));
        assert_eq!(p(1, 80_000), Some(d("0.00")));
        assert_eq!(p(-1, 16_000), Some(d("-0.01")));
        assert_eq!(p(1, -16_000), Some(d("-0.01")));
        assert_eq!(p(-1, -16_000), Some(d("0.01")));
        assert_eq!(p(1, 20_000), Some(d("0.01")), "0.005 % rounds up");
        assert_eq!(p(1, 20_001), Some(d("0.00")));
        // Sums past `i64` are exact: 10^20 + 1 cents over 10^20.
        let e20 = 10i128.pow(20);
        assert_eq!(p(e20 + 1, e20), Some(d("100.00")));
        assert_eq!(p(3 * e20, 2 * e20), Some(d("150.00")));
        assert!(percent(i128::MAX / 2, 1).is_err(), "refused, not saturated");
        assert!(
            percent(10i128.pow(26), 1).is_err(),
            "past the Decimal range"
        );
    }

    #[test]
    fn periods_cover_whole_months() {
        let as_of = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
        let p = Period::new(as_of, 12, 7).unwrap();
        assert_eq!(p.this_month(), NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
        assert_eq!(p.last_month(), NaiveDate::from_ymd_opt(2026, 2, 1).unwrap());
        assert_eq!(p.next_month(), NaiveDate::from_ymd_opt(2026, 4, 1).unwrap());
        let starts = p.month_starts();
        assert_eq!(starts.len(), 12);
        assert_eq!(starts[0], NaiveDate::from_ymd_opt(2025, 4, 1).unwrap());
        assert_eq!(starts[11], p.this_month());
        assert_eq!(
            p.closing_until(),
            NaiveDate::from_ymd_opt(2026, 4, 7).unwrap()
        );
        assert!(Period::new(as_of, 0, 7).is_err());
        assert!(Period::new(as_of, 12, 0).is_err());
        assert!(Period::new(NaiveDate::MIN, 12, 7).is_err());
    }
}
