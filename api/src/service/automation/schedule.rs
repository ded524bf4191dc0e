//! Scheduled automations, and the defaults a new database starts with.
//!
//! Every instance looks each second at the enabled `SCHEDULE` automations; for each, the
//! latest fire time of its cron expression that has passed (at most a day back, never
//! before the automation was last changed) is claimed in `schedule_runs` — a conditional
//! update, or the first insert — so of several instances exactly one wins each fire time,
//! and writes the fire's jobs in the same transaction.
//!
//! What a fire's jobs are about: for a default, what the default is for (deals closing
//! within 7 days; open activities due within a day or overdue; each rep's and manager's
//! week); for an automation an admin wrote, each deal meeting its condition (at most
//! [`MAX_SUBJECTS`]), or nothing in particular (one job per action) without a condition.

use chrono::{DateTime, Utc};
use entity::enums::{DealStage, NotificationKind, Role};
use entity::{activity, automation, deal, schedule_run, user};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use uuid::Uuid;

use super::definition::{Action, Automation, Recipient, Trigger, parse_cron};
use super::{JobContext, SubjectKind, condition_viewer, new_job};
use crate::error::ApiResult;
use crate::service::Deps;

/// Most records one fire runs for.
pub const MAX_SUBJECTS: u64 = 1000;

/// The defaults (`automations.builtin`).
pub const CLOSING_SOON: &str = "closing_soon";
/// Open activities due soon or overdue.
pub const ACTIVITY_DUE: &str = "activity_due";
/// Each rep's and manager's week.
pub const WEEKLY_DIGEST: &str = "weekly_digest";
/// The stage-change note.
pub const STAGE_CHANGE: &str = "stage_change";

