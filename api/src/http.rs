//! The HTTP surface: routes and the middleware stack.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use async_graphql::BatchRequest;
use async_graphql::ParseRequestError;
use async_graphql::http::MultipartOptions;
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection};
use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::FromRequest;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::{StreamExt, TryStreamExt};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::actor::{AuthFailure, authenticate};
use crate::authz::Origin;
use crate::error::ApiError;
use crate::graphql::limits::{Deadline, Uploads};
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application: tests and `main` build the same router.
pub fn app(state: AppState) -> Router {
    let config = state.config.clone();
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphql/ws", get(graphql_ws))
        .route("/graphiql/assets/{name}", get(crate::graphiql::asset))
        .route("/exports/{id}", get(download_export))
        .route("/attachments/{id}", get(download_attachment))
        .route("/healthz", get(healthz))
        .merge(crate::mcp::router(&state))
        .route("/readyz", get(readyz))
        .with_state(state)
        .layer(DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(CompressionLayer::new())
        .layer(cors(&config.cors_origins, &config.cors_allow_headers))
        .layer(middleware::from_fn_with_state(config.clone(), deadline))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                // The path only: query strings may carry GraphQL variables.
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// CORS: the allowed request headers are configurable (`CRM_CORS_ALLOW_HEADERS`); the
/// defaults include what Apollo Client, Sentry and W3C trace context send, so a browser
/// app's preflight passes. Scripts may read the request id and `Retry-After`.
fn cors(origins: &[String], allow_headers: &[String]) -> CorsLayer {
    let headers: Vec<HeaderName> = allow_headers
        .iter()
        .filter_map(|h| HeaderName::from_bytes(h.trim().as_bytes()).ok())
        .collect();
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers(headers)
        .expose_headers([REQUEST_ID, header::RETRY_AFTER])
        .max_age(Duration::from_secs(3600));
    if origins.iter().any(|o| o == "*") {
        layer.allow_origin(AllowOrigin::any())
    } else {
        let list: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
            .collect();
        layer.allow_origin(list)
    }
}

/// `GET /graphql`: the playground for browsers, a GraphQL query (GraphQL over HTTP) for
/// everything else. Mutations are refused with 405: a GET must not change anything (and a
/// `login` over GET would put the password in URLs and logs).
async fn graphql_get(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html {
        return crate::graphiql::page(&state.config.graphiql_assets_url, "/graphql")
            .into_response();
    }
    let mut request = match async_graphql::http::parse_query_string(query.as_deref().unwrap_or(""))
    {
        Ok(request) => request,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &format!("the query string is not a GraphQL request: {e}"),
            );
        }
    };
    // A persisted query is looked up first: its text decides whether it is a mutation.
    if let Err(e) = state.persisted.resolve(&mut request) {
        let response = async_graphql::Response::from_errors(vec![e.server_error()]);
        return respond(response, wants_graphql_response(&headers));
    }
    if let Some(doc) = parsed(&state, &request) {
        let op = operation_of(&doc, request.operation_name.as_deref());
        if op.is_some_and(|op| op.kind == OperationType::Mutation) {
            let mut res = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "BAD_REQUEST",
                "mutations must be sent with POST",
            );
            res.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return res;
        }
        // Parsed once: execution reuses it (the limits still scan the text first).
        request.set_parsed_query(doc);
    }
    execute(&state, connect, &headers, BatchRequest::Single(request)).await
}

/// `POST /graphql`: one request, or a batch (a JSON array) of at most `max_batch`.
async fn graphql_post(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    request: Request<Body>,
) -> Response {
    match media_type(&headers).as_deref() {
        Some("application/json") => {}
        Some("multipart/form-data") => {
            return match multipart(&state, &headers, request.into_body()).await {
                Ok(batch) => execute(&state, connect, &headers, batch).await,
                Err(refused) => refused,
            };
        }
        _ => {
            return error_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "BAD_REQUEST",
                "send the request as Content-Type: application/json (or multipart/form-data \
                 with files, per the GraphQL multipart request spec)",
            );
        }
    }
    let body = Bytes::from_request(request, &state).await;
    let body = match body {
        Ok(body) => body,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                &format!(
                    "the request body is larger than {} bytes",
                    state.config.body_limit_bytes
                ),
            );
        }
        Err(e) => return error_response(StatusCode::BAD_REQUEST, "BAD_REQUEST", &e.body_text()),
    };
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &format!("the body is not a GraphQL request in JSON: {e}"),
            );
        }
    };
    execute(&state, connect, &headers, batch).await
}

