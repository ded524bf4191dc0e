//! Offline sync state. A `sync_clients` row is one client's replica (a phone, a browser
//! tab), made by `syncCursor`; `sync_known` holds, per client, the records it was sent and
//! the version and facts mask they had, so `changes` can send exactly the difference
//! between what the client holds and what the viewer may read now (and a `DELETE`
//! tombstone only for a record the client was given). A row's `pending_*` columns are the
//! last answer's change, kept until the client comes back with a cursor at or past it
//! (then it becomes the known state) or before it (then it is dropped): a lost answer is
//! sent again. `ix_sync_clients_used` serves the retention purge. An `ephemeral` copy (made by
//! a subscription without a cursor) is purged a day after its last use.
//!
//! Live delivery: each notification names the event that caused it (`event_position`), so
//! an instance delivering a batch of events finds their notifications with one statement;
//! on PostgreSQL a statement trigger on `events` wakes listening instances (`NOTIFY
//! crm_events`, sent at commit; the table stays the truth, a lost wake-up loses nothing).

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
        let clients = format!(
            "CREATE TABLE sync_clients (
    id {uuid} NOT NULL,
    user_id {uuid} NOT NULL,
    call_no {bigint} NOT NULL,
    base_seq {bigint} NOT NULL,
    issued_seq {bigint} NOT NULL,
    txid {bigint} NOT NULL,
    position {bigint} NOT NULL,
    pending_txid {bigint},
    pending_position {bigint},
    viewer_sig {text} NOT NULL,
    ephemeral {boolean} NOT NULL,
    created_at {timestamp} NOT NULL,
    used_at {timestamp} NOT NULL,
    CONSTRAINT pk_sync_clients PRIMARY KEY (id),
    CONSTRAINT fk_sync_clients_user_id FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
)"
        );
        let known = format!(
            "CREATE TABLE sync_known (
    client_id {uuid} NOT NULL,
    kind VARCHAR(16) NOT NULL,
    record_id {uuid} NOT NULL,
    version {integer},
    facts {integer},
    pending_seq {bigint},
    pending_present {boolean},
    pending_version {integer},
    pending_facts {integer},
    CONSTRAINT pk_sync_known PRIMARY KEY (client_id, kind, record_id),
    CONSTRAINT fk_sync_known_client_id FOREIGN KEY (client_id) REFERENCES sync_clients (id) ON DELETE CASCADE
)"
        );
        let event_position =
            format!("ALTER TABLE notifications ADD COLUMN event_position {bigint}");
        ddl::run(
            manager,
            &[
                clients.as_str(),
                "CREATE INDEX ix_sync_clients_user_id ON sync_clients (user_id)",
                "CREATE INDEX ix_sync_clients_used ON sync_clients (used_at)",
                known.as_str(),
                event_position.as_str(),
                "CREATE INDEX ix_notifications_event_position ON notifications (event_position)",
            ],
        )
        .await?;
        if manager.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Postgres {
            ddl::run(
                manager,
                &[
                    "CREATE FUNCTION crm_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('crm_events', '');
    RETURN NULL;
END
$$",
                    "CREATE TRIGGER tr_events_notify AFTER INSERT ON events \
                     FOR EACH STATEMENT EXECUTE FUNCTION crm_events_notify()",
                ],
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Postgres {
            ddl::run(
                manager,
                &[
                    "DROP TRIGGER tr_events_notify ON events",
                    "DROP FUNCTION crm_events_notify()",
                ],
            )
            .await?;
        }
        ddl::run(
            manager,
            &[
                "DROP INDEX ix_notifications_event_position",
                "ALTER TABLE notifications DROP COLUMN event_position",
                "DROP TABLE sync_known",
                "DROP TABLE sync_clients",
            ],
        )
        .await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
