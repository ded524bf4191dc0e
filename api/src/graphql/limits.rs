//! Bounds on what one request can make the server do, enforced by a schema extension so
//! that HTTP and WebSocket operations get exactly the same treatment.
//!
//! - Before parsing, a lexical scan (iterative, no recursion) refuses documents whose
//!   brackets nest deeper than the input-depth limit allows: the parser, the validator and
//!   the input-object decoders are recursive, and a 1.4 KB document of nested `not`s used to
//!   overflow a worker's stack and abort the process.
//! - After parsing, one iterative walk over the document and the variables counts fields
//!   (fragments expanded, introspection included), aliases and fragments, and checks every
//!   input value: nesting depth, list lengths, input objects per argument, string lengths,
//!   NUL characters (PostgreSQL refuses them in text).
//! - During execution, a request holds one slot of its user's and of its address's
//!   in-flight allowance (so one client cannot take the whole pool), runs at most
//!   `max_parallel_fields` top-level fields at a time, and is cut off after the request
//!   timeout (WebSocket operations have no HTTP timeout around them).
//!
//! The allowances are per instance on purpose: what they protect is this process's pool
//! and CPU. What must hold across instances (the sign-in throttle) lives in the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextResolve,
    NextValidation, ResolveInfo,
};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::{
    Name, Positioned, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::{Actor, ClientAddr};
use crate::config::Limits;
use crate::error::ApiError;

/// Most fragment definitions in one document (each is walked when counting fields).
pub const MAX_FRAGMENTS: usize = 200;

/// Brackets may nest this much deeper than input values (selection sets, the argument
/// list): above it the document cannot be valid under the depth limits anyway.
const SELECTION_BRACKETS: usize = 48;

/// How long a request waits for a slot of its user's or address's allowance.
const INFLIGHT_WAIT: Duration = Duration::from_secs(2);

/// A longer execution bound for one request (an import or an upload: a multipart request
/// gets `CRM_UPLOAD_TIMEOUT_SECS`).
#[derive(Clone, Copy, Debug)]
pub struct Deadline(pub Duration);

/// The extension factory, built once with the schema.
pub struct RequestLimits {
    limits: Limits,
    timeout: Duration,
    users: Arc<KeyedLimiter>,
    addresses: Arc<KeyedLimiter>,
}

impl RequestLimits {
    /// Limits from the configuration; `timeout` bounds one operation's execution; `users`
    /// is the instance's per-user allowance, shared with the other request surfaces (MCP).
    pub fn new(limits: &Limits, timeout: Duration, users: Arc<KeyedLimiter>) -> Self {
        Self {
            limits: limits.clone(),
            timeout,
            users,
            addresses: Arc::new(KeyedLimiter::new(limits.max_inflight_per_address)),
        }
    }
}

impl ExtensionFactory for RequestLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestGuard {
            limits: self.limits.clone(),
            timeout: self.timeout,
            users: self.users.clone(),
            addresses: self.addresses.clone(),
            parallel: Arc::new(Semaphore::new(self.limits.max_parallel_fields.max(1))),
            nulled: Mutex::new(Vec::new()),
            document: Mutex::new(None),
            subscriptions: Mutex::new(Vec::new()),
        })
    }
}

/// One request's guard.
struct RequestGuard {
    limits: Limits,
    timeout: Duration,
    users: Arc<KeyedLimiter>,
    addresses: Arc<KeyedLimiter>,
    parallel: Arc<Semaphore>,
    /// Errors of nullable fields answered `null` (see `resolve`).
    nulled: Mutex<Vec<ServerError>>,
    /// The document's text, parsed again for null propagation only when a field failed
    /// (cheaper than keeping a copy of every parsed document).
    document: Mutex<Option<String>>,
    /// The document's subscription operations (`None`: an anonymous one): `execute` runs
    /// once per item a subscription delivers, and an item is not a new request.
    subscriptions: Mutex<Vec<Option<Name>>>,
}