/// The request's media type, lowercase, without parameters.
fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
}

/// Files per multipart request.
const MAX_UPLOAD_FILES: usize = 4;

/// A GraphQL multipart request (files for `importCsv` and `uploadAttachment`): each file
/// is spooled to a temporary file as it arrives, never held in memory whole. The body may
/// be as large as the largest file a mutation accepts plus the JSON limit (each mutation
/// checks its own limit); `multipart/form-data` is a content type a browser form may send
/// cross-site without a preflight, so the request must carry `Apollo-Require-Preflight` or
/// `X-Apollo-Operation-Name` (a header only a preflighted script can set), as Apollo's
/// CSRF prevention asks.
async fn multipart(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<BatchRequest, Response> {
    let preflighted = ["apollo-require-preflight", "x-apollo-operation-name"]
        .iter()
        .any(|h| headers.get(*h).is_some_and(|v| !v.is_empty()));
    if !preflighted {
        return Err(error_response(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "a multipart request must carry the header Apollo-Require-Preflight: true \
             (protection against cross-site form posts)",
        ));
    }
    let config = &state.config;
    let max_file = config.import_max_bytes.max(config.attachment_max_bytes);
    let max_body = max_file.saturating_add(config.body_limit_bytes) as u64;
    let too_large = || {
        error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            &format!("the request body is larger than {max_body} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_body) {
        return Err(too_large());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // The body as a reader that fails once more than `max_body` bytes arrived.
    let mut seen = 0u64;
    let reader = body
        .into_data_stream()
        .map(move |chunk| {
            let chunk = chunk.map_err(std::io::Error::other)?;
            seen += chunk.len() as u64;
            if seen > max_body {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::FileTooLarge,
                    "body too large",
                ));
            }
            Ok(chunk)
        })
        .into_async_read();
    let options = MultipartOptions::default()
        .max_file_size(max_file)
        .max_num_files(MAX_UPLOAD_FILES);
    // A request carrying files may run for the upload timeout; one without, as any other.
    let marked = |r: async_graphql::Request| {
        let files = r.uploads.len();
        let r = r.data(Uploads(files));
        if files > 0 {
            r.data(Deadline(Duration::from_secs(config.upload_timeout_secs)))
        } else {
            r
        }
    };
    match async_graphql::http::receive_batch_body(content_type, reader, options).await {
        Ok(BatchRequest::Single(r)) => Ok(BatchRequest::Single(marked(r))),
        Ok(BatchRequest::Batch(rs)) => {
            Ok(BatchRequest::Batch(rs.into_iter().map(marked).collect()))
        }
        Err(ParseRequestError::PayloadTooLarge) => Err(too_large()),
        Err(ParseRequestError::Io(e)) if e.kind() == std::io::ErrorKind::FileTooLarge => {
            Err(too_large())
        }
        Err(e) => {
            let message = e.to_string();
            if message.contains("body too large") || message.contains("size limit") {
                return Err(too_large());
            }
            Err(error_response(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &format!("the body is not a GraphQL multipart request: {message}"),
            ))
        }
    }
}

/// Abandons a request with 408 after `CRM_REQUEST_TIMEOUT_SECS`, or after
/// `CRM_UPLOAD_TIMEOUT_SECS` for a multipart request (an import or an upload).
async fn deadline(
    State(config): State<std::sync::Arc<crate::config::Config>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let secs = if media_type(request.headers()).as_deref() == Some("multipart/form-data") {
        config.upload_timeout_secs
    } else {
        config.request_timeout_secs
    };
    match tokio::time::timeout(Duration::from_secs(secs), next.run(request)).await {
        Ok(response) => response,
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

/// The operation a request will run, found without executing it (`None` when the document
/// does not parse or names no such operation: execution reports that).
struct Operation {
    kind: OperationType,
    /// Its top-level field names.
    fields: Vec<String>,
}

fn operation_of(doc: &ExecutableDocument, name: Option<&str>) -> Option<Operation> {
    let (kind, selection) = crate::graphql::nulls::operation(doc, name)?;
    let fields = selection
        .items
        .iter()
        .map(|s| match &s.node {
            Selection::Field(f) => f.node.name.node.to_string(),
            // A fragment at the root: its fields are unknown here.
            _ => String::new(),
        })
        .collect();
    Some(Operation { kind, fields })
}

/// The request's document, parsed ahead of execution (`None` when it does not parse:
/// execution reports that). The parser is recursive: the request limits' lexical bound
/// comes first.
fn parsed(state: &AppState, request: &async_graphql::Request) -> Option<ExecutableDocument> {
    crate::graphql::limits::scan_nesting(&request.query, &state.config.limits).ok()?;
    async_graphql::parser::parse_query(&request.query).ok()
}

/// Whether every request of `batch` only signs in or refreshes a session: those must work
/// whatever stale `Authorization` header a client still sends (that is when it needs them).
fn only_signs_in(state: &AppState, items: &[Result<async_graphql::Request, ApiError>]) -> bool {
    items.iter().flatten().all(|r| {
        let doc = parsed(state, r);
        let op = doc
            .as_ref()
            .and_then(|d| operation_of(d, r.operation_name.as_deref()));
        op.is_some_and(|op| {
            op.kind == OperationType::Mutation
                && op
                    .fields
                    .iter()
                    .all(|f| matches!(f.as_str(), "login" | "refreshSession" | "__typename"))
        })
    })
}

/// The response media type: `application/graphql-response+json` when the client asks for
/// it, else `application/json` (what every older client expects).
fn wants_graphql_response(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| {
            v.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case(GRAPHQL_RESPONSE))
        })
}

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// Authenticates, then executes. Bad credentials are HTTP 401 before any GraphQL runs
/// (except for signing in); no credentials is the anonymous actor.
async fn execute(
    state: &AppState,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: &HeaderMap,
    batch: BatchRequest,
) -> Response {
    let graphql_response = wants_graphql_response(headers);
    let (single, requests) = match batch {
        BatchRequest::Single(r) => (true, vec![r]),
        BatchRequest::Batch(rs) => (false, rs),
    };
    let max = state.config.limits.max_batch;
    if requests.len() > max {
        let err = ApiError::TooComplex {
            message: format!(
                "a batch holds at most {max} operations, this one {}",
                requests.len()
            ),
            limit: "maxBatch",
            max,
        };
        return json_response(
            StatusCode::BAD_REQUEST,
            &async_graphql::Response::from_errors(vec![err.server_error()]),
            graphql_response,
        );
    }
    // Persisted queries first: an unknown (or untrusted) hash answers on its own.
    let items: Vec<Result<async_graphql::Request, ApiError>> = requests
        .into_iter()
        .map(|mut r| state.persisted.resolve(&mut r).map(|()| r))
        .collect();
    let actor = match authenticate(&state.db, &state.deps.tokens, headers).await {
        Ok(actor) => actor,
        Err(AuthFailure::Database) => {
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "INTERNAL",
                "try again later",
            );
        }
        Err(AuthFailure::Busy) => {
            let mut res = error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "RATE_LIMITED",
                "the server is busy, retry in 1 s",
            );
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return res;
        }
        Err(_) if only_signs_in(state, &items) => None,
        Err(failure) => {
            tracing::info!(target: "audit", event = "token.rejected", reason = %failure, "bearer token refused");
            return error_response(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "invalid or expired access token",
            );
        }
    };
    let origin = origin(state, connect.map(|c| c.0.0), headers);
    let prepare = |request: async_graphql::Request| {
        crate::graphql::with_request_data(request, &state.deps, origin.clone(), actor.clone())
    };
    // One after the other: each operation of a batch is counted by the request limits and
    // the caller's in-flight allowance like a request of its own.
    let mut responses = Vec::with_capacity(items.len());
    for item in items {
        responses.push(match item {
            Ok(request) => state.schema.execute(prepare(request)).await,
            Err(e) => async_graphql::Response::from_errors(vec![e.server_error()]),
        });
    }
    if single && let Some(response) = responses.pop() {
        respond(response, graphql_response)
    } else {
        json_response(StatusCode::OK, &responses, graphql_response)
    }
}

