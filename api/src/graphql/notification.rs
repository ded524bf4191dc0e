//! Notifications: `notifications`, `unreadNotificationCount`, `markNotificationsRead`,
//! `markAllNotificationsRead`, and the `Notification` type.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};
use entity::notification;

use crate::authz::Viewer;
use crate::graphql::connection::{Total, connection};
use crate::graphql::enums::NotificationKind;
use crate::graphql::loaders::linked;
use crate::graphql::{actor, deps, gql, parse_id};
use crate::service::list::PageArgs;
use crate::service::notifications;

/// Something a user is told about: a deal assigned or shared to them, moved by someone
/// else, an activity assigned to them.
pub struct Notification {
    model: notification::Model,
    viewer: Viewer,
}

impl crate::graphql::record::FromRow for Notification {
    type Row = notification::Model;
    fn from_row(model: Self::Row, viewer: &Viewer) -> Self {
        Self {
            model,
            viewer: viewer.clone(),
        }
    }
}

/// Something a user is told about: a deal assigned or shared to them, moved by someone
/// else, an activity assigned to them.
#[Object]
impl Notification {
    /// Stable identifier.
    async fn id(&self) -> ID {
        ID(self.model.id.to_string())
    }
    /// What it is about.
    async fn kind(&self) -> NotificationKind {
        self.model.kind.into()
    }
    /// A short headline.
    async fn title(&self) -> &str {
        &self.model.title
    }
    /// One sentence: who did what.
    async fn body(&self) -> &str {
        &self.model.body
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }
    /// When it was marked read (null while unread).
    async fn read_at(&self) -> Option<DateTime<Utc>> {
        self.model.read_at
    }
    /// The deal it is about, if any and still readable.
    async fn deal(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::Deal>> {
        linked::<entity::deal::Entity, _>(ctx, self.model.deal_id, &self.viewer).await
    }
    /// The company it is about, if any and still readable.
    async fn company(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::Company>> {
        linked::<entity::company::Entity, _>(ctx, self.model.company_id, &self.viewer).await
    }
    /// The contact it is about, if any and still readable.
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::Contact>> {
        linked::<entity::contact::Entity, _>(ctx, self.model.contact_id, &self.viewer).await
    }
    /// The activity it is about, if any and still readable.
    async fn activity(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::Activity>> {
        linked::<entity::activity::Entity, _>(ctx, self.model.activity_id, &self.viewer).await
    }
}

connection!(
    NotificationConnection,
    NotificationEdge,
    Notification,
    "A page of the viewer's notifications, newest first.",
    "A notification and its cursor."
);

/// The viewer's notifications.
#[derive(Default)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// The signed-in user's notifications, newest first.
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (default 25, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Notifications after this cursor.")] after: Option<String>,
        #[graphql(desc = "Only those not yet read (default false).")] unread_only: Option<bool>,
    ) -> Result<NotificationConnection> {
        let unread_only = unread_only.unwrap_or(false);
        let viewer = actor(ctx)?.viewer.clone();
        let deps = deps(ctx).clone();
        let page = PageArgs {
            first,
            after,
            ..Default::default()
        };
        let rows = notifications::list(&deps, &viewer, unread_only, &page)
            .await
            .map_err(gql)?;
        let total = if unread_only {
            let count = notifications::unread_count(&deps, &viewer);
            Total::Known(count.await.map_err(gql)?)
        } else {
            Total::Lazy(std::sync::Arc::new(move || {
                let (deps, viewer) = (deps.clone(), viewer.clone());
                Box::pin(async move { notifications::count(&deps, &viewer).await })
            }))
        };
        let viewer = actor(ctx)?.viewer.clone();
        Ok(NotificationConnection::from_page(rows, total, |m| {
            <Notification as crate::graphql::record::FromRow>::from_row(m, &viewer)
        }))
    }

    /// How many of the signed-in user's notifications are unread.
    async fn unread_notification_count(&self, ctx: &Context<'_>) -> Result<u64> {
        let viewer = &actor(ctx)?.viewer;
        notifications::unread_count(deps(ctx), viewer)
            .await
            .map_err(gql)
    }
}

/// Marking notifications read.
#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Marks these notifications of the signed-in user read; returns how many were unread.
    /// Ids of other users' notifications are ignored.
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The notifications to mark.")] ids: Vec<ID>,
    ) -> Result<u64> {
        let viewer = &actor(ctx)?.viewer;
        let ids = ids
            .iter()
            .map(|id| parse_id(id, "ids"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(gql)?;
        notifications::mark_read(deps(ctx), viewer, Some(&ids))
            .await
            .map_err(gql)
    }

    /// Marks every notification of the signed-in user read; returns how many were unread.
    async fn mark_all_notifications_read(&self, ctx: &Context<'_>) -> Result<u64> {
        let viewer = &actor(ctx)?.viewer;
        notifications::mark_read(deps(ctx), viewer, None)
            .await
            .map_err(gql)
    }
}
