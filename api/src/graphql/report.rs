//! Reports: `pipeline` (the Kanban board's column totals) and `dashboard` (its panels).
//!
//! Every figure covers only the deals the viewer may read and sums only the amounts they
//! may read (`service::report` does it in SQL). Dashboard panels are fields, so a client
//! pays only for the panels it asks for.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::Utc;

use crate::authz::Viewer;
use crate::graphql::company::Company;
use crate::graphql::deal::{Deal, DealFilter};
use crate::graphql::enums::{DealSource, DealStage};
use crate::graphql::filter::RecordFilter;
use crate::graphql::scalars::{Date, Decimal};
use crate::graphql::{User, actor, deps, gql};
use crate::service::money::sum_from_cents;
use crate::service::report::{
    self, DEFAULT_CLOSING_DAYS, DEFAULT_MONTHS, Owners, Period, StageTotal, percent,
    weighted_amount,
};

/// Whose deals a report covers, always among the deals the viewer may read.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum OwnerScope {
    /// Deals the viewer owns.
    Me,
    /// Deals owned by the viewer or by a member of one of their teams (their own team and
    /// every team they manage).
    MyTeams,
    /// Every deal the viewer may read (the default).
    #[default]
    All,
}

impl From<OwnerScope> for Owners {
    fn from(o: OwnerScope) -> Self {
        match o {
            OwnerScope::Me => Owners::Mine,
            OwnerScope::MyTeams => Owners::MyTeams,
            OwnerScope::All => Owners::All,
        }
    }
}

/// Totals of one pipeline stage. Counts include every deal the viewer may read; amounts only
/// those whose amount the viewer may read (`Deal.viewerCan.readAmount`), the others count
/// as zero.
#[derive(SimpleObject)]
pub struct PipelineStage {
    /// The stage.
    stage: DealStage,
    /// How many deals are in the stage.
    count: u64,
    /// Sum of their amounts (exact).
    total_amount: Decimal,
    /// Sum of amount × probability ÷ 100 (exact: two decimal places, or up to four when the
    /// product needs them; never rounded).
    weighted_amount: Decimal,
}

impl PipelineStage {
    /// The stage's totals as exact decimals.
    fn new(t: StageTotal) -> Result<Self> {
        Ok(Self {
            stage: t.stage.into(),
            count: t.count,
            total_amount: money(t.amount_cents)?,
            weighted_amount: Decimal(weighted_amount(t.weighted_cent_percent).map_err(gql)?),
        })
    }

    fn all(stages: Vec<StageTotal>) -> Result<Vec<Self>> {
        stages.into_iter().map(Self::new).collect()
    }
}

/// A sum of cents as the `Decimal` scalar (exact; see `service::money::sum_from_cents`).
fn money(cents: i128) -> Result<Decimal> {
    sum_from_cents(cents).map(Decimal).map_err(gql)
}

/// The dates a dashboard is computed for. Every field is optional.
#[derive(InputObject, Default, Clone, Copy)]
pub struct DashboardRange {
    /// The reference day, "today" (default: the current date in UTC). It fixes "this
    /// month" (its calendar month), "last month", the last month of `revenueByMonth`, and
    /// the first day of `closingSoon`.
    pub as_of: Option<Date>,
    /// How many calendar months `revenueByMonth` covers, ending with the reference month
    /// (default 12, at most 60).
    pub months: Option<i32>,
    /// How many days after the reference day `closingSoon` reaches, inclusive (default 7,
    /// at most 366).
    pub closing_within_days: Option<i32>,
}

impl DashboardRange {
    fn period(&self) -> Result<Period, crate::error::ApiError> {
        let as_of = self.as_of.map_or_else(|| Utc::now().date_naive(), |d| d.0);
        // Negative numbers become 0, which the bounds check refuses with the field name.
        let months = self
            .months
            .map_or(DEFAULT_MONTHS, |m| u32::try_from(m).unwrap_or(0));
        let days = self
            .closing_within_days
            .map_or(DEFAULT_CLOSING_DAYS, |d| u32::try_from(d).unwrap_or(0));
        Period::new(as_of, months, days)
    }
}

