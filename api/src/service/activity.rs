//! Activities (calls, emails, meetings, notes, tasks): reads scoped by the policy in SQL with
//! each row carrying its facts, and the validated, transactional mutations, including
//! completing and reopening.
//!
//! An activity may hang off a deal, a company and/or a contact. Linking one is only possible
//! to a record the actor can read, and a refused link reads exactly like a missing one, so
//! the mutations never reveal what exists.

use chrono::{DateTime, Utc};
use entity::enums::{ActivityStatus, ActivityType, Priority};
use entity::{activity, company, contact, deal, user};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QuerySelect, Set};
use uuid::Uuid;

use crate::authz::{ActivityAction, ActivityFacts, FACTS_COLUMN, Kind, Viewer};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::service::db_error::{Parent, write_error};
use crate::service::events::{self, AuditAction};
use crate::service::filter::{Env, Scalar};
use crate::service::list::{CursorKind, WithFacts, enum_rank, enum_rank_of};
use crate::service::record::{Record, SortSpec, sort_enum};
use crate::service::{At, Deps, begin_write, check_version, record, require_allowed};

/// An activity as the viewer sees it: the row and its facts.
pub type ActivityRow = WithFacts<activity::Model>;

/// Longest subject, in characters (after trimming).
pub const MAX_SUBJECT_CHARS: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;

/// The keys a activity list can be ordered by, named once: [`ActivitySort`] here and the GraphQL
/// order field are both declared from this list (`activity_sort_keys!(declare)`).
macro_rules! activity_sort_keys {
    ($declare:ident) => {
        $declare! {
            /// Fields activities can be ordered by.
            ActivitySort as ActivityOrderField {
                /// Due time; activities without one come last ascending, first descending.
                DueAt,
                /// Creation time.
                CreatedAt,
                /// Last change.
                UpdatedAt,
                /// Subject.
                Subject,
                /// Priority: low, medium, high.
                Priority,
                /// Status: pending, in progress, completed.
                Status,
            }
        }
    };
}

pub(crate) use activity_sort_keys;

activity_sort_keys!(sort_enum);

impl Record for activity::Entity {
    const KIND: Kind = Kind::Activity;
    type Action = ActivityAction;
    const READ: ActivityAction = ActivityAction::Read;
    const ID: activity::Column = activity::Column::Id;
    const SEARCH: &'static [activity::Column] = &[activity::Column::Subject];
    const DEFAULT_ORDER: (ActivitySort, bool) = (ActivitySort::DueAt, false);
    type Row = ActivityRow;
    type Sort = ActivitySort;

    fn sort<'a>(sort: ActivitySort, _: &Env<'a>) -> Vec<SortSpec<'a, ActivityRow>> {
        use activity::Column as C;
        vec![match sort {
            ActivitySort::DueAt => SortSpec::column(C::DueAt, |r: &ActivityRow| {
                Scalar::opt(r.model.due_at, Scalar::Ts)
            }),
            ActivitySort::CreatedAt => SortSpec::column(C::CreatedAt, |r: &ActivityRow| {
                Scalar::Ts(r.model.created_at)
            }),
            ActivitySort::UpdatedAt => SortSpec::column(C::UpdatedAt, |r: &ActivityRow| {
                Scalar::Ts(r.model.updated_at)
            }),
            ActivitySort::Subject => SortSpec::column(C::Subject, |r: &ActivityRow| {
                Scalar::Str(r.model.subject.clone())
            }),
            ActivitySort::Priority => ranked(C::Priority, |r: &ActivityRow| &r.model.priority),
            ActivitySort::Status => ranked(C::Status, |r: &ActivityRow| &r.model.status),
        }]
    }
}

/// An enum column of activities in its values' declaration order.
fn ranked<'a, E>(
    column: activity::Column,
    value: impl Fn(&ActivityRow) -> &E + Send + Sync + 'a,
) -> SortSpec<'a, ActivityRow>
where
    E: sea_orm::ActiveEnum + sea_orm::Iterable + PartialEq + 'a,
{
    SortSpec::computed(
        enum_rank::<E>(record::qualified(column)),
        CursorKind::Int,
        move |r: &ActivityRow| Scalar::Int(enum_rank_of(value(r))),
    )
}

