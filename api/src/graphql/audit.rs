//! The audit log (`auditLog`) and record histories (`history` on each record type): events
//! as `AuditEntry` connections. docs/audit.md describes both.

use async_graphql::{Context, ID, InputObject, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::authz::{FactMask, Kind, Viewer};
use crate::graphql::connection::{Total, connection};
use crate::graphql::enums::{AuditAction, RecordKind};
use crate::graphql::{User, actor, deps, gql, parse_opt_id};
use crate::service::audit::{self, AuditFilter, Entry};
use crate::service::list::PageArgs;

/// One recorded change: who did what to which record, and how.
pub struct AuditEntry(pub(crate) Entry);

/// A changed field. Fields the viewer may not read of the record are `redacted`, with null
/// values.
#[derive(SimpleObject)]
pub struct AuditChange {
    /// The field's name in this schema (`amount`, `stage`, `ownerId`, …); `share` is a
    /// deal's share with one user (`{userId, permission}`).
    field: String,
    /// The value before (null when there was none, or redacted). Money is a decimal string,
    /// enums their names in this schema.
    from: Option<Json<serde_json::Value>>,
    /// The value after (null when there is none, or redacted).
    to: Option<Json<serde_json::Value>>,
    /// The viewer may not read this field: values withheld.
    redacted: bool,
}

fn json(v: serde_json::Value) -> Option<Json<serde_json::Value>> {
    (!v.is_null()).then_some(Json(v))
}

/// One recorded change: who did what to which record, and how.
#[Object]
impl AuditEntry {
    /// The entry's id (its position in the log).
    async fn id(&self) -> ID {
        ID(self.0.event.position.to_string())
    }
    /// When it happened.
    async fn at(&self) -> DateTime<Utc> {
        self.0.event.at
    }
    /// Who did it (null for a failed sign-in, a change made by an automation, or when the
    /// directory hides them).
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        match self.0.event.actor_id {
            Some(id) => crate::graphql::loaders::user(ctx, id).await,
            None => Ok(None),
        }
    }
    /// What happened.
    async fn action(&self) -> AuditAction {
        self.0.event.action.into()
    }
    /// The kind of record it happened to.
    async fn kind(&self) -> Option<RecordKind> {
        self.0.event.kind.map(Into::into)
    }
    /// The record it happened to.
    async fn record_id(&self) -> Option<ID> {
        self.0.event.record_id.map(|id| ID(id.to_string()))
    }
    /// The fields that changed, with their values before and after.
    async fn changes(&self) -> Vec<AuditChange> {
        self.0
            .changes
            .iter()
            .map(|c| AuditChange {
                field: c.field.clone(),
                from: json(c.from.clone()),
                to: json(c.to.clone()),
                redacted: c.redacted,
            })
            .collect()
    }
    /// The client's address (shown to readers of the audit log only).
    async fn ip_address(&self) -> Option<&str> {
        self.0
            .full
            .then_some(self.0.event.ip_address.as_deref())
            .flatten()
    }
    /// The automation that made the change (see `automation(id)`; shown to readers of the
    /// audit log only).
    async fn automation_id(&self) -> Option<ID> {
        self.0
            .full
            .then_some(self.0.event.automation_id)
            .flatten()
            .map(|id| ID(id.to_string()))
    }
    /// The request's id, as in the server's logs and the `x-request-id` response header
    /// (shown to readers of the audit log only).
    async fn request_id(&self) -> Option<&str> {
        self.0
            .full
            .then_some(self.0.event.request_id.as_deref())
            .flatten()
    }
}

connection!(
    AuditEntryConnection,
    AuditEntryEdge,
    AuditEntry,
    "A page of audit entries, oldest first.",
    "An audit entry and its cursor."
);

/// A time range: at or after `gte`, before `lt`.
#[derive(InputObject, Default)]
pub struct TimeRange {
    /// At or after.
    gte: Option<DateTime<Utc>>,
    /// Before.
    lt: Option<DateTime<Utc>>,
}

/// What the audit log is narrowed to; every part given must hold.
#[derive(InputObject, Default)]
pub struct AuditLogFilter {
    /// Entries by this user.
    actor_id: Option<ID>,
    /// Entries of this action.
    action: Option<AuditAction>,
    /// Entries about records of this kind.
    kind: Option<RecordKind>,
    /// Entries about this record.
    record_id: Option<ID>,
    /// Entries in this time range.
    at: Option<TimeRange>,
}

impl AuditLogFilter {
    fn to_filter(&self) -> Result<AuditFilter, crate::error::ApiError> {
        let at = self.at.as_ref();
        Ok(AuditFilter {
            actor_id: parse_opt_id(self.actor_id.as_ref(), "filter.actorId")?,
            action: self.action.map(Into::into),
            kind: self.kind.map(Into::into),
            record_id: parse_opt_id(self.record_id.as_ref(), "filter.recordId")?,
            at_gte: at.and_then(|a| a.gte),
            at_lt: at.and_then(|a| a.lt),
        })
    }
}

/// The `auditLog` field.
#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Every recorded change, sign-in and permission change, oldest first (`last: 50` for
    /// the latest). Paging forward with `after` never skips an entry, even one committed
    /// later than entries already read. Only for users the policy lets read the audit log
    /// (administrators); others get `FORBIDDEN`.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Entries after this cursor.")] after: Option<String>,
        #[graphql(desc = "Entries before this cursor.")] before: Option<String>,
        #[graphql(desc = "How many from the start (default 25, at most 100).")] first: Option<i32>,
        #[graphql(desc = "How many from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Narrow the log (by actor, action, kind, record, time).")] filter: Option<
            AuditLogFilter,
        >,
    ) -> Result<AuditEntryConnection> {
        let viewer = actor(ctx)?.viewer.clone();
        let deps = deps(ctx).clone();
        let filter = filter.unwrap_or_default().to_filter().map_err(gql)?;
        let page = PageArgs {
            first,
            after,
            last,
            before,
        };
        let rows = audit::log(&deps, &viewer, &filter, &page)
            .await
            .map_err(gql)?;
        let total = Total::Lazy(std::sync::Arc::new(move || {
            let (deps, viewer, filter) = (deps.clone(), viewer.clone(), filter.clone());
            Box::pin(async move { audit::count(&deps, &viewer, &filter).await })
        }));
        Ok(AuditEntryConnection::from_page(rows, total, AuditEntry))
    }
}

/// The `history` of a record the viewer reads (`facts` relative to them).
pub(crate) async fn history(
    ctx: &Context<'_>,
    viewer: &Viewer,
    kind: Kind,
    id: Uuid,
    facts: FactMask,
    page: PageArgs,
) -> Result<AuditEntryConnection> {
    let deps = deps(ctx).clone();
    let rows = audit::history(&deps, viewer, kind, id, facts, &page)
        .await
        .map_err(gql)?;
    let total = Total::Lazy(std::sync::Arc::new(move || {
        let deps = deps.clone();
        Box::pin(async move { audit::history_count(&deps, kind, id).await })
    }));
    Ok(AuditEntryConnection::from_page(rows, total, AuditEntry))
}
