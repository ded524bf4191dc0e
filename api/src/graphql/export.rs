//! CSV exports: `exportDeals`, `exportCompanies`, `exportContacts`, `exportActivities`;
//! the file is downloaded with `GET /exports/{id}` and the exporter's bearer token.

use async_graphql::{Context, ID, InputType, Object, Result};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::graphql::activity::{ActivityFilter, ActivityOrder};
use crate::graphql::company::{CompanyFilter, CompanyOrder};
use crate::graphql::contact::{ContactFilter, ContactOrder};
use crate::graphql::deal::{DealFilter, DealOrder};
use crate::graphql::filter::{RecordFilter, RecordOrder};
use crate::graphql::{actor, deps, gql};
use crate::service::export::{self, Exportable};
use crate::service::filter::Field;
use crate::service::record::ListQuery;

/// A finished CSV export.
pub struct CsvExport(entity::export::Model);

/// A finished CSV export: download it with `GET downloadUrl` and your bearer token before
/// `expiresAt` (only you may).
#[Object]
impl CsvExport {
    /// Stable identifier.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Rows in the file (not counting the header).
    async fn row_count(&self) -> i32 {
        self.0.row_count
    }
    /// More rows matched than an export may hold (`CRM_EXPORT_MAX_ROWS`): narrow the
    /// filter, or page with it, to get the rest.
    async fn truncated(&self) -> bool {
        self.0.truncated
    }
    /// Where to download it (`text/csv`, UTF-8), relative to this server.
    async fn download_url(&self) -> String {
        format!("/exports/{}", self.0.id)
    }
    /// Until when it can be downloaded.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
}

/// Runs one export of kind `R`.
async fn run<R, F, O>(
    ctx: &Context<'_>,
    filter: Option<F>,
    search: Option<String>,
    order_by: Option<Vec<O>>,
) -> Result<CsvExport>
where
    R: Exportable,
    R::Column: Field,
    F: RecordFilter<Field = R::Column> + InputType,
    O: RecordOrder<Sort = R::Sort> + InputType,
{
    let viewer = &actor(ctx)?.viewer;
    let described = json!({
        "filter": filter.as_ref().map(|f| f.to_value().into_json().unwrap_or_default()),
        "search": search,
        "orderBy": order_by.as_ref().map(|o| o.to_value().into_json().unwrap_or_default()),
    });
    let query = ListQuery::<R> {
        filter: filter
            .as_ref()
            .map(RecordFilter::to_filter)
            .transpose()
            .map_err(gql)?
            .unwrap_or_default(),
        search,
        order: order_by.unwrap_or_default().iter().map(O::key).collect(),
    };
    export::export::<R>(deps(ctx), viewer, &query, described)
        .await
        .map(CsvExport)
        .map_err(gql)
}

/// CSV exports.
#[derive(Default)]
pub struct ExportMutation;

#[Object]
impl ExportMutation {
    /// Exports deals as CSV: the rows the policy lets you export (a manager's teams', an
    /// admin's all; reps may not export: `FORBIDDEN`) matching the filter, in the list's
    /// order, at most `CRM_EXPORT_MAX_ROWS`; amounts you may not read are empty. At most
    /// `CRM_EXPORT_MAX_PER_DAY` exports a day (`RATE_LIMITED`). Recorded in the audit log.
    async fn export_deals(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Conditions the deals must meet.")] filter: Option<DealFilter>,
        #[graphql(desc = "Text to look for in the title.")] search: Option<String>,
        #[graphql(desc = "Ordering keys (default: newest first).")] order_by: Option<
            Vec<DealOrder>,
        >,
    ) -> Result<CsvExport> {
        run::<entity::deal::Entity, _, _>(ctx, filter, search, order_by).await
    }

    /// Exports companies as CSV (as `exportDeals`).
    async fn export_companies(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Conditions the companies must meet.")] filter: Option<CompanyFilter>,
        #[graphql(desc = "Text to look for in the name or domain.")] search: Option<String>,
        #[graphql(desc = "Ordering keys (default: name).")] order_by: Option<Vec<CompanyOrder>>,
    ) -> Result<CsvExport> {
        run::<entity::company::Entity, _, _>(ctx, filter, search, order_by).await
    }

    /// Exports contacts as CSV (as `exportDeals`).
    async fn export_contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Conditions the contacts must meet.")] filter: Option<ContactFilter>,
        #[graphql(desc = "Text to look for in the name or email.")] search: Option<String>,
        #[graphql(desc = "Ordering keys (default: name).")] order_by: Option<Vec<ContactOrder>>,
    ) -> Result<CsvExport> {
        run::<entity::contact::Entity, _, _>(ctx, filter, search, order_by).await
    }

    /// Exports activities as CSV (as `exportDeals`).
    async fn export_activities(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Conditions the activities must meet.")] filter: Option<ActivityFilter>,
        #[graphql(desc = "Ordering keys (default: due time).")] order_by: Option<
            Vec<ActivityOrder>,
        >,
    ) -> Result<CsvExport> {
        run::<entity::activity::Entity, _, _>(ctx, filter, None, order_by).await
    }
}
