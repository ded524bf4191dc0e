//! `/graphql/ws`: GraphQL over WebSocket (graphql-transport-ws, and the legacy
//! subscriptions-transport-ws), with the same actor, throttles and limits as HTTP.
//!
//! - The first message must be `connection_init` within `ws_init_timeout_secs` (else close
//!   4408); its payload's `Authorization: Bearer …` is checked like the HTTP header (a bad
//!   token closes with 4403; no token is the anonymous actor).
//! - Every operation re-authenticates with that token (a revoked session or deactivated
//!   user stops at once, as over HTTP) and gets its own per-request loaders and the client
//!   address, so the sign-in throttle and the request limits see it like an HTTP request.
//! - Messages are bounded by the HTTP body limit; at most `ws_max_operations` operations
//!   run at once per socket.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::http::{WebSocketProtocols, WsMessage};
use async_graphql::{Data, Executor, Request, Response};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, header};
use futures_util::stream::BoxStream;
use futures_util::{SinkExt, StreamExt};

use crate::auth::actor::{AuthFailure, authenticate};
use crate::authz::Origin;
use crate::error::ApiError;
use crate::state::AppState;

/// Close codes of graphql-transport-ws.
const CLOSE_BAD_REQUEST: u16 = 4400;
const CLOSE_FORBIDDEN: u16 = 4403;
const CLOSE_INIT_TIMEOUT: u16 = 4408;

/// A socket's read buffer (see [`upgrade`]).
const READ_BUFFER: usize = 4096;

/// Upgrades the connection; `origin` is the upgrade request's id and the client address as
/// the HTTP layer resolved it.
pub fn upgrade(
    state: AppState,
    upgrade: WebSocketUpgrade,
    headers: &HeaderMap,
    origin: Origin,
) -> axum::response::Response {
    let protocol = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
        })
        .unwrap_or(WebSocketProtocols::GraphQLWS);
    let limit = state.config.body_limit_bytes;
    upgrade
        .protocols(["graphql-transport-ws", "graphql-ws"])
        // tungstenite zeroes the free part of its read buffer (128 KiB by default) on every
        // read attempt, and a socket is read each time one of its subscriptions has
        // something to send: clients send little, so a small buffer (it still grows for a
        // large message) saves most of a live delivery's memory traffic.
        .read_buffer_size(READ_BUFFER)
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| serve(state, socket, protocol, origin))
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

/// The first message: `connection_init`, or the reason to close.
async fn connection_init(
    state: &AppState,
    socket: &mut WebSocket,
) -> Result<(Message, HeaderMap), (u16, &'static str)> {
    let wait = Duration::from_secs(state.config.limits.ws_init_timeout_secs);
    let message = loop {
        match tokio::time::timeout(wait, socket.recv()).await {
            Err(_) => return Err((CLOSE_INIT_TIMEOUT, "Connection initialisation timeout")),
            Ok(None | Some(Err(_))) => return Err((1000, "closed")),
            Ok(Some(Ok(m @ (Message::Text(_) | Message::Binary(_))))) => break m,
            Ok(Some(Ok(Message::Close(_)))) => return Err((1000, "closed")),
            Ok(Some(Ok(_))) => {}
        }
    };
    let bytes: &[u8] = match &message {
        Message::Text(t) => t.as_str().as_bytes(),
        Message::Binary(b) => b,
        _ => &[],
    };
    let json: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|_| (CLOSE_BAD_REQUEST, "Invalid message"))?;
    if json.get("type").and_then(|t| t.as_str()) != Some("connection_init") {
        return Err((CLOSE_BAD_REQUEST, "Expected connection_init"));
    }
    let mut headers = HeaderMap::new();
    let token = json.get("payload").and_then(|p| {
        p.get("Authorization")
            .or_else(|| p.get("authorization"))
            .and_then(|v| v.as_str())
    });
    if let Some(token) = token {
        let value = HeaderValue::from_str(token).map_err(|_| (CLOSE_FORBIDDEN, "Forbidden"))?;
        headers.insert(header::AUTHORIZATION, value);
    }
    Ok((message, headers))
}