record::versioned!(activity, ActivityAction);

record::plain_fields!(activity::Column);

/// The row as just written, with its facts for the viewer, whether or not the viewer can
/// still read it (an assignee who hands an activity on sees the result of their own write).
async fn reload(
    db: &impl ConnectionTrait,
    deps: &Deps,
    viewer: &Viewer,
    id: Uuid,
) -> ApiResult<ActivityRow> {
    activity::Entity::find_by_id(id)
        .column_as(deps.authz.facts_expr(viewer, Kind::Activity), FACTS_COLUMN)
        .into_model::<ActivityRow>()
        .one(db)
        .await?
        .ok_or_else(|| ApiError::internal("activity write", "written activity not found"))
}

/// Records the event of an activity write and commits. The activity comes back as written
/// even when the write took it out of the viewer's sight (assigned away, say): the reload
/// above is not scoped.
async fn finish(
    deps: &Deps,
    viewer: &Viewer,
    txn: sea_orm::DatabaseTransaction,
    row: ActivityRow,
    action: AuditAction,
    changes: Vec<events::Change>,
) -> ApiResult<ActivityRow> {
    record::log::<activity::Entity>(deps, viewer, &txn, row.model.id, action, changes).await?;
    txn.commit().await?;
    Ok(row)
}

/// `createActivity` input.
#[derive(Debug, Clone, Default)]
pub struct NewActivity {
    /// Kind of activity; required (missing is reported with the other problems).
    pub kind: Option<ActivityType>,
    /// Subject; required, trimmed, at most 200 characters.
    pub subject: Option<String>,
    /// Free text, at most 10,000 characters; blank is stored as none.
    pub description: Option<String>,
    /// When it is due.
    pub due_at: Option<DateTime<Utc>>,
    /// Already done (a call being logged, say); sets the completion time to now. `None`
    /// follows `status` (open by default).
    pub completed: Option<bool>,
    /// Priority; `None` is medium.
    pub priority: Option<Priority>,
    /// Status; `None` follows `completed` (completed or pending). Must agree with it.
    pub status: Option<ActivityStatus>,
    /// Company it is about; must be readable by the actor.
    pub company_id: Option<Uuid>,
    /// Contact it is about; must be readable by the actor.
    pub contact_id: Option<Uuid>,
    /// Deal it is about; must be readable by the actor.
    pub deal_id: Option<Uuid>,
    /// Who should do it (an active user); `None` assigns it to the actor.
    pub assigned_to: Option<Uuid>,
    /// An id chosen by the client (an offline create): a replay returns the record.
    pub id: Option<Uuid>,
}

/// `updateActivity` input: `None` leaves a field unchanged; for the optional fields
/// `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ActivityChanges {
    /// New kind.
    pub kind: Option<ActivityType>,
    /// New subject (trimmed, not empty, at most 200 characters).
    pub subject: Option<String>,
    /// New description.
    pub description: Option<Option<String>>,
    /// New due time.
    pub due_at: Option<Option<DateTime<Utc>>>,
    /// Complete (`true`) or reopen (`false`); maintains the completion time and status.
    pub completed: Option<bool>,
    /// New priority.
    pub priority: Option<Priority>,
    /// New status; completes or reopens like `completed` (and must agree with it).
    pub status: Option<ActivityStatus>,
    /// New company link.
    pub company_id: Option<Option<Uuid>>,
    /// New contact link.
    pub contact_id: Option<Option<Uuid>>,
    /// New deal link.
    pub deal_id: Option<Option<Uuid>>,
    /// New assignee.
    pub assigned_to: Option<Option<Uuid>>,
    /// The version the client last saw; a different stored version is `CONFLICT`.
    pub expected_version: Option<i32>,
}

