//! Contacts: reads scoped by the policy in SQL (each row carrying its facts), and validated,
//! versioned writes decided by the policy, including the guarded `notes` field.

use chrono::Utc;
use entity::contact;
use entity::enums::Department;
use sea_orm::ActiveValue::{Set, Unchanged};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect, Select, SqlErr,
};
use uuid::Uuid;

use crate::authz::{ContactAction, ContactFacts, FACTS_COLUMN, FactMask, Kind, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::service::begin_write;
use crate::service::company::{active_user_team, map_unique};
use crate::service::db_error::{Parent, write_error};
use crate::service::filter::{Op, condition};
use crate::service::list::{CursorValue, Page, PageArgs, SortKey, WithFacts, fetch_page};
use crate::service::validate::{self, Errors};
use crate::service::{Deps, check_version, record, require_allowed};

/// A contact as the viewer sees it: the row and its facts.
pub type ContactRow = WithFacts<contact::Model>;

/// Longest first or last name.
const MAX_NAME: usize = 100;
/// Longest title.
const MAX_TEXT: usize = 200;
/// Longest notes.
const MAX_NOTES: usize = 10_000;

/// What a contacts list can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactSort {
    /// Address-book order: last name, then first name.
    Name,
    /// First name.
    FirstName,
    /// Last name.
    LastName,
    /// Full name (`first last`).
    FullName,
    /// Email.
    Email,
    /// Creation time.
    CreatedAt,
    /// Last change.
    UpdatedAt,
}

/// `contacts.<c>`, qualified (the scope's subqueries reference the table by name).
pub fn col(c: contact::Column) -> SimpleExpr {
    Expr::col((Alias::new("contacts"), c))
}

/// Every contact with its facts relative to the viewer, unscoped.
fn with_facts(deps: &Deps, viewer: &Viewer) -> Select<contact::Entity> {
    contact::Entity::find().column_as(deps.authz.facts_expr(viewer, Kind::Contact), FACTS_COLUMN)
}

/// The base query: readable contacts with their facts.
pub fn readable(deps: &Deps, viewer: &Viewer) -> Select<contact::Entity> {
    with_facts(deps, viewer).filter(deps.authz.scope(viewer, ContactAction::Read))
}

/// `search`: the full name or the email contains `text`, ignoring case.
pub fn search_condition(text: &str) -> Condition {
    Condition::any()
        .add(condition(
            col(contact::Column::FullName),
            Op::Contains(text.to_owned()),
        ))
        .add(condition(
            col(contact::Column::Email),
            Op::Contains(text.to_owned()),
        ))
}

fn opt_str(v: Option<&String>) -> CursorValue {
    v.map_or(CursorValue::Null, |s| CursorValue::Str(s.clone()))
}

/// The sort keys of one ordering field (NAME is two).
fn sort_columns(sort: ContactSort) -> &'static [contact::Column] {
    use contact::Column as C;
    match sort {
        ContactSort::Name => &[C::LastName, C::FirstName],
        ContactSort::FirstName => &[C::FirstName],
        ContactSort::LastName => &[C::LastName],
        ContactSort::FullName => &[C::FullName],
        ContactSort::Email => &[C::Email],
        ContactSort::CreatedAt => &[C::CreatedAt],
        ContactSort::UpdatedAt => &[C::UpdatedAt],
    }
}

fn cursor_value(m: &contact::Model, column: contact::Column) -> CursorValue {
    use contact::Column as C;
    match column {
        C::FirstName => opt_str(m.first_name.as_ref()),
        C::LastName => opt_str(m.last_name.as_ref()),
        C::FullName => CursorValue::Str(m.full_name.clone()),
        C::Email => opt_str(m.email.as_ref()),
        C::CreatedAt => CursorValue::Ts(m.created_at),
        C::UpdatedAt => CursorValue::Ts(m.updated_at),
        _ => CursorValue::Uuid(m.id),
    }
}