impl RequestGuard {
    /// Whether the operation `execute` runs is a subscription (each of its items).
    fn is_subscription(&self, operation_name: Option<&str>) -> bool {
        let subscriptions = self.subscriptions.lock().unwrap_or_else(|p| p.into_inner());
        subscriptions
            .iter()
            .any(|name| name.as_deref() == operation_name || operation_name.is_none())
    }
}

fn too_complex(message: String, limit: &'static str, max: usize) -> ServerError {
    server_error(ApiError::TooComplex {
        message,
        limit,
        max,
    })
}

fn server_error(err: ApiError) -> ServerError {
    err.server_error()
}

#[async_graphql::async_trait::async_trait]
impl Extension for RequestGuard {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let limits = Limits {
            uploads: ctx.data_opt::<Uploads>().map_or(0, |u| u.0),
            ..self.limits.clone()
        };
        scan_nesting(query, &limits)?;
        for (name, value) in variables.iter() {
            check_value(value, &format!("${name}"), &limits, None)?;
        }
        let doc = next
            .run(ctx, query, variables)
            .await
            .map_err(parse_failed)?;
        check_document(&doc, variables, &limits)?;
        if let Some(fields) = ctx.data_opt::<super::selected::DocumentFields>() {
            fields.fill(&doc);
        }
        *self.document.lock().unwrap_or_else(|p| p.into_inner()) = Some(query.to_owned());
        *self.subscriptions.lock().unwrap_or_else(|p| p.into_inner()) = doc
            .operations
            .iter()
            .filter(|(_, op)| op.node.ty == OperationType::Subscription)
            .map(|(name, _)| name.cloned())
            .collect();
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        // async-graphql's own depth and complexity limits: give them the contract's code.
        // An argument value that does not fit its type (an unknown input field, a wrong
        // enum value) is bad input: `BAD_USER_INPUT` naming the field.
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|mut e| {
                    if let Some(field) = invalid_argument(&e.message) {
                        let mut converted =
                            ApiError::bad_input(field, e.message.clone()).server_error();
                        converted.message = e.message;
                        converted.locations = e.locations;
                        return converted;
                    }
                    let limit = if e.message.starts_with("Query is too complex") {
                        Some("complexity")
                    } else if e.message.starts_with("Query is nested too deep") {
                        Some("depth")
                    } else {
                        None
                    };
                    let ext = e.extensions.get_or_insert_with(Default::default);
                    if let Some(limit) = limit {
                        ext.set("code", "QUERY_TOO_COMPLEX");
                        ext.set("limit", limit);
                    } else if ext.get("code").is_none() {
                        ext.set("code", "GRAPHQL_VALIDATION_FAILED");
                    }
                    e
                })
                .collect()
        })
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        // A subscription is bounded by its socket's operation allowance (ws.rs); each item
        // it delivers is not another request: a live change is never refused because its
        // user has other requests running.
        let item = self.is_subscription(operation_name);
        let user = (!item)
            .then(|| ctx.data_opt::<Actor>().map(|a| a.id.to_string()))
            .flatten();
        let address = (!item)
            .then(|| ctx.data_opt::<ClientAddr>().and_then(|c| c.0))
            .flatten()
            .map(|ip| ip.to_string());
        let _user_slot = match user {
            Some(key) => match self.users.acquire(key).await {
                Some(slot) => Some(slot),
                None => return rate_limited(),
            },
            None => None,
        };
        let _address_slot = match address {
            Some(key) => match self.addresses.acquire(key).await {
                Some(slot) => Some(slot),
                None => return rate_limited(),
            },
            None => None,
        };
        let timeout = ctx
            .data_opt::<Deadline>()
            .map_or(self.timeout, |d| d.0.max(self.timeout));
        match tokio::time::timeout(timeout, next.run(ctx, operation_name)).await {
            Ok(mut response) => {
                let nulled =
                    std::mem::take(&mut *self.nulled.lock().unwrap_or_else(|p| p.into_inner()));
                response.errors.extend(nulled);
                if response.errors.iter().any(|e| !e.path.is_empty()) {
                    // (Kept: a subscription may need it again for its next item.)
                    let query = self
                        .document
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .clone();
                    // The text passed the nesting scan and parsed once already.
                    let doc = query.and_then(|q| async_graphql::parser::parse_query(q).ok());
                    if let Some(doc) = doc {
                        super::nulls::propagate(
                            &mut response,
                            &doc,
                            operation_name,
                            &ctx.schema_env.registry,
                        );
                    }
                }
                response
            }
            Err(_) => Response::from_errors(vec![too_complex(
                format!(
                    "the operation ran longer than {} s and was stopped",
                    timeout.as_secs()
                ),
                "requestTimeoutSecs",
                usize::try_from(timeout.as_secs()).unwrap_or(usize::MAX),
            )]),
        }
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let nullable = !info.return_type.ends_with('!');
        // Top-level fields run concurrently and each may hold a connection: take turns.
        let result = if info.path_node.parent.is_none() && !info.is_for_introspection {
            let _turn = self.parallel.acquire().await;
            next.run(ctx, info).await
        } else {
            next.run(ctx, info).await
        };
        match result {
            // The spec: a nullable field that fails is `null` in `data`, with its error.
            // async-graphql leaves the key out, which typed clients (Apollo iOS/Kotlin)
            // reject; the error is kept and added to the response in `execute`.
            Err(e) if nullable => {
                self.nulled
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(e);
                Ok(Some(Value::Null))
            }
            other => other,
        }
    }
}