async fn serve(
    state: AppState,
    mut socket: WebSocket,
    protocol: WebSocketProtocols,
    origin: Origin,
) {
    let (init, headers) = match connection_init(&state, &mut socket).await {
        Ok(init) => init,
        Err((code, reason)) => return close(&mut socket, code, reason).await,
    };
    match authenticate(&state.db, &state.deps.tokens, &headers).await {
        Ok(_) => {}
        Err(AuthFailure::Database | AuthFailure::Busy) => {
            return close(&mut socket, 1013, "try again later").await;
        }
        Err(failure) => {
            tracing::info!(target: "audit", event = "token.rejected", reason = %failure, transport = "websocket", "bearer token refused");
            return close(&mut socket, CLOSE_FORBIDDEN, "Forbidden").await;
        }
    }
    let executor = OperationExecutor {
        state: state.clone(),
        headers: Arc::new(headers),
        origin,
    };

    let active: Arc<Mutex<HashSet<String>>> = Arc::default();
    let max_ops = state.config.limits.ws_max_operations.max(1);
    let (refusals_tx, mut refusals) = tokio::sync::mpsc::unbounded_channel::<String>();
    let (mut sink, stream) = socket.split();
    let input = futures_util::stream::once(async move { init })
        .chain(
            stream
                .take_while(|m| std::future::ready(m.is_ok()))
                .filter_map(|m| {
                    std::future::ready(match m {
                        Ok(m @ (Message::Text(_) | Message::Binary(_))) => Some(m),
                        _ => None,
                    })
                }),
        )
        .map(Message::into_data)
        .filter({
            let active = active.clone();
            move |bytes| {
                let pass = admit(bytes, &active, max_ops, protocol, &refusals_tx);
                std::future::ready(pass)
            }
        });

    let outgoing = async_graphql::http::WebSocket::new(executor, input, protocol);
    futures_util::pin_mut!(outgoing);
    let to_message = |m: WsMessage| match m {
        WsMessage::Text(text) => {
            finished(&text, &active);
            Message::Text(text.into())
        }
        WsMessage::Close(code, reason) => Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })),
    };
    loop {
        let message = tokio::select! {
            m = outgoing.next() => match m {
                Some(m) => to_message(m),
                None => break,
            },
            Some(text) = refusals.recv() => Message::Text(text.into()),
        };
        if sink.feed(message).await.is_err() {
            break;
        }
        // Messages already waiting (live changes for several subscriptions of this
        // socket) go out with one flush.
        let mut open = true;
        while let Some(Some(m)) = futures_util::FutureExt::now_or_never(outgoing.next()) {
            if sink.feed(to_message(m)).await.is_err() {
                open = false;
                break;
            }
        }
        if !open || sink.flush().await.is_err() {
            break;
        }
    }
}

/// Whether a client message may go on to the executor. A new operation over the socket's
/// allowance is answered here with an `error` message and never runs.
fn admit(
    bytes: &[u8],
    active: &Mutex<HashSet<String>>,
    max_ops: usize,
    protocol: WebSocketProtocols,
    refusals: &tokio::sync::mpsc::UnboundedSender<String>,
) -> bool {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return true; // the protocol implementation closes with 4400
    };
    let kind = json.get("type").and_then(|t| t.as_str());
    let Some(id) = json.get("id").and_then(|i| i.as_str()) else {
        return true;
    };
    let mut active = active.lock().unwrap_or_else(|p| p.into_inner());
    match kind {
        Some("subscribe" | "start") => {
            if active.contains(id) || active.len() < max_ops {
                active.insert(id.to_owned());
                return true;
            }
            let err = ApiError::RateLimited {
                retry_after_secs: 1,
            };
            let payload = serde_json::json!([{
                "message": format!("at most {max_ops} operations may run at once on one connection"),
                "extensions": { "code": err.code(), "retryAfterSeconds": 1 },
            }]);
            let text = match protocol {
                WebSocketProtocols::GraphQLWS => {
                    serde_json::json!({ "id": id, "type": "error", "payload": payload })
                }
                WebSocketProtocols::SubscriptionsTransportWS => {
                    serde_json::json!({ "id": id, "type": "error", "payload": payload[0] })
                }
            };
            let _ = refusals.send(text.to_string());
            false
        }
        Some("complete" | "stop") => {
            active.remove(id);
            true
        }
        _ => true,
    }
}