/// One GraphQL response as HTTP: the status says what the body says. A request refused as a
/// whole for a rate limit is 429 with `Retry-After`; one that never ran (parse or validation
/// failure, over a limit) is 400 for clients that accept `application/graphql-response+json`
/// (the spec's rule) and 200 for plain `application/json` ones.
fn respond(response: async_graphql::Response, graphql_response: bool) -> Response {
    let codes: Vec<&str> = response
        .errors
        .iter()
        .map(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .and_then(|c| match c {
                    async_graphql::Value::String(s) => Some(s.as_str()),
                    _ => None,
                })
                .unwrap_or("")
        })
        .collect();
    let retry_after = response.errors.iter().find_map(|e| {
        let ext = e.extensions.as_ref()?;
        match (ext.get("code"), ext.get("retryAfterSeconds")) {
            (Some(async_graphql::Value::String(code)), Some(secs)) if code == "RATE_LIMITED" => {
                Some(secs.to_string())
            }
            _ => None,
        }
    });
    let no_data = response.data == async_graphql::Value::Null && !codes.is_empty();
    let status = if no_data && codes.iter().all(|c| *c == "RATE_LIMITED") {
        StatusCode::TOO_MANY_REQUESTS
    } else if no_data
        && graphql_response
        && codes.iter().all(|c| {
            matches!(
                *c,
                "GRAPHQL_PARSE_FAILED"
                    | "GRAPHQL_VALIDATION_FAILED"
                    | "QUERY_TOO_COMPLEX"
                    | "BAD_USER_INPUT"
                    | "BAD_REQUEST"
            )
        })
    {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    // A request error (nothing ran: no error has a path) has no `data` entry at all.
    let request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let mut res = if request_error {
        json_response(
            status,
            &serde_json::json!({ "errors": response.errors }),
            graphql_response,
        )
    } else {
        json_response(status, &response, graphql_response)
    };
    if let Some(secs) = retry_after
        && let Ok(value) = HeaderValue::from_str(&secs)
    {
        res.headers_mut().insert(header::RETRY_AFTER, value);
    }
    res
}

