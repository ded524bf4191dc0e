//! Workflow automation (docs/automation.md): what admins set up to happen by itself when a
//! deal or an activity changes.
//!
//! - [`definition`]: the automations themselves — trigger, condition, actions — checked in
//!   full when saved (templates, hosts, owners, the condition), so nothing that could be
//!   refused when saving fails only when it fires.
//! - [`enqueue`]: called with every event a write records, in its transaction: one job row
//!   per action of every enabled automation the event triggers and whose condition holds.
//! - [`queue`]: each instance claims due jobs one at a time (`FOR UPDATE SKIP LOCKED` on
//!   PostgreSQL: exactly one instance runs each), runs the action, records the attempt in
//!   `automation_runs`, retries a failure with exponential backoff, 5 attempts in all.
//! - [`actions`]: what each action does, with the policy: a notification or email only goes
//!   to a recipient who may read the record (and shows only the fields they may read);
//!   writes act for a user and need that user's permissions, recorded as the automation's.

pub mod actions;
pub mod definition;
pub mod queue;
pub mod schedule;
pub mod template;
pub mod webhook;

use chrono::Utc;
use entity::enums::Role;
use entity::{activity, automation, job};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::authz::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::service::Deps;
use crate::service::events::{AuditAction, Event, RecordKind};

pub use definition::{Action, Automation, AutomationInput, Recipient, Trigger};

/// What a job carries from the moment it was made: the action (as the automation said
/// then), the trigger, who made the change, the previous stage.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobContext {
    /// The action to run.
    pub action: Action,
    /// What fired it.
    pub trigger: Trigger,
    /// The user whose change fired it.
    pub actor: Option<Uuid>,
    /// The deal's stage before a stage change.
    pub previous_stage: Option<String>,
    /// What the job's record is.
    #[serde(default)]
    pub subject: SubjectKind,
    /// The kind of the notifications it makes (`AUTOMATION` unless a default says).
    #[serde(default)]
    pub notification_kind: Option<entity::enums::NotificationKind>,
    /// The schedule's fire time, for a scheduled run.
    #[serde(default)]
    pub fired_at: Option<chrono::DateTime<Utc>>,
}

/// What a job's record is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// A deal.
    #[default]
    Deal,
    /// An activity (and its deal).
    Activity,
    /// A user (a digest).
    User,
}

/// The triggers an event fires.
fn triggers_of(event: &Event) -> Vec<Trigger> {
    match (event.kind, event.action) {
        (Some(RecordKind::Deal), AuditAction::RecordCreated) => vec![Trigger::DealCreated],
        (Some(RecordKind::Deal), AuditAction::RecordUpdated) => {
            let mut t = vec![Trigger::DealUpdated];
            if event.changes.iter().any(|c| c.field == "stage") {
                t.push(Trigger::DealStageChanged);
            }
            t
        }
        (Some(RecordKind::Activity), AuditAction::RecordCreated) => {
            vec![Trigger::ActivityCreated]
        }
        _ => Vec::new(),
    }
}

/// A viewer that reads every field of a deal the way an admin would, for evaluating
/// conditions (a condition on `amount` compares the stored amount).
pub(crate) fn condition_viewer() -> Viewer {
    Viewer::new(Uuid::nil(), Role::Admin, [])
}

/// Writes the jobs `event` (by `viewer`, at `position`) triggers, in the write's
/// transaction. Changes made by an automation trigger nothing.
pub(crate) async fn enqueue(
    deps: &Deps,
    txn: &impl ConnectionTrait,
    viewer: &Viewer,
    event: &Event,
    position: Option<i64>,
) -> ApiResult<()> {
    if viewer.origin.automation.is_some() {
        return Ok(());
    }
    let triggers = triggers_of(event);
    let Some(record) = event.record_id else {
        return Ok(());
    };
    if triggers.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = triggers.iter().map(|t| t.as_str()).collect();
    let found = automation::Entity::find()
        .filter(automation::Column::TriggerOn.is_in(names))
        .filter(automation::Column::Enabled.eq(true))
        .all(txn)
        .await?;
    if found.is_empty() {
        return Ok(());
    }
    // The deal a condition is about: the record itself, or an activity's deal.
    let deal_id = match event.kind {
        Some(RecordKind::Activity) => activity::Entity::find_by_id(record)
            .select_only()
            .column(activity::Column::DealId)
            .into_tuple::<Option<Uuid>>()
            .one(txn)
            .await?
            .flatten(),
        _ => Some(record),
    };
    let previous_stage = event
        .changes
        .iter()
        .find(|c| c.field == "stage")
        .and_then(|c| c.from.as_str().map(str::to_owned));
    let now = Utc::now();
    for a in found {
        // An automation that no longer reads (its condition names a field the schema has
        // since lost, say) must not stop the write that triggered it: it is skipped, loudly.
        let automation = match Automation::from_model(&a) {
            Ok(automation) => automation,
            Err(e) => {
                tracing::error!(automation = %a.id, error = ?e, "automation unreadable; skipped");
                continue;
            }
        };
        if let Some(condition) = &automation.condition {
            let holds = match deal_id {
                Some(d) => condition.holds(deps, txn, &condition_viewer(), d).await?,
                None => false,
            };
            if !holds {
                continue;
            }
        }
        for (i, action) in automation.actions.iter().enumerate() {
            let context = JobContext {
                action: action.clone(),
                trigger: automation.trigger,
                actor: Some(viewer.user_id),
                previous_stage: previous_stage.clone(),
                subject: if event.kind == Some(RecordKind::Activity) {
                    SubjectKind::Activity
                } else {
                    SubjectKind::Deal
                },
                notification_kind: None,
                fired_at: None,
            };
            job::Entity::insert(new_job(a.id, i, position, Some(record), &context, now)?)
                .exec_without_returning(txn)
                .await?;
        }
    }
    deps.jobs.start(deps);
    deps.jobs.wake();
    Ok(())
}

/// A pending job row.
pub(crate) fn new_job(
    automation: Uuid,
    index: usize,
    position: Option<i64>,
    record: Option<Uuid>,
    context: &JobContext,
    now: chrono::DateTime<Utc>,
) -> ApiResult<job::ActiveModel> {
    let context =
        serde_json::to_string(context).map_err(|e| ApiError::internal("encoding a job", e))?;
    Ok(job::ActiveModel {
        id: Set(Uuid::now_v7()),
        automation_id: Set(automation),
        action_index: Set(index as i32),
        event_position: Set(position),
        record_id: Set(record),
        context: Set(context),
        status: Set(queue::PENDING.into()),
        attempts: Set(0),
        run_at: Set(now),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
}
