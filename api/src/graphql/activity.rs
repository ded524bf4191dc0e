//! Activities: the `Activity` type, its filter and order inputs, `activities` / `activity`,
//! and `createActivity`, `updateActivity`, `completeActivity`, `deleteActivity`.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::activity;
use sea_orm::sea_query::{Alias, Expr, SimpleExpr};
use sea_orm::{Condition, Value};
use uuid::Uuid;

use crate::authz::{ActivityAction, Viewer};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::graphql::connection::{connection, list_page};
use crate::graphql::enums::ActivityType;
use crate::graphql::filter::{
    BooleanFilter, EnumFilter, IdFilter, OrdFilter, OrderDirection, StringFilter,
};
use crate::graphql::{actor, deps, gql, parse_id};
use crate::service::activity::{ActivityChanges, ActivityRow, ActivitySort, NewActivity};
use crate::service::list::PageArgs;

/// A call, email, meeting, note or task, optionally about a deal, company and/or contact.
pub struct Activity {
    row: ActivityRow,
    viewer: Viewer,
}

impl Activity {
    /// Wraps a row read for `viewer`.
    pub fn new(row: ActivityRow, viewer: &Viewer) -> Self {
        Self {
            row,
            viewer: viewer.clone(),
        }
    }

    fn m(&self) -> &activity::Model {
        &self.row.model
    }