/// Won revenue of the reference month against the month before.
#[derive(SimpleObject)]
pub struct RevenueComparison {
    /// First day of the reference month.
    this_month_start: Date,
    /// First day of the month before.
    last_month_start: Date,
    /// Amounts of deals won (closed won, by actual close date) in the reference month.
    this_month: Decimal,
    /// Amounts of deals won in the month before.
    last_month: Decimal,
    /// How many deals were won in the reference month.
    this_month_deals: u64,
    /// How many deals were won in the month before.
    last_month_deals: u64,
    /// `thisMonth − lastMonth` (exact).
    change: Decimal,
    /// The change in percent of `lastMonth`, rounded to two decimal places (half away from
    /// zero); `null` when `lastMonth` is zero.
    change_percent: Option<Decimal>,
}

/// Open deals expected to close soon.
pub struct ClosingSoon {
    inner: report::ClosingSoon,
    viewer: Viewer,
}

/// Open deals whose expected close date falls in the window `from`…`to` (inclusive).
#[Object]
impl ClosingSoon {
    /// First day of the window (the reference day).
    async fn from(&self) -> Date {
        Date(self.inner.from)
    }
    /// Last day of the window (inclusive).
    async fn to(&self) -> Date {
        Date(self.inner.to)
    }
    /// How many open deals are expected to close in the window (all of them, also those
    /// beyond the 50 listed).
    async fn total_count(&self) -> u64 {
        self.inner.count
    }
    /// Sum of their amounts.
    async fn total_amount(&self) -> Result<Decimal> {
        money(self.inner.amount_cents)
    }
    /// The first 50 of them, by expected close date, then ID.
    async fn deals(&self) -> Vec<Deal> {
        self.inner
            .deals
            .iter()
            .map(|row| Deal::new(row.clone(), &self.viewer))
            .collect()
    }
}

/// Won against lost deals.
#[derive(SimpleObject)]
pub struct Conversion {
    /// Deals won.
    won: u64,
    /// Deals lost.
    lost: u64,
    /// Deals closed (won + lost).
    closed: u64,
    /// `won ÷ closed` in percent, rounded to two decimal places (half away from zero);
    /// `null` when no deal is closed.
    rate: Option<Decimal>,
}

/// Won revenue of one calendar month.
#[derive(SimpleObject)]
pub struct MonthRevenue {
    /// The month, `YYYY-MM`.
    month: String,
    /// Its first day.
    start: Date,
    /// How many deals were won in it (by actual close date).
    won_deals: u64,
    /// Sum of their amounts.
    revenue: Decimal,
}

/// Won business with one company.
pub struct CompanyRevenue {
    inner: report::CompanyTotal,
    viewer: Viewer,
}

/// Won business with one company.
#[Object]
impl CompanyRevenue {
    /// The company's ID.
    async fn company_id(&self) -> ID {
        ID(self.inner.company_id.to_string())
    }
    /// The company's name.
    async fn name(&self) -> &str {
        &self.inner.name
    }
    /// The company.
    async fn company(&self, ctx: &Context<'_>) -> Result<Option<Company>> {
        Ok(
            crate::graphql::loaders::by_id::<entity::company::Entity>(ctx, self.inner.company_id)
                .await?
                .map(|r| Company::new(r, &self.viewer)),
        )
    }
    /// How many deals were won with it.
    async fn won_deals(&self) -> u64 {
        self.inner.won_deals
    }
    /// Sum of their amounts.
    async fn won_amount(&self) -> Result<Decimal> {
        money(self.inner.won_cents)
    }
}

/// One owner's results.
pub struct RepPerformance(report::OwnerTotal);

