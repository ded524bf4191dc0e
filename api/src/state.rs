//! What every request handler shares.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::config::Config;
use crate::graphql::CrmSchema;

/// Shared, cheaply clonable application state.
#[derive(Clone)]
pub struct AppState {
    /// The connection pool.
    pub db: DatabaseConnection,
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// The executable GraphQL schema (holds its own handle to the pool).
    pub schema: CrmSchema,
}

impl AppState {
    /// Builds the state around an open (and migrated) database.
    pub fn new(db: DatabaseConnection, config: Config) -> Self {
        let schema = crate::graphql::schema_builder().data(db.clone()).finish();
        Self {
            db,
            config: Arc::new(config),
            schema,
        }
    }
}
