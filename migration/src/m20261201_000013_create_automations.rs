//! Workflow automation (docs/automation.md).
//!
//! - `automations`: what an admin set up: a trigger, an optional deal condition (the JSON of
//!   a `DealFilter`), a cron schedule for scheduled ones, and the actions (JSON).
//! - `jobs`: one row per action to run, written in the transaction of the event that
//!   triggered it (so an action exists iff its cause committed). Claimed by one instance
//!   (`FOR UPDATE SKIP LOCKED` on PostgreSQL), retried with backoff; `ix_jobs_due` finds
//!   the next due job.
//! - `automation_runs`: every attempt of every job, with its outcome.
//! - `events.automation_id`: a change made by an automation names it (its `actor_id` is
//!   null).

use sea_orm_migration::prelude::*;

use crate::ddl::{self, Types};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let Types {
            uuid,
            timestamp,
            bigint,
            integer,
            boolean,
            text,
            ..
        } = Types::for_backend(manager.get_database_backend())?;
        let automations = format!(
            "CREATE TABLE automations (
    id {uuid} NOT NULL,
    name VARCHAR(200) NOT NULL,
    enabled {boolean} NOT NULL,
    trigger_on VARCHAR(32) NOT NULL,
    deal_condition {text},
    schedule VARCHAR(200),
    actions {text} NOT NULL,
    builtin VARCHAR(32),
    created_by {uuid},
    version {integer} NOT NULL,
    created_at {timestamp} NOT NULL,
    updated_at {timestamp} NOT NULL,
    CONSTRAINT pk_automations PRIMARY KEY (id),
    CONSTRAINT fk_automations_created_by FOREIGN KEY (created_by) REFERENCES users (id) ON DELETE SET NULL
)"
        );
        let jobs = format!(
            "CREATE TABLE jobs (
    id {uuid} NOT NULL,
    automation_id {uuid} NOT NULL,
    action_index {integer} NOT NULL,
    event_position {bigint},
    record_id {uuid},
    context {text} NOT NULL,
    status VARCHAR(16) NOT NULL,
    attempts {integer} NOT NULL,
    run_at {timestamp} NOT NULL,
    locked_until {timestamp},
    last_error {text},
    created_at {timestamp} NOT NULL,
    updated_at {timestamp} NOT NULL,
    CONSTRAINT pk_jobs PRIMARY KEY (id),
    CONSTRAINT fk_jobs_automation_id FOREIGN KEY (automation_id) REFERENCES automations (id) ON DELETE CASCADE
)"
        );
        let runs = format!(
            "CREATE TABLE automation_runs (
    id {uuid} NOT NULL,
    automation_id {uuid} NOT NULL,
    job_id {uuid} NOT NULL,
    attempt {integer} NOT NULL,
    status VARCHAR(16) NOT NULL,
    message {text},
    started_at {timestamp} NOT NULL,
    finished_at {timestamp} NOT NULL,
    CONSTRAINT pk_automation_runs PRIMARY KEY (id),
    CONSTRAINT fk_automation_runs_automation_id FOREIGN KEY (automation_id) REFERENCES automations (id) ON DELETE CASCADE,
    CONSTRAINT fk_automation_runs_job_id FOREIGN KEY (job_id) REFERENCES jobs (id) ON DELETE CASCADE
)"
        );
        let automation_column = format!("ALTER TABLE events ADD COLUMN automation_id {uuid}");
        ddl::run(
            manager,
            &[
                automations.as_str(),
                "CREATE INDEX ix_automations_trigger ON automations (trigger_on, enabled)",
                jobs.as_str(),
                "CREATE INDEX ix_jobs_due ON jobs (status, run_at)",
                "CREATE INDEX ix_jobs_automation ON jobs (automation_id)",
                runs.as_str(),
                "CREATE INDEX ix_automation_runs_automation ON automation_runs (automation_id, started_at, id)",
                "CREATE INDEX ix_automation_runs_job ON automation_runs (job_id)",
                automation_column.as_str(),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(
            manager,
            &[
                "ALTER TABLE events DROP COLUMN automation_id",
                "DROP TABLE automation_runs",
                "DROP TABLE jobs",
                "DROP TABLE automations",
            ],
        )
        .await
    }
}
