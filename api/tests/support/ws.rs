//! A graphql-transport-ws client over TCP for the tests and benches that drive the real
//! binary: connect, sign in with `connection_init`, subscribe, read messages.

#![allow(
    dead_code,
    reason = "shared by a test and a bench that use different parts"
)]

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/graphql/ws` and signs in with `token`; returns after `connection_ack`.
pub async fn connect(addr: SocketAddr, token: &str) -> Socket {
    let mut req = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("upgrade");
    let init =
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
    send(&mut socket, init).await;
    let ack = next(&mut socket, Duration::from_secs(30))
        .await
        .expect("connection_ack");
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    socket
}

pub async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

/// Starts operation `id` (a subscription) with `query` and `variables`.
pub async fn subscribe(socket: &mut Socket, id: &str, query: &str, variables: Value) {
    let sub =
        json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}});
    send(socket, sub).await;
}

/// The next JSON message within `wait`.
pub async fn next(socket: &mut Socket, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let m = tokio::time::timeout_at(deadline, socket.next())
            .await
            .ok()??;
        if let Ok(Message::Text(t)) = m {
            return serde_json::from_str(t.as_str()).ok();
        }
    }
}