/// The input field an "Invalid value for argument" validation error is about:
/// `"input.dealCondition", unknown field "colour" of type "DealFilter"` →
/// `input.dealCondition.colour`; `"filter.stage.eq", …` → `filter.stage.eq`.
fn invalid_argument(message: &str) -> Option<String> {
    let rest = message.strip_prefix("Invalid value for argument \"")?;
    let (path, reason) = rest.split_once('"')?;
    let unknown = reason
        .strip_prefix(", unknown field \"")
        .and_then(|r| r.split_once('"'))
        .map(|(name, _)| name);
    Some(match unknown {
        Some(name) => format!("{path}.{name}"),
        None => path.to_owned(),
    })
}

/// A parse failure with the contract's code and a one-line message (the parser draws a
/// multi-line caret picture; the position is in `locations` already).
fn parse_failed(mut e: ServerError) -> ServerError {
    if e.message.starts_with("The recursion depth") {
        let ext = e.extensions.get_or_insert_with(Default::default);
        ext.set("code", "QUERY_TOO_COMPLEX");
        ext.set("limit", "recursiveDepth");
        return e;
    }
    if let Some(expected) = e
        .message
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("= "))
    {
        e.message = format!("Syntax error: {expected}");
    } else if let Some(first) = e.message.lines().find(|l| !l.trim().is_empty()) {
        e.message = format!("Syntax error: {}", first.trim());
    }
    let ext = e.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        ext.set("code", "GRAPHQL_PARSE_FAILED");
    }
    e
}

fn rate_limited() -> Response {
    Response::from_errors(vec![server_error(ApiError::RateLimited {
        retry_after_secs: 1,
    })])
}

