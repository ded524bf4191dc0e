//! Changes as events: every write records what changed as a row of `events`, in the
//! transaction of the change, so an event exists exactly when its change committed. The
//! audit log, record histories — and later live updates, sync and automations — read
//! these rows ([`super::audit`]); nothing keeps a second truth in memory.
//!
//! An event says who (the actor), what (an [`AuditAction`] on a record of a
//! [`RecordKind`]), and how: the changed fields with their old and new values, under their
//! GraphQL names, money as exact decimal strings and enums as their GraphQL names.

use chrono::{DateTime, SecondsFormat, Utc};
use entity::{activity, company, contact, deal, event, team, user};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use uuid::Uuid;

pub use entity::enums::{AuditAction, RecordKind};

use crate::authz::{Kind, Origin, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::service::Deps;

/// One changed field: its GraphQL name, the value before and after (`null` for none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The field's GraphQL name (`amount`, `stage`, `ownerId`, …).
    pub field: String,
    /// The value before (`null` on a create).
    pub from: Json,
    /// The value after (`null` on a delete).
    pub to: Json,
}

impl Change {
    /// `field` went from `from` to `to`.
    pub fn new(field: impl Into<String>, from: Json, to: Json) -> Self {
        Self {
            field: field.into(),
            from,
            to,
        }
    }
}

/// An event about to be written.
#[derive(Debug, Clone)]
pub struct Event {
    /// What happened.
    pub action: AuditAction,
    /// The kind of record it happened to, if any.
    pub kind: Option<RecordKind>,
    /// The record.
    pub record_id: Option<Uuid>,
    /// What changed.
    pub changes: Vec<Change>,
}

impl Event {
    /// `action` on record `id` of `kind`.
    pub fn on(action: AuditAction, kind: RecordKind, id: Uuid, changes: Vec<Change>) -> Self {
        Self {
            action,
            kind: Some(kind),
            record_id: Some(id),
            changes,
        }
    }
}

/// Writes `event` by `actor` into the transaction (or connection) `db`. Call it before the
/// commit: the event and the change are then one. Returns the event's position (`None`
/// when events are not recorded) and wakes this instance's live delivery (other instances
/// are woken by the database at commit).
pub async fn append(
    deps: &Deps,
    db: &impl ConnectionTrait,
    actor: Option<Uuid>,
    origin: &Origin,
    event: Event,
) -> ApiResult<Option<i64>> {
    tracing::info!(
        target: "audit",
        action = ?event.action,
        kind = ?event.kind,
        record_id = ?event.record_id,
        actor_id = ?actor,
        request_id = ?origin.request_id,
        client = ?origin.ip,
        changed = event.changes.len(),
        "event"
    );
    if !deps.config.record_events {
        return Ok(None);
    }
    let changes = serde_json::to_string(&event.changes)
        .map_err(|e| ApiError::internal("encoding an event", e))?;
    let position = event::Entity::insert(event::ActiveModel {
        position: NotSet,
        txid: NotSet,
        at: Set(Utc::now()),
        // A change an automation makes is the automation's, whoever it acted for.
        actor_id: Set(actor.filter(|_| origin.automation.is_none())),
        action: Set(event.action),
        kind: Set(event.kind),
        record_id: Set(event.record_id),
        changes: Set(changes),
        request_id: Set(origin.request_id.clone()),
        ip_address: Set(origin.ip.map(|ip| ip.to_string())),
        automation_id: Set(origin.automation),
    })
    .exec(db)
    .await?
    .last_insert_id;
    deps.live.wake();
    Ok(Some(position))
}

/// Writes `event` by the viewer (the actor of a request).
pub async fn append_by(
    deps: &Deps,
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    event: Event,
) -> ApiResult<Option<i64>> {
    append(deps, db, Some(viewer.user_id), &viewer.origin, event).await
}

/// The record kind of a policy kind that is stored as records.
pub fn record_kind(kind: Kind) -> Option<RecordKind> {
    match kind {
        Kind::Deal => Some(RecordKind::Deal),
        Kind::Company => Some(RecordKind::Company),
        Kind::Contact => Some(RecordKind::Contact),
        Kind::Activity => Some(RecordKind::Activity),
        Kind::User => Some(RecordKind::User),
        Kind::Team => Some(RecordKind::Team),
        Kind::AuditLog | Kind::Export | Kind::Automation => None,
    }
}

