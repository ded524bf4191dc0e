//! The columns a request needs: a page that reads its nodes' company, contact or owner in
//! its own statement (`service::related`) selects only the columns of those rows that some
//! field of the request's document reads — `deals { nodes { owner { name } } }` reads the
//! owner's name (and what the policy decides on), not their email or timestamps.
//!
//! The rows read that way are handed to the request's loaders, which answer every other
//! place of the document asking for the same record: so the columns are those of every
//! field of the type named anywhere in the document (with its fragments), not only under
//! the page. A field this module cannot map to columns reads them all.

use std::collections::HashSet;
use std::sync::OnceLock;

use async_graphql::Context;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use sea_orm::EntityTrait;

use crate::authz::Kind;
use crate::service::related::{ALL_COLUMNS, Columns, column_bit};

/// Fields that read no column but the record's id (relations to many and what the policy
/// decides from the row's facts).
const READ_THE_ID: [&str; 6] = [
    "viewerCan",
    "history",
    "contacts",
    "deals",
    "activities",
    "attachments",
];

/// The field names of a request's document, set when it is parsed (request data).
#[derive(Default)]
pub struct DocumentFields(OnceLock<HashSet<String>>);

impl DocumentFields {
    /// Records the names of every field of `doc`'s operations and fragments.
    pub fn fill(&self, doc: &ExecutableDocument) {
        let mut names = HashSet::new();
        for (_, operation) in doc.operations.iter() {
            collect(&operation.node.selection_set.node, &mut names);
        }
        for fragment in doc.fragments.values() {
            collect(&fragment.node.selection_set.node, &mut names);
        }
        // A document is parsed once per request; a second fill keeps the first.
        let _ = self.0.set(names);
    }
}

fn collect(set: &SelectionSet, names: &mut HashSet<String>) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                names.insert(field.node.name.node.to_string());
                collect(&field.node.selection_set.node, names);
            }
            Selection::InlineFragment(fragment) => {
                collect(&fragment.node.selection_set.node, names)
            }
            Selection::FragmentSpread(_) => {}
        }
    }
}

/// The columns of records of `kind` the request's document reads ([`ALL_COLUMNS`] when
/// unknown: a request without [`DocumentFields`], or a field not mapped to columns).
pub fn columns(ctx: &Context<'_>, kind: Kind) -> Columns {
    match kind {
        Kind::Company => columns_of::<entity::company::Entity>(ctx, "Company"),
        Kind::Contact => columns_of::<entity::contact::Entity>(ctx, "Contact"),
        Kind::User => columns_of::<entity::user::Entity>(ctx, "User"),
        _ => ALL_COLUMNS,
    }
}

fn columns_of<E: EntityTrait>(ctx: &Context<'_>, type_name: &str) -> Columns {
    let Some(names) = ctx.data_opt::<DocumentFields>().and_then(|d| d.0.get()) else {
        return ALL_COLUMNS;
    };
    let Some(fields) = ctx
        .schema_env
        .registry
        .types
        .get(type_name)
        .and_then(|t| t.fields())
    else {
        return ALL_COLUMNS;
    };
    let bit = column_bit::<E>;
    // The id (always read), and the owner (what the policy of a record looks at first).
    let mut wanted: Columns = bit("owner_id").unwrap_or(0);
    for name in fields.keys().filter(|name| names.contains(name.as_str())) {
        let column = snake_case(name);
        // `name` → `name`, `ownerId` → `owner_id`, `owner` → `owner_id`.
        match bit(&column).or_else(|| bit(&format!("{column}_id"))) {
            Some(b) => wanted |= b,
            None if READ_THE_ID.contains(&name.as_str()) => {}
            None => return ALL_COLUMNS,
        }
    }
    wanted
}

/// `createdAt` → `created_at`.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn field_names_map_to_column_names() {
        assert_eq!(super::snake_case("createdAt"), "created_at");
        assert_eq!(super::snake_case("linkedinUrl"), "linkedin_url");
        assert_eq!(super::snake_case("name"), "name");
    }
}
