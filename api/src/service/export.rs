//! CSV exports: who may start one is the policy's `Export` `create`; which rows it holds is
//! the `export` permission on each record (a manager's holds their teams' records, an
//! admin's everything, a rep may not export); fields the exporter may not read are empty.
//! At most `CRM_EXPORT_MAX_ROWS` rows (the list's filter and order pick which), at most
//! `CRM_EXPORT_MAX_PER_DAY` exports per user in any 24 hours (`RATE_LIMITED` past it).
//! RFC 4180 CSV in UTF-8 written by the `csv` crate; a cell that a spreadsheet would run as
//! a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed with
//! `'`. The file is kept in the database for its exporter to download until it expires;
//! each export is an `EXPORT_COMPLETED` event with the filter and the row count.

use chrono::{DateTime, Utc};
use entity::{activity, company, contact, deal, export};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value as Json;
use uuid::Uuid;

use crate::authz::{
    ActivityAction, CompanyAction, ContactAction, DealAction, ExportAction, Viewer,
};
use crate::error::{ApiError, ApiResult};
use crate::service::events::{self, AuditAction, Change, Event, RecordKind, enum_name};
use crate::service::filter::Field;
use crate::service::record::{ListQuery, Record, rows_for};
use crate::service::{Deps, begin_write, deal as deals, money, require_role_permission};

/// A kind that can be exported: its `export` action and its columns.
pub trait Exportable: Record
where
    Self::Column: Field,
{
    /// The policy's `export` action of the kind.
    const EXPORT: Self::Action;
    /// The kind's name in the audit log.
    const RECORD: RecordKind;
    /// The header row.
    const HEADER: &'static [&'static str];
    /// One row's cells, as the viewer may read them (hidden fields empty).
    fn cells(row: &Self::Row, deps: &Deps, viewer: &Viewer) -> Vec<String>;
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// An enum by its GraphQL name (`CLOSED_WON`).
fn name<T: serde::Serialize>(v: &T) -> String {
    enum_name(v).as_str().unwrap_or_default().to_owned()
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339()
}

impl Exportable for deal::Entity {
    const EXPORT: DealAction = DealAction::Export;
    const RECORD: RecordKind = RecordKind::Deal;
    const HEADER: &'static [&'static str] = &[
        "id",
        "title",
        "amount",
        "currency",
        "stage",
        "probability",
        "expectedCloseDate",
        "actualCloseDate",
        "source",
        "priority",
        "companyId",
        "contactId",
        "ownerId",
        "notes",
        "createdAt",
        "updatedAt",
    ];
    fn cells(r: &Self::Row, deps: &Deps, viewer: &Viewer) -> Vec<String> {
        let d = &r.model;
        let amount = deals::can_read_amount(deps, viewer, r.facts)
            .then(|| money::from_cents(d.amount_cents).to_string());
        vec![
            d.id.to_string(),
            d.title.clone(),
            opt(amount),
            d.currency.clone(),
            name(&d.stage),
            d.probability.to_string(),
            opt(d.expected_close_date),
            opt(d.actual_close_date),
            d.source.as_ref().map(name).unwrap_or_default(),
            name(&d.priority),
            d.company_id.to_string(),
            opt(d.contact_id),
            d.owner_id.to_string(),
            d.notes.clone().unwrap_or_default(),
            time(d.created_at),
            time(d.updated_at),
        ]
    }
}

impl Exportable for company::Entity {
    const EXPORT: CompanyAction = CompanyAction::Export;
    const RECORD: RecordKind = RecordKind::Company;
    const HEADER: &'static [&'static str] = &[
        "id",
        "name",
        "domain",
        "industry",
        "size",
        "phone",
        "website",
        "address",
        "city",
        "state",
        "country",
        "ownerId",
        "createdAt",
        "updatedAt",
    ];
    fn cells(r: &Self::Row, _: &Deps, _: &Viewer) -> Vec<String> {
        let c = &r.model;
        vec![
            c.id.to_string(),
            c.name.clone(),
            opt(c.domain.as_ref()),
            c.industry.as_ref().map(name).unwrap_or_default(),
            c.size.as_ref().map(name).unwrap_or_default(),
            opt(c.phone.as_ref()),
            opt(c.website.as_ref()),
            opt(c.address.as_ref()),
            opt(c.city.as_ref()),
            opt(c.state.as_ref()),
            opt(c.country.as_ref()),
            c.owner_id.to_string(),
            time(c.created_at),
            time(c.updated_at),
        ]
    }
}