    fn can(&self, ctx: &Context<'_>, action: ActivityAction) -> bool {
        deps(ctx)
            .authz
            .decide(self.viewer.role, action, self.row.facts)
    }
}

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
        id_of(self.m().id)
    }
    /// What kind of activity.
    #[graphql(name = "type")]
    async fn kind(&self) -> ActivityType {
        self.m().kind.into()
    }
    /// Short summary (at most 200 characters).
    async fn subject(&self) -> &str {
        &self.m().subject
    }
    /// Free-form details.
    async fn description(&self) -> Option<&str> {
        self.m().description.as_deref()
    }
    /// When it is due, if it has a due time.
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.m().due_at
    }
    /// Whether it is done.
    async fn completed(&self) -> bool {
        self.m().completed
    }
    /// When it was completed; `null` while open.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.m().completed_at
    }
    /// ID of the company it is about, if any.
    async fn company_id(&self) -> Option<ID> {
        self.m().company_id.map(id_of)
    }
    /// ID of the contact it is about, if any.
    async fn contact_id(&self) -> Option<ID> {
        self.m().contact_id.map(id_of)
    }
    /// ID of the deal it is about, if any.
    async fn deal_id(&self) -> Option<ID> {
        self.m().deal_id.map(id_of)
    }
    /// ID of the user who logged it.
    async fn created_by_id(&self) -> ID {
        id_of(self.m().created_by)
    }
    /// ID of the user who should do it, if anyone.
    async fn assigned_to_id(&self) -> Option<ID> {
        self.m().assigned_to.map(id_of)
    }
    /// Incremented by every change; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.m().version
    }
    /// When the activity was logged.
    async fn created_at(&self) -> DateTime<Utc> {
        self.m().created_at
    }
    /// When the activity last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.m().updated_at
    }
    /// The deal, if linked and readable.
    async fn deal(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::deal::Deal>> {
        let Some(id) = self.row.model.deal_id else {
            return Ok(None);
        };
        Ok(crate::graphql::loaders::deal(ctx, id)
            .await?
            .map(|r| crate::graphql::deal::Deal::new(r, &self.viewer)))
    }
    /// The company, if linked and readable.
    async fn company(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::company::Company>> {
        let Some(id) = self.row.model.company_id else {
            return Ok(None);
        };
        Ok(crate::graphql::loaders::company(ctx, id)
            .await?
            .map(|r| crate::graphql::company::Company::new(r, &self.viewer)))
    }
    /// The contact, if linked and readable.
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::contact::Contact>> {
        let Some(id) = self.row.model.contact_id else {
            return Ok(None);
        };
        Ok(crate::graphql::loaders::contact(ctx, id)
            .await?
            .map(|r| crate::graphql::contact::Contact::new(r, &self.viewer)))
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
    /// What the viewer may do with this activity.
    async fn viewer_can(&self, ctx: &Context<'_>) -> ActivityViewerCan {
        ActivityViewerCan {
            update: self.can(ctx, ActivityAction::Update),
            delete: self.can(ctx, ActivityAction::Delete),
            complete: self.can(ctx, ActivityAction::Complete),
        }
    }
}

/// Conditions on activities; every field given must hold.
///
/// "My open tasks", soonest first (`$me` is `me { id }`):
/// `activities(filter: {assignedTo: {eq: $me}, completed: {eq: false}, type: {eq: TASK}},
/// orderBy: [{field: DUE_AT}])`; add `dueAt: {lt: "<now>"}` for the overdue ones.
#[derive(InputObject, Default, Clone)]
pub struct ActivityFilter {
    /// The activity's ID.
    pub id: Option<IdFilter>,
    /// Kind of activity.
    #[graphql(name = "type")]
    pub kind: Option<EnumFilter<ActivityType>>,
    /// Subject.
    pub subject: Option<StringFilter>,
    /// Due time (`isNull: true` for activities without one).
    pub due_at: Option<OrdFilter<DateTime<Utc>>>,
    /// Whether it is done.
    pub completed: Option<BooleanFilter>,
    /// Completion time.
    pub completed_at: Option<OrdFilter<DateTime<Utc>>>,
    /// Company it is about.
    pub company_id: Option<IdFilter>,
    /// Contact it is about.
    pub contact_id: Option<IdFilter>,
    /// Deal it is about.
    pub deal_id: Option<IdFilter>,
    /// The user who logged it.
    pub created_by: Option<IdFilter>,
    /// The user who should do it.
    pub assigned_to: Option<IdFilter>,
    /// Creation time.
    pub created_at: Option<OrdFilter<DateTime<Utc>>>,
    /// Last change.
    pub updated_at: Option<OrdFilter<DateTime<Utc>>>,
    /// All of these.
    pub and: Option<Vec<ActivityFilter>>,
    /// Any of these.
    pub or: Option<Vec<ActivityFilter>>,
    /// Not this.
    pub not: Option<Box<ActivityFilter>>,
}

fn col(c: activity::Column) -> SimpleExpr {
    Expr::col((Alias::new("activities"), c))
}

fn ts(t: &DateTime<Utc>) -> ApiResult<Value> {
    Ok(Value::from(*t))
}

impl ActivityFilter {
    /// The SQL condition (scoping is added separately by the service).
    pub fn to_condition(&self) -> ApiResult<Condition> {
        use activity::Column as C;
        let mut all = Condition::all();
        let mut add = |conds: Vec<Condition>| {
            for c in conds {
                all = std::mem::replace(&mut all, Condition::all()).add(c);
            }
        };
        if let Some(f) = &self.id {
            add(f.conditions(&col(C::Id), "filter.id")?);
        }
        if let Some(f) = &self.kind {
            add(f.conditions(&col(C::Kind), |k| {
                Value::from(sea_orm::ActiveEnum::to_value(
                    &entity::enums::ActivityType::from(k),
                ))
            }));
        }
        if let Some(f) = &self.subject {
            add(f.conditions(&col(C::Subject)));
        }
        if let Some(f) = &self.due_at {
            add(f.conditions(&col(C::DueAt), ts)?);
        }
        if let Some(f) = &self.completed {
            add(f.conditions(&col(C::Completed)));
        }
        if let Some(f) = &self.completed_at {
            add(f.conditions(&col(C::CompletedAt), ts)?);
        }
        if let Some(f) = &self.company_id {
            add(f.conditions(&col(C::CompanyId), "filter.companyId")?);
        }
        if let Some(f) = &self.contact_id {
            add(f.conditions(&col(C::ContactId), "filter.contactId")?);
        }
        if let Some(f) = &self.deal_id {
            add(f.conditions(&col(C::DealId), "filter.dealId")?);
        }
        if let Some(f) = &self.created_by {
            add(f.conditions(&col(C::CreatedBy), "filter.createdBy")?);
        }
        if let Some(f) = &self.assigned_to {
            add(f.conditions(&col(C::AssignedTo), "filter.assignedTo")?);
        }
        if let Some(f) = &self.created_at {
            add(f.conditions(&col(C::CreatedAt), ts)?);
        }
        if let Some(f) = &self.updated_at {
            add(f.conditions(&col(C::UpdatedAt), ts)?);
        }
        if let Some(list) = &self.and {
            for f in list {
                add(vec![f.to_condition()?]);
            }
        }
        if let Some(list) = &self.or {
            let mut any = Condition::any();
            for f in list {
                any = any.add(f.to_condition()?);
            }
            add(vec![any]);
        }
        if let Some(f) = &self.not {
            add(vec![f.to_condition()?.not()]);
        }
        Ok(all)
    }
}

/// Fields activities can be ordered by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ActivityOrderField {
    /// Due time; activities without one come last ascending, first descending.
    DueAt,
    /// Creation time.
    CreatedAt,
    /// Last change.
    UpdatedAt,
    /// Subject.
    Subject,
}

/// One ordering key; ties are broken by the next key, finally by ID.
#[derive(InputObject, Clone, Copy)]
pub struct ActivityOrder {
    /// What to order by.
    pub field: ActivityOrderField,
    /// Which way.
    #[graphql(default)]
    pub direction: OrderDirection,
}

impl From<ActivityOrderField> for ActivitySort {
    fn from(f: ActivityOrderField) -> Self {
        match f {
            ActivityOrderField::DueAt => ActivitySort::DueAt,
            ActivityOrderField::CreatedAt => ActivitySort::CreatedAt,
            ActivityOrderField::UpdatedAt => ActivitySort::UpdatedAt,
            ActivityOrderField::Subject => ActivitySort::Subject,
        }
    }
}

connection!(
    ActivityConnection,
    ActivityEdge,
    Activity,
    "A page of activities, with the total over all pages.",
    "An activity in a page, with its cursor."
);

/// Activity queries.
#[derive(Default)]
pub struct ActivityQuery;

#[Object]
impl ActivityQuery {
    /// Activities the viewer may read, a page at a time (25 by default, at most 100); by
    /// default soonest due first, activities without a due time last. For "my open tasks"
    /// see `ActivityFilter`.
    #[expect(clippy::too_many_arguments, reason = "the Relay connection arguments")]
    async fn activities(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Rows after this cursor.")] after: Option<String>,
        #[graphql(desc = "Rows before this cursor.")] before: Option<String>,
        #[graphql(desc = "How many rows from the start (default 25, at most 100).")] first: Option<
            i32,
        >,
        #[graphql(desc = "How many rows from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Conditions the activities must meet.")] filter: Option<ActivityFilter>,
        #[graphql(
            desc = "Ordering keys (default: due time ascending, none last); ties break by ID."
        )]
        order_by: Option<Vec<ActivityOrder>>,
    ) -> Result<ActivityConnection> {
        let actor = actor(ctx)?;
        let deps = deps(ctx);
        let viewer = &actor.viewer;
        let condition = match &filter {
            Some(f) => f.to_condition().map_err(gql)?,
            None => Condition::all(),
        };
        let order: Vec<(ActivitySort, bool)> = order_by
            .unwrap_or_default()
            .iter()
            .map(|o| (o.field.into(), o.direction == OrderDirection::Desc))
            .collect();
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let (page, total) = list_page(deps, viewer, condition, order, args).await?;
        Ok(ActivityConnection::from_page(page, total, |row| {
            Activity::new(row, viewer)
        }))
    }

    /// An activity by ID; `null` when it does not exist or the viewer may not read it.
    async fn activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The activity's ID.")] id: ID,
    ) -> Result<Option<Activity>> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        match crate::service::activity::get(deps(ctx), &actor.viewer, id).await {
            Ok(row) => Ok(Some(Activity::new(row, &actor.viewer))),
            Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(gql(e)),
        }
    }
}

