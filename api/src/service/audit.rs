//! Reading events: the audit log (for whoever the policy lets read it) and each record's
//! history (for whoever may read the record, guarded fields redacted by the policy), and
//! the retention purge.
//!
//! Readers page by `(txid, position)` and never read past the **horizon**: on PostgreSQL
//! the oldest transaction of this database still in progress. Positions come from an
//! identity column, so two writers can commit in the other order than they drew their
//! positions; a reader that had moved past the later one would never see the earlier one.
//! Below the horizon every transaction has ended, so a page never has a hole that fills in
//! later (`tests/api/audit.rs` commits two transactions out of order to show it). On SQLite
//! writers are serialized and positions are commit order: there is no horizon, and readers
//! page by `position` alone.

use chrono::{DateTime, Duration, Utc};
use entity::{event, schedule_run};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
    Select, Statement,
};
use uuid::Uuid;

use crate::authz::{Action, AuditLogAction, DealAction, FactMask, Kind, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::service::events::{AuditAction, Change, RecordKind};
use crate::service::filter::Scalar;
use crate::service::list::{Page, PageArgs, SortKey, fetch_page};
use crate::service::{Deps, require_role_permission};

/// What the audit log is narrowed to (every part optional, all must hold).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Events by this actor.
    pub actor_id: Option<Uuid>,
    /// Events of this action.
    pub action: Option<AuditAction>,
    /// Events about records of this kind.
    pub kind: Option<RecordKind>,
    /// Events about this record.
    pub record_id: Option<Uuid>,
    /// At or after this time.
    pub at_gte: Option<DateTime<Utc>>,
    /// Before this time.
    pub at_lt: Option<DateTime<Utc>>,
}

impl AuditFilter {
    fn apply(&self, mut select: Select<event::Entity>) -> Select<event::Entity> {
        if let Some(a) = self.actor_id {
            select = select.filter(event::Column::ActorId.eq(a));
        }
        if let Some(a) = self.action {
            select = select.filter(event::Column::Action.eq(a));
        }
        if let Some(k) = self.kind {
            select = select.filter(event::Column::Kind.eq(k));
        }
        if let Some(r) = self.record_id {
            select = select.filter(event::Column::RecordId.eq(r));
        }
        if let Some(t) = self.at_gte {
            select = select.filter(event::Column::At.gte(t));
        }
        if let Some(t) = self.at_lt {
            select = select.filter(event::Column::At.lt(t));
        }
        select
    }
}

/// One changed field as a viewer sees it.
#[derive(Debug, Clone)]
pub struct ShownChange {
    /// The field.
    pub field: String,
    /// The value before (`null` when redacted).
    pub from: serde_json::Value,
    /// The value after (`null` when redacted).
    pub to: serde_json::Value,
    /// The viewer may not read this field of the record: values withheld.
    pub redacted: bool,
}

/// An event as a viewer sees it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The event row.
    pub event: event::Model,
    /// Its changes, redacted for the viewer.
    pub changes: Vec<ShownChange>,
    /// Whether the viewer reads the whole log (request id and client address are shown
    /// only then).
    pub full: bool,
}

/// The reading order: transaction, then position within it, on PostgreSQL; position alone
/// on SQLite, where `txid` is always 0 and positions are commit order (the table's rowid,
/// so the unfiltered log needs no index of its own, and each filter's index is
/// `(column, position)`: migration `m20261201_000010_events_indexes`). Neither is ever
/// NULL, which lets an index serve the order on SQLite too.
fn order(backend: DbBackend) -> Vec<SortKey> {
    let position = SortKey::column(event::Column::Position, false).not_null();
    if backend == DbBackend::Postgres {
        vec![
            SortKey::column(event::Column::Txid, false).not_null(),
            position,
        ]
    } else {
        vec![position]
    }
}

/// `select` in reading order ([`order`]), or backwards.
pub(crate) fn in_reading_order(
    backend: DbBackend,
    select: Select<event::Entity>,
    desc: bool,
) -> Select<event::Entity> {
    use sea_orm::QueryOrder;
    use sea_orm::sea_query::Order;
    let dir = || if desc { Order::Desc } else { Order::Asc };
    let select = if backend == DbBackend::Postgres {
        select.order_by(event::Column::Txid, dir())
    } else {
        select
    };
    select.order_by(event::Column::Position, dir())
}

/// The events after `(txid, position)` in reading order.
pub(crate) fn after(backend: DbBackend, (txid, position): (i64, i64)) -> sea_orm::Condition {
    if backend == DbBackend::Postgres {
        sea_orm::Condition::any()
            .add(event::Column::Txid.gt(txid))
            .add(
                sea_orm::Condition::all()
                    .add(event::Column::Txid.eq(txid))
                    .add(event::Column::Position.gt(position)),
            )
    } else {
        sea_orm::Condition::all().add(event::Column::Position.gt(position))
    }
}

