//! `notifications`: what a user is told about (a deal assigned or shared to them, moved by
//! someone else, an activity assigned to them), written in the transaction of the change
//! that caused it. Read newest first per user (`ix_notifications_user`); unread ones are
//! counted through `ix_notifications_unread`. A notification outlives the record it names
//! (its link is cleared) and goes with its user.

use sea_orm_migration::prelude::*;

use crate::ddl::{self, Types};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The kinds, as stored (the GraphQL names).
const KINDS: &str = "'DEAL_ASSIGNED', 'DEAL_SHARED', 'DEAL_STAGE_CHANGED', 'ACTIVITY_ASSIGNED', \
     'DEAL_CLOSING_SOON', 'ACTIVITY_DUE', 'WEEKLY_DIGEST', 'AUTOMATION'";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let Types {
            uuid,
            timestamp,
            text,
            ..
        } = Types::for_backend(manager.get_database_backend())?;
        let link = |column: &str, table: &str| {
            format!(
                "CONSTRAINT fk_notifications_{column} FOREIGN KEY ({column}) REFERENCES {table} (id) ON DELETE SET NULL"
            )
        };
        let table = format!(
            "CREATE TABLE notifications (
    id {uuid} NOT NULL,
    user_id {uuid} NOT NULL,
    kind VARCHAR(32) NOT NULL,
    title {text} NOT NULL,
    body {text} NOT NULL,
    deal_id {uuid},
    company_id {uuid},
    contact_id {uuid},
    activity_id {uuid},
    created_at {timestamp} NOT NULL,
    read_at {timestamp},
    CONSTRAINT pk_notifications PRIMARY KEY (id),
    CONSTRAINT ck_notifications_kind CHECK (kind IN ({KINDS})),
    CONSTRAINT fk_notifications_user_id FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    {},
    {},
    {},
    {}
)",
            link("deal_id", "deals"),
            link("company_id", "companies"),
            link("contact_id", "contacts"),
            link("activity_id", "activities"),
        );
        ddl::run(
            manager,
            &[
                table.as_str(),
                "CREATE INDEX ix_notifications_user ON notifications (user_id, created_at, id)",
                "CREATE INDEX ix_notifications_unread ON notifications (user_id, read_at)",
                "CREATE INDEX ix_notifications_deal_id ON notifications (deal_id)",
                "CREATE INDEX ix_notifications_company_id ON notifications (company_id)",
                "CREATE INDEX ix_notifications_contact_id ON notifications (contact_id)",
                "CREATE INDEX ix_notifications_activity_id ON notifications (activity_id)",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, &["DROP TABLE notifications"]).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
