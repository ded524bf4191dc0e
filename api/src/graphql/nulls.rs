//! Null propagation as the GraphQL spec has it. When a field fails, async-graphql leaves
//! its key out of the parent object. The spec says: a failing nullable field is `null`; a
//! failing non-null field makes its nearest nullable ancestor `null` (or `data` itself).
//! Nullable fields are handled as they resolve (`limits.rs`, `resolve`); this module fixes
//! up the response for non-null ones, from each error's path, the operation's selections
//! (aliases to field names) and the schema's field types.

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::registry::Registry;
use async_graphql::{Name, PathSegment, Response, Value};

/// Applies every error's propagation to `response.data`.
pub fn propagate(
    response: &mut Response,
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    registry: &Registry,
) {
    let Some((kind, selection)) = operation(doc, operation_name) else {
        return;
    };
    let root = match kind {
        OperationType::Query => registry.query_type.as_str(),
        OperationType::Mutation => match &registry.mutation_type {
            Some(t) => t.as_str(),
            None => return,
        },
        OperationType::Subscription => return,
    };
    let paths: Vec<Vec<PathSegment>> = response
        .errors
        .iter()
        .filter(|e| !e.path.is_empty())
        .map(|e| e.path.clone())
        .collect();
    for path in paths {
        if let Some(target) = null_target(&path, doc, selection, root, registry) {
            set_null(&mut response.data, &path[..target]);
        }
    }
}

/// The operation a request runs: its kind and top-level selections (`None` when the name
/// does not match, or none is given among several).
pub(crate) fn operation<'a>(
    doc: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<(OperationType, &'a SelectionSet)> {
    let op = match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
        _ => return None,
    };
    Some((op.node.ty, &op.node.selection_set.node))
}

/// How many segments of `path` lead to the value that must become `null`: the failing
/// field itself when it is nullable (already null), else its nearest nullable ancestor;
/// 0 means `data`. `None` when the path cannot be followed (nothing is changed then).
fn null_target(
    path: &[PathSegment],
    doc: &ExecutableDocument,
    root_selection: &SelectionSet,
    root_type: &str,
    registry: &Registry,
) -> Option<usize> {
    // For each segment: whether the value there may be null.
    let mut nullable = Vec::with_capacity(path.len());
    let mut selection = root_selection;
    let mut ty: String = root_type.to_owned();
    // The list wrappers still to step through with index segments.
    let mut wrapped = String::new();
    for segment in path {
        match segment {
            PathSegment::Field(key) => {
                let (field, condition) = find_field(selection, key, doc)?;
                let meta = registry
                    .types
                    .get(&ty)
                    .and_then(|t| t.field_by_name(&field.name.node))
                    .or_else(|| {
                        registry
                            .types
                            .get(condition?)
                            .and_then(|t| t.field_by_name(&field.name.node))
                    })?;
                nullable.push(!meta.ty.ends_with('!'));
                wrapped = meta.ty.trim_end_matches('!').to_owned();
                ty = named_type(&wrapped).to_owned();
                selection = &field.selection_set.node;
            }
            PathSegment::Index(_) => {
                let inner = wrapped.strip_prefix('[')?.strip_suffix(']')?.to_owned();
                nullable.push(!inner.ends_with('!'));
                wrapped = inner.trim_end_matches('!').to_owned();
            }
        }
    }
    if *nullable.last()? {
        // A nullable field: `resolve` already made it null.
        return None;
    }
    Some(nullable.iter().rposition(|n| *n).map_or(0, |i| i + 1))
}

/// The named type inside list and non-null wrappers (`[Deal!]!` → `Deal`).
fn named_type(ty: &str) -> &str {
    ty.trim_matches(|c| c == '[' || c == ']' || c == '!')
}

/// The field answering to response key `key` in `set`, looking into inline fragments and
/// fragment spreads; with the type condition it was found under, if any.
fn find_field<'a>(
    set: &'a SelectionSet,
    key: &str,
    doc: &'a ExecutableDocument,
) -> Option<(&'a async_graphql::parser::types::Field, Option<&'a str>)> {
    let mut stack: Vec<(&SelectionSet, Option<&str>)> = vec![(set, None)];
    let mut visited = 0usize;
    while let Some((set, condition)) = stack.pop() {
        visited += 1;
        if visited > 10_000 {
            return None;
        }
        for selection in &set.items {
            match &selection.node {
                Selection::Field(f) if f.node.response_key().node.as_str() == key => {
                    return Some((&f.node, condition));
                }
                Selection::Field(_) => {}
                Selection::InlineFragment(inline) => {
                    let cond = inline
                        .node
                        .type_condition
                        .as_ref()
                        .map(|c| c.node.on.node.as_str())
                        .or(condition);
                    stack.push((&inline.node.selection_set.node, cond));
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = doc.fragments.get(&spread.node.fragment_name.node) {
                        let cond = Some(fragment.node.type_condition.node.on.node.as_str());
                        stack.push((&fragment.node.selection_set.node, cond));
                    }
                }
            }
        }
    }
    None
}

/// Sets the value at `path` (from `data`) to null; the empty path nulls `data`. A path
/// that no longer exists (an ancestor is null already) changes nothing.
fn set_null(data: &mut Value, path: &[PathSegment]) {
    let Some((last, parents)) = path.split_last() else {
        *data = Value::Null;
        return;
    };
    let mut here = data;
    for segment in parents {
        here = match (segment, here) {
            (PathSegment::Field(k), Value::Object(map)) => match map.get_mut(k.as_str()) {
                Some(v) => v,
                None => return,
            },
            (PathSegment::Index(i), Value::List(items)) => match items.get_mut(*i) {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
    }
    match (last, here) {
        (PathSegment::Field(k), Value::Object(map)) => {
            map.insert(Name::new(k), Value::Null);
        }
        (PathSegment::Index(i), Value::List(items)) => {
            if let Some(v) = items.get_mut(*i) {
                *v = Value::Null;
            }
        }
        _ => {}
    }
}