/// Input of `createActivity`. The creator is the signed-in user.
#[derive(InputObject)]
pub struct CreateActivityInput {
    /// What kind of activity. Required (a missing one is reported with any other problems).
    #[graphql(name = "type")]
    kind: Option<ActivityType>,
    /// Short summary. Required: not blank, at most 200 characters (trimmed).
    subject: Option<String>,
    /// Free-form details, at most 10,000 characters.
    description: Option<String>,
    /// When it is due.
    due_at: Option<DateTime<Utc>>,
    /// Already done (a call being logged, say): sets `completedAt` to now. Default false.
    #[graphql(default)]
    completed: bool,
    /// The company it is about; must be one the user can read.
    company_id: Option<ID>,
    /// The contact it is about; must be one the user can read.
    contact_id: Option<ID>,
    /// The deal it is about; must be one the user can read.
    deal_id: Option<ID>,
    /// Who should do it: an active user. Default: the signed-in user.
    assigned_to_id: Option<ID>,
}

/// Input of `updateActivity`; omitted fields are left unchanged, `null` clears an optional
/// one.
#[derive(InputObject)]
pub struct UpdateActivityInput {
    /// New kind.
    #[graphql(name = "type")]
    kind: Option<ActivityType>,
    /// New subject: not blank, at most 200 characters (trimmed).
    subject: Option<String>,
    /// New details, at most 10,000 characters; `null` clears them.
    description: MaybeUndefined<String>,
    /// New due time; `null` clears it.
    due_at: MaybeUndefined<DateTime<Utc>>,
    /// `true` completes the activity (sets `completedAt`), `false` reopens it (clears it).
    completed: Option<bool>,
    /// New company (one the user can read); `null` detaches it.
    company_id: MaybeUndefined<ID>,
    /// New contact (one the user can read); `null` detaches it.
    contact_id: MaybeUndefined<ID>,
    /// New deal (one the user can read); `null` detaches it.
    deal_id: MaybeUndefined<ID>,
    /// New assignee (an active user); `null` leaves it unassigned.
    assigned_to_id: MaybeUndefined<ID>,
    /// The `version` the client last saw; if the activity changed since, the update is
    /// refused with `CONFLICT` and nothing is written.
    expected_version: Option<i32>,
}

