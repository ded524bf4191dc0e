//! SeaORM entities of the CRM: one module per table, shared enums in [`enums`].
//!
//! This crate knows nothing of GraphQL or authorization; the API wraps these models in its own
//! types so a new column never leaks into the schema by accident. The schema itself is owned by
//! the `migration` crate; these structs mirror it.

pub mod activity;
pub mod attachment;
pub mod attachment_blob;
pub mod automation;
pub mod automation_run;
pub mod company;
pub mod contact;
pub mod deal;
pub mod deal_share;
pub mod enums;
pub mod event;
pub mod export;
pub mod job;
pub mod login_throttle;
pub mod notification;
pub mod refresh_token;
pub mod schedule_run;
pub mod session;
pub mod sync_client;
pub mod sync_known;
pub mod team;
pub mod user;

pub mod prelude;