/// A valid subject (trimmed), or a problem recorded in `errors`.
fn check_subject(subject: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let trimmed = subject.trim();
    if trimmed.is_empty() {
        errors.push(FieldError::new("subject", "is required"));
        None
    } else if trimmed.chars().count() > MAX_SUBJECT_CHARS {
        errors.push(FieldError::new(
            "subject",
            format!("must be at most {MAX_SUBJECT_CHARS} characters"),
        ));
        None
    } else {
        Some(trimmed.to_owned())
    }
}

/// A valid description (blank becomes none), or a problem recorded in `errors`.
fn check_description(description: Option<String>, errors: &mut Vec<FieldError>) -> Option<String> {
    let description = description.filter(|d| !d.trim().is_empty());
    if description
        .as_deref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS)
    {
        errors.push(FieldError::new(
            "description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    description
}

/// The completion flag and status a write leaves, from what it asks (`completed`,
/// `status`, either or both) and what the activity is (`current`: completion and status;
/// an open one for a create). A status contradicting `completed` is recorded in `errors`.
fn completion_and_status(
    completed: Option<bool>,
    status: Option<ActivityStatus>,
    current: (bool, ActivityStatus),
    errors: &mut Vec<FieldError>,
) -> (bool, ActivityStatus) {
    match (completed, status) {
        (Some(c), Some(s)) if c != (s == ActivityStatus::Completed) => {
            errors.push(FieldError::new(
                "status",
                if c {
                    "must be COMPLETED for a completed activity"
                } else {
                    "cannot be COMPLETED when completed is false"
                },
            ));
            current
        }
        (_, Some(s)) => (s == ActivityStatus::Completed, s),
        (Some(c), None) if c == current.0 => current,
        (Some(true), None) => (true, ActivityStatus::Completed),
        (Some(false), None) => (false, ActivityStatus::Pending),
        (None, None) => current,
    }
}

/// Whether the record `id` of `kind` exists and the viewer may read it (per the policy).
async fn link_is_readable(
    db: &impl ConnectionTrait,
    deps: &Deps,
    viewer: &Viewer,
    kind: Kind,
    id: Uuid,
) -> ApiResult<bool> {
    match kind {
        Kind::Deal => record::is_readable::<deal::Entity>(deps, viewer, db, id).await,
        Kind::Company => record::is_readable::<company::Entity>(deps, viewer, db, id).await,
        Kind::Contact => record::is_readable::<contact::Entity>(deps, viewer, db, id).await,
        _ => Ok(false),
    }
}

/// Checks each link given; an unreadable record is reported as missing on its field.
async fn check_links(
    db: &impl ConnectionTrait,
    deps: &Deps,
    viewer: &Viewer,
    links: [(Kind, Option<Uuid>); 3],
    errors: &mut Vec<FieldError>,
) -> ApiResult<()> {
    for (kind, id) in links {
        let Some(id) = id else { continue };
        if !link_is_readable(db, deps, viewer, kind, id).await? {
            let (field, what) = match kind {
                Kind::Deal => ("dealId", "deal"),
                Kind::Company => ("companyId", "company"),
                _ => ("contactId", "contact"),
            };
            errors.push(FieldError::new(field, format!("no such {what}")));
        }
    }
    Ok(())
}

/// The foreign keys behind the links a write sets (those given), for [`write_error`].
fn links_of_activity(links: [(Kind, Option<Uuid>); 3]) -> Vec<Parent> {
    links
        .iter()
        .filter(|(_, id)| id.is_some())
        .map(|(kind, _)| match kind {
            Kind::Deal => Parent::Link {
                constraint: "fk_activities_deal_id",
                field: "dealId",
                what: "deal",
            },
            Kind::Company => Parent::Link {
                constraint: "fk_activities_company_id",
                field: "companyId",
                what: "company",
            },
            _ => Parent::Link {
                constraint: "fk_activities_contact_id",
                field: "contactId",
                what: "contact",
            },
        })
        .collect()
}

/// `createActivity`: logs an activity created by the actor, assigned to `assigned_to` (the
/// actor by default), on records the actor can read.
pub async fn create(
    deps: &Deps,
    viewer: &Viewer,
    at: At<'_>,
    input: NewActivity,
) -> ApiResult<ActivityRow> {
    // Authorize, as far as possible before validating: may this role create any activity?
    if !deps
        .authz
        .allowed_for_some(viewer.role, ActivityAction::Create)
    {
        tracing::info!(target: "audit", event = "forbidden", user_id = %viewer.user_id, kind = ?Kind::Activity, action = ActivityAction::Create.polar(), "denied by policy");
        return Err(ApiError::Forbidden { field: None });
    }
    if let Some(row) =
        record::replayed::<activity::Entity>(deps, viewer, &at.reader(deps), input.id).await?
    {
        return Ok(row);
    }
    let txn = at.begin(deps).await?;
    // Validate: every problem at once.
    let mut errors = Vec::new();
    if input.kind.is_none() {
        errors.push(FieldError::new("type", "is required"));
    }
    let subject = match input.subject.as_deref() {
        Some(s) => check_subject(s, &mut errors),
        None => {
            errors.push(FieldError::new("subject", "is required"));
            None
        }
    };
    let description = check_description(input.description, &mut errors);
    let (completed, status) = completion_and_status(
        input.completed,
        input.status,
        (false, ActivityStatus::Pending),
        &mut errors,
    );
    let creator = viewer.user_id;
    let creator_team = user::Entity::find_by_id(creator)
        .one(&txn)
        .await?
        .and_then(|u| u.team_id);
    let assignee = input.assigned_to.unwrap_or(creator);
    let assignee_team = if assignee == creator {
        creator_team
    } else {
        record::active_user_team(&txn, assignee, "assignedToId", &mut errors)
            .await?
            .flatten()
    };
    let links = [
        (Kind::Deal, input.deal_id),
        (Kind::Company, input.company_id),
        (Kind::Contact, input.contact_id),
    ];
    check_links(&txn, deps, viewer, links, &mut errors).await?;
    let (Some(kind), Some(subject), true) = (input.kind, subject, errors.is_empty()) else {
        return Err(ApiError::BadUserInput(errors));
    };
    // Authorize: the policy decides about the activity as it would be.
    let on_readable_record = links.iter().any(|(_, id)| id.is_some());
    let facts = viewer.facts(&ActivityFacts {
        created_by: creator,
        creator_team_id: creator_team,
        assigned_to: Some(assignee),
        assignee_team_id: assignee_team,
        on_readable_record,
    });
    require_allowed(deps, viewer, ActivityAction::Create, facts)?;
    // Act.
    let now = Utc::now();
    let id = record::new_id(input.id);
    let inserted = activity::ActiveModel {
        id: Set(id),
        kind: Set(kind),
        subject: Set(subject),
        description: Set(description),
        due_at: Set(input.due_at),
        completed: Set(completed),
        completed_at: Set(completed.then_some(now)),
        priority: Set(input.priority.unwrap_or(Priority::Medium)),
        status: Set(status),
        company_id: Set(input.company_id),
        contact_id: Set(input.contact_id),
        deal_id: Set(input.deal_id),
        created_by: Set(creator),
        assigned_to: Set(Some(assignee)),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await;
    if let Err(err) = inserted {
        drop(txn);
        return record::insert_failed::<activity::Entity>(
            deps,
            viewer,
            at,
            (id, input.id.is_some()),
            err,
            |e| write_error(e, &links_of_activity(links)),
        )
        .await;
    }
    let row = reload(&txn, deps, viewer, id).await?;
    let changes = events::created(&row.model);
    finish(deps, viewer, txn, row, AuditAction::RecordCreated, changes).await
}

/// `updateActivity`: changes the given fields; completing or reopening also needs the
/// policy's `complete`. Unreadable is `NOT_FOUND`, readable but not allowed `FORBIDDEN`.
pub async fn update(
    deps: &Deps,
    viewer: &Viewer,
    at: At<'_>,
    id: Uuid,
    changes: ActivityChanges,
) -> ApiResult<ActivityRow> {
    let txn = at.begin(deps).await?;
    // Load and authorize.
    let current =
        record::load_for::<activity::Entity>(deps, viewer, &txn, id, ActivityAction::Update)
            .await?;
    // Validate: every problem at once.
    let mut errors = Vec::new();
    let (completed, status) = completion_and_status(
        changes.completed,
        changes.status,
        (current.model.completed, current.model.status),
        &mut errors,
    );
    let completion = (completed != current.model.completed).then_some(completed);
    if completion.is_some() {
        require_allowed(deps, viewer, ActivityAction::Complete, current.facts)?;
    }
    check_version(changes.expected_version, current.model.version)?;
    let subject = changes
        .subject
        .as_deref()
        .map(|s| check_subject(s, &mut errors));
    let description = changes
        .description
        .map(|d| check_description(d, &mut errors));
    if let Some(Some(assignee)) = changes.assigned_to
        && Some(assignee) != current.model.assigned_to
    {
        record::active_user_team(&txn, assignee, "assignedToId", &mut errors).await?;
    }
    let changed =
        |new: Option<Option<Uuid>>, old: Option<Uuid>| new.flatten().filter(|n| Some(*n) != old);
    let m = &current.model;
    let links = [
        (Kind::Deal, changed(changes.deal_id, m.deal_id)),
        (Kind::Company, changed(changes.company_id, m.company_id)),
        (Kind::Contact, changed(changes.contact_id, m.contact_id)),
    ];
    check_links(&txn, deps, viewer, links, &mut errors).await?;
    if !errors.is_empty() {
        return Err(ApiError::BadUserInput(errors));
    }
    // Act.
    let mut am = <activity::ActiveModel as Default>::default();
    if let Some(k) = changes.kind {
        am.kind = Set(k);
    }
    if let Some(Some(s)) = subject {
        am.subject = Set(s);
    }
    if let Some(d) = description {
        am.description = Set(d);
    }
    if let Some(d) = changes.due_at {
        am.due_at = Set(d);
    }
    if let Some(c) = completion {
        am.completed = Set(c);
        am.completed_at = Set(c.then(Utc::now));
    }
    if status != current.model.status {
        am.status = Set(status);
    }
    if let Some(p) = changes.priority {
        am.priority = Set(p);
    }
    if let Some(c) = changes.company_id {
        am.company_id = Set(c);
    }
    if let Some(c) = changes.contact_id {
        am.contact_id = Set(c);
    }
    if let Some(d) = changes.deal_id {
        am.deal_id = Set(d);
    }
    if let Some(a) = changes.assigned_to {
        am.assigned_to = Set(a);
    }
    let parents = links_of_activity(links);
    let changes =
        record::write_versioned(&txn, &current.model, am, |e| write_error(e, &parents)).await?;
    let row = reload(&txn, deps, viewer, id).await?;
    finish(deps, viewer, txn, row, AuditAction::RecordUpdated, changes).await
}

/// `completeActivity`: marks it done and sets the completion time; an activity already
/// completed is returned unchanged.
pub async fn complete(
    deps: &Deps,
    viewer: &Viewer,
    id: Uuid,
    expected_version: Option<i32>,
) -> ApiResult<ActivityRow> {
    let txn = begin_write(deps).await?;
    // Load and authorize.
    let current = record::load_for_change::<activity::Entity>(
        deps,
        viewer,
        &txn,
        id,
        ActivityAction::Complete,
        expected_version,
    )
    .await?;
    if current.model.completed {
        return Ok(current);
    }
    // Act.
    let am = activity::ActiveModel {
        completed: Set(true),
        completed_at: Set(Some(Utc::now())),
        status: Set(ActivityStatus::Completed),
        ..Default::default()
    };
    let changes = record::write_versioned(&txn, &current.model, am, ApiError::from).await?;
    let row = reload(&txn, deps, viewer, id).await?;
    finish(deps, viewer, txn, row, AuditAction::RecordUpdated, changes).await
}

/// `deleteActivity`: removes it for good; returns its id.
pub async fn delete(deps: &Deps, viewer: &Viewer, id: Uuid) -> ApiResult<Uuid> {
    record::delete::<activity::Entity>(deps, viewer, id).await
}