/// Parses an optional client ID, recording a malformed one in `errors`.
fn parse_opt(id: Option<&ID>, field: &str, errors: &mut Vec<FieldError>) -> Option<Uuid> {
    match id.map(|i| parse_id(i, field)) {
        Some(Ok(u)) => Some(u),
        Some(Err(ApiError::BadUserInput(mut e))) => {
            errors.append(&mut e);
            None
        }
        _ => None,
    }
}

/// Parses an optional, clearable client ID (`None` unchanged, `Some(None)` cleared).
fn parse_maybe(
    id: &MaybeUndefined<ID>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Option<Uuid>> {
    id.as_opt_ref()
        .map(|inner| inner.and_then(|i| parse_opt(Some(i), field, errors)))
}

/// Activity mutations.
#[derive(Default)]
pub struct ActivityMutation;

#[Object]
impl ActivityMutation {
    /// Logs an activity created by the signed-in user, assigned to them unless
    /// `assignedToId` says otherwise.
    async fn create_activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new activity.")] input: CreateActivityInput,
    ) -> Result<Activity> {
        let actor = actor(ctx)?;
        let mut errors = Vec::new();
        let new = NewActivity {
            kind: input.kind.map(Into::into),
            subject: input.subject,
            description: input.description,
            due_at: input.due_at,
            completed: input.completed,
            company_id: parse_opt(input.company_id.as_ref(), "companyId", &mut errors),
            contact_id: parse_opt(input.contact_id.as_ref(), "contactId", &mut errors),
            deal_id: parse_opt(input.deal_id.as_ref(), "dealId", &mut errors),
            assigned_to: parse_opt(input.assigned_to_id.as_ref(), "assignedToId", &mut errors),
        };
        if !errors.is_empty() {
            return Err(gql(ApiError::BadUserInput(errors)));
        }
        crate::service::activity::create(deps(ctx), &actor.viewer, new)
            .await
            .map(|row| Activity::new(row, &actor.viewer))
            .map_err(gql)
    }

    /// Changes an activity. `NOT_FOUND` if the viewer cannot read it, `FORBIDDEN` if they
    /// may not change it, `CONFLICT` if `expectedVersion` is stale.
    async fn update_activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The activity to change.")] id: ID,
        #[graphql(desc = "The changes.")] input: UpdateActivityInput,
    ) -> Result<Activity> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        let mut errors = Vec::new();
        let changes = ActivityChanges {
            kind: input.kind.map(Into::into),
            subject: input.subject,
            description: input.description.into(),
            due_at: input.due_at.into(),
            completed: input.completed,
            company_id: parse_maybe(&input.company_id, "companyId", &mut errors),
            contact_id: parse_maybe(&input.contact_id, "contactId", &mut errors),
            deal_id: parse_maybe(&input.deal_id, "dealId", &mut errors),
            assigned_to: parse_maybe(&input.assigned_to_id, "assignedToId", &mut errors),
            expected_version: input.expected_version,
        };
        if !errors.is_empty() {
            return Err(gql(ApiError::BadUserInput(errors)));
        }
        crate::service::activity::update(deps(ctx), &actor.viewer, id, changes)
            .await
            .map(|row| Activity::new(row, &actor.viewer))
            .map_err(gql)
    }

    /// Marks an activity completed (an already completed one is returned unchanged);
    /// reopen it with `updateActivity(input: {completed: false})`.
    async fn complete_activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The activity to complete.")] id: ID,
        #[graphql(desc = "The `version` the client last saw; stale is `CONFLICT`.")]
        expected_version: Option<i32>,
    ) -> Result<Activity> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        crate::service::activity::complete(deps(ctx), &actor.viewer, id, expected_version)
            .await
            .map(|row| Activity::new(row, &actor.viewer))
            .map_err(gql)
    }

    /// Deletes an activity; returns its ID.
    async fn delete_activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The activity to delete.")] id: ID,
    ) -> Result<ID> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        crate::service::activity::delete(deps(ctx), &actor.viewer, id)
            .await
            .map(id_of)
            .map_err(gql)
    }
}