/// An event's cursor values, in [`order`]'s keys.
fn cursor_of(backend: DbBackend, e: &event::Model) -> Vec<Scalar> {
    if backend == DbBackend::Postgres {
        vec![Scalar::Int(e.txid), Scalar::Int(e.position)]
    } else {
        vec![Scalar::Int(e.position)]
    }
}

/// The oldest transaction id of this database still in progress (or, with none, the next
/// one to be assigned): readers stay below it. `None` on SQLite.
pub async fn horizon(db: &impl ConnectionTrait) -> ApiResult<Option<i64>> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
    // `pg_stat_activity` gives 32-bit transaction ids; they are matched to the full ids of
    // the statement's snapshot. A transaction that got its id after the snapshot was taken
    // has one at or above the snapshot's `xmax`, which bounds the horizon as well. This is a
    // statement of its own: the events are read with a later snapshot, which sees every
    // transaction below the horizon ended.
    let sql = "SELECT LEAST(
        pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
        (SELECT min(x::text::bigint) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
         WHERE x::text::bigint % 4294967296 IN (
             SELECT backend_xid::text::bigint FROM pg_stat_activity
             WHERE datname = current_database() AND backend_xid IS NOT NULL))
    ) AS horizon";
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .ok_or_else(|| ApiError::internal("event horizon", "no row"))?;
    Ok(Some(row.try_get("", "horizon")?))
}

/// Events below the horizon.
pub(crate) async fn readable_events(db: &impl ConnectionTrait) -> ApiResult<Select<event::Entity>> {
    let select = event::Entity::find();
    Ok(match horizon(db).await? {
        Some(h) => select.filter(event::Column::Txid.lt(h)),
        None => select,
    })
}

/// A page of events matching `select`'s filters, in reading order.
async fn page_of(
    deps: &Deps,
    filter: impl FnOnce(Select<event::Entity>) -> Select<event::Entity>,
    page: &PageArgs,
) -> ApiResult<Page<event::Model>> {
    let select = filter(readable_events(&deps.db).await?);
    let backend = deps.db.get_database_backend();
    fetch_page(
        &deps.db,
        select,
        &order(backend),
        page,
        |e: &event::Model| cursor_of(backend, e),
    )
    .await
}

/// A page of the audit log. Reading it is the policy's `read` on `AuditLog` (decided by
/// role); whoever may read it sees every value.
pub async fn log(
    deps: &Deps,
    viewer: &Viewer,
    filter: &AuditFilter,
    page: &PageArgs,
) -> ApiResult<Page<Entry>> {
    require_role_permission(deps, viewer, AuditLogAction::Read)?;
    let rows = page_of(deps, |s| filter.apply(s), page).await?;
    Ok(map_page(rows, |event| {
        let changes = changes_of(&event)
            .into_iter()
            .map(|c| shown(c, false))
            .collect();
        Entry {
            event,
            changes,
            full: true,
        }
    }))
}

/// How many events of the audit log match `filter`.
pub async fn count(deps: &Deps, viewer: &Viewer, filter: &AuditFilter) -> ApiResult<u64> {
    require_role_permission(deps, viewer, AuditLogAction::Read)?;
    let select = filter.apply(readable_events(&deps.db).await?);
    Ok(select.count(&deps.db).await?)
}

/// The history of record `id` of policy kind `kind`, which the caller has checked the
/// viewer may read, `facts` being the record's facts relative to the viewer: each field
/// the policy does not let them read (`read:<field>` on the kind) is redacted.
pub async fn history(
    deps: &Deps,
    viewer: &Viewer,
    kind: Kind,
    id: Uuid,
    facts: FactMask,
    page: &PageArgs,
) -> ApiResult<Page<Entry>> {
    let Some(record_kind) = crate::service::events::record_kind(kind) else {
        return Err(ApiError::internal("history", "not a record kind"));
    };
    let rows = page_of(
        deps,
        |s| {
            s.filter(event::Column::RecordId.eq(id))
                .filter(event::Column::Kind.eq(record_kind))
        },
        page,
    )
    .await?;
    let full = deps
        .authz
        .allowed_without_facts(viewer.role, AuditLogAction::Read);
    Ok(map_page(rows, |event| {
        let changes = changes_of(&event)
            .into_iter()
            .map(|c| {
                let hidden = guard(kind, &c.field)
                    .is_some_and(|guard| !deps.authz.decide(viewer.role, guard, facts));
                shown(c, hidden)
            })
            .collect();
        Entry {
            event,
            changes,
            full,
        }
    }))
}

/// The action that decides whether a viewer may read `field` of a record of `kind`: the
/// policy's `read:<field>` where the kind has one (`read:amount` on deals); a deal's shares
/// are listed only to those who may share it, and so are their changes.
pub fn guard(kind: Kind, field: &str) -> Option<Action> {
    match (kind, field) {
        (Kind::Deal, "share") => Some(DealAction::Share.into()),
        _ => Action::named(kind, &format!("read:{field}")),
    }
}