/// One page of the contacts the viewer may read, matching `filter`, in `order` (default:
/// full name ascending), ties broken by id.
pub async fn list(
    deps: &Deps,
    viewer: &Viewer,
    filter: Condition,
    order: &[(ContactSort, bool)],
    page: &PageArgs,
) -> ApiResult<Page<ContactRow>> {
    let order: Vec<(ContactSort, bool)> = if order.is_empty() {
        vec![(ContactSort::FullName, false)]
    } else {
        order.to_vec()
    };
    let columns: Vec<(contact::Column, bool)> = order
        .iter()
        .flat_map(|(sort, desc)| sort_columns(*sort).iter().map(move |c| (*c, *desc)))
        .collect();
    let mut keys: Vec<SortKey> = columns
        .iter()
        .map(|(c, desc)| SortKey::column(*c, *desc))
        .collect();
    keys.push(SortKey::column(contact::Column::Id, false));
    let select = readable(deps, viewer).filter(filter);
    fetch_page(&deps.db, select, &keys, page, |row: &ContactRow| {
        let mut values: Vec<CursorValue> = columns
            .iter()
            .map(|(c, _)| cursor_value(&row.model, *c))
            .collect();
        values.push(CursorValue::Uuid(row.model.id));
        values
    })
    .await
}

/// How many contacts the viewer may read match `filter` (the `totalCount` of the list).
pub async fn count(deps: &Deps, viewer: &Viewer, filter: Condition) -> ApiResult<u64> {
    Ok(contact::Entity::find()
        .filter(deps.authz.aggregate_scope(viewer, ContactAction::Read))
        .filter(filter)
        .count(&deps.db)
        .await?)
}

/// One contact the viewer may read; unreadable and missing are the same `NOT_FOUND`.
pub async fn get(deps: &Deps, viewer: &Viewer, id: Uuid) -> ApiResult<ContactRow> {
    record::find::<contact::Entity>(deps, viewer, &deps.db, id).await
}

/// Readable contacts among `ids` (for relation loaders); unreadable and missing ids are left
/// out.
pub async fn by_ids(deps: &Deps, viewer: &Viewer, ids: &[Uuid]) -> ApiResult<Vec<ContactRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(readable(deps, viewer)
        .filter(contact::Column::Id.is_in(ids.iter().copied()))
        .into_model::<ContactRow>()
        .all(&deps.db)
        .await?)
}

/// `createContact` input.
#[derive(Debug, Default)]
pub struct NewContact {
    /// The company (one the viewer can read).
    pub company_id: Option<Uuid>,
    /// First name (this or the last name is required).
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Email, unique ignoring case (stored lowercase).
    pub email: Option<String>,
    /// Phone, E.164.
    pub phone: Option<String>,
    /// Mobile, E.164.
    pub mobile: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Department.
    pub department: Option<Department>,
    /// Main contact of the company.
    pub is_primary: bool,
    /// LinkedIn profile, an http(s) URL.
    pub linkedin_url: Option<String>,
    /// Notes; writing them needs `update:notes` on the contact as it would be.
    pub notes: Option<String>,
    /// Owner; `None` is the viewer.
    pub owner_id: Option<Uuid>,
}

/// `updateContact` input: `None` leaves a field unchanged, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct ContactChanges {
    /// New company.
    pub company_id: Option<Option<Uuid>>,
    /// New first name.
    pub first_name: Option<Option<String>>,
    /// New last name.
    pub last_name: Option<Option<String>>,
    /// New email.
    pub email: Option<Option<String>>,
    /// New phone.
    pub phone: Option<Option<String>>,
    /// New mobile.
    pub mobile: Option<Option<String>>,
    /// New title.
    pub title: Option<Option<String>>,
    /// New department.
    pub department: Option<Option<Department>>,
    /// New primary flag.
    pub is_primary: Option<bool>,
    /// New LinkedIn URL.
    pub linkedin_url: Option<Option<String>>,
    /// New notes (needs `update:notes`).
    pub notes: Option<Option<String>>,
    /// New owner (see [`update`] for what that needs).
    pub owner_id: Option<Uuid>,
    /// The version the client last read; a different stored version is `CONFLICT`.
    pub expected_version: Option<i32>,
}