/// One deal owner's results (usually a sales rep; managers and admins who own deals are
/// listed too).
#[Object]
impl RepPerformance {
    /// The owner's ID.
    async fn owner_id(&self) -> ID {
        ID(self.0.owner_id.to_string())
    }
    /// The owner, if the directory shows them to the viewer.
    async fn owner(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        crate::graphql::loaders::user(ctx, self.0.owner_id).await
    }
    /// The owner's name, if the directory shows them to the viewer.
    async fn owner_name(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(crate::graphql::loaders::user(ctx, self.0.owner_id)
            .await?
            .map(|u| u.0.name))
    }
    /// How many deals they own (every stage).
    async fn deals(&self) -> u64 {
        self.0.deals
    }
    /// How many of them are still open.
    async fn open(&self) -> u64 {
        self.0.deals.saturating_sub(self.0.won + self.0.lost)
    }
    /// How many they won.
    async fn won(&self) -> u64 {
        self.0.won
    }
    /// How many they lost.
    async fn lost(&self) -> u64 {
        self.0.lost
    }
    /// Sum of the amounts of the deals they won.
    async fn amount_won(&self) -> Result<Decimal> {
        money(self.0.won_cents)
    }
    /// `won ÷ (won + lost)` in percent, rounded to two decimal places (half away from zero);
    /// `null` when none is closed.
    async fn win_rate(&self) -> Result<Option<Decimal>> {
        let (won, closed) = (self.0.won, self.0.won + self.0.lost);
        Ok(percent(won.into(), closed.into())
            .map_err(gql)?
            .map(Decimal))
    }
}

/// Deals from one source.
#[derive(SimpleObject)]
pub struct SourceBreakdown {
    /// The source; `null` for deals without one.
    source: Option<DealSource>,
    /// How many deals (every stage).
    count: u64,
    /// Sum of their amounts.
    amount: Decimal,
}

/// The sales dashboard. Each panel is computed when asked for.
pub struct Dashboard {
    viewer: Viewer,
    period: Period,
    filter: report::DealSet,
}

/// The sales dashboard over the deals the viewer may read: counts include every readable
/// deal, amounts only those the viewer may read (the others count as zero). Panels without a
/// date range (`conversion`, `openDealsByStage`, `topCompanies`, `repPerformance`,
/// `dealsBySource`) cover all time.
#[Object]
impl Dashboard {
    /// The reference day the dashboard is computed for.
    async fn as_of(&self) -> Date {
        Date(self.period.as_of)
    }

    /// Revenue won in the reference month and the month before, with the trend.
    async fn revenue(&self, ctx: &Context<'_>) -> Result<RevenueComparison> {
        let r = report::revenue(deps(ctx), &self.viewer, &self.filter, &self.period)
            .await
            .map_err(gql)?;
        // Both sums are far inside `i128` (see `service::money::SPLIT_CENTS`).
        let change = r.this_month_cents - r.last_month_cents;
        Ok(RevenueComparison {
            this_month_start: Date(r.this_month),
            last_month_start: Date(r.last_month),
            this_month: money(r.this_month_cents)?,
            last_month: money(r.last_month_cents)?,
            this_month_deals: r.this_month_deals,
            last_month_deals: r.last_month_deals,
            change: money(change)?,
            change_percent: percent(change, r.last_month_cents)
                .map_err(gql)?
                .map(Decimal),
        })
    }

    /// Open deals expected to close from the reference day through `closingWithinDays`
    /// (default 7) days later.
    async fn closing_soon(&self, ctx: &Context<'_>) -> Result<ClosingSoon> {
        let inner = report::closing_soon(deps(ctx), &self.viewer, &self.filter, &self.period)
            .await
            .map_err(gql)?;
        Ok(ClosingSoon {
            inner,
            viewer: self.viewer.clone(),
        })
    }

    /// The conversion rate: deals won among deals closed (all time).
    async fn conversion(&self, ctx: &Context<'_>) -> Result<Conversion> {
        let c = report::conversion(deps(ctx), &self.viewer, &self.filter)
            .await
            .map_err(gql)?;
        let closed = c.won + c.lost;
        Ok(Conversion {
            won: c.won,
            lost: c.lost,
            closed,
            rate: percent(c.won.into(), closed.into())
                .map_err(gql)?
                .map(Decimal),
        })
    }

    /// Won revenue per calendar month (by actual close date), oldest first, ending with the
    /// reference month; months without revenue are present with zeros.
    async fn revenue_by_month(&self, ctx: &Context<'_>) -> Result<Vec<MonthRevenue>> {
        let months = report::revenue_by_month(deps(ctx), &self.viewer, &self.filter, &self.period)
            .await
            .map_err(gql)?;
        months
            .into_iter()
            .map(|m| {
                Ok(MonthRevenue {
                    month: m.month.format("%Y-%m").to_string(),
                    start: Date(m.month),
                    won_deals: m.deals,
                    revenue: money(m.amount_cents)?,
                })
            })
            .collect()
    }