impl Exportable for contact::Entity {
    const EXPORT: ContactAction = ContactAction::Export;
    const RECORD: RecordKind = RecordKind::Contact;
    const HEADER: &'static [&'static str] = &[
        "id",
        "firstName",
        "lastName",
        "email",
        "phone",
        "mobile",
        "title",
        "department",
        "isPrimary",
        "linkedinUrl",
        "companyId",
        "ownerId",
        "notes",
        "createdAt",
        "updatedAt",
    ];
    fn cells(r: &Self::Row, _: &Deps, _: &Viewer) -> Vec<String> {
        let c = &r.model;
        vec![
            c.id.to_string(),
            opt(c.first_name.as_ref()),
            opt(c.last_name.as_ref()),
            opt(c.email.as_ref()),
            opt(c.phone.as_ref()),
            opt(c.mobile.as_ref()),
            opt(c.title.as_ref()),
            c.department.as_ref().map(name).unwrap_or_default(),
            c.is_primary.to_string(),
            opt(c.linkedin_url.as_ref()),
            opt(c.company_id),
            c.owner_id.to_string(),
            opt(c.notes.as_ref()),
            time(c.created_at),
            time(c.updated_at),
        ]
    }
}

impl Exportable for activity::Entity {
    const EXPORT: ActivityAction = ActivityAction::Export;
    const RECORD: RecordKind = RecordKind::Activity;
    const HEADER: &'static [&'static str] = &[
        "id",
        "type",
        "subject",
        "description",
        "dueAt",
        "status",
        "priority",
        "completedAt",
        "dealId",
        "companyId",
        "contactId",
        "createdById",
        "assignedToId",
        "createdAt",
        "updatedAt",
    ];
    fn cells(r: &Self::Row, _: &Deps, _: &Viewer) -> Vec<String> {
        let a = &r.model;
        vec![
            a.id.to_string(),
            name(&a.kind),
            a.subject.clone(),
            opt(a.description.as_ref()),
            opt(a.due_at.map(time)),
            name(&a.status),
            name(&a.priority),
            opt(a.completed_at.map(time)),
            opt(a.deal_id),
            opt(a.company_id),
            opt(a.contact_id),
            a.created_by.to_string(),
            opt(a.assigned_to),
            time(a.created_at),
            time(a.updated_at),
        ]
    }
}