/// Per-key allowances of in-flight work.
pub struct KeyedLimiter {
    permits: usize,
    slots: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// One held slot; the key's entry is dropped with its last holder. Owns its limiter, so
/// it may travel with a request into another task.
pub struct Slot {
    limiter: Arc<KeyedLimiter>,
    key: String,
    semaphore: Arc<Semaphore>,
    permit: Option<OwnedSemaphorePermit>,
}

impl KeyedLimiter {
    /// At most `permits` (at least 1) slots held at once per key.
    pub fn new(permits: usize) -> Self {
        Self {
            permits: permits.max(1),
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// Waits up to [`INFLIGHT_WAIT`] for a slot of `key`; `None` when none frees up.
    pub async fn acquire(self: &Arc<Self>, key: String) -> Option<Slot> {
        let semaphore = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots
                .entry(key.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(self.permits)))
                .clone()
        };
        let mut slot = Slot {
            limiter: self.clone(),
            key,
            semaphore: semaphore.clone(),
            permit: None,
        };
        let permit = tokio::time::timeout(INFLIGHT_WAIT, semaphore.acquire_owned())
            .await
            .ok()?
            .ok()?;
        slot.permit = Some(permit);
        Some(slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.permit.take();
        let mut slots = self.limiter.slots.lock().unwrap_or_else(|p| p.into_inner());
        // The map and this slot hold the only references: nobody else waits on the key.
        if Arc::strong_count(&self.semaphore) == 2 {
            slots.remove(&self.key);
        }
    }
}

/// Refuses documents whose brackets nest too deep, before the (recursive) parser sees
/// them. Strings, block strings and comments are skipped; mismatched brackets are left to
/// the parser to report.
pub fn scan_nesting(query: &str, limits: &Limits) -> ServerResult<()> {
    let bytes = query.as_bytes();
    let mut stack: Vec<u8> = Vec::new();
    // Stack heights at which an argument list `(` was opened.
    let mut parens: Vec<usize> = Vec::new();
    let max_total = limits.max_input_depth + SELECTION_BRACKETS;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            open @ (b'{' | b'[' | b'(') => {
                if open == b'(' {
                    parens.push(stack.len() + 1);
                }
                stack.push(open);
                if let Some(&base) = parens.last()
                    && stack.len() - base > limits.max_input_depth
                {
                    return Err(too_complex(
                        format!(
                            "input values nest deeper than {} levels",
                            limits.max_input_depth
                        ),
                        "maxInputDepth",
                        limits.max_input_depth,
                    ));
                }
                if stack.len() > max_total {
                    return Err(too_complex(
                        format!("the document nests deeper than {max_total} levels"),
                        "maxInputDepth",
                        limits.max_input_depth,
                    ));
                }
            }
            b'}' | b']' | b')' if stack.pop() == Some(b'(') => {
                parens.pop();
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// What the walk needs to see of a value: literal arguments (which may name variables)
/// and variables' values are two types of the same shape.
pub trait InputValue: Sized {
    /// The value's shape.
    fn shape(&self) -> Shape<'_, Self>;
}

/// One level of an input value.
pub enum Shape<'a, V> {
    /// A list.
    List(&'a [V]),
    /// An input object.
    Object(&'a async_graphql::indexmap::IndexMap<Name, V>),
    /// A string.
    Str(&'a str),
    /// A variable reference (literal arguments only).
    Variable(&'a Name),
    /// Anything else (numbers, booleans, enums, null).
    Other,
}

impl InputValue for Value {
    fn shape(&self) -> Shape<'_, Self> {
        match self {
            Value::List(items) => Shape::List(items),
            Value::Object(fields) => Shape::Object(fields),
            Value::String(s) => Shape::Str(s),
            _ => Shape::Other,
        }
    }
}

impl InputValue for async_graphql_value::Value {
    fn shape(&self) -> Shape<'_, Self> {
        use async_graphql_value::Value as V;
        match self {
            V::List(items) => Shape::List(items),
            V::Object(fields) => Shape::Object(fields),
            V::String(s) => Shape::Str(s),
            V::Variable(name) => Shape::Variable(name),
            _ => Shape::Other,
        }
    }
}

/// Checks one input value (an argument, or a variable's value) without recursion.
/// Variables it names were checked on their own; where one stands for a search pattern
/// (`search: $s`, `{contains: $s}`), its string is checked as a pattern here, with
/// `variables` (their values, or their defaults).
pub fn check_value<V: InputValue>(
    value: &V,
    name: &str,
    limits: &Limits,
    variables: Option<&Variables>,
) -> ServerResult<()> {
    // (value, depth, path of object keys)
    let mut stack: Vec<(&V, usize, String)> = vec![(value, 0, name.to_owned())];
    let mut objects = 0usize;
    while let Some((value, depth, path)) = stack.pop() {
        match value.shape() {
            Shape::List(_) | Shape::Object(_) if depth >= limits.max_input_depth => {
                return Err(too_complex(
                    format!(
                        "`{name}` nests deeper than {} levels",
                        limits.max_input_depth
                    ),
                    "maxInputDepth",
                    limits.max_input_depth,
                ));
            }
            Shape::List(items) => {
                if items.len() > limits.max_list_length {
                    return Err(too_complex(
                        format!(
                            "`{path}` has {} entries, more than {}",
                            items.len(),
                            limits.max_list_length
                        ),
                        "maxListLength",
                        limits.max_list_length,
                    ));
                }
                stack.extend(items.iter().map(|v| (v, depth + 1, path.clone())));
            }
            Shape::Object(fields) => {
                objects += 1;
                if objects > limits.max_input_objects {
                    return Err(too_complex(
                        format!(
                            "`{name}` holds more than {} input objects",
                            limits.max_input_objects
                        ),
                        "maxInputObjects",
                        limits.max_input_objects,
                    ));
                }
                stack.extend(
                    fields
                        .iter()
                        .map(|(k, v)| (v, depth + 1, format!("{path}.{k}"))),
                );
            }
            Shape::Str(s) => check_string(s, &path, limits)?,
            Shape::Variable(var) if is_search(&path) => {
                if let Some(Value::String(s)) = variables.and_then(|vars| vars.get(var)) {
                    check_string(s, &path, limits)?;
                }
            }
            Shape::Variable(_) | Shape::Other => {}
        }
    }
    Ok(())
}

/// Whether text at `path` becomes a `LIKE` pattern (bounded more tightly).
fn is_search(path: &str) -> bool {
    let field = path.rsplit('.').next().unwrap_or(path);
    matches!(field, "search" | "contains" | "startsWith")
}

fn check_string(s: &str, path: &str, limits: &Limits) -> ServerResult<()> {
    let is_search = is_search(path);
    let max = if is_search {
        limits.max_search_length
    } else {
        limits.max_string_length
    };
    // Bytes bound characters from above: count only when it could matter.
    if s.len() > max && s.chars().count() > max {
        return Err(server_error(ApiError::bad_input(
            path.trim_start_matches('$'),
            format!("must be at most {max} characters"),
        )));
    }
    if s.contains('\0') {
        return Err(server_error(ApiError::bad_input(
            path.trim_start_matches('$'),
            "must not contain NUL characters",
        )));
    }
    // How the multipart request spec's files stand in the variables: a value naming a file
    // the request does not carry would be taken for one (and a malformed index panics in
    // async-graphql's `Upload` parser).
    if let Some(index) = s.strip_prefix(UPLOAD_MARK)
        && !index.parse::<usize>().is_ok_and(|i| i < limits.uploads)
    {
        return Err(server_error(ApiError::bad_input(
            path.trim_start_matches('$'),
            "is not a file of this request: send files in a GraphQL multipart request",
        )));
    }
    Ok(())
}

/// The prefix of a variable value standing for an uploaded file.
const UPLOAD_MARK: &str = "#__graphql_file__:";

/// How many files a request carries (request data set by the HTTP layer for multipart
/// requests; none otherwise).
#[derive(Clone, Copy, Debug)]
pub struct Uploads(pub usize);

/// Counts fields, aliases and fragments and checks every literal argument value.
pub fn check_document(
    doc: &ExecutableDocument,
    variables: &Variables,
    limits: &Limits,
) -> ServerResult<()> {
    if doc.fragments.len() > MAX_FRAGMENTS {
        return Err(too_complex(
            format!("more than {MAX_FRAGMENTS} fragments"),
            "maxFragments",
            MAX_FRAGMENTS,
        ));
    }
    let operations: Vec<_> = match &doc.operations {
        DocumentOperations::Single(op) => vec![op],
        DocumentOperations::Multiple(ops) => ops.values().collect(),
    };
    // The values variables will have: the request's, else their defaults.
    let mut effective = variables.clone();
    for op in &operations {
        for var in &op.node.variable_definitions {
            if let Some(default) = &var.node.default_value {
                check_value(
                    &default.node,
                    &format!("${}", var.node.name.node),
                    limits,
                    None,
                )?;
                effective
                    .entry(var.node.name.node.clone())
                    .or_insert_with(|| default.node.clone());
            }
        }
    }
    let variables = &effective;
    let mut aliases = 0usize;
    // Per fragment: its own fields and the fragments it spreads.
    let mut fragment_counts: HashMap<&Name, Counted<'_>> = HashMap::new();
    for (name, fragment) in &doc.fragments {
        let counted = count_selection(
            &fragment.node.selection_set,
            variables,
            limits,
            &mut aliases,
        )?;
        fragment_counts.insert(name, counted);
    }
    let mut counted_ops = Vec::with_capacity(operations.len());
    for op in operations {
        counted_ops.push(count_selection(
            &op.node.selection_set,
            variables,
            limits,
            &mut aliases,
        )?);
    }
    if aliases > limits.max_aliases {
        return Err(too_complex(
            format!(
                "the document has {aliases} aliases, more than {}",
                limits.max_aliases
            ),
            "maxAliases",
            limits.max_aliases,
        ));
    }
    let mut expanded: HashMap<&Name, usize> = HashMap::new();
    for counted in counted_ops {
        let mut fields = counted.fields;
        for spread in counted.spreads {
            let n = expand(spread, &fragment_counts, &mut expanded, 0);
            fields = fields.saturating_add(n);
        }
        if fields > limits.max_fields {
            return Err(too_complex(
                format!(
                    "the operation selects {fields} fields, more than {}",
                    limits.max_fields
                ),
                "maxFields",
                limits.max_fields,
            ));
        }
    }
    Ok(())
}

/// What one selection set holds, fragments not yet expanded.
struct Counted<'a> {
    fields: usize,
    spreads: Vec<&'a Name>,
}

fn count_selection<'a>(
    set: &'a Positioned<SelectionSet>,
    variables: &Variables,
    limits: &Limits,
    aliases: &mut usize,
) -> ServerResult<Counted<'a>> {
    let mut counted = Counted {
        fields: 0,
        spreads: Vec::new(),
    };
    let mut stack: Vec<&SelectionSet> = vec![&set.node];
    while let Some(set) = stack.pop() {
        for selection in &set.items {
            let directives = match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    counted.fields += 1;
                    if field.alias.is_some() {
                        *aliases += 1;
                    }
                    for (name, value) in &field.arguments {
                        let path = format!("{}.{}", field.name.node, name.node);
                        check_value(&value.node, &path, limits, Some(variables)).map_err(|e| {
                            // The argument's own name is what clients know.
                            rename_field(e, &field.name.node)
                        })?;
                    }
                    stack.push(&field.selection_set.node);
                    &field.directives
                }
                Selection::FragmentSpread(spread) => {
                    counted.spreads.push(&spread.node.fragment_name.node);
                    &spread.node.directives
                }
                Selection::InlineFragment(inline) => {
                    stack.push(&inline.node.selection_set.node);
                    &inline.node.directives
                }
            };
            for directive in directives {
                for (name, value) in &directive.node.arguments {
                    check_value(&value.node, &name.node, limits, Some(variables))?;
                }
            }
        }
    }
    Ok(counted)
}

