//! Contacts: reads scoped by the policy in SQL (each row carrying its facts), and validated,
//! versioned writes decided by the policy, including the guarded `notes` field.

use entity::contact;
use entity::enums::Department;
use sea_orm::ActiveValue::{Set, Unchanged};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, SqlErr,
};
use uuid::Uuid;

use crate::authz::{ContactAction, ContactFacts, FactMask, Kind, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::service::company::map_unique;
use crate::service::db_error::{Parent, write_error};
use crate::service::events::AuditAction;
use crate::service::filter::{Env, Scalar};
use crate::service::list::WithFacts;
use crate::service::record::{Record, SortSpec, change, sort_enum};
use crate::service::related::ToOne;
use crate::service::validate::{self, Errors};
use crate::service::{At, Deps, record, require_allowed};

/// A contact as the viewer sees it: the row and its facts.
pub type ContactRow = WithFacts<contact::Model>;

/// Longest first or last name.
const MAX_NAME: usize = 100;
/// Longest title.
const MAX_TEXT: usize = 200;
/// Longest notes.
const MAX_NOTES: usize = 10_000;

/// The keys a contact list can be ordered by, named once: [`ContactSort`] here and the GraphQL
/// order field are both declared from this list (`contact_sort_keys!(declare)`).
macro_rules! contact_sort_keys {
    ($declare:ident) => {
        $declare! {
            /// Fields contacts can be ordered by.
            ContactSort as ContactOrderField {
                /// Address-book order: last name, then first name.
                Name,
                /// First name.
                FirstName,
                /// Last name.
                LastName,
                /// Full name as displayed (first name first).
                FullName,
                /// Email; contacts without one sort as empty.
                Email,
                /// Creation time.
                CreatedAt,
                /// Last change.
                UpdatedAt,
            }
        }
    };
}

pub(crate) use contact_sort_keys;

contact_sort_keys!(sort_enum);

impl Record for contact::Entity {
    const KIND: Kind = Kind::Contact;
    type Action = ContactAction;
    const READ: ContactAction = ContactAction::Read;
    const ID: contact::Column = contact::Column::Id;
    const SEARCH: &'static [contact::Column] = &[contact::Column::FullName, contact::Column::Email];
    const DEFAULT_ORDER: (ContactSort, bool) = (ContactSort::FullName, false);
    type Row = ContactRow;
    type Sort = ContactSort;
    const TO_ONE: &'static [ToOne] = &[ToOne::COMPANY, ToOne::OWNER];

    fn row_at(
        res: &sea_orm::QueryResult,
        first: usize,
    ) -> Option<Result<ContactRow, sea_orm::DbErr>> {
        Some(crate::service::related::Positional::at(res, first))
    }

    fn sort<'a>(sort: ContactSort, _: &Env<'a>) -> Vec<SortSpec<'a, ContactRow>> {
        use contact::Column as C;
        let first = || {
            SortSpec::column(C::FirstName, |r: &ContactRow| {
                Scalar::opt_str(r.model.first_name.as_ref())
            })
        };
        let last = || {
            SortSpec::column(C::LastName, |r: &ContactRow| {
                Scalar::opt_str(r.model.last_name.as_ref())
            })
        };
        match sort {
            ContactSort::Name => vec![last(), first()],
            ContactSort::FirstName => vec![first()],
            ContactSort::LastName => vec![last()],
            ContactSort::FullName => vec![SortSpec::column(C::FullName, |r: &ContactRow| {
                Scalar::Str(r.model.full_name.clone())
            })],
            ContactSort::Email => vec![SortSpec::column(C::Email, |r: &ContactRow| {
                Scalar::opt_str(r.model.email.as_ref())
            })],
            ContactSort::CreatedAt => vec![SortSpec::column(C::CreatedAt, |r: &ContactRow| {
                Scalar::Ts(r.model.created_at)
            })],
            ContactSort::UpdatedAt => vec![SortSpec::column(C::UpdatedAt, |r: &ContactRow| {
                Scalar::Ts(r.model.updated_at)
            })],
        }
    }
}