/// Maps a failed contact write: a taken email is `CONFLICT` on `email` (saying no more than
/// that, whoever owns the other contact), a company deleted meanwhile `BAD_USER_INPUT` on
/// `companyId` (`company` is the one the write sets).
fn write_failed(err: DbErr, company: Option<Uuid>) -> ApiError {
    if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        return map_unique(err, UNIQUE);
    }
    let link = Parent::Link {
        constraint: "fk_contacts_company_id",
        field: "companyId",
        what: "company",
    };
    let links: &[Parent] = if company.is_some() { &[link] } else { &[] };
    write_error(err, links)
}

const UNIQUE: &[(&str, &str, &str)] = &[(
    "ux_contacts_email_lower",
    "email",
    "a contact with this email",
)];

/// `first last`, trimmed (either may be missing).
pub fn full_name(first: Option<&str>, last: Option<&str>) -> String {
    format!("{} {}", first.unwrap_or_default(), last.unwrap_or_default())
        .trim()
        .to_owned()
}

/// `CONFLICT` on `email` if another contact (not `except`) has it, ignoring case.
async fn check_unique_email(
    db: &impl ConnectionTrait,
    email: &str,
    except: Option<Uuid>,
) -> ApiResult<()> {
    let mut q = contact::Entity::find()
        .filter(Expr::expr(Func::lower(col(contact::Column::Email))).eq(email.to_lowercase()));
    if let Some(id) = except {
        q = q.filter(contact::Column::Id.ne(id));
    }
    if q.count(db).await? > 0 {
        return Err(ApiError::Conflict {
            message: "a contact with this email already exists".into(),
            field: Some("email".into()),
        });
    }
    Ok(())
}

/// Records "no such company" unless the viewer can read company `id`.
async fn check_company(
    deps: &Deps,
    viewer: &Viewer,
    db: &impl ConnectionTrait,
    id: Uuid,
    errors: &mut Errors,
) -> ApiResult<()> {
    if !crate::service::company::is_readable(deps, viewer, db, id).await? {
        errors.push("companyId", "no such company");
    }
    Ok(())
}

fn name_part(field: &'static str) -> impl Fn(String) -> Result<String, crate::error::FieldError> {
    move |v| validate::text(field, v, MAX_NAME)
}

/// `FORBIDDEN` on `notes` unless the policy allows `update:notes` with these facts.
fn require_notes(deps: &Deps, viewer: &Viewer, facts: FactMask) -> ApiResult<()> {
    if deps
        .authz
        .decide(viewer.role, ContactAction::UpdateNotes, facts)
    {
        Ok(())
    } else {
        tracing::info!(target: "audit", event = "forbidden", user_id = %viewer.user_id, action = ContactAction::UpdateNotes.polar(), "contact notes write denied by policy");
        Err(ApiError::Forbidden {
            field: Some("notes".into()),
        })
    }
}

