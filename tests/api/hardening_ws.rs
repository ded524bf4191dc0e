//! `/graphql/ws` with a real graphql-transport-ws client over TCP: authentication in
//! `connection_init`, the close codes, the message size limit, and the same sign-in
//! throttle as HTTP.

use crm_testkit::Org;
use std::net::SocketAddr;
use std::time::Duration;

use entity::enums::Role;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value as Json, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{PASSWORD, TestApp, error_code};

pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Serves the app on an ephemeral loopback port with peer addresses, as `crm serve` does.
pub(crate) async fn serve(app: &TestApp) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = api::app(app.state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

pub(crate) async fn connect(addr: SocketAddr) -> Socket {
    let mut req = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (socket, response) = tokio_tungstenite::connect_async(req)
        .await
        .expect("upgrade");
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    socket
}

/// The next JSON message, or the close frame's code.
pub(crate) async fn next(socket: &mut Socket) -> Result<Json, Option<u16>> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("an answer in time");
        match message {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(t.as_str()).unwrap()),
            Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return Err(None),
        }
    }
}

pub(crate) async fn send(socket: &mut Socket, message: Json) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

pub(crate) async fn init(socket: &mut Socket, token: Option<&str>) -> Result<Json, Option<u16>> {
    let payload = match token {
        Some(t) => json!({ "Authorization": format!("Bearer {t}") }),
        None => json!({}),
    };
    send(
        socket,
        json!({"type": "connection_init", "payload": payload}),
    )
    .await;
    next(socket).await
}

/// Runs one operation and returns its `payload` (or the error message's).
async fn run(socket: &mut Socket, id: &str, query: &str, variables: Json) -> Json {
    send(
        socket,
        json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}}),
    )
    .await;
    loop {
        let m = next(socket).await.expect("open");
        if m["id"] == id && (m["type"] == "next" || m["type"] == "error") {
            return m["payload"].clone();
        }
    }
}

#[tokio::test]
async fn the_socket_authenticates_in_connection_init() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let rep = org
        .user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let (token, _) = app.login("rep@example.com", PASSWORD).await;
    let addr = serve(&app).await;

    let mut socket = connect(addr).await;
    assert_eq!(
        init(&mut socket, Some(&token)).await.unwrap()["type"],
        "connection_ack"
    );
    let payload = run(&mut socket, "1", "{ me { id } }", json!({})).await;
    assert_eq!(payload["data"]["me"]["id"], rep.id.to_string(), "{payload}");

    // No token: the anonymous actor.
    let mut socket = connect(addr).await;
    assert_eq!(
        init(&mut socket, None).await.unwrap()["type"],
        "connection_ack"
    );
    let payload = run(&mut socket, "1", "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&payload), Some("UNAUTHENTICATED"), "{payload}");

    // A forged token closes with 4403.
    let mut socket = connect(addr).await;
    assert_eq!(
        init(&mut socket, Some("not.a.token")).await,
        Err(Some(4403))
    );

    // A session ended after the socket opened stops its next operation.
    let mut socket = connect(addr).await;
    init(&mut socket, Some(&token)).await.unwrap();
    app.gql(Some(&token), "mutation { logout }", json!({}))
        .await;
    let payload = run(&mut socket, "2", "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&payload), Some("UNAUTHENTICATED"), "{payload}");
}

#[tokio::test]
async fn a_socket_without_init_closes_with_4408_and_big_frames_are_refused() {
    let app = TestApp::with_config(|c| {
        c.limits.ws_init_timeout_secs = 1;
        c.body_limit_bytes = 64 * 1024;
    })
    .await;
    let addr = serve(&app).await;
    let mut socket = connect(addr).await;
    assert_eq!(next(&mut socket).await, Err(Some(4408)));

    // A frame over the size limit ends the connection (1009 "message too big") instead of
    // being parsed.
    let mut socket = connect(addr).await;
    init(&mut socket, None).await.unwrap();
    let big = json!({"id": "1", "type": "subscribe", "payload": {"query": format!("{{ __typename }} #{}", "x".repeat(15 * 1024 * 1024))}});
    let _ = socket.send(Message::Text(big.to_string().into())).await;
    match next(&mut socket).await {
        Err(code) => assert!(code.is_none() || code == Some(u16::from(CloseCode::Size))),
        Ok(m) => panic!("the oversized message ran: {m}"),
    }

    // The server is fine.
    let mut socket = connect(addr).await;
    init(&mut socket, None).await.unwrap();
    let payload = run(&mut socket, "1", "{ __typename }", json!({})).await;
    assert_eq!(payload["data"]["__typename"], "Query");
}

#[tokio::test]
async fn sign_in_over_the_socket_meets_the_same_address_throttle() {
    let app = TestApp::with_config(|c| c.login_max_failures_per_address = 3).await;
    let mut org = Org::new();
    org.user()
        .email("victim@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let addr = serve(&app).await;
    let login =
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";
    let mut socket = connect(addr).await;
    init(&mut socket, None).await.unwrap();
    for i in 0..3 {
        let payload = run(
            &mut socket,
            &format!("f{i}"),
            login,
            json!({"e": format!("user{i}@example.com"), "p": "wrong password!!"}),
        )
        .await;
        assert_eq!(error_code(&payload), Some("UNAUTHENTICATED"), "{payload}");
    }
    let payload = run(
        &mut socket,
        "ok",
        login,
        json!({"e": "victim@example.com", "p": PASSWORD}),
    )
    .await;
    assert_eq!(error_code(&payload), Some("RATE_LIMITED"), "{payload}");
}

#[tokio::test]
async fn the_socket_applies_the_request_limits() {
    let app = TestApp::new().await;
    let addr = serve(&app).await;
    let mut socket = connect(addr).await;
    init(&mut socket, None).await.unwrap();
    let value = format!("{}1{}", "{a: ".repeat(2000), "}".repeat(2000));
    let payload = run(
        &mut socket,
        "deep",
        &format!("{{ __typename(x: {value}) }}"),
        json!({}),
    )
    .await;
    let code = payload[0]["extensions"]["code"]
        .as_str()
        .or_else(|| error_code(&payload));
    assert_eq!(code, Some("QUERY_TOO_COMPLEX"), "{payload}");
    let payload = run(&mut socket, "after", "{ __typename }", json!({})).await;
    assert_eq!(payload["data"]["__typename"], "Query");
}