/// Strips the field name from `BAD_USER_INPUT` paths (`deals.search` → `search`).
fn rename_field(mut e: ServerError, field: &str) -> ServerError {
    if let Some(ext) = e.extensions.as_mut()
        && let Some(Value::String(f)) = ext.get("field")
        && let Some(rest) = f.strip_prefix(&format!("{field}."))
    {
        let rest = rest.to_owned();
        ext.set("field", rest);
    }
    e
}

/// Fields of `name` with its spreads expanded; cycles (invalid anyway, and refused by
/// validation afterwards) count nothing. Depth is bounded by [`MAX_FRAGMENTS`].
fn expand<'a>(
    name: &'a Name,
    fragments: &HashMap<&'a Name, Counted<'a>>,
    memo: &mut HashMap<&'a Name, usize>,
    depth: usize,
) -> usize {
    if let Some(n) = memo.get(name) {
        return *n;
    }
    let Some(counted) = fragments.get(name) else {
        return 0;
    };
    if depth > MAX_FRAGMENTS {
        return 0;
    }
    // Mark before descending so a cycle ends.
    memo.insert(name, 0);
    let mut n = counted.fields;
    for spread in &counted.spreads {
        n = n.saturating_add(expand(spread, fragments, memo, depth + 1));
    }
    memo.insert(name, n);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_values_name_their_field() {
        assert_eq!(
            invalid_argument(
                r#"Invalid value for argument "input.dealCondition", unknown field "colour" of type "DealFilter""#
            )
            .as_deref(),
            Some("input.dealCondition.colour")
        );
        assert_eq!(
            invalid_argument(
                r#"Invalid value for argument "filter.stage.eq", enumeration type "DealStage" does not contain the value "WON""#
            )
            .as_deref(),
            Some("filter.stage.eq")
        );
        assert_eq!(
            invalid_argument("Unknown field \"x\" on type \"Query\""),
            None
        );
    }

    fn code(e: &ServerError) -> Option<String> {
        match e.extensions.as_ref()?.get("limit")? {
            Value::String(s) => Some(s.clone()),
            _ => None,
        }
    }

    #[test]
    fn the_scan_counts_brackets_inside_arguments_and_skips_strings_and_comments() {
        let limits = Limits {
            max_input_depth: 3,
            ..Limits::default()
        };
        assert!(scan_nesting("{ a(x: {b: {c: 1}}) { d } }", &limits).is_ok());
        let deep = scan_nesting("{ a(x: {b: {c: [{d: 1}]}}) }", &limits).unwrap_err();
        assert_eq!(code(&deep).as_deref(), Some("maxInputDepth"));
        assert!(scan_nesting("{ a(x: \"{{{{{{\") # [[[[[[[\n }", &limits).is_ok());
        assert!(scan_nesting("{ a(x: \"\"\"{{{{ \\\"\"\" {{{{\"\"\") }", &limits).is_ok());
        // Selection sets may nest deeper than values, but not without bound.
        let selections = format!("{}{}", "{ a ".repeat(60), "}".repeat(60));
        assert!(scan_nesting(&selections, &limits).is_err());
        let selections = format!("{}{}", "{ a ".repeat(20), "}".repeat(20));
        assert!(scan_nesting(&selections, &limits).is_ok());
    }

    #[test]
    fn values_are_walked_without_recursion_whatever_their_depth() {
        let mut v = Value::from(1);
        for _ in 0..100_000 {
            v = Value::List(vec![v]);
        }
        let err = check_value(&v, "x", &Limits::default(), None).unwrap_err();
        assert_eq!(code(&err).as_deref(), Some("maxInputDepth"));
        // Dropping such a value recurses in the value's own destructor: unwrap it level by
        // level instead.
        while let Value::List(mut items) = v {
            v = items.pop().unwrap_or(Value::Null);
        }
    }

    #[tokio::test]
    async fn a_key_holds_at_most_its_permits_and_is_forgotten_when_idle() {
        let limiter = Arc::new(KeyedLimiter::new(1));
        let held = limiter.acquire("u".into()).await.expect("first slot");
        let other = limiter.acquire("v".into()).await.expect("another key");
        let started = tokio::time::Instant::now();
        assert!(limiter.acquire("u".into()).await.is_none(), "second slot");
        assert!(started.elapsed() >= INFLIGHT_WAIT);
        drop(held);
        drop(other);
        assert!(
            limiter.slots.lock().unwrap().is_empty(),
            "idle keys forgotten"
        );
        assert!(limiter.acquire("u".into()).await.is_some());
    }
}