record::versioned!(contact, ContactAction);

record::plain_fields!(contact::Column);

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
    /// An id chosen by the client (an offline create): a replay returns the record.
    pub id: Option<Uuid>,
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
    let mut q = contact::Entity::find().filter(
        Expr::expr(Func::lower(record::qualified(contact::Column::Email))).eq(email.to_lowercase()),
    );
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
    if !record::is_readable::<entity::company::Entity>(deps, viewer, db, id).await? {
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
pub async fn create(
    deps: &Deps,
    viewer: &Viewer,
    at: At<'_>,
    input: NewContact,
) -> ApiResult<ContactRow> {
    if let Some(row) =
        record::replayed::<contact::Entity>(deps, viewer, &at.reader(deps), input.id).await?
    {
        return Ok(row);
    }
    let txn = at.begin(deps).await?;
    // Validate: every problem at once.
    let mut errors = Errors::new();
    let (owner_id, owner_team) =
        record::new_owner(&txn, viewer, input.owner_id, &mut errors).await?;
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
    // Authorize the contact as it would be.
    let facts = viewer.facts(&ContactFacts::owned(owner_id, owner_team));
    require_allowed(deps, viewer, ContactAction::Create, facts)?;
    if notes.is_some() {
        require_notes(deps, viewer, facts)?;
    }
    if let Some(e) = &email {
        check_unique_email(&txn, e, None).await?;
    }
    // Act.
    let id = record::new_id(input.id);
    let am = contact::ActiveModel {
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
        ..Default::default()
    };
    record::create::<contact::Entity, _>(deps, viewer, at, txn, (id, am), input.id.is_some(), |e| {
        write_failed(e, input.company_id)
    })
    .await
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
    at: At<'_>,
    id: Uuid,
    changes: ContactChanges,
) -> ApiResult<ContactRow> {
    let txn = at.begin(deps).await?;
    // Load and authorize.
    let row = record::load_for_change::<contact::Entity>(
        deps,
        viewer,
        &txn,
        id,
        ContactAction::Update,
        changes.expected_version,
    )
    .await?;
    let current = &row.model;
    // Validate: every problem at once.
    let mut errors = Errors::new();
    let new_owner =
        record::owner_change(&txn, changes.owner_id, current.owner_id, &mut errors).await?;
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
    if let Some((owner, team)) = new_owner {
        let after = viewer.facts(&ContactFacts::owned(owner, team));
        record::require_handover::<contact::Entity>(deps, viewer, id, after)?;
    }
    if let Some(Some(e)) = &email {
        check_unique_email(&txn, e, Some(id)).await?;
    }
    let renamed = first_name.is_some() || last_name.is_some();
    let am = contact::ActiveModel {
        id: Unchanged(id),
        owner_id: change(new_owner.map(|(owner, _)| owner)),
        full_name: change(renamed.then(|| full_name(names.0.as_deref(), names.1.as_deref()))),
        first_name: change(first_name),
        last_name: change(last_name),
        company_id: change(changes.company_id),
        email: change(email),
        phone: change(phone),
        mobile: change(mobile),
        title: change(title),
        department: change(changes.department),
        is_primary: change(changes.is_primary),
        linkedin_url: change(linkedin_url),
        notes: change(notes),
        ..Default::default()
    };
    // Act.
    let company = changes.company_id.flatten();
    let changes = record::write_versioned(&txn, current, am, |e| write_failed(e, company)).await?;
    record::commit::<contact::Entity>(
        deps,
        viewer,
        at,
        txn,
        id,
        AuditAction::RecordUpdated,
        changes,
    )
    .await
}

/// `deleteContact`: deals and activities that name the contact keep existing, with the
/// contact cleared (by the foreign keys).
pub async fn delete(deps: &Deps, viewer: &Viewer, id: Uuid) -> ApiResult<Uuid> {
    record::delete::<contact::Entity>(deps, viewer, id).await
}