/// Frees an operation's slot when the server reports it complete or failed.
fn finished(text: &str, active: &Mutex<HashSet<String>>) {
    // Only small control messages can be completions: skip results (`next` in
    // graphql-transport-ws, `data` in the legacy protocol; async-graphql writes the type
    // first) and anything large without parsing.
    if text.len() > 4096
        || text.starts_with(r#"{"type":"next""#)
        || text.starts_with(r#"{"type":"data""#)
    {
        return;
    }
    #[derive(serde::Deserialize)]
    struct Control<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        id: Option<&'a str>,
    }
    if let Ok(Control {
        kind: "complete" | "error",
        id: Some(id),
    }) = serde_json::from_str::<Control<'_>>(text)
    {
        active.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }
}

/// Runs each operation of one socket as its own request: fresh authentication from the
/// connection's token, fresh loaders, the client address.
#[derive(Clone)]
struct OperationExecutor {
    state: AppState,
    headers: Arc<HeaderMap>,
    origin: Origin,
}

impl OperationExecutor {
    async fn prepare(&self, mut request: Request) -> Result<Request, Response> {
        if let Err(e) = self.state.persisted.resolve(&mut request) {
            return Err(error(e));
        }
        let actor = match authenticate(&self.state.db, &self.state.deps.tokens, &self.headers).await
        {
            Ok(actor) => actor,
            Err(AuthFailure::Busy) => {
                return Err(error(ApiError::RateLimited {
                    retry_after_secs: 1,
                }));
            }
            Err(AuthFailure::Database) => return Err(error(ApiError::Internal)),
            Err(_) => return Err(error(ApiError::Unauthenticated)),
        };
        Ok(crate::graphql::with_request_data(
            request,
            &self.state.deps,
            self.origin.clone(),
            actor,
        ))
    }
}

fn error(err: ApiError) -> Response {
    Response::from_errors(vec![err.server_error()])
}

impl Executor for OperationExecutor {
    async fn execute(&self, request: Request) -> Response {
        match self.prepare(request).await {
            Ok(request) => self.state.schema.execute(request).await,
            Err(response) => response,
        }
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let this = self.clone();
        let schema = self.state.schema.clone();
        futures_util::stream::once(async move { this.prepare(request).await })
            .flat_map(move |prepared| match prepared {
                Ok(request) => schema.execute_stream_with_session_data(
                    request,
                    session_data.clone().unwrap_or_default(),
                ),
                Err(response) => futures_util::stream::once(async move { response }).boxed(),
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_over_the_allowance_are_answered_and_not_run() {
        let active = Mutex::new(HashSet::new());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let sub = |id: &str| {
            format!(
                r#"{{"id":"{id}","type":"subscribe","payload":{{"query":"{{ me {{ id }} }}"}}}}"#
            )
        };
        let p = WebSocketProtocols::GraphQLWS;
        assert!(admit(sub("1").as_bytes(), &active, 2, p, &tx));
        assert!(admit(sub("2").as_bytes(), &active, 2, p, &tx));
        assert!(!admit(sub("3").as_bytes(), &active, 2, p, &tx));
        let refusal: serde_json::Value = serde_json::from_str(&rx.try_recv().unwrap()).unwrap();
        assert_eq!(refusal["id"], "3");
        assert_eq!(refusal["type"], "error");
        assert_eq!(refusal["payload"][0]["extensions"]["code"], "RATE_LIMITED");
        // The server completing one frees its slot.
        finished(r#"{"type":"next","id":"1","payload":{"data":{}}}"#, &active);
        assert_eq!(active.lock().unwrap().len(), 2);
        finished(r#"{"id":"1","type":"complete"}"#, &active);
        assert!(admit(sub("3").as_bytes(), &active, 2, p, &tx));
        // So does the client stopping one; other messages pass untouched.
        assert!(admit(
            br#"{"id":"2","type":"complete"}"#,
            &active,
            2,
            p,
            &tx
        ));
        assert!(admit(br#"{"type":"ping"}"#, &active, 2, p, &tx));
        assert!(admit(b"not json", &active, 2, p, &tx));
        assert_eq!(active.lock().unwrap().len(), 1);
    }
}