/// How many events the history of record `id` holds.
pub async fn history_count(deps: &Deps, kind: Kind, id: Uuid) -> ApiResult<u64> {
    let Some(record_kind) = crate::service::events::record_kind(kind) else {
        return Ok(0);
    };
    Ok(readable_events(&deps.db)
        .await?
        .filter(event::Column::RecordId.eq(id))
        .filter(event::Column::Kind.eq(record_kind))
        .count(&deps.db)
        .await?)
}

fn map_page<A, B>(page: Page<A>, f: impl Fn(A) -> B) -> Page<B> {
    Page {
        rows: page.rows.into_iter().map(|(c, r)| (c, f(r))).collect(),
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
    }
}

/// An event's stored changes (an unreadable list reads as none, logged).
pub fn changes_of(event: &event::Model) -> Vec<Change> {
    serde_json::from_str(&event.changes).unwrap_or_else(|e| {
        tracing::error!(position = event.position, error = %e, "unreadable event changes");
        Vec::new()
    })
}

fn shown(c: Change, redacted: bool) -> ShownChange {
    if redacted {
        ShownChange {
            field: c.field,
            from: serde_json::Value::Null,
            to: serde_json::Value::Null,
            redacted: true,
        }
    } else {
        ShownChange {
            field: c.field,
            from: c.from,
            to: c.to,
            redacted: false,
        }
    }
}

/// Rows deleted per statement by the purge: small, so a purge never holds locks long.
pub const PURGE_BATCH: u64 = 1000;

/// Deletes events older than the retention period (`CRM_AUDIT_RETENTION_DAYS`) in batches
/// of [`PURGE_BATCH`], each its own statement; returns how many went.
pub async fn purge(deps: &Deps, now: DateTime<Utc>) -> ApiResult<u64> {
    let cutoff = now - Duration::days(i64::from(deps.config.audit_retention_days));
    let mut total = 0;
    loop {
        let batch: Vec<i64> = event::Entity::find()
            .select_only()
            .column(event::Column::Position)
            .filter(event::Column::At.lt(cutoff))
            .limit(PURGE_BATCH)
            .into_tuple()
            .all(&deps.db)
            .await?;
        if batch.is_empty() {
            return Ok(total);
        }
        let res = event::Entity::delete_many()
            .filter(event::Column::Position.is_in(batch))
            .exec(&deps.db)
            .await?;
        total += res.rows_affected;
        tokio::task::yield_now().await;
    }
}

/// The name under which the purge claims its daily run.
const PURGE_JOB: &str = "audit_purge";

/// Claims the run of periodic job `name` for the period ending now: true for exactly one of
/// several instances per period (a conditional update of `schedule_runs`; the first claim
/// ever inserts the row).
pub async fn claim_run(
    db: &impl ConnectionTrait,
    name: &str,
    period: Duration,
    now: DateTime<Utc>,
) -> ApiResult<bool> {
    let claimed = schedule_run::Entity::update_many()
        .col_expr(schedule_run::Column::LastRunAt, Expr::value(now))
        .filter(schedule_run::Column::Name.eq(name))
        .filter(Expr::col(schedule_run::Column::LastRunAt).lte(now - period))
        .exec(db)
        .await?;
    if claimed.rows_affected == 1 {
        return Ok(true);
    }
    let inserted = schedule_run::Entity::insert(schedule_run::ActiveModel {
        name: sea_orm::ActiveValue::Set(name.to_owned()),
        last_run_at: sea_orm::ActiveValue::Set(now),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(db)
    .await?;
    Ok(matches!(inserted, sea_orm::TryInsertResult::Inserted(1)))
}

/// Runs the purge once a day on one instance: every instance wakes hourly and tries to
/// claim the day's run.
pub async fn purge_daily(deps: Deps) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let now = Utc::now();
        match claim_run(&deps.db, PURGE_JOB, Duration::days(1), now).await {
            Ok(true) => {
                match purge(&deps, now).await {
                    Ok(n) => tracing::info!(deleted = n, "audit purge done"),
                    Err(e) => tracing::warn!(error = %e, "audit purge failed"),
                }
                match crate::service::sync::purge(&deps, now).await {
                    Ok(n) => tracing::info!(deleted = n, "unused sync clients purged"),
                    Err(e) => tracing::warn!(error = %e, "sync client purge failed"),
                }
                match crate::service::automation::queue::purge(&deps, now).await {
                    Ok(n) => tracing::info!(deleted = n, "finished automation jobs purged"),
                    Err(e) => tracing::warn!(error = %e, "automation job purge failed"),
                }
                match crate::service::export::purge(&deps, now).await {
                    Ok(n) => tracing::info!(deleted = n, "expired exports purged"),
                    Err(e) => tracing::warn!(error = %e, "export purge failed"),
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "audit purge: could not claim the run"),
        }
    }
}