/// A JSON body with the negotiated media type.
fn json_response(
    status: StatusCode,
    body: &impl serde::Serialize,
    graphql_response: bool,
) -> Response {
    let bytes = match serde_json::to_vec(body) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "serializing a response failed");
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "internal error",
            );
        }
    };
    let media = if graphql_response {
        HeaderValue::from_static(GRAPHQL_RESPONSE)
    } else {
        HeaderValue::from_static("application/json")
    };
    (status, [(header::CONTENT_TYPE, media)], bytes).into_response()
}

/// `GET /graphql/ws`: the WebSocket transport (see [`crate::ws`]).
async fn graphql_ws(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let origin = origin(&state, connect.map(|c| c.0.0), &headers);
    crate::ws::upgrade(state, upgrade, &headers, origin)
}

/// Where a request came from: its id and the client's address.
pub(crate) fn origin(state: &AppState, peer: Option<SocketAddr>, headers: &HeaderMap) -> Origin {
    Origin {
        request_id: headers
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(64).collect()),
        ip: client_ip(state, peer, headers),
        automation: None,
    }
}

/// The client address: the socket peer or, behind `trusted_proxies` trusted proxies, the
/// `X-Forwarded-For` entry that many hops from the right — the one the outermost trusted
/// proxy saw. Entries further left were written by the client and prove nothing.
fn client_ip(state: &AppState, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
    let config = &state.config;
    if config.trust_forwarded_for && config.trusted_proxies > 0 {
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        if let Some(hop) = hops
            .len()
            .checked_sub(config.trusted_proxies)
            .map(|i| hops[i])
            && let Ok(ip) = hop.parse()
        {
            return Some(ip);
        }
    }
    peer.map(|p| p.ip())
}

/// A GraphQL-shaped error body with an HTTP status.
pub(crate) fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    });
    let mut res = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
    }
    res
}

