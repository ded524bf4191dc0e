//! Facts about the server itself.

use async_graphql::{Context, Object, Result};

use crate::graphql::actor_even_if_password_expired;

/// Queries about the API itself.
#[derive(Default)]
pub struct SystemQuery;

#[Object]
impl SystemQuery {
    /// The server's version (semantic versioning), so clients can report what they talk to.
    async fn api_version(&self, ctx: &Context<'_>) -> Result<&'static str> {
        actor_even_if_password_expired(ctx)?;
        Ok(env!("CARGO_PKG_VERSION"))
    }
}