/// `createContact`: the policy decides `create` on the contact as it would be (its owner and
/// the owner's team), and `update:notes` on it when notes are given.
pub async fn create(deps: &Deps, viewer: &Viewer, input: NewContact) -> ApiResult<ContactRow> {
    let txn = begin_write(deps).await?;
    // Validate: every problem at once.
    let mut errors = Errors::new();
    let owner_id = input.owner_id.unwrap_or(viewer.user_id);
    let owner_team = active_user_team(&txn, owner_id, "ownerId", &mut errors).await?;
    let (first_name, last_name) = (
        validate::trimmed(input.first_name),
        validate::trimmed(input.last_name),
    );
    if first_name.is_none() && last_name.is_none() {
        errors.push("firstName", "a first or a last name is required");
    }
    let first_name = validate::optional(&mut errors, first_name, name_part("firstName"));
    let last_name = validate::optional(&mut errors, last_name, name_part("lastName"));
    let email = validate::optional(&mut errors, input.email, |v| validate::email("email", v));
    let phone = validate::optional(&mut errors, input.phone, |v| validate::phone("phone", v));
    let mobile = validate::optional(&mut errors, input.mobile, |v| validate::phone("mobile", v));
    let title = validate::optional(&mut errors, input.title, |v| {
        validate::text("title", v, MAX_TEXT)
    });
    let linkedin_url = validate::optional(&mut errors, input.linkedin_url, |v| {
        validate::url("linkedinUrl", v)
    });
    let notes = validate::optional(&mut errors, input.notes, |v| {
        validate::text("notes", v, MAX_NOTES)
    });
    if let Some(company_id) = input.company_id {
        check_company(deps, viewer, &txn, company_id, &mut errors).await?;
    }
    errors.finish()?;
    let Some(owner_team) = owner_team else {
        return Err(ApiError::internal(
            "contact create",
            "validation passed without an owner",
        ));
    };
    // Authorize the contact as it would be.
    let facts = viewer.facts(&ContactFacts {
        owner_id,
        owner_team_id: owner_team,
        linked_to_readable_deal: false,
    });
    require_allowed(deps, viewer, ContactAction::Create, facts)?;
    if notes.is_some() {
        require_notes(deps, viewer, facts)?;
    }
    if let Some(e) = &email {
        check_unique_email(&txn, e, None).await?;
    }
    // Act.
    let now = Utc::now();
    let id = Uuid::new_v4();
    contact::ActiveModel {
        id: Set(id),
        company_id: Set(input.company_id),
        full_name: Set(full_name(first_name.as_deref(), last_name.as_deref())),
        first_name: Set(first_name),
        last_name: Set(last_name),
        email: Set(email),
        phone: Set(phone),
        mobile: Set(mobile),
        title: Set(title),
        department: Set(input.department),
        is_primary: Set(input.is_primary),
        linkedin_url: Set(linkedin_url),
        notes: Set(notes),
        owner_id: Set(owner_id),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| write_failed(e, input.company_id))?;
    txn.commit().await?;
    // Record.
    tracing::info!(target: "audit", event = "contact.created", user_id = %viewer.user_id, contact_id = %id, owner_id = %owner_id, "contact created");
    get(deps, viewer, id).await
}

