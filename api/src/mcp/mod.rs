//! AI assistant tools: a Model Context Protocol server at `POST /mcp` (streamable HTTP, the
//! official `rmcp` SDK), so any MCP client — a chat assistant, an IDE, an agent framework —
//! can search, read and add CRM records as the signed-in user. docs/mcp.md has the design.
//!
//! - Authentication is the GraphQL bearer token, checked by [`gate`] before the transport
//!   sees the request: without a valid one the answer is HTTP 401 and no MCP runs.
//! - The transport is stateless (no MCP session, JSON responses): every request carries its
//!   token and is served by whichever instance gets it, as GraphQL is.
//! - The tools call the services GraphQL calls, so the policy decides every row and field
//!   and writes are validated and audited the same way ([`ops`]).

mod args;
mod ops;
mod tools;
mod view;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use crate::http::{error_response, origin, signed_in};
use crate::state::AppState;

pub use tools::Tools;

/// The path of the MCP endpoint.
pub const PATH: &str = "/mcp";

/// The `/mcp` route, to merge into the application's router: the authentication gate, then
/// rmcp's streamable HTTP service. Stateless: no session is created or required (clients
/// that send `initialize` get an answer and no `Mcp-Session-Id`), responses are plain JSON,
/// and `GET` (a server-to-client stream) is 405 — there is nothing to push.
///
/// rmcp's `Host` check is off: it protects unauthenticated servers on a developer's machine
/// from DNS rebinding, and every request here needs a bearer token a rebinding page does
/// not have; browsers are held to the application's CORS settings like GraphQL callers.
pub fn router(state: &AppState) -> Router<AppState> {
    let tools = Tools::new(state.deps.clone());
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_max_request_body_bytes(state.config.body_limit_bytes)
        .disable_allowed_hosts();
    let service = StreamableHttpService::new(
        move || Ok(tools.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    Router::new()
        .route_service(PATH, service)
        .route_layer(middleware::from_fn_with_state(state.clone(), gate))
}

/// Authenticates an MCP request exactly as `/graphql` does and puts the actor (with the
/// request's id and address, recorded in the audit events of its writes) on the request for
/// the tools. No or a bad token is 401; a user who must change their password first is 403;
/// more than `CRM_MAX_INFLIGHT_PER_USER` requests of one user at once on this instance
/// (GraphQL and MCP together: one allowance) wait up to 2 s for a slot, then are 429, as
/// GraphQL's are.
async fn gate(State(state): State<AppState>, mut request: Request<Body>, next: Next) -> Response {
    // Authenticate.
    let mut actor = match signed_in(&state, request.headers()).await {
        Ok(actor) => actor,
        Err(refused) => return refused,
    };
    if actor.must_change_password {
        return error_response(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "change your password before using the assistant tools",
        );
    }
    // Bound this user's concurrent work on this instance.
    let Some(slot) = state.in_flight_users.acquire(actor.id.to_string()).await else {
        let mut res = error_response(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "too many requests in progress, retry in 1 s",
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return res;
    };
    // Hand the actor to the tools.
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    actor.viewer.origin = origin(&state, peer, request.headers());
    request.extensions_mut().insert(actor);
    // The slot travels with the request: rmcp runs a call in a task of its own, which
    // holds the request's parts until the call returns, so the work stays counted even
    // when this future is dropped first (a client that disconnects, the request timeout).
    request.extensions_mut().insert(Arc::new(slot));
    next.run(request).await
}