/// A cell a spreadsheet would run as a formula, made inert with a leading `'`.
pub fn guard(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

/// The CSV text of `rows`.
fn csv_text<R: Exportable>(rows: &[R::Row], deps: &Deps, viewer: &Viewer) -> ApiResult<String>
where
    R::Column: Field,
{
    let broken = |e: csv::Error| ApiError::internal("writing CSV", e);
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(R::HEADER).map_err(broken)?;
    for row in rows {
        w.write_record(R::cells(row, deps, viewer).into_iter().map(guard))
            .map_err(broken)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ApiError::internal("writing CSV", e))?;
    String::from_utf8(bytes).map_err(|e| ApiError::internal("writing CSV", e))
}

/// Exports the rows of kind `R` matching `query` (`described`: the filter as given, for
/// the audit log).
pub async fn export<R: Exportable>(
    deps: &Deps,
    viewer: &Viewer,
    query: &ListQuery<R>,
    described: Json,
) -> ApiResult<export::Model>
where
    R::Column: Field,
{
    require_role_permission(deps, viewer, ExportAction::Create)?;
    let config = &deps.config;
    let now = Utc::now();
    let day_ago = now - chrono::Duration::days(1);
    // The quota is counted and the export written in one write transaction (serialized on
    // SQLite; on PostgreSQL the exporter's row is locked first), so concurrent exports by
    // one user cannot pass it together.
    let txn = begin_write(deps).await?;
    if deps.db.get_database_backend() == sea_orm::DbBackend::Postgres {
        entity::user::Entity::find_by_id(viewer.user_id)
            .lock_exclusive()
            .one(&txn)
            .await?;
    }
    let recent = export::Entity::find()
        .filter(export::Column::UserId.eq(viewer.user_id))
        .filter(export::Column::CreatedAt.gt(day_ago))
        .order_by_asc(export::Column::CreatedAt);
    if recent.clone().count(&txn).await? >= u64::from(config.export_max_per_day) {
        let oldest: Option<DateTime<Utc>> = recent
            .select_only()
            .column(export::Column::CreatedAt)
            .into_tuple()
            .one(&txn)
            .await?;
        let wait = oldest.map_or(3600, |t| {
            (t + chrono::Duration::days(1) - now).num_seconds()
        });
        return Err(ApiError::RateLimited {
            retry_after_secs: wait.max(1) as u64,
        });
    }
    let cap = u64::from(config.export_max_rows);
    let mut rows = rows_for::<R>(deps, viewer, R::EXPORT, query, cap + 1).await?;
    let truncated = rows.len() as u64 > cap;
    rows.truncate(cap as usize);
    let content = csv_text::<R>(&rows, deps, viewer)?;
    let kind = name(&R::RECORD);
    let model = export::Model {
        id: Uuid::new_v4(),
        user_id: viewer.user_id,
        kind: kind.clone(),
        row_count: rows.len() as i32,
        truncated,
        content,
        created_at: now,
        expires_at: now + chrono::Duration::seconds(config.export_ttl_secs as i64),
    };
    export::Entity::insert(export::ActiveModel {
        id: Set(model.id),
        user_id: Set(model.user_id),
        kind: Set(model.kind.clone()),
        row_count: Set(model.row_count),
        truncated: Set(truncated),
        content: Set(model.content.clone()),
        created_at: Set(now),
        expires_at: Set(model.expires_at),
    })
    .exec_without_returning(&txn)
    .await?;
    let change = |field: &str, to: Json| Change {
        field: field.into(),
        from: Json::Null,
        to,
    };
    let event = Event {
        action: AuditAction::ExportCompleted,
        kind: None,
        record_id: None,
        changes: vec![
            change("exportId", Json::String(model.id.to_string())),
            change("kind", Json::String(kind)),
            change("filter", described),
            change("rowCount", Json::from(model.row_count)),
            change("truncated", Json::Bool(truncated)),
        ],
    };
    events::append_by(deps, &txn, viewer, event).await?;
    txn.commit().await?;
    Ok(model)
}

/// The export `id` for its exporter, if it has not expired; anyone else (and an expired
/// one) is `NOT_FOUND`.
pub async fn download(deps: &Deps, viewer: &Viewer, id: Uuid) -> ApiResult<export::Model> {
    export::Entity::find_by_id(id)
        .filter(export::Column::UserId.eq(viewer.user_id))
        .filter(export::Column::ExpiresAt.gt(Utc::now()))
        .one(&deps.db)
        .await?
        .ok_or(ApiError::NotFound { entity: "export" })
}

/// Deletes exports that expired and no longer count toward anyone's daily quota.
pub async fn purge(deps: &Deps, now: DateTime<Utc>) -> ApiResult<u64> {
    let cutoff = now - chrono::Duration::days(1);
    Ok(export::Entity::delete_many()
        .filter(export::Column::ExpiresAt.lt(cutoff))
        .filter(export::Column::CreatedAt.lt(cutoff))
        .exec(&deps.db)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use super::guard;

    #[test]
    fn formulas_are_made_inert() {
        for cell in ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(guard(cell.into()), format!("'{cell}"));
        }
        for cell in ["Acme", "1-2", "", "a=b"] {
            assert_eq!(guard(cell.into()), cell);
        }
    }
}