/// A stored row whose fields events record.
pub trait Audited: Clone {
    /// The kind of record.
    const KIND: RecordKind;
    /// The recorded fields and their values, always in the same order.
    fn fields(&self) -> Vec<(&'static str, Json)>;
}

/// The fields of a new record (those with a value).
pub fn created<M: Audited>(m: &M) -> Vec<Change> {
    m.fields()
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(f, v)| Change::new(f, Json::Null, v))
        .collect()
}

/// The fields of a deleted record (those that had a value).
pub fn deleted<M: Audited>(m: &M) -> Vec<Change> {
    m.fields()
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(f, v)| Change::new(f, v, Json::Null))
        .collect()
}

/// The fields that differ between `before` and `after`.
pub fn diff<M: Audited>(before: &M, after: &M) -> Vec<Change> {
    before
        .fields()
        .into_iter()
        .zip(after.fields())
        .filter(|((_, a), (_, b))| a != b)
        .map(|((f, a), (_, b))| Change::new(f, a, b))
        .collect()
}

/// A value as a JSON string.
fn text(v: impl ToString) -> Json {
    Json::String(v.to_string())
}

fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Json) -> Json {
    v.map_or(Json::Null, f)
}

fn time(t: DateTime<Utc>) -> Json {
    Json::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// A stored enumeration as its GraphQL name: the stored value in upper snake case
/// (`closed_won` → `CLOSED_WON`, `Technology` → `TECHNOLOGY`); head-count brackets are
/// `SIZE_…` (`1-10` → `SIZE_1_10`, `1000+` → `SIZE_1000_PLUS`). A test compares this with
/// the schema's names for every value.
pub fn enum_name<T: Serialize>(value: &T) -> Json {
    let stored = serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut name = stored
        .replace('+', "_PLUS")
        .replace(['-', ' '], "_")
        .to_uppercase();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name = format!("SIZE_{name}");
    }
    Json::String(name)
}

impl Audited for deal::Model {
    const KIND: RecordKind = RecordKind::Deal;
    fn fields(&self) -> Vec<(&'static str, Json)> {
        vec![
            ("title", text(&self.title)),
            (
                "amount",
                text(crate::service::money::from_cents(self.amount_cents)),
            ),
            ("currency", text(&self.currency)),
            ("stage", enum_name(&self.stage)),
            ("probability", Json::from(self.probability)),
            ("expectedCloseDate", opt(self.expected_close_date, text)),
            ("actualCloseDate", opt(self.actual_close_date, text)),
            ("source", opt(self.source, |s| enum_name(&s))),
            ("priority", enum_name(&self.priority)),
            ("notes", opt(self.notes.as_ref(), text)),
            ("companyId", text(self.company_id)),
            ("contactId", opt(self.contact_id, text)),
            ("ownerId", text(self.owner_id)),
        ]
    }
}

impl Audited for company::Model {
    const KIND: RecordKind = RecordKind::Company;
    fn fields(&self) -> Vec<(&'static str, Json)> {
        vec![
            ("name", text(&self.name)),
            ("domain", opt(self.domain.as_ref(), text)),
            ("industry", opt(self.industry, |v| enum_name(&v))),
            ("size", opt(self.size, |v| enum_name(&v))),
            ("address", opt(self.address.as_ref(), text)),
            ("city", opt(self.city.as_ref(), text)),
            ("state", opt(self.state.as_ref(), text)),
            ("country", opt(self.country.as_ref(), text)),
            ("phone", opt(self.phone.as_ref(), text)),
            ("website", opt(self.website.as_ref(), text)),
            ("ownerId", text(self.owner_id)),
        ]
    }
}

impl Audited for contact::Model {
    const KIND: RecordKind = RecordKind::Contact;
    fn fields(&self) -> Vec<(&'static str, Json)> {
        vec![
            ("firstName", opt(self.first_name.as_ref(), text)),
            ("lastName", opt(self.last_name.as_ref(), text)),
            ("fullName", text(&self.full_name)),
            ("email", opt(self.email.as_ref(), text)),
            ("phone", opt(self.phone.as_ref(), text)),
            ("mobile", opt(self.mobile.as_ref(), text)),
            ("title", opt(self.title.as_ref(), text)),
            ("department", opt(self.department, |v| enum_name(&v))),
            ("isPrimary", Json::Bool(self.is_primary)),
            ("linkedinUrl", opt(self.linkedin_url.as_ref(), text)),
            ("notes", opt(self.notes.as_ref(), text)),
            ("companyId", opt(self.company_id, text)),
            ("ownerId", text(self.owner_id)),
        ]
    }
}

