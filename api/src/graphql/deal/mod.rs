//! Deals: the `Deal` type and `deals` / `deal`; the list's inputs are in [`filter`], the
//! changes in [`mutation`].

mod filter;
mod mutation;

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::deal;

use crate::authz::{DealAction, Kind};
use crate::graphql::User;
use crate::graphql::activity::ActivityConnection;
use crate::graphql::enums::{DealSource, DealStage, Priority};
use crate::graphql::loaders::{self, Parent};
use crate::graphql::record::record_node;
use crate::graphql::scalars::{Date, Decimal};
use crate::service::deal::DealRow;
use crate::service::money::from_cents;

pub use crate::graphql::lists::{DealConnection, DealEdge, DealQuery};
pub use filter::{DealFilter, DealOrder, DealOrderField};
pub use mutation::{CreateDealInput, DealMutation, DealShare, UpdateDealInput};

record_node!(
    /// A sales opportunity with a company.
    Deal,
    DealRow,
    deal::Model,
    DealAction
);

/// What the viewer may do with a deal, as decided by the policy.
#[derive(SimpleObject)]
pub struct DealViewerCan {
    /// Edit the deal.
    update: bool,
    /// Delete the deal.
    delete: bool,
    /// Give the deal to another owner.
    reassign: bool,
    /// Share the deal with other users.
    share: bool,
    /// See the amount.
    read_amount: bool,
    /// Change the amount.
    update_amount: bool,
}

/// A sales opportunity with a company.
#[Object]
impl Deal {
    /// Stable identifier.
    pub(crate) async fn id(&self) -> ID {
        ID(self.model().id.to_string())
    }
    /// What is being sold.
    async fn title(&self) -> &str {
        &self.model().title
    }
    /// The value, exact; `null` when the viewer may not see it (see `viewerCan.readAmount`).
    async fn amount(&self, ctx: &Context<'_>) -> Option<Decimal> {
        self.can(ctx, DealAction::ReadAmount)
            .then(|| Decimal(from_cents(self.model().amount_cents)))
    }
    /// ISO 4217 currency code of the amount.
    async fn currency(&self) -> &str {
        &self.model().currency
    }
    /// Pipeline stage.
    async fn stage(&self) -> DealStage {
        self.model().stage.into()
    }
    /// Win probability in percent, derived from the stage.
    async fn probability(&self) -> i32 {
        i32::from(self.model().probability)
    }
    /// When the deal is expected to close.
    async fn expected_close_date(&self) -> Option<Date> {
        self.model().expected_close_date.map(Date)
    }
    /// When the deal closed (set when it moves to a closed stage).
    async fn actual_close_date(&self) -> Option<Date> {
        self.model().actual_close_date.map(Date)
    }
    /// Where the deal came from.
    async fn source(&self) -> Option<DealSource> {
        self.model().source.map(Into::into)
    }
    /// How urgent it is.
    async fn priority(&self) -> Priority {
        self.model().priority.into()
    }
    /// Free-form notes.
    async fn notes(&self) -> Option<&str> {
        self.model().notes.as_deref()
    }
    /// ID of the owning sales person.
    async fn owner_id(&self) -> ID {
        ID(self.model().owner_id.to_string())
    }
    /// ID of the company.
    async fn company_id(&self) -> ID {
        ID(self.model().company_id.to_string())
    }
    /// ID of the main contact, if any.
    async fn contact_id(&self) -> Option<ID> {
        self.model().contact_id.map(|c| ID(c.to_string()))
    }
    /// The owning sales person, if visible in the directory.
    async fn owner(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        crate::graphql::loaders::user(ctx, self.model().owner_id).await
    }
    /// The company, if the viewer may read it.
    async fn company(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::company::Company>> {
        let known =
            loaders::linked_to_readable_deal(Kind::Company, self.can(ctx, DealAction::Read));
        Ok(
            loaders::by_id_knowing::<entity::company::Entity>(ctx, self.model().company_id, known)
                .await?
                .map(|r| crate::graphql::company::Company::new(r, &self.viewer)),
        )
    }
    /// The main contact, if set and the viewer may read it.
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::contact::Contact>> {
        let Some(id) = self.model().contact_id else {
            return Ok(None);
        };
        let known =
            loaders::linked_to_readable_deal(Kind::Contact, self.can(ctx, DealAction::Read));
        Ok(
            loaders::by_id_knowing::<entity::contact::Entity>(ctx, id, known)
                .await?
                .map(|r| crate::graphql::contact::Contact::new(r, &self.viewer)),
        )
    }
    /// The deal's activities the viewer may read, soonest due first. To page further, use
    /// `activities(filter: {dealId: {eq: …}}, after: endCursor)`.
    async fn activities(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (default 25, at most 100).")] first: Option<i32>,
    ) -> Result<crate::graphql::activity::ActivityConnection> {
        ActivityConnection::nested::<entity::activity::Entity>(
            ctx,
            Parent::Deal(self.model().id),
            first,
            &self.viewer,
        )
        .await
    }
    /// Who else has access through a share. Listed only for viewers who may share the deal
    /// (`viewerCan.share`); empty for everyone else.
    async fn shares(&self, ctx: &Context<'_>) -> Result<Vec<DealShare>> {
        if !self.can(ctx, DealAction::Share) {
            return Ok(Vec::new());
        }
        Ok(crate::graphql::loaders::shares(ctx, self.model().id)
            .await?
            .into_iter()
            .map(DealShare)
            .collect())
    }
    /// Who changed what in this deal and when, oldest first: every create, change and
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
    /// When the deal was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.model().created_at
    }
    /// When the deal last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.model().updated_at
    }
    /// Files attached to this deal, newest first (add one with `uploadAttachment`,
    /// download one with `GET downloadUrl`). Whoever may read the deal sees them all.
    async fn attachments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (default 25, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Attachments after this cursor.")] after: Option<String>,
    ) -> Result<crate::graphql::attachment::AttachmentConnection> {
        let target = crate::service::attachment::Target::Deal(self.model().id);
        crate::graphql::attachment::of(ctx, target, first, after).await
    }
    /// What the viewer may do with this deal.
    async fn viewer_can(&self, ctx: &Context<'_>) -> DealViewerCan {
        DealViewerCan {
            update: self.can(ctx, DealAction::Update),
            delete: self.can(ctx, DealAction::Delete),
            reassign: self.can(ctx, DealAction::Reassign),
            share: self.can(ctx, DealAction::Share),
            read_amount: self.can(ctx, DealAction::ReadAmount),
            update_amount: self.can(ctx, DealAction::UpdateAmount),
        }
    }
}
