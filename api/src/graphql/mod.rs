//! The GraphQL schema, organised by entity: each module owns its query and mutation
//! objects, its types and its inputs; the roots merge them.

mod system;

use async_graphql::{EmptyMutation, EmptySubscription, MergedObject, Schema, SchemaBuilder};

pub use system::SystemQuery;

/// The query root.
#[derive(MergedObject, Default)]
pub struct Query(SystemQuery);

/// The executable schema type.
pub type CrmSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// The schema with its limits, without data: add the database and the authorizer with
/// `.data(..)` before `.finish()`.
pub fn schema_builder() -> SchemaBuilder<Query, EmptyMutation, EmptySubscription> {
    Schema::build(Query::default(), EmptyMutation, EmptySubscription)
        .limit_depth(12)
        .limit_complexity(5_000)
        .limit_recursive_depth(32)
}

/// The SDL clients rely on; `schema.graphql` must equal it.
pub fn export_sdl() -> String {
    schema_builder().finish().sdl()
}
