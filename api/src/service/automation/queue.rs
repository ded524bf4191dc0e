//! The job queue: rows in `jobs`, claimed one at a time by whichever instance gets there
//! first, run, and recorded in `automation_runs`.
//!
//! A claim is one statement: it marks the oldest due job `running`, counts the attempt and
//! leases it for [`LEASE`]. On PostgreSQL the candidate is picked `FOR UPDATE SKIP LOCKED`,
//! so instances claiming together take different jobs and exactly one runs each; SQLite
//! serializes writers, so the statement alone is enough. A job whose instance died while
//! running it is claimed again once its lease has passed (its attempt counts). A failure
//! is retried after `CRM_JOB_RETRY_BASE_MS` × 2^(attempt − 1), up to [`MAX_ATTEMPTS`].
//!
//! No queue crate: the ones for this stack bring their own sqlx (which links SQLite a
//! second time beside SeaORM's) or a broker; this is a table and two statements
//! (docs/automation.md).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use entity::{automation_run, job};
use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, TransactionTrait};
use tokio::sync::Notify;
use uuid::Uuid;

use super::JobContext;
use super::actions::{self, Outcome};
use crate::error::{ApiError, ApiResult};
use crate::service::Deps;

/// Job states.
pub const PENDING: &str = "pending";
/// Claimed by an instance.
pub const RUNNING: &str = "running";
/// Done.
pub const SUCCEEDED: &str = "succeeded";
/// Failed for good (after the last attempt, or a failure no retry can mend).
pub const FAILED: &str = "failed";
/// Not done, on purpose (no SMTP server set up, no recipient may read the record, …).
pub const SKIPPED: &str = "skipped";
/// A run that will be attempted again.
pub const RETRYING: &str = "retrying";

/// Attempts per job.
pub const MAX_ATTEMPTS: i32 = 5;
/// How long a claimed job is its instance's.
const LEASE: Duration = Duration::from_secs(300);
/// How often an idle worker looks for due jobs (retries, other instances' jobs).
const POLL: Duration = Duration::from_millis(500);

/// This instance's worker. Cheap to clone.
#[derive(Clone, Default)]
pub struct Jobs {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    wake: Notify,
    started: AtomicBool,
}

impl Jobs {
    /// Wakes the worker (a job was written).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Starts the worker once.
    pub fn start(&self, deps: &Deps) {
        if !self.inner.started.swap(true, Ordering::SeqCst) {
            tokio::spawn(work(deps.clone()));
        }
    }
}

/// Runs due jobs until the process ends.
async fn work(deps: Deps) {
    let mut last_tick = std::time::Instant::now() - Duration::from_secs(60);
    loop {
        if last_tick.elapsed() >= Duration::from_secs(1) {
            last_tick = std::time::Instant::now();
            if let Err(e) = super::schedule::tick(&deps).await {
                tracing::warn!(error = %e, "automation: firing schedules failed");
            }
        }
        match claim(&deps).await {
            Ok(Some(job)) => {
                if let Err(e) = run(&deps, job).await {
                    tracing::warn!(error = %e, "automation: recording a run failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "automation: claiming a job failed"),
        }
        let wait = POLL.min(Duration::from_secs(1).saturating_sub(last_tick.elapsed()));
        tokio::select! {
            () = deps.jobs.inner.wake.notified() => {
                // Let the write that woke us commit.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Deletes finished jobs (and with them their runs) older than the audit retention.
pub async fn purge(deps: &Deps, now: chrono::DateTime<Utc>) -> ApiResult<u64> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let cutoff = now - chrono::Duration::days(i64::from(deps.config.audit_retention_days));
    Ok(job::Entity::delete_many()
        .filter(job::Column::Status.is_in([SUCCEEDED, FAILED, SKIPPED]))
        .filter(job::Column::UpdatedAt.lt(cutoff))
        .exec(&deps.db)
        .await?
        .rows_affected)
}

/// Claims the oldest due job (or one whose lease passed), if any.
pub async fn claim(deps: &Deps) -> ApiResult<Option<job::Model>> {
    let backend = deps.db.get_database_backend();
    let now = Utc::now();
    let lease_end = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
    let lock = if backend == DbBackend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE jobs SET status = '{RUNNING}', attempts = attempts + 1, locked_until = $1, \
         updated_at = $2 \
         WHERE id = (SELECT id FROM jobs \
           WHERE (status = '{PENDING}' AND run_at <= $2) \
              OR (status = '{RUNNING}' AND locked_until < $2) \
           ORDER BY run_at, id LIMIT 1{lock}) \
         RETURNING *"
    );
    let statement = crate::db::statement(backend, &sql, vec![lease_end.into(), now.into()]);
    let row = deps.db.query_one_raw(statement).await?;
    row.map(|r| job::Model::from_query_result(&r, ""))
        .transpose()
        .map_err(ApiError::from)
}

/// Runs a claimed job and records the attempt.
async fn run(deps: &Deps, job: job::Model) -> ApiResult<()> {
    let started = Utc::now();
    let outcome = match serde_json::from_str::<JobContext>(&job.context) {
        Ok(context) => actions::run(deps, &job, &context).await,
        Err(e) => Outcome::Failed(format!("unreadable job: {e}")),
    };
    let finished = Utc::now();
    let base = deps.config.job_retry_base_ms.max(1);
    let (job_status, run_status, message, run_at) = match outcome {
        Outcome::Done(m) => (SUCCEEDED, SUCCEEDED, m, job.run_at),
        Outcome::Skipped(m) => (SKIPPED, SKIPPED, m, job.run_at),
        Outcome::Failed(m) => (FAILED, FAILED, m, job.run_at),
        Outcome::Retry(m) if job.attempts >= MAX_ATTEMPTS => (FAILED, FAILED, m, job.run_at),
        Outcome::Retry(m) => {
            let delay = base.saturating_mul(1 << (job.attempts - 1).clamp(0, 20));
            let at = finished + chrono::Duration::milliseconds(delay as i64);
            (PENDING, RETRYING, m, at)
        }
    };
    tracing::info!(
        target: "audit",
        event = "automation.run",
        automation_id = %job.automation_id,
        job_id = %job.id,
        attempt = job.attempts,
        status = run_status,
        message = %message,
        "automation action ran"
    );
    let txn = deps.db.begin().await?;
    automation_run::Entity::insert(automation_run::ActiveModel {
        id: Set(Uuid::now_v7()),
        automation_id: Set(job.automation_id),
        job_id: Set(job.id),
        attempt: Set(job.attempts),
        status: Set(run_status.into()),
        message: Set(Some(message.clone())),
        started_at: Set(started),
        finished_at: Set(finished),
    })
    .exec_without_returning(&txn)
    .await?;
    job::Entity::update(job::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(job.id),
        status: Set(job_status.into()),
        run_at: Set(run_at),
        locked_until: Set(None),
        last_error: Set((run_status != SUCCEEDED).then_some(message)),
        updated_at: Set(finished),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    txn.commit().await?;
    Ok(())
}