    /// Open deals per stage, in pipeline order (the four open stages, zeros included).
    async fn open_deals_by_stage(&self, ctx: &Context<'_>) -> Result<Vec<PipelineStage>> {
        let stages = report::open_by_stage(deps(ctx), &self.viewer, &self.filter)
            .await
            .map_err(gql)?;
        PipelineStage::all(stages)
    }

    /// The ten companies with the largest won amount (all time), largest first, ties by
    /// company ID. Only companies the viewer may read; companies whose won amount is zero
    /// (or entirely hidden from the viewer) are left out.
    async fn top_companies(&self, ctx: &Context<'_>) -> Result<Vec<CompanyRevenue>> {
        let rows = report::top_companies(deps(ctx), &self.viewer, &self.filter)
            .await
            .map_err(gql)?;
        Ok(rows
            .into_iter()
            .map(|inner| CompanyRevenue {
                inner,
                viewer: self.viewer.clone(),
            })
            .collect())
    }

    /// Results per owner of the deals the viewer may read (all time): largest won amount
    /// first, then most deals won, then by owner ID.
    async fn rep_performance(&self, ctx: &Context<'_>) -> Result<Vec<RepPerformance>> {
        let rows = report::owners(deps(ctx), &self.viewer, &self.filter)
            .await
            .map_err(gql)?;
        Ok(rows.into_iter().map(RepPerformance).collect())
    }

    /// Deals per source (every stage, all time): each source in `DealSource` order, zeros
    /// included, then deals without a source (`source: null`) if there are any.
    async fn deals_by_source(&self, ctx: &Context<'_>) -> Result<Vec<SourceBreakdown>> {
        let rows = report::by_source(deps(ctx), &self.viewer, &self.filter)
            .await
            .map_err(gql)?;
        rows.into_iter()
            .map(|t| {
                Ok(SourceBreakdown {
                    source: t.source.map(Into::into),
                    count: t.count,
                    amount: money(t.amount_cents)?,
                })
            })
            .collect()
    }
}

/// Report queries.
#[derive(Default)]
pub struct ReportQuery;

#[Object]
impl ReportQuery {
    /// The pipeline board: per stage, in pipeline order (all six stages, zeros included),
    /// the deals the viewer may read that match `filter`, their amount and their
    /// probability-weighted amount. Amounts the viewer may not read count as zero.
    async fn pipeline(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Conditions the deals must meet (as for `deals`).")] filter: Option<
            DealFilter,
        >,
        #[graphql(desc = "Whose deals (default `ALL`: every deal the viewer may read).")]
        owner: Option<OwnerScope>,
    ) -> Result<Vec<PipelineStage>> {
        let actor = actor(ctx)?;
        let deps = deps(ctx);
        let viewer = &actor.viewer;
        let filter = filter
            .as_ref()
            .map(RecordFilter::to_filter)
            .transpose()
            .map_err(gql)?
            .unwrap_or_default();
        let set = report::DealSet::new(
            deps,
            viewer,
            owner.unwrap_or_default().into(),
            None,
            &filter,
        )
        .map_err(gql)?;
        let stages = report::pipeline(deps, viewer, &set).await.map_err(gql)?;
        PipelineStage::all(stages)
    }

    /// The sales dashboard over the deals the viewer may read.
    async fn dashboard(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The reference day and window sizes (all optional).")] range: Option<
            DashboardRange,
        >,
        #[graphql(desc = "Whose deals (default `ALL`: every deal the viewer may read).")]
        owner: Option<OwnerScope>,
        #[graphql(
            desc = "Only deals in this ISO 4217 currency. Without it, amounts in every currency \
                    are added as they are (no conversion)."
        )]
        currency: Option<String>,
    ) -> Result<Dashboard> {
        let actor = actor(ctx)?;
        let period = range.unwrap_or_default().period().map_err(gql)?;
        let filter = report::DealSet::new(
            deps(ctx),
            &actor.viewer,
            owner.unwrap_or_default().into(),
            currency.as_deref(),
            &Default::default(),
        )
        .map_err(gql)?;
        Ok(Dashboard {
            viewer: actor.viewer.clone(),
            period,
            filter,
        })
    }
}
