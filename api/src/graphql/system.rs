//! Facts about the server itself.

use async_graphql::Object;

/// Queries about the API itself.
#[derive(Default)]
pub struct SystemQuery;

#[Object]
impl SystemQuery {
    /// The server's version (semantic versioning), so clients can report what they talk to.
    async fn api_version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }
}
