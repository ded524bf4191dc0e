//! Offline sync: `syncCursor`, `changes`, and the `RecordChange` entries they (and the
//! `recordChanged` subscription) carry.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::Stream;

use crate::authz::Viewer;
use crate::error::ApiError;
use crate::graphql::enums::RecordKind;
use crate::graphql::record::FromRow;
use crate::graphql::{Activity, Company, Contact, Deal, actor, deps, gql};
use crate::service::sync::{self, Cursor, Op, SyncChange, SyncedRow};

/// What happened to a record, for a client holding a copy.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ChangeOp {
    /// The record as you may read it now: insert or replace your copy.
    Upsert,
    /// Drop your copy: the record was deleted or you may no longer read it.
    Delete,
}

/// One change to apply to a client's copy of the records.
pub struct RecordChange {
    change: SyncChange,
    viewer: Viewer,
}

impl RecordChange {
    pub(crate) fn new(change: SyncChange, viewer: &Viewer) -> Self {
        Self {
            change,
            viewer: viewer.clone(),
        }
    }

    fn row(&self) -> Option<&SyncedRow> {
        self.change.row.as_ref()
    }
}

/// One change to apply to a client's copy of the records: an upsert carries the record as
/// you may read it now (in the field named after its kind), a tombstone only its kind and id.
#[Object]
impl RecordChange {
    /// Upsert or tombstone.
    async fn op(&self) -> ChangeOp {
        match self.change.op {
            Op::Upsert => ChangeOp::Upsert,
            Op::Delete => ChangeOp::Delete,
        }
    }
    /// The record's kind.
    async fn kind(&self) -> RecordKind {
        self.change.kind.into()
    }
    /// The record's id.
    async fn id(&self) -> ID {
        ID(self.change.id.to_string())
    }
    /// When the record last changed (an upsert) or when the tombstone was issued.
    async fn at(&self) -> DateTime<Utc> {
        self.change.at
    }
    /// Come back with this cursor once you have applied this change and the ones before it.
    async fn cursor(&self) -> String {
        self.change.cursor.encode()
    }
    /// The company, for an upsert of a company.
    async fn company(&self) -> Option<Company> {
        match self.row() {
            Some(SyncedRow::Company(r)) => Some(Company::from_row(r.clone(), &self.viewer)),
            _ => None,
        }
    }
    /// The contact, for an upsert of a contact.
    async fn contact(&self) -> Option<Contact> {
        match self.row() {
            Some(SyncedRow::Contact(r)) => Some(Contact::from_row(r.clone(), &self.viewer)),
            _ => None,
        }
    }
    /// The deal, for an upsert of a deal.
    async fn deal(&self) -> Option<Deal> {
        match self.row() {
            Some(SyncedRow::Deal(r)) => Some(Deal::from_row(r.clone(), &self.viewer)),
            _ => None,
        }
    }
    /// The activity, for an upsert of an activity.
    async fn activity(&self) -> Option<Activity> {
        match self.row() {
            Some(SyncedRow::Activity(r)) => Some(Activity::from_row(r.clone(), &self.viewer)),
            _ => None,
        }
    }
}

/// An answer of `changes`.
#[derive(SimpleObject)]
pub struct ChangePage {
    /// The changes, in the order to apply them.
    pub changes: Vec<RecordChange>,
    /// Come back with this cursor once you have applied every change of this page.
    pub cursor: String,
    /// More changes are waiting: ask again now with `cursor`.
    pub has_more: bool,
}

/// The kinds asked for: all four by default; users and teams are not synced.
pub(crate) fn synced_kinds(
    kinds: Option<Vec<RecordKind>>,
) -> Result<Vec<entity::enums::RecordKind>, ApiError> {
    let Some(kinds) = kinds else {
        return Ok(sync::KINDS.to_vec());
    };
    let kinds: Vec<entity::enums::RecordKind> = kinds.into_iter().map(Into::into).collect();
    if kinds.iter().any(|k| !sync::KINDS.contains(k)) {
        return Err(ApiError::bad_input(
            "kinds",
            "only COMPANY, CONTACT, DEAL and ACTIVITY records are synced",
        ));
    }
    Ok(kinds)
}