/// Claims fire time `fire` of schedule `name`: true for exactly one caller.
async fn claim(db: &impl ConnectionTrait, name: &str, fire: DateTime<Utc>) -> ApiResult<bool> {
    let updated = schedule_run::Entity::update_many()
        .col_expr(schedule_run::Column::LastRunAt, Expr::value(fire))
        .filter(schedule_run::Column::Name.eq(name))
        .filter(schedule_run::Column::LastRunAt.lt(fire))
        .exec(db)
        .await?;
    if updated.rows_affected == 1 {
        return Ok(true);
    }
    let inserted = schedule_run::Entity::insert(schedule_run::ActiveModel {
        name: Set(name.to_owned()),
        last_run_at: Set(fire),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(db)
    .await?;
    Ok(matches!(inserted, sea_orm::TryInsertResult::Inserted(1)))
}

/// The schedule name of an automation in `schedule_runs`.
fn schedule_name(id: Uuid) -> String {
    format!("automation:{id}")
}

/// Fires what is due. Called by every instance's worker about once a second.
pub async fn tick(deps: &Deps) -> ApiResult<usize> {
    let now = Utc::now();
    let scheduled = automation::Entity::find()
        .filter(automation::Column::TriggerOn.eq(Trigger::Schedule.as_str()))
        .filter(automation::Column::Enabled.eq(true))
        .all(&deps.db)
        .await?;
    let mut fired = 0;
    for model in scheduled {
        let Some(expr) = model.schedule.as_deref() else {
            continue;
        };
        let (Ok(cron), Ok(automation)) = (parse_cron(expr), Automation::from_model(&model)) else {
            tracing::error!(automation = %model.id, "scheduled automation unreadable; skipped");
            continue;
        };
        let name = schedule_name(model.id);
        let last = schedule_run::Entity::find_by_id(name.clone())
            .one(&deps.db)
            .await?
            .map(|r| r.last_run_at);
        let start = [
            Some(model.updated_at),
            last,
            Some(now - chrono::Duration::days(1)),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(now);
        let Some(fire) = cron.after(&start).take_while(|t| *t <= now).last() else {
            continue;
        };
        let txn = deps.db.begin().await?;
        if !claim(&txn, &name, fire).await? {
            continue;
        }
        let jobs = fire_jobs(deps, &txn, &automation, fire).await?;
        txn.commit().await?;
        tracing::info!(automation = %model.id, %fire, jobs, "automation schedule fired");
        fired += 1;
    }
    if fired > 0 {
        deps.jobs.wake();
    }
    Ok(fired)
}

/// Writes the jobs of one fire; returns how many.
async fn fire_jobs(
    deps: &Deps,
    txn: &impl ConnectionTrait,
    automation: &Automation,
    fire: DateTime<Utc>,
) -> ApiResult<usize> {
    let (kind, notification_kind, subjects) = subjects(deps, txn, automation, fire).await?;
    let mut n = 0;
    for record in subjects {
        for (i, action) in automation.actions.iter().enumerate() {
            let context = JobContext {
                action: action.clone(),
                trigger: Trigger::Schedule,
                actor: None,
                previous_stage: None,
                subject: kind,
                notification_kind,
                fired_at: Some(fire),
            };
            entity::job::Entity::insert(new_job(automation.id, i, None, record, &context, fire)?)
                .exec_without_returning(txn)
                .await?;
            n += 1;
        }
    }
    Ok(n)
}

type Subjects = (SubjectKind, Option<NotificationKind>, Vec<Option<Uuid>>);

/// What one fire runs for.
async fn subjects(
    deps: &Deps,
    txn: &impl ConnectionTrait,
    automation: &Automation,
    fire: DateTime<Utc>,
) -> ApiResult<Subjects> {
    let viewer = condition_viewer();
    let env = crate::service::filter::Env {
        deps,
        viewer: &viewer,
    };
    let conditioned = |select: sea_orm::Select<deal::Entity>| match &automation.condition {
        Some(c) => select.filter(c.filter().condition(&env)),
        None => select,
    };
    let deal_ids = |select: sea_orm::Select<deal::Entity>| {
        select
            .select_only()
            .column(deal::Column::Id)
            .order_by_asc(deal::Column::Id)
            .limit(MAX_SUBJECTS)
            .into_tuple::<Uuid>()
    };
    let some = |ids: Vec<Uuid>| ids.into_iter().map(Some).collect::<Vec<_>>();
    Ok(match automation.builtin.as_deref() {
        Some(CLOSING_SOON) => {
            let today = fire.date_naive();
            let open = deal::Entity::find()
                .filter(
                    deal::Column::Stage.is_not_in([DealStage::ClosedWon, DealStage::ClosedLost]),
                )
                .filter(
                    deal::Column::ExpectedCloseDate
                        .between(today, today + chrono::Duration::days(7)),
                );
            let ids = deal_ids(conditioned(open)).all(txn).await?;
            (
                SubjectKind::Deal,
                Some(NotificationKind::DealClosingSoon),
                some(ids),
            )
        }
        Some(ACTIVITY_DUE) => {
            let ids: Vec<Uuid> = activity::Entity::find()
                .select_only()
                .column(activity::Column::Id)
                .filter(activity::Column::Completed.eq(false))
                .filter(activity::Column::AssignedTo.is_not_null())
                .filter(activity::Column::DueAt.lte(fire + chrono::Duration::days(1)))
                .filter(activity::Column::DueAt.gte(fire - chrono::Duration::days(30)))
                .order_by_asc(activity::Column::Id)
                .limit(MAX_SUBJECTS)
                .into_tuple()
                .all(txn)
                .await?;
            (
                SubjectKind::Activity,
                Some(NotificationKind::ActivityDue),
                some(ids),
            )
        }
        Some(WEEKLY_DIGEST) => {
            let ids: Vec<Uuid> = user::Entity::find()
                .select_only()
                .column(user::Column::Id)
                .filter(user::Column::Active.eq(true))
                .filter(user::Column::Role.is_in([Role::SalesRep, Role::Manager]))
                .order_by_asc(user::Column::Id)
                .limit(MAX_SUBJECTS)
                .into_tuple()
                .all(txn)
                .await?;
            (
                SubjectKind::User,
                Some(NotificationKind::WeeklyDigest),
                some(ids),
            )
        }
        _ if automation.condition.is_some() => {
            let ids = deal_ids(conditioned(deal::Entity::find())).all(txn).await?;
            (SubjectKind::Deal, None, some(ids))
        }
        _ => (SubjectKind::Deal, None, vec![None]),
    })
}

/// Installs the defaults once per database (deleting them later does not bring them back).
pub async fn install_defaults(deps: &Deps) -> ApiResult<bool> {
    let txn = deps.db.begin().await?;
    let inserted = schedule_run::Entity::insert(schedule_run::ActiveModel {
        name: Set("automation_defaults".into()),
        last_run_at: Set(Utc::now()),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(&txn)
    .await?;
    if !matches!(inserted, sea_orm::TryInsertResult::Inserted(1)) {
        return Ok(false);
    }
    let now = Utc::now();
    for (builtin, name, trigger, schedule, actions) in defaults() {
        automation::Entity::insert(automation::ActiveModel {
            id: Set(Uuid::now_v7()),
            name: Set(name.into()),
            enabled: Set(true),
            trigger_on: Set(trigger.as_str().into()),
            deal_condition: Set(None),
            schedule: Set(schedule.map(Into::into)),
            actions: Set(serde_json::to_string(&actions).unwrap_or_default()),
            builtin: Set(Some(builtin.into())),
            created_by: Set(None),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec_without_returning(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(true)
}

type DefaultAutomation = (
    &'static str,
    &'static str,
    Trigger,
    Option<&'static str>,
    Vec<Action>,
);

/// The seed's defaults.
fn defaults() -> Vec<DefaultAutomation> {
    let notify = |recipients: Vec<Recipient>, title: &str, body: &str| Action::Notify {
        recipients,
        title: title.into(),
        body: body.into(),
    };
    vec![
        (
            STAGE_CHANGE,
            "Stage change: note on the deal, owner emailed",
            Trigger::DealStageChanged,
            None,
            vec![
                Action::CreateActivity {
                    kind: entity::enums::ActivityType::Note,
                    subject: "Stage changed to {{ deal.stage }}".into(),
                    description: Some(
                        "{{ actor.name }} moved {{ deal.title }} from {{ previous.stage }} to {{ deal.stage }}."
                            .into(),
                    ),
                },
                Action::Email {
                    recipients: vec![Recipient::Owner],
                    subject: "{{ deal.title }} is now {{ deal.stage }}".into(),
                    body: "Hello {{ recipient.name }},\n\n{{ actor.name }} moved {{ deal.title }} from {{ previous.stage }} to {{ deal.stage }}.\n\n{{ deal.url }}\n"
                        .into(),
                },
            ],
        ),
        (
            CLOSING_SOON,
            "Deals closing this week (daily reminder)",
            Trigger::Schedule,
            Some("0 8 * * *"),
            vec![notify(
                vec![Recipient::Owner],
                "{{ deal.title }} closes soon",
                "Expected to close on {{ deal.expectedCloseDate }} ({{ deal.stage }}, {{ deal.amount }} {{ deal.currency }}).",
            )],
        ),
        (
            ACTIVITY_DUE,
            "Activities due (daily reminder)",
            Trigger::Schedule,
            Some("0 7 * * *"),
            vec![notify(
                vec![Recipient::Assignee],
                "Due: {{ activity.subject }}",
                "{{ activity.type }} due {{ activity.dueAt }}.",
            )],
        ),
        (
            WEEKLY_DIGEST,
            "Weekly digest (Monday)",
            Trigger::Schedule,
            Some("0 7 * * MON"),
            vec![
                notify(
                    vec![Recipient::Owner],
                    "Your week",
                    "{{ digest.openDeals }} open deals ({{ digest.openAmount }}), {{ digest.closingThisWeek }} closing this week, {{ digest.tasksDue }} activities due.",
                ),
                Action::Email {
                    recipients: vec![Recipient::Owner],
                    subject: "Your week in the CRM".into(),
                    body: "Hello {{ recipient.name }},\n\nYou have {{ digest.openDeals }} open deals worth {{ digest.openAmount }}; {{ digest.closingThisWeek }} close this week and {{ digest.tasksDue }} activities are due.\n"
                        .into(),
                },
            ],
        ),
    ]
}
