//! Contacts: the `Contact` type, its filter and order inputs, `contacts` / `contact`, and
//! `createContact` / `updateContact` / `deleteContact`.

mod filter;
mod mutation;

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::contact;

use crate::authz::ContactAction;
use crate::graphql::activity::ActivityConnection;
use crate::graphql::deal::DealConnection;
use crate::graphql::enums::Department;
use crate::graphql::loaders::Parent;
use crate::graphql::record::record_node;
use crate::service::contact::ContactRow;

pub use crate::graphql::lists::{ContactConnection, ContactEdge, ContactQuery};
pub use filter::{ContactFilter, ContactOrder, ContactOrderField};
pub use mutation::*;

record_node!(
    /// A person at a company.
    Contact,
    ContactRow,
    contact::Model,
    ContactAction
);

/// What the viewer may do with a contact, as decided by the policy.
#[derive(SimpleObject)]
pub struct ContactViewerCan {
    /// Edit the contact.
    update: bool,
    /// Delete the contact.
    delete: bool,
    /// Change the notes (everyone who reads a contact sees them).
    update_notes: bool,
}

/// A person at a company.
#[Object]
impl Contact {
    /// Stable identifier.
    pub(crate) async fn id(&self) -> ID {
        ID(self.model().id.to_string())
    }
    /// ID of the company the person works at, if any.
    async fn company_id(&self) -> Option<ID> {
        self.model().company_id.map(|c| ID(c.to_string()))
    }
    /// First name.
    async fn first_name(&self) -> Option<&str> {
        self.model().first_name.as_deref()
    }
    /// Last name.
    async fn last_name(&self) -> Option<&str> {
        self.model().last_name.as_deref()
    }
    /// First and last name, as displayed.
    async fn full_name(&self) -> &str {
        &self.model().full_name
    }
    /// Email address (lowercase), unique.
    async fn email(&self) -> Option<&str> {
        self.model().email.as_deref()
    }
    /// Phone number, E.164.
    async fn phone(&self) -> Option<&str> {
        self.model().phone.as_deref()
    }
    /// Mobile number, E.164.
    async fn mobile(&self) -> Option<&str> {
        self.model().mobile.as_deref()
    }
    /// Job title.
    async fn title(&self) -> Option<&str> {
        self.model().title.as_deref()
    }
    /// Department.
    async fn department(&self) -> Option<Department> {
        self.model().department.map(Into::into)
    }
    /// Whether this is the main contact at the company.
    async fn is_primary(&self) -> bool {
        self.model().is_primary
    }
    /// LinkedIn profile URL.
    async fn linkedin_url(&self) -> Option<&str> {
        self.model().linkedin_url.as_deref()
    }
    /// Free-form notes; only the owner may change them (see `viewerCan.updateNotes`).
    async fn notes(&self) -> Option<&str> {
        self.model().notes.as_deref()
    }
    /// ID of the owning sales person.
    async fn owner_id(&self) -> ID {
        ID(self.model().owner_id.to_string())
    }
    /// Who changed what in this contact and when, oldest first: every create, change and
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
    /// When the contact was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.model().created_at
    }
    /// When the contact last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.model().updated_at
    }
    /// The owning sales person, if visible in the directory.
    async fn owner(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::User>> {
        crate::graphql::loaders::user(ctx, self.model().owner_id).await
    }
    /// The contact's company, if set and the viewer may read it.
    async fn company(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::company::Company>> {
        let Some(id) = self.model().company_id else {
            return Ok(None);
        };
        Ok(
            crate::graphql::loaders::by_id::<entity::company::Entity>(ctx, id)
                .await?
                .map(|r| crate::graphql::company::Company::new(r, self.viewer())),
        )
    }
    /// Deals with this contact as main contact that the viewer may read, newest first.
    async fn deals(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (default 25, at most 100).")] first: Option<i32>,
    ) -> Result<crate::graphql::deal::DealConnection> {
        DealConnection::nested::<entity::deal::Entity>(
            ctx,
            Parent::Contact(self.model().id),
            first,
            &self.viewer,
        )
        .await
    }
    /// The contact's activities the viewer may read, soonest due first.
    async fn activities(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (default 25, at most 100).")] first: Option<i32>,
    ) -> Result<crate::graphql::activity::ActivityConnection> {
        ActivityConnection::nested::<entity::activity::Entity>(
            ctx,
            Parent::Contact(self.model().id),
            first,
            &self.viewer,
        )
        .await
    }
    /// Files attached to this contact, newest first (add one with `uploadAttachment`,
    /// download one with `GET downloadUrl`). Whoever may read the contact sees them all.
    async fn attachments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (default 25, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Attachments after this cursor.")] after: Option<String>,
    ) -> Result<crate::graphql::attachment::AttachmentConnection> {
        let target = crate::service::attachment::Target::Contact(self.model().id);
        crate::graphql::attachment::of(ctx, target, first, after).await
    }
    /// What the viewer may do with this contact.
    async fn viewer_can(&self, ctx: &Context<'_>) -> ContactViewerCan {
        ContactViewerCan {
            update: self.can(ctx, ContactAction::Update),
            delete: self.can(ctx, ContactAction::Delete),
            update_notes: self.can(ctx, ContactAction::UpdateNotes),
        }
    }
}