/// `GET /exports/{id}`: a CSV export, for its exporter (bearer token) until it expires.
/// Anyone else, an expired export and a malformed id are all 404, alike.
async fn download_export(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let actor = match signed_in(&state, &headers).await {
        Ok(actor) => actor,
        Err(refused) => return refused,
    };
    let not_found = || error_response(StatusCode::NOT_FOUND, "NOT_FOUND", "export not found");
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return not_found();
    };
    match crate::service::export::download(&state.deps, &actor.viewer, id).await {
        Ok(export) => {
            let name = format!(
                "attachment; filename=\"{}-{}.csv\"",
                export.kind.to_lowercase(),
                export.created_at.format("%Y%m%d-%H%M%S")
            );
            download(
                export.content.into_response(),
                HeaderValue::from_static("text/csv; charset=utf-8"),
                &name,
            )
        }
        Err(ApiError::NotFound { .. }) => not_found(),
        Err(e) => {
            tracing::warn!(error = ?e, "export download failed");
            error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "internal error",
            )
        }
    }
}

/// `res` as a file to save, never to render: its type, `Content-Disposition`
/// (`disposition`), `nosniff`, a sandboxing CSP, and no caching outside the client.
fn download(mut res: Response, content_type: HeaderValue, disposition: &str) -> Response {
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type);
    if let Ok(v) = HeaderValue::from_str(disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    res
}

/// `GET /attachments/{id}`: an attachment's bytes, streamed from storage, for whoever may
/// read its record (bearer token). A missing attachment, one on a record the viewer may not
/// read and a malformed id are all the same 404. Always a download (`Content-Disposition:
/// attachment`, never rendered inline), with `nosniff`, a sandboxing CSP and no caching
/// outside the client.
async fn download_attachment(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let actor = match signed_in(&state, &headers).await {
        Ok(actor) => actor,
        Err(refused) => return refused,
    };
    let not_found = || error_response(StatusCode::NOT_FOUND, "NOT_FOUND", "attachment not found");
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return not_found();
    };
    match crate::service::attachment::open(&state.deps, &actor.viewer, id).await {
        Ok((attachment, download)) => {
            let size = download.size;
            let mut res = self::download(
                Body::from_stream(download.stream).into_response(),
                HeaderValue::from_str(&attachment.content_type)
                    .unwrap_or(HeaderValue::from_static("application/octet-stream")),
                &content_disposition(&attachment.file_name),
            );
            res.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
            res
        }
        Err(ApiError::NotFound { .. }) => not_found(),
        Err(ApiError::RateLimited { retry_after_secs }) => {
            let mut res = error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "RATE_LIMITED",
                "try again shortly",
            );
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            res
        }
        Err(e) => {
            tracing::warn!(error = ?e, "attachment download failed");
            error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "internal error",
            )
        }
    }
}

/// The actor of a plain HTTP request's bearer token; without a valid one, the response to
/// send (401, or 503 while the database cannot say).
pub(crate) async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<crate::auth::Actor, Response> {
    match authenticate(&state.db, &state.deps.tokens, headers).await {
        Ok(Some(actor)) => Ok(actor),
        Err(AuthFailure::Database | AuthFailure::Busy) => Err(error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "RATE_LIMITED",
            "try again shortly",
        )),
        Ok(None) | Err(_) => Err(error_response(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "sign in: send your bearer token",
        )),
    }
}

/// `Content-Disposition: attachment` naming `file_name` (RFC 6266): an ASCII `filename`
/// for old clients (other characters, quotes and backslashes as `_`) and the exact name as
/// UTF-8 in `filename*` (RFC 8187 percent-encoding).
pub fn content_disposition(file_name: &str) -> String {
    let ascii: String = file_name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    let mut encoded = String::with_capacity(file_name.len() * 3);
    for b in file_name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Liveness: the process answers.
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: the database answers.
async fn readyz(State(state): State<AppState>) -> Response {
    match crate::db::ping(&state.db).await {
        Ok(()) => Json(serde_json::json!({ "status": "ok", "database": "ok" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "unavailable", "database": "unreachable" })),
            )
                .into_response()
        }
    }
}
