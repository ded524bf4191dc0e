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

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use uuid::Uuid;

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
    let gate_state = Gate {
        state: state.clone(),
        in_flight: InFlight::default(),
    };
    Router::new()
        .route_service(PATH, service)
        .route_layer(middleware::from_fn_with_state(gate_state, gate))
}

/// What the gate needs: the application (token keys, database, limits) and this instance's
/// count of each user's requests in progress.
#[derive(Clone)]
struct Gate {
    state: AppState,
    in_flight: InFlight,
}

/// Authenticates an MCP request exactly as `/graphql` does and puts the actor (with the
/// request's id and address, recorded in the audit events of its writes) on the request for
/// the tools. No or a bad token is 401; a user who must change their password first is 403;
/// more than `CRM_MAX_INFLIGHT_PER_USER` requests of one user at once on this instance are
/// 429, as GraphQL's allowance would answer.
async fn gate(State(gate): State<Gate>, mut request: Request<Body>, next: Next) -> Response {
    // Authenticate.
    let mut actor = match signed_in(&gate.state, request.headers()).await {
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
    let limit = gate.state.config.limits.max_inflight_per_user;
    let Some(slot) = gate.in_flight.enter(actor.id, limit) else {
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
    actor.viewer.origin = origin(&gate.state, peer, request.headers());
    request.extensions_mut().insert(actor);
    // The slot travels with the request: rmcp runs a call in a task of its own, which
    // holds the request's parts until the call returns, so the work stays counted even
    // when this future is dropped first (a client that disconnects, the request timeout).
    request.extensions_mut().insert(Arc::new(slot));
    next.run(request).await
}

/// Requests in progress per user on this instance (what it protects is this process's pool).
#[derive(Clone, Default)]
struct InFlight(Arc<Mutex<HashMap<Uuid, usize>>>);

/// One request in progress; counted until dropped.
struct Slot {
    in_flight: InFlight,
    user: Uuid,
}

impl InFlight {
    /// A slot for `user`, unless they already hold `limit`.
    fn enter(&self, user: Uuid, limit: usize) -> Option<Slot> {
        let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(user).or_default();
        if *n >= limit.max(1) {
            return None;
        }
        *n += 1;
        Some(Slot {
            in_flight: self.clone(),
            user,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.in_flight.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_slots_are_bounded_per_user_and_released() {
        let in_flight = InFlight::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let first = in_flight.enter(a, 2).expect("first");
        let _second = in_flight.enter(a, 2).expect("second");
        assert!(in_flight.enter(a, 2).is_none());
        assert!(in_flight.enter(b, 2).is_some());
        drop(first);
        assert!(in_flight.enter(a, 2).is_some());
    }
}
