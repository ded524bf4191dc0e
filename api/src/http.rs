//! The HTTP surface: routes and the middleware stack.

use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::Extension;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::ClientAddr;
use crate::auth::actor::{AuthFailure, authenticate};
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application: tests and `main` build the same router.
pub fn app(state: AppState) -> Router {
    let config = state.config.clone();
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphql/ws", get(graphql_ws))
        .route("/graphiql/assets/{name}", get(crate::graphiql::asset))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(config.body_limit_bytes))
        .layer(CompressionLayer::new())
        .layer(cors(&config.cors_origins))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(config.request_timeout_secs),
        ))
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

fn cors(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
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
/// everything else.
async fn graphql_get(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    request: Result<GraphQLRequest, async_graphql_axum::rejection::GraphQLRejection>,
) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html {
        return crate::graphiql::page(&state.config.graphiql_assets_url, "/graphql")
            .into_response();
    }
    match request {
        Ok(req) => execute(&state, connect, &headers, req).await,
        Err(rejection) => rejection.into_response(),
    }
}

/// `POST /graphql`.
async fn graphql_post(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    execute(&state, connect, &headers, request).await
}

/// Authenticates, then executes. Bad credentials are HTTP 401 before any GraphQL runs; no
/// credentials is the anonymous actor.
async fn execute(
    state: &AppState,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: &HeaderMap,
    request: GraphQLRequest,
) -> Response {
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
        Err(failure) => {
            tracing::info!(target: "audit", event = "token.rejected", reason = %failure, "bearer token refused");
            return error_response(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "invalid or expired access token",
            );
        }
    };
    let client = ClientAddr(client_ip(state, connect.map(|c| c.0.0), headers));
    let mut request = request.into_inner().data(client);
    if let Some(actor) = actor {
        let loader = crate::graphql::loaders::for_viewer(state.deps.clone(), actor.viewer.clone());
        request = request.data(loader).data(actor);
    }
    let response = state.schema.execute(request).await;
    let retry_after = response.errors.iter().find_map(|e| {
        let ext = e.extensions.as_ref()?;
        match (ext.get("code"), ext.get("retryAfterSeconds")) {
            (Some(async_graphql::Value::String(code)), Some(secs)) if code == "RATE_LIMITED" => {
                Some(secs.to_string())
            }
            _ => None,
        }
    });
    // Refused as a whole (no data at all) because of a limit: say so in HTTP too.
    let refused = retry_after.is_some()
        && response.data == async_graphql::Value::Null
        && response.errors.iter().all(|e| {
            e.extensions.as_ref().and_then(|x| x.get("code"))
                == Some(&async_graphql::Value::from("RATE_LIMITED"))
        });
    let mut res = GraphQLResponse::from(response).into_response();
    if let Some(secs) = retry_after
        && let Ok(value) = HeaderValue::from_str(&secs)
    {
        res.headers_mut().insert(header::RETRY_AFTER, value);
        if refused {
            *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        }
    }
    res
}

/// `GET /graphql/ws`: the WebSocket transport (see [`crate::ws`]).
async fn graphql_ws(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let client = ClientAddr(client_ip(&state, connect.map(|c| c.0.0), &headers));
    crate::ws::upgrade(state, upgrade, &headers, client)
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
fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
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
