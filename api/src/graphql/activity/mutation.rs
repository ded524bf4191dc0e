//! Activity changes and their inputs.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{ApiError, FieldError};
use crate::graphql::enums::{ActivityStatus, ActivityType, Priority};
use crate::graphql::{actor, deps, gql, parse_id};
use crate::service::activity::{ActivityChanges, NewActivity};

#[allow(unused_imports)]
use super::*;

/// Input of `createActivity`. The creator is the signed-in user.
#[derive(InputObject)]
pub struct CreateActivityInput {
    /// An id for the new record chosen by the client (a UUID), so that an offline client can
    /// replay a queued create safely: the same create sent again returns the record the first
    /// one made and changes nothing. An id already used by a record you cannot read is refused.
    id: Option<ID>,
    /// What kind of activity. Required (a missing one is reported with any other problems).
    #[graphql(name = "type")]
    kind: Option<ActivityType>,
    /// Short summary. Required: not blank, at most 200 characters (trimmed).
    subject: Option<String>,
    /// Free-form details, at most 10,000 characters.
    description: Option<String>,
    /// When it is due.
    due_at: Option<DateTime<Utc>>,
    /// Already done (a call being logged, say): sets `completedAt` to now. Default false
    /// (or true when `status` is `COMPLETED`).
    completed: Option<bool>,
    /// How urgent it is (default `MEDIUM`).
    priority: Option<Priority>,
    /// `PENDING` (the default, or `COMPLETED` when `completed` is true), `IN_PROGRESS` or
    /// `COMPLETED` (which also sets `completed`). A status that contradicts `completed` is
    /// refused.
    status: Option<ActivityStatus>,
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
    /// `true` completes the activity (sets `completedAt`, status `COMPLETED`), `false` reopens
    /// it (clears it; status `PENDING` unless `status` says `IN_PROGRESS`).
    completed: Option<bool>,
    /// New priority.
    priority: Option<Priority>,
    /// New status: `COMPLETED` completes the activity, `PENDING` or `IN_PROGRESS` reopens a
    /// completed one (completing or reopening needs the policy's `complete`). A status that
    /// contradicts `completed` in the same input is refused.
    status: Option<ActivityStatus>,
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
            priority: input.priority.map(Into::into),
            status: input.status.map(Into::into),
            company_id: parse_opt(input.company_id.as_ref(), "companyId", &mut errors),
            contact_id: parse_opt(input.contact_id.as_ref(), "contactId", &mut errors),
            deal_id: parse_opt(input.deal_id.as_ref(), "dealId", &mut errors),
            assigned_to: parse_opt(input.assigned_to_id.as_ref(), "assignedToId", &mut errors),
            id: parse_opt(input.id.as_ref(), "id", &mut errors),
        };
        if !errors.is_empty() {
            return Err(gql(ApiError::BadUserInput(errors)));
        }
        crate::service::activity::create(deps(ctx), &actor.viewer, crate::service::At::Own, new)
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
            priority: input.priority.map(Into::into),
            status: input.status.map(Into::into),
            company_id: parse_maybe(&input.company_id, "companyId", &mut errors),
            contact_id: parse_maybe(&input.contact_id, "contactId", &mut errors),
            deal_id: parse_maybe(&input.deal_id, "dealId", &mut errors),
            assigned_to: parse_maybe(&input.assigned_to_id, "assignedToId", &mut errors),
            expected_version: input.expected_version,
        };
        if !errors.is_empty() {
            return Err(gql(ApiError::BadUserInput(errors)));
        }
        crate::service::activity::update(
            deps(ctx),
            &actor.viewer,
            crate::service::At::Own,
            id,
            changes,
        )
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
