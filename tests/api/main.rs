//! The integration test binary: every test drives the real schema over a real database
//! (SQLite by default, PostgreSQL with `TEST_DATABASE_URL`).

mod activities;
mod audit;
mod auth;
mod authz_differential;
mod authz_policy_edit;
mod authz_rules;
mod authz_support;
mod automations;
mod cli;
mod companies;
mod constraints;
mod contacts;
mod deal_mutations;
mod deals;
mod examples;
mod exports;
mod fuzz;
mod hardening;
mod hardening_money;
mod hardening_races;
mod hardening_ws;
mod helpers;
mod http;
mod http_conformance;
mod imports;
mod logs;
mod migrations;
mod notifications;
mod relations;
mod reports;
mod schema;
mod seed;
mod sso;
mod statements;
mod sync;
