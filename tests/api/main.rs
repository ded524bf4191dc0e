//! The integration test binary: every test drives the real schema over a real database
//! (SQLite by default, PostgreSQL with `TEST_DATABASE_URL`).

mod auth;
mod cli;
mod constraints;
mod helpers;
mod http;
mod logs;
mod migrations;
mod schema;
mod seed;
mod sso;
