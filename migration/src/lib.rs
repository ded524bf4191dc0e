//! Migrations of the CRM schema, for SQLite and PostgreSQL.
//!
//! Every constraint and index is named (`pk_*`, `fk_<table>_<column>`, `ck_<table>_<rule>`,
//! `ux_<table>_<columns>` for unique indexes, `ix_<table>_<columns>`), so the API can map a
//! database error to the offending field. Where SQLite cannot add a CHECK to an existing
//! table, triggers `tr_<table>_<rule>_<event>` stand in for it and raise the constraint's
//! name. Each migration runs in a transaction on both backends and has a working `down`.

pub use sea_orm_migration::prelude::*;

mod ddl;
mod m20261121_000001_create_users_and_teams;
mod m20261121_000002_create_companies_and_contacts;
mod m20261121_000003_create_deals_and_shares;
mod m20261121_000004_create_activities;
mod m20261121_000005_create_sessions;
mod m20261121_000006_add_report_indexes;
mod m20261122_000007_add_deal_amount_max;
mod m20261130_000008_create_events;
mod m20261130_000009_create_notifications;
mod m20261201_000010_events_indexes;
mod m20261201_000011_create_sync;
mod m20261201_000012_activity_priority_status;
mod m20261201_000013_create_automations;
mod m20261201_000014_create_exports;
mod m20261201_000015_create_attachments;
mod m20261201_000016_create_deal_totals;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_create_users_and_teams::Migration),
            Box::new(m20261121_000002_create_companies_and_contacts::Migration),
            Box::new(m20261121_000003_create_deals_and_shares::Migration),
            Box::new(m20261121_000004_create_activities::Migration),
            Box::new(m20261121_000005_create_sessions::Migration),
            Box::new(m20261121_000006_add_report_indexes::Migration),
            Box::new(m20261122_000007_add_deal_amount_max::Migration),
            Box::new(m20261130_000008_create_events::Migration),
            Box::new(m20261130_000009_create_notifications::Migration),
            Box::new(m20261201_000010_events_indexes::Migration),
            Box::new(m20261201_000011_create_sync::Migration),
            Box::new(m20261201_000012_activity_priority_status::Migration),
            Box::new(m20261201_000013_create_automations::Migration),
            Box::new(m20261201_000014_create_exports::Migration),
            Box::new(m20261201_000015_create_attachments::Migration),
            Box::new(m20261201_000016_create_deal_totals::Migration),
        ]
    }
}
