//! The CRM GraphQL server: configuration, HTTP, the GraphQL schema, services,
//! authorization and authentication.

pub mod auth;
pub mod authz;
pub mod batch;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod graphiql;
pub mod graphql;
pub mod http;
pub mod mcp;
pub mod persisted;
pub mod seed;
pub mod service;
pub mod state;
pub mod storage;
pub mod ws;

pub use graphql::{CrmSchema, export_sdl, schema_builder};
pub use http::app;
pub use state::AppState;