/// `updateContact`.
///
/// Needs `update` on the contact as it is. Changing the owner additionally needs `create` on
/// the contact as it would be with the new owner (the new owner's facts), so an actor can
/// hand a contact only to someone they could have created it for. Changing `notes` (to a
/// different value) needs `update:notes` on the contact as it is (`FORBIDDEN` with
/// `field: "notes"` otherwise); sending the stored notes back unchanged is not a write.
pub async fn update(
    deps: &Deps,
    viewer: &Viewer,
    id: Uuid,
    changes: ContactChanges,
) -> ApiResult<ContactRow> {
    let txn = begin_write(deps).await?;
    // Load and authorize.
    let row =
        record::load_for::<contact::Entity>(deps, viewer, &txn, id, ContactAction::Update).await?;
    check_version(changes.expected_version, row.model.version)?;
    let current = &row.model;
    // Validate: every problem at once.
    let mut errors = Errors::new();
    let mut new_owner = None;
    if let Some(owner) = changes.owner_id.filter(|o| *o != current.owner_id)
        && let Some(team) = active_user_team(&txn, owner, "ownerId", &mut errors).await?
    {
        new_owner = Some((owner, team));
    }
    let first_change = changes.first_name.map(validate::trimmed);
    let last_change = changes.last_name.map(validate::trimmed);
    let first_after = first_change.as_ref().unwrap_or(&current.first_name);
    let last_after = last_change.as_ref().unwrap_or(&current.last_name);
    if first_after.is_none() && last_after.is_none() {
        errors.push("firstName", "a first or a last name is required");
    }
    let first_name = validate::optional_change(&mut errors, first_change, name_part("firstName"));
    let last_name = validate::optional_change(&mut errors, last_change, name_part("lastName"));
    let names = (
        first_name
            .clone()
            .unwrap_or_else(|| current.first_name.clone()),
        last_name
            .clone()
            .unwrap_or_else(|| current.last_name.clone()),
    );
    let email =
        validate::optional_change(&mut errors, changes.email, |v| validate::email("email", v));
    let phone =
        validate::optional_change(&mut errors, changes.phone, |v| validate::phone("phone", v));
    let mobile = validate::optional_change(&mut errors, changes.mobile, |v| {
        validate::phone("mobile", v)
    });
    let title = validate::optional_change(&mut errors, changes.title, |v| {
        validate::text("title", v, MAX_TEXT)
    });
    let linkedin_url = validate::optional_change(&mut errors, changes.linkedin_url, |v| {
        validate::url("linkedinUrl", v)
    });
    let notes = validate::optional_change(&mut errors, changes.notes, |v| {
        validate::text("notes", v, MAX_NOTES)
    })
    .filter(|n| *n != current.notes);
    if let Some(Some(company_id)) = changes.company_id
        && current.company_id != Some(company_id)
    {
        check_company(deps, viewer, &txn, company_id, &mut errors).await?;
    }
    errors.finish()?;
    // Authorize the guarded field and the hand-over.
    if notes.is_some() {
        require_notes(deps, viewer, row.facts)?;
    }
    let mut am = contact::ActiveModel {
        id: Unchanged(id),
        ..Default::default()
    };
    if let Some((owner, team)) = new_owner {
        let after = viewer.facts(&ContactFacts {
            owner_id: owner,
            owner_team_id: team,
            linked_to_readable_deal: false,
        });
        if !deps.authz.decide(viewer.role, ContactAction::Create, after) {
            tracing::info!(target: "audit", event = "forbidden", user_id = %viewer.user_id, contact_id = %id, new_owner = %owner, "contact owner change denied by policy");
            return Err(ApiError::Forbidden {
                field: Some("ownerId".into()),
            });
        }
        am.owner_id = Set(owner);
    }
    if let Some(Some(e)) = &email {
        check_unique_email(&txn, e, Some(id)).await?;
    }
    if first_name.is_some() || last_name.is_some() {
        am.full_name = Set(full_name(names.0.as_deref(), names.1.as_deref()));
    }
    if let Some(f) = first_name {
        am.first_name = Set(f);
    }
    if let Some(l) = last_name {
        am.last_name = Set(l);
    }
    if let Some(c) = changes.company_id {
        am.company_id = Set(c);
    }
    if let Some(e) = email {
        am.email = Set(e);
    }
    if let Some(p) = phone {
        am.phone = Set(p);
    }
    if let Some(m) = mobile {
        am.mobile = Set(m);
    }
    if let Some(t) = title {
        am.title = Set(t);
    }
    if let Some(d) = changes.department {
        am.department = Set(d);
    }
    if let Some(p) = changes.is_primary {
        am.is_primary = Set(p);
    }
    if let Some(l) = linkedin_url {
        am.linkedin_url = Set(l);
    }
    if let Some(n) = notes {
        am.notes = Set(n);
    }
    // Act.
    let company = changes.company_id.flatten();
    record::write_versioned(&txn, id, current.version, am, |e| write_failed(e, company)).await?;
    txn.commit().await?;
    // Record.
    tracing::info!(target: "audit", event = "contact.updated", user_id = %viewer.user_id, contact_id = %id, version = current.version + 1, "contact updated");
    get(deps, viewer, id).await
}

/// `deleteContact`: deals and activities that name the contact keep existing, with the
/// contact cleared (by the foreign keys).
pub async fn delete(deps: &Deps, viewer: &Viewer, id: Uuid) -> ApiResult<Uuid> {
    let txn = begin_write(deps).await?;
    // Load and authorize.
    record::load_for::<contact::Entity>(deps, viewer, &txn, id, ContactAction::Delete).await?;
    // Act.
    contact::Entity::delete_by_id(id).exec(&txn).await?;
    txn.commit().await?;
    // Record.
    tracing::info!(target: "audit", event = "contact.deleted", user_id = %viewer.user_id, contact_id = %id, "contact deleted");
    Ok(id)
}
