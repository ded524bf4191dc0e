//! Activities: the `Activity` type, its filter and order inputs, `activities` / `activity`,
//! and `createActivity`, `updateActivity`, `completeActivity`, `deleteActivity`.

mod filter;
mod mutation;

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::activity;
use uuid::Uuid;

use crate::authz::ActivityAction;
use crate::graphql::enums::ActivityType;
use crate::graphql::record::record_node;
use crate::service::activity::ActivityRow;

pub use crate::graphql::lists::{ActivityConnection, ActivityEdge, ActivityQuery};
pub use filter::{ActivityFilter, ActivityOrder, ActivityOrderField};
pub use mutation::*;

record_node!(
    /// A call, email, meeting, note or task, optionally about a deal, company and/or contact.
    Activity,
    ActivityRow,
    activity::Model,
    ActivityAction
);

fn id_of(id: Uuid) -> ID {
    ID(id.to_string())
}

/// What the viewer may do with an activity, as decided by the policy.
#[derive(SimpleObject)]
pub struct ActivityViewerCan {
    /// Edit the activity.
    update: bool,
    /// Delete the activity.
    delete: bool,
    /// Mark the activity completed (or reopen it).
    complete: bool,
}

/// A call, email, meeting, note or task, optionally about a deal, company and/or contact.
#[Object]
impl Activity {
    /// Stable identifier.
    pub(crate) async fn id(&self) -> ID {
        id_of(self.model().id)
    }
    /// What kind of activity.
    #[graphql(name = "type")]
    async fn kind(&self) -> ActivityType {
        self.model().kind.into()
    }
    /// Short summary (at most 200 characters).
    async fn subject(&self) -> &str {
        &self.model().subject
    }
    /// Free-form details.
    async fn description(&self) -> Option<&str> {
        self.model().description.as_deref()
    }
    /// When it is due, if it has a due time.
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.model().due_at
    }
    /// Whether it is done.
    async fn completed(&self) -> bool {
        self.model().completed
    }
    /// When it was completed; `null` while open.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.model().completed_at
    }
    /// How urgent it is.
    async fn priority(&self) -> crate::graphql::enums::Priority {
        self.model().priority.into()
    }
    /// Pending, in progress or completed (`COMPLETED` exactly when `completed`).
    async fn status(&self) -> crate::graphql::enums::ActivityStatus {
        self.model().status.into()
    }
    /// ID of the company it is about, if any.
    async fn company_id(&self) -> Option<ID> {
        self.model().company_id.map(id_of)
    }
    /// ID of the contact it is about, if any.
    async fn contact_id(&self) -> Option<ID> {
        self.model().contact_id.map(id_of)
    }
    /// ID of the deal it is about, if any.
    async fn deal_id(&self) -> Option<ID> {
        self.model().deal_id.map(id_of)
    }
    /// ID of the user who logged it.
    async fn created_by_id(&self) -> ID {
        id_of(self.model().created_by)
    }
    /// ID of the user who should do it, if anyone.
    async fn assigned_to_id(&self) -> Option<ID> {
        self.model().assigned_to.map(id_of)
    }
    /// Who changed what in this activity and when, oldest first: every create, change and
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
    /// When the activity was logged.
    async fn created_at(&self) -> DateTime<Utc> {
        self.model().created_at
    }
    /// When the activity last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.model().updated_at
    }
    /// The deal, if linked and readable.
    async fn deal(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::deal::Deal>> {
        let Some(id) = self.row.model.deal_id else {
            return Ok(None);
        };
        Ok(
            crate::graphql::loaders::by_id::<entity::deal::Entity>(ctx, id)
                .await?
                .map(|r| crate::graphql::deal::Deal::new(r, &self.viewer)),
        )
    }
    /// The company, if linked and readable.
    async fn company(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::company::Company>> {
        let Some(id) = self.row.model.company_id else {
            return Ok(None);
        };
        Ok(
            crate::graphql::loaders::by_id::<entity::company::Entity>(ctx, id)
                .await?
                .map(|r| crate::graphql::company::Company::new(r, &self.viewer)),
        )
    }
    /// The contact, if linked and readable.
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::contact::Contact>> {
        let Some(id) = self.row.model.contact_id else {
            return Ok(None);
        };
        Ok(
            crate::graphql::loaders::by_id::<entity::contact::Entity>(ctx, id)
                .await?
                .map(|r| crate::graphql::contact::Contact::new(r, &self.viewer)),
        )
    }
    /// Who created it, if visible in the directory.
    async fn creator(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::User>> {
        crate::graphql::loaders::user(ctx, self.row.model.created_by).await
    }
    /// Who it is assigned to, if anyone and visible in the directory.
    async fn assignee(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::User>> {
        match self.row.model.assigned_to {
            Some(id) => crate::graphql::loaders::user(ctx, id).await,
            None => Ok(None),
        }
    }
    /// Files attached to this activity, newest first (add one with `uploadAttachment`,
    /// download one with `GET downloadUrl`). Whoever may read the activity sees them all.
    async fn attachments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (default 25, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Attachments after this cursor.")] after: Option<String>,
    ) -> Result<crate::graphql::attachment::AttachmentConnection> {
        let target = crate::service::attachment::Target::Activity(self.model().id);
        crate::graphql::attachment::of(ctx, target, first, after).await
    }
    /// What the viewer may do with this activity.
    async fn viewer_can(&self, ctx: &Context<'_>) -> ActivityViewerCan {
        ActivityViewerCan {
            update: self.can(ctx, ActivityAction::Update),
            delete: self.can(ctx, ActivityAction::Delete),
            complete: self.can(ctx, ActivityAction::Complete),
        }
    }
}