impl Audited for activity::Model {
    const KIND: RecordKind = RecordKind::Activity;
    fn fields(&self) -> Vec<(&'static str, Json)> {
        vec![
            ("type", enum_name(&self.kind)),
            ("subject", text(&self.subject)),
            ("description", opt(self.description.as_ref(), text)),
            ("dueAt", opt(self.due_at, time)),
            ("completed", Json::Bool(self.completed)),
            ("completedAt", opt(self.completed_at, time)),
            ("priority", enum_name(&self.priority)),
            ("status", enum_name(&self.status)),
            ("dealId", opt(self.deal_id, text)),
            ("companyId", opt(self.company_id, text)),
            ("contactId", opt(self.contact_id, text)),
            ("createdById", text(self.created_by)),
            ("assignedToId", opt(self.assigned_to, text)),
        ]
    }
}

/// The fields of a user that grant or take away access: a change of any of them is
/// `PERMISSION_CHANGED`.
pub const USER_PERMISSION_FIELDS: [&str; 4] = ["role", "teamId", "active", "mustChangePassword"];

impl Audited for user::Model {
    const KIND: RecordKind = RecordKind::User;
    /// Never the password hash: a password change is recorded as `password` with no values.
    fn fields(&self) -> Vec<(&'static str, Json)> {
        vec![
            ("email", text(&self.email)),
            ("name", text(&self.name)),
            ("role", enum_name(&self.role)),
            ("teamId", opt(self.team_id, text)),
            ("active", Json::Bool(self.active)),
            ("mustChangePassword", Json::Bool(self.must_change_password)),
        ]
    }
}

impl Audited for team::Model {
    const KIND: RecordKind = RecordKind::Team;
    fn fields(&self) -> Vec<(&'static str, Json)> {
        vec![
            ("name", text(&self.name)),
            ("managerId", opt(self.manager_id, text)),
        ]
    }
}

/// `PERMISSION_CHANGED` when one of `changes` is of a field in `permission_fields` (what
/// grants or takes away access), else `RECORD_UPDATED`.
pub fn update_action(changes: &[Change], permission_fields: &[&str]) -> AuditAction {
    if changes
        .iter()
        .any(|c| permission_fields.contains(&c.field.as_str()))
    {
        AuditAction::PermissionChanged
    } else {
        AuditAction::RecordUpdated
    }
}

/// The change recorded for a new password: that it changed, never a value.
pub fn password_changed() -> Change {
    Change::new("password", Json::Null, Json::Null)
}

/// The links a foreign key clears (`ON DELETE SET NULL`) when their target is deleted:
/// (deleted kind, kind holding the link, its table, its column, its field).
const CLEARED_LINKS: [(RecordKind, RecordKind, &str, &str, &str); 4] = [
    (
        RecordKind::Contact,
        RecordKind::Deal,
        "deals",
        "contact_id",
        "contactId",
    ),
    (
        RecordKind::Contact,
        RecordKind::Activity,
        "activities",
        "contact_id",
        "contactId",
    ),
    (
        RecordKind::Company,
        RecordKind::Contact,
        "contacts",
        "company_id",
        "companyId",
    ),
    (
        RecordKind::Company,
        RecordKind::Activity,
        "activities",
        "company_id",
        "companyId",
    ),
];

/// The events of what deleting record `id` of `kind` does to others, through the foreign
/// keys (read before the delete): a deal takes its activities with it; a contact's or a
/// company's deals, contacts and activities lose their link to it.
pub async fn cascade(
    db: &impl ConnectionTrait,
    kind: RecordKind,
    id: Uuid,
) -> ApiResult<Vec<Event>> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let mut events = Vec::new();
    if kind == RecordKind::Deal {
        for a in activity::Entity::find()
            .filter(activity::Column::DealId.eq(id))
            .all(db)
            .await?
        {
            let changes = deleted(&a);
            events.push(Event::on(
                AuditAction::RecordDeleted,
                RecordKind::Activity,
                a.id,
                changes,
            ));
        }
    }
    for (_, child, table, column, field) in CLEARED_LINKS.iter().filter(|l| l.0 == kind) {
        let select = Query::select()
            .column(Alias::new("id"))
            .from(Alias::new(*table))
            .and_where(Expr::col(Alias::new(*column)).eq(id))
            .to_owned();
        let rows = db
            .query_all_raw(db.get_database_backend().build(&select))
            .await?;
        for row in rows {
            let child_id: Uuid = row.try_get("", "id")?;
            let changes = vec![Change::new(*field, text(id), Json::Null)];
            events.push(Event::on(
                AuditAction::RecordUpdated,
                *child,
                child_id,
                changes,
            ));
        }
    }
    Ok(events)
}
