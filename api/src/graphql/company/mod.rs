//! Companies: the `Company` type, its filter and order inputs, `companies` / `company`, and
//! `createCompany` / `updateCompany` / `deleteCompany`.

mod filter;
mod mutation;

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::company;

use crate::authz::CompanyAction;
use crate::graphql::activity::ActivityConnection;
use crate::graphql::contact::ContactConnection;
use crate::graphql::deal::DealConnection;
use crate::graphql::enums::{CompanySize, Industry};
use crate::graphql::loaders::Parent;
use crate::graphql::record::record_node;
use crate::service::company::CompanyRow;

pub use crate::graphql::lists::{CompanyConnection, CompanyEdge, CompanyQuery};
pub use filter::{CompanyFilter, CompanyOrder, CompanyOrderField};
pub use mutation::*;

record_node!(
    /// An organisation the sales team works with.
    Company,
    CompanyRow,
    company::Model,
    CompanyAction
);

/// What the viewer may do with a company, as decided by the policy.
#[derive(SimpleObject)]
pub struct CompanyViewerCan {
    /// Edit the company.
    update: bool,
    /// Delete the company (refused anyway while it has deals).
    delete: bool,
}

/// An organisation the sales team works with.
#[Object]
impl Company {
    /// Stable identifier.
    pub(crate) async fn id(&self) -> ID {
        ID(self.model().id.to_string())
    }
    /// Name, unique ignoring case.
    async fn name(&self) -> &str {
        &self.model().name
    }
    /// Web domain, lowercase (e.g. `example.com`), unique.
    async fn domain(&self) -> Option<&str> {
        self.model().domain.as_deref()
    }
    /// Industry.
    async fn industry(&self) -> Option<Industry> {
        self.model().industry.map(Into::into)
    }
    /// Head-count bracket.
    async fn size(&self) -> Option<CompanySize> {
        self.model().size.map(Into::into)
    }
    /// Street address.
    async fn address(&self) -> Option<&str> {
        self.model().address.as_deref()
    }
    /// City.
    async fn city(&self) -> Option<&str> {
        self.model().city.as_deref()
    }
    /// State or region.
    async fn state(&self) -> Option<&str> {
        self.model().state.as_deref()
    }
    /// Country.
    async fn country(&self) -> Option<&str> {
        self.model().country.as_deref()
    }
    /// Main phone number, E.164 (e.g. `+14155550100`).
    async fn phone(&self) -> Option<&str> {
        self.model().phone.as_deref()
    }
    /// Website, an http(s) URL.
    async fn website(&self) -> Option<&str> {
        self.model().website.as_deref()
    }
    /// ID of the owning sales person.
    async fn owner_id(&self) -> ID {
        ID(self.model().owner_id.to_string())
    }
    /// Who changed what in this company and when, oldest first: every create, change and
    /// share, with values before and after; fields the viewer may not read are `redacted`.
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (default 25, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Entries after this cursor.")] after: Option<String>,
    ) -> Result<crate::graphql::audit::AuditEntryConnection> {
        self.history_page(ctx, first, after).await
    }
    /// Incremented by every change; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.model().version
    }
    /// When the company was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.model().created_at
    }
    /// When the company last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.model().updated_at
    }
    /// The owning sales person, if visible in the directory.
    async fn owner(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::User>> {
        crate::graphql::loaders::user(ctx, self.model().owner_id).await
    }
    /// The company's contacts the viewer may read, by name. To page further, use
    /// `contacts(filter: {companyId: {eq: …}}, after: endCursor)`.
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (default 25, at most 100).")] first: Option<i32>,
    ) -> Result<crate::graphql::contact::ContactConnection> {
        ContactConnection::nested::<entity::contact::Entity>(
            ctx,
            Parent::Company(self.model().id),
            first,
            &self.viewer,
        )
        .await
    }
    /// The company's deals the viewer may read, newest first. To page further, use
    /// `deals(filter: {companyId: {eq: …}}, after: endCursor)`.
    async fn deals(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (default 25, at most 100).")] first: Option<i32>,
    ) -> Result<crate::graphql::deal::DealConnection> {
        DealConnection::nested::<entity::deal::Entity>(
            ctx,
            Parent::Company(self.model().id),
            first,
            &self.viewer,
        )
        .await
    }
    /// The company's activities the viewer may read, soonest due first. To page further, use
    /// `activities(filter: {companyId: {eq: …}}, after: endCursor)`.
    async fn activities(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (default 25, at most 100).")] first: Option<i32>,
    ) -> Result<crate::graphql::activity::ActivityConnection> {
        ActivityConnection::nested::<entity::activity::Entity>(
            ctx,
            Parent::Company(self.model().id),
            first,
            &self.viewer,
        )
        .await
    }
    /// Files attached to this company, newest first (add one with `uploadAttachment`,
    /// download one with `GET downloadUrl`). Whoever may read the company sees them all.
    async fn attachments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (default 25, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Attachments after this cursor.")] after: Option<String>,
    ) -> Result<crate::graphql::attachment::AttachmentConnection> {
        let target = crate::service::attachment::Target::Company(self.model().id);
        crate::graphql::attachment::of(ctx, target, first, after).await
    }
    /// What the viewer may do with this company.
    async fn viewer_can(&self, ctx: &Context<'_>) -> CompanyViewerCan {
        CompanyViewerCan {
            update: self.can(ctx, CompanyAction::Update),
            delete: self.can(ctx, CompanyAction::Delete),
        }
    }
}