/// Offline sync.
#[derive(Default)]
pub struct SyncQuery;

#[Object]
impl SyncQuery {
    /// Starts an offline copy: take this cursor *before* listing everything you keep, then
    /// ask `changes(since:)` with it to catch up. Each call starts a new copy (one per
    /// device or tab); a copy unused for longer than the audit retention expires.
    async fn sync_cursor(&self, ctx: &Context<'_>) -> Result<String> {
        let viewer = &actor(ctx)?.viewer;
        sync::start(deps(ctx), viewer, false)
            .await
            .map(|c| c.encode())
            .map_err(gql)
    }

    /// What changed for your copy since `since`: an `UPSERT` for every record you may read
    /// that you do not hold as it is now (with the fields you may read), a `DELETE` for every
    /// record you were given that was deleted or that you may no longer read. Nothing about
    /// records you cannot read. A cursor the server no longer honours answers
    /// `SYNC_CURSOR_EXPIRED`: take a new `syncCursor` and list everything again.
    async fn changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A cursor from `syncCursor` or from a previous answer.")] since: String,
        #[graphql(desc = "Only these kinds (default: all four).")] kinds: Option<Vec<RecordKind>>,
        #[graphql(desc = "At most this many changes (default 500, at most 1000).")] first: Option<
            i32,
        >,
    ) -> Result<ChangePage> {
        let viewer = &actor(ctx)?.viewer;
        let since = Cursor::parse(&since, "since").map_err(gql)?;
        let kinds = synced_kinds(kinds).map_err(gql)?;
        let first = match first {
            None => 500,
            Some(n) if (1..=sync::MAX_FIRST as i32).contains(&n) => n as usize,
            Some(_) => {
                return Err(gql(ApiError::bad_input("first", "must be from 1 to 1000")));
            }
        };
        let page = sync::changes(deps(ctx), viewer, since, &kinds, first)
            .await
            .map_err(gql)?;
        Ok(ChangePage {
            cursor: page.cursor.encode(),
            has_more: page.has_more,
            changes: page
                .changes
                .into_iter()
                .map(|c| RecordChange::new(c, viewer))
                .collect(),
        })
    }
}

/// Live updates over `/graphql/ws`.
#[derive(Default)]
pub struct LiveSubscription;

/// Live updates over `/graphql/ws` (graphql-transport-ws).
#[Subscription(name = "Subscription")]
impl LiveSubscription {
    /// Changes to the records you may read, as they happen, in the shape of `changes`:
    /// an `UPSERT` with the fields you may read now, a `DELETE` for a record you were given
    /// that was deleted or that you may no longer read. Pass `since` (a cursor from
    /// `syncCursor`, `changes` or a change received earlier) to resume after a reconnect:
    /// what you missed arrives first. Without it, you start from what you may read now.
    async fn record_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only these kinds (default: all four).")] kinds: Option<Vec<RecordKind>>,
        #[graphql(desc = "Resume after the change with this cursor.")] since: Option<String>,
    ) -> Result<impl Stream<Item = RecordChange> + use<>> {
        let viewer = actor(ctx)?.viewer.clone();
        let kinds = synced_kinds(kinds).map_err(gql)?;
        let since = since
            .map(|s| Cursor::parse(&s, "since"))
            .transpose()
            .map_err(gql)?;
        let deps = deps(ctx);
        let rx = deps
            .live
            .record_changes(deps, &viewer, kinds, since)
            .await
            .map_err(gql)?;
        Ok(futures_util::stream::unfold(rx, |mut rx| async move {
            let (change, viewer) = rx.recv().await?;
            Some((RecordChange::new(change, &viewer), rx))
        }))
    }

    /// Your new notifications, as they are created.
    async fn notification_added(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = crate::graphql::notification::Notification> + use<>> {
        let viewer = actor(ctx)?.viewer.clone();
        let deps = deps(ctx);
        let rx = deps.live.notifications(deps, &viewer);
        Ok(futures_util::stream::unfold(rx, |mut rx| async move {
            let (note, viewer) = rx.recv().await?;
            let node =
                <crate::graphql::notification::Notification as FromRow>::from_row(note, &viewer);
            Some((node, rx))
        }))
    }
}
