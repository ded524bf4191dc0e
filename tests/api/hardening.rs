//! Hardening: each request an attacker found to crash, starve or slip past the server,
//! replayed; the server answers with a clear code and keeps serving.

use crm_testkit::Org;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use entity::enums::{DealStage, Role};
use serde_json::{Value as Json, json};

use crate::helpers::{PASSWORD, TestApp, error_code};

const LOGIN: &str =
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";

/// The server still answers a plain query after an attack.
async fn still_serving(app: &TestApp, token: &str) {
    let (status, json) = app.gql(Some(token), "{ me { id } }", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert!(json["data"]["me"]["id"].is_string(), "{json}");
}

/// A signed-in rep with one deal, and their token.
async fn rep_app(adjust: impl FnOnce(&mut api::config::Config)) -> (TestApp, String) {
    let app = TestApp::with_config(adjust).await;
    let mut org = Org::new();
    let rep = org
        .user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let company = org
        .company()
        .name("Acme")
        .owner(rep.id)
        .insert(&app.db)
        .await;
    org.deal()
        .company(company.id)
        .owner(rep.id)
        .title("Deal")
        .amount_cents(10_000)
        .stage(DealStage::Proposal)
        .insert(&app.db)
        .await;
    let (token, _) = app.login("rep@example.com", PASSWORD).await;
    (app, token)
}

fn nested(open: &str, inner: &str, close: &str, n: usize) -> String {
    format!("{}{inner}{}", open.repeat(n), close.repeat(n))
}

fn extension<'a>(json: &'a Json, key: &str) -> &'a Json {
    &json["errors"][0]["extensions"][key]
}

#[tokio::test]
async fn deeply_nested_not_is_refused_before_it_can_overflow_the_stack() {
    let (app, token) = rep_app(|_| {}).await;
    let filter = nested("{not: ", "{title: {eq: \"x\"}}", "}", 220);
    let q = format!("{{ deals(filter: {filter}) {{ totalCount }} }}");
    for who in [None, Some(token.as_str())] {
        let (status, json) = app.gql(who, &q, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        assert_eq!(error_code(&json), Some("QUERY_TOO_COMPLEX"), "{json}");
        assert_eq!(extension(&json, "limit"), "maxInputDepth", "{json}");
    }
    // Within the limit the same shape works.
    let filter = nested("{not: ", "{title: {eq: \"x\"}}", "}", 7);
    let q = format!("{{ deals(filter: {filter}) {{ totalCount }} }}");
    let (_, json) = app.gql(Some(&token), &q, json!({})).await;
    assert_eq!(json["data"]["deals"]["totalCount"], 1, "{json}");
    still_serving(&app, &token).await;
}

#[tokio::test]
async fn an_argument_nested_two_thousand_deep_is_refused() {
    let (app, token) = rep_app(|_| {}).await;
    let value = nested("{a: ", "1", "}", 2000);
    let (_, json) = app
        .gql(None, &format!("{{ __typename(x: {value}) }}"), json!({}))
        .await;
    assert_eq!(error_code(&json), Some("QUERY_TOO_COMPLEX"), "{json}");
    // Lists too, and brackets outside any argument (selection sets).
    let list = nested("[", "1", "]", 2000);
    let (_, json) = app
        .gql(None, &format!("{{ __typename(x: {list}) }}"), json!({}))
        .await;
    assert_eq!(error_code(&json), Some("QUERY_TOO_COMPLEX"), "{json}");
    let selections = nested("{ a ", "", "}", 3000);
    let (_, json) = app.gql(None, &selections, json!({})).await;
    assert_eq!(error_code(&json), Some("QUERY_TOO_COMPLEX"), "{json}");
    // Brackets inside strings and comments do not count.
    let q = format!(
        "{{ deals(search: \"{}\") {{ totalCount }} }} # {}",
        "[".repeat(150),
        "{".repeat(5000)
    );
    let (_, json) = app.gql(Some(&token), &q, json!({})).await;
    assert_eq!(json["data"]["deals"]["totalCount"], 0, "{json}");
    still_serving(&app, &token).await;
}

#[tokio::test]
async fn deep_variables_are_refused_too() {
    let (app, token) = rep_app(|_| {}).await;
    let q = "query($f: DealFilter) { deals(filter: $f) { totalCount } }";
    let mut filter = json!({"title": {"eq": "x"}});
    for _ in 0..100 {
        filter = json!({ "not": filter });
    }
    let (status, json) = app.gql(Some(&token), q, json!({ "f": filter })).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(error_code(&json), Some("QUERY_TOO_COMPLEX"), "{json}");
    // Deeper than the JSON parser's own limit: a clean 400, not a crash.
    let mut deep = json!(1);
    for _ in 0..300 {
        deep = json!([deep]);
    }
    let (status, _) = app.gql(Some(&token), q, json!({ "f": deep })).await;
    assert!(status.is_client_error(), "{status}");
    still_serving(&app, &token).await;
}

#[tokio::test]
async fn huge_and_or_lists_and_in_lists_are_refused() {
    let (app, token) = rep_app(|_| {}).await;
    for (op, n, limit) in [
        ("or", 15_000, "maxListLength"),
        ("and", 12_000, "maxListLength"),
        ("or", 600, "maxInputObjects"),
    ] {
        let items = vec![json!({"title": {"eq": "x"}}); n];
        let (_, json) = app
            .gql(
                Some(&token),
                "query($f: DealFilter) { deals(filter: $f) { totalCount } }",
                json!({ "f": { op: items } }),
            )
            .await;
        assert_eq!(error_code(&json), Some("QUERY_TOO_COMPLEX"), "{op} {n}");
        assert_eq!(extension(&json, "limit"), limit, "{json}");
    }
    // An `in` list past both drivers' bind limits.
    let ids: Vec<String> = (0..70_000).map(|i| format!("t{i}")).collect();
    let (_, json) = app
        .gql(
            Some(&token),
            "query($ids: [String!]) { deals(filter: {title: {in: $ids}}) { totalCount } }",
            json!({ "ids": ids }),
        )
        .await;
    assert_eq!(error_code(&json), Some("QUERY_TOO_COMPLEX"), "{json}");
    assert_eq!(extension(&json, "limit"), "maxListLength", "{json}");
    // At the limits the database copes on both backends.
    // (Each entry is two input objects: 249 entries and the filter itself.)
    let items = vec![json!({"title": {"eq": "x"}}); 249];
    let (_, json) = app
        .gql(
            Some(&token),
            "query($f: DealFilter) { deals(filter: $f) { totalCount } }",
            json!({ "f": { "or": items } }),
        )
        .await;
    assert_eq!(json["data"]["deals"]["totalCount"], 0, "{json}");
    let ids: Vec<String> = (0..1000).map(|i| format!("t{i}")).collect();
    let (_, json) = app
        .gql(
            Some(&token),
            "query($ids: [String!]) { deals(filter: {title: {in: $ids}}) { totalCount } }",
            json!({ "ids": ids }),
        )
        .await;
    assert_eq!(json["data"]["deals"]["totalCount"], 0, "{json}");
    still_serving(&app, &token).await;
}

#[tokio::test]
async fn odd_strings_are_bad_input_naming_the_field() {
    let (app, token) = rep_app(|_| {}).await;
    let long = "x".repeat(60_000);
    let (_, json) = app
        .gql(
            Some(&token),
            "query($s: String) { deals(search: $s) { totalCount } }",
            json!({ "s": long }),
        )
        .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"), "{json}");
    assert_eq!(extension(&json, "field"), "search", "{json}");
    let (_, json) = app
        .gql(
            Some(&token),
            &format!(
                "query($s: String = \"{}\") {{ deals(filter: {{title: {{startsWith: $s}}}}) {{ totalCount }} }}",
                "z".repeat(60_000)
            ),
            json!({}),
        )
        .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"), "{json}");
    assert_eq!(
        extension(&json, "field"),
        "filter.title.startsWith",
        "{json}"
    );
    let (_, json) = app
        .gql(
            Some(&token),
            &format!(
                "{{ deals(filter: {{title: {{contains: \"{}\"}}}}) {{ totalCount }} }}",
                "y".repeat(300)
            ),
            json!({}),
        )
        .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"), "{json}");
    assert_eq!(extension(&json, "field"), "filter.title.contains", "{json}");
    // A NUL character, in a literal and in a variable.
    let (_, json) = app
        .gql(
            Some(&token),
            r#"{ deals(search: "a\u0000b") { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"), "{json}");
    let (_, json) = app
        .gql(
            Some(&token),
            "mutation($n: String!) { createCompany(input: {name: $n}) { id } }",
            json!({ "n": "Evil\u{0}Corp" }),
        )
        .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"), "{json}");
    assert_eq!(extension(&json, "field"), "n", "{json}");
    still_serving(&app, &token).await;
}

#[tokio::test]
async fn a_cursor_of_another_order_is_bad_input() {
    let (app, token) = rep_app(|_| {}).await;
    let (_, json) = app
        .gql(
            Some(&token),
            "{ deals(first: 1, orderBy: [{field: TITLE}]) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let cursor = json["data"]["deals"]["pageInfo"]["endCursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    // A title cursor where a date is compared; and a hand-made cursor with a number for a
    // timestamp.
    use base64::Engine;
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(r#"[{"t":"Int","v":5},{"t":"Str","v":"x"}]"#);
    for cursor in [cursor, forged] {
        let (_, json) = app
            .gql(
                Some(&token),
                "query($c: String) { deals(after: $c, orderBy: [{field: EXPECTED_CLOSE_DATE}]) { totalCount nodes { id } } }",
                json!({ "c": cursor }),
            )
            .await;
        assert_eq!(error_code(&json), Some("BAD_USER_INPUT"), "{json}");
        assert_eq!(extension(&json, "field"), "after", "{json}");
    }
    still_serving(&app, &token).await;
}

#[tokio::test]
async fn aliases_and_introspection_fields_are_counted() {
    let (app, token) = rep_app(|_| {}).await;
    let aliases: String = (0..2400)
        .map(|i| format!("a{i}: deals {{ totalCount }} "))
        .collect();
    let (_, json) = app
        .gql(Some(&token), &format!("{{ {aliases} }}"), json!({}))
        .await;
    assert_eq!(error_code(&json), Some("QUERY_TOO_COMPLEX"), "{json}");
    assert_eq!(extension(&json, "limit"), "maxAliases", "{json}");
    let typenames: String = (0..3000).map(|i| format!("t{i}: __typename ")).collect();
    let (_, json) = app
        .gql(None, &format!("{{ {typenames} }}"), json!({}))
        .await;
    assert_eq!(error_code(&json), Some("QUERY_TOO_COMPLEX"), "{json}");
    // A fragment bomb: each fragment spreads the previous twice (2^20 fields expanded).
    let mut doc = String::from("query { ...F20 } fragment F0 on Query { __typename }\n");
    for i in 1..=20 {
        doc.push_str(&format!(
            "fragment F{i} on Query {{ ...F{p} ...F{p} }}\n",
            p = i - 1
        ));
    }
    let (_, json) = app.gql(None, &doc, json!({})).await;
    assert_eq!(error_code(&json), Some("QUERY_TOO_COMPLEX"), "{json}");
    assert_eq!(extension(&json, "limit"), "maxFields", "{json}");
    // async-graphql's own depth limit answers with the same code.
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(20),
        "}".repeat(20)
    );
    let (_, json) = app.gql(None, &deep, json!({})).await;
    assert_eq!(error_code(&json), Some("QUERY_TOO_COMPLEX"), "{json}");
    assert_eq!(extension(&json, "limit"), "depth", "{json}");
    // The playground's introspection query is well within the limits.
    let (_, json) = app
        .gql(
            None,
            "{ __schema { types { name kind fields(includeDeprecated: true) { name args { name type { name kind ofType { name kind ofType { name kind ofType { name } } } } } } } } }",
            json!({}),
        )
        .await;
    assert!(json["errors"].is_null(), "{json}");
    still_serving(&app, &token).await;
}

#[tokio::test]
async fn a_saturated_pool_answers_rate_limited_with_retry_after() {
    let (app, token) = rep_app(|_| {}).await;
    // Take every connection of the pool (the test pool has five).
    let (pool, release) = hold_connections(&app, 5).await;
    let send = |token: Option<String>, query: &'static str| {
        let mut req = Request::post("/graphql").header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        req.body(Body::from(
            json!({"query": query, "variables": {"e": "a@b.co", "p": "x"}}).to_string(),
        ))
        .unwrap()
    };
    // Signed in: authentication itself waits for a connection, then 503.
    let (status, headers, body) = app
        .request(send(Some(token.clone()), "{ deals { totalCount } }"))
        .await;
    let json: Json = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    assert_eq!(error_code(&json), Some("RATE_LIMITED"), "{json}");
    assert_eq!(headers.get("retry-after").unwrap(), "1");
    // Anonymous sign-in: the resolver's wait ends in RATE_LIMITED with Retry-After.
    let (_, headers, body) = app.request(send(None, LOGIN)).await;
    let json: Json = serde_json::from_slice(&body).unwrap();
    assert_eq!(error_code(&json), Some("RATE_LIMITED"), "{json}");
    assert!(headers.get("retry-after").is_some(), "{json}");
    release.send(()).ok();
    pool.await.unwrap();
    still_serving(&app, &token).await;
}

/// Holds `n` pooled connections (each inside an open transaction) until told to let go.
async fn hold_connections(
    app: &TestApp,
    n: usize,
) -> (
    tokio::task::JoinHandle<()>,
    tokio::sync::oneshot::Sender<()>,
) {
    use sea_orm::TransactionTrait;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
    let db = app.db.clone();
    let handle = tokio::spawn(async move {
        let mut held = Vec::new();
        for _ in 0..n {
            held.push(db.begin().await.expect("begin"));
        }
        ready_tx.send(()).ok();
        rx.await.ok();
        for t in held {
            t.rollback().await.ok();
        }
    });
    ready_rx.await.expect("connections held");
    (handle, tx)
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_share_of_requests() {
    let app = TestApp::with_config(|c| {
        c.limits.max_inflight_per_address = 1;
        c.login_max_failures_per_address = 10_000;
        c.password_hash_concurrency = 1;
    })
    .await;
    let mut org = Org::new();
    org.user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let app = std::sync::Arc::new(app);
    // Sixty slow sign-ins (argon2 plus the growing failure delay) from one address.
    let mut tasks = Vec::new();
    for i in 0..60 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            login_from(
                &app,
                "203.0.113.20:1",
                None,
                &format!("nobody{i}@example.com"),
                "wrong password!!",
            )
            .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Meanwhile another address is served.
    let json = login_from(&app, "203.0.113.21:1", None, "rep@example.com", PASSWORD).await;
    assert!(json["data"]["login"].is_object(), "{json}");
    let mut refused = 0;
    for t in tasks {
        let json = t.await.unwrap();
        match error_code(&json) {
            Some("RATE_LIMITED") => refused += 1,
            Some("UNAUTHENTICATED") => {}
            other => panic!("unexpected {other:?}: {json}"),
        }
    }
    assert!(refused > 0, "the address's extra requests were refused");
}

#[tokio::test]
async fn concurrent_wrong_passwords_cannot_overshoot_the_account_limit() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    org.user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..41 {
        let app = app.clone();
        let password = if i == 40 {
            PASSWORD
        } else {
            "wrong password!!"
        };
        tasks.push(tokio::spawn(async move {
            app.gql(None, LOGIN, json!({"e": "rep@example.com", "p": password}))
                .await
                .1
        }));
    }
    let mut checked = 0;
    for t in tasks {
        let json = t.await.unwrap();
        match error_code(&json) {
            Some("RATE_LIMITED") => {}
            Some("UNAUTHENTICATED") | None => checked += 1,
            other => panic!("unexpected {other:?}: {json}"),
        }
    }
    assert!(
        checked <= 5,
        "{checked} passwords were checked, the limit is 5"
    );
    // The account is locked now: even the right password is refused.
    let (_, json) = app
        .gql(None, LOGIN, json!({"e": "rep@example.com", "p": PASSWORD}))
        .await;
    assert_eq!(error_code(&json), Some("RATE_LIMITED"), "{json}");
}

/// Sends a sign-in as if from `addr`, with optional `X-Forwarded-For`.
async fn login_from(
    app: &TestApp,
    addr: &str,
    forwarded: Option<&str>,
    email: &str,
    password: &str,
) -> Json {
    let body = json!({"query": LOGIN, "variables": {"e": email, "p": password}});
    let mut req = Request::post("/graphql").header("content-type", "application/json");
    if let Some(f) = forwarded {
        req = req.header("x-forwarded-for", f);
    }
    let mut req = req.body(Body::from(body.to_string())).unwrap();
    let addr: SocketAddr = addr.parse().unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(addr));
    let (_, _, bytes) = app.request(req).await;
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn forwarded_for_is_read_from_the_right() {
    let app = TestApp::with_config(|c| {
        c.trust_forwarded_for = true;
        c.login_max_failures_per_address = 3;
    })
    .await;
    let mut org = Org::new();
    org.user()
        .email("victim@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    // The proxy appends the real client; the attacker varies the hops it writes itself.
    for i in 0..3 {
        let json = login_from(
            &app,
            "10.0.0.1:40000",
            Some(&format!("198.51.100.{i}, 203.0.113.9")),
            &format!("user{i}@example.com"),
            "wrong password!!",
        )
        .await;
        assert_eq!(error_code(&json), Some("UNAUTHENTICATED"), "{json}");
    }
    let json = login_from(
        &app,
        "10.0.0.1:40000",
        Some("192.0.2.77, 203.0.113.9"),
        "victim@example.com",
        PASSWORD,
    )
    .await;
    assert_eq!(error_code(&json), Some("RATE_LIMITED"), "{json}");
    // Another client behind the same proxy is not affected.
    let json = login_from(
        &app,
        "10.0.0.1:40000",
        Some("203.0.113.10"),
        "victim@example.com",
        PASSWORD,
    )
    .await;
    assert!(json["data"]["login"].is_object(), "{json}");
}

#[tokio::test]
async fn an_overlong_email_is_bad_input_and_still_counted() {
    let app = TestApp::with_config(|c| c.login_max_failures_per_address = 3).await;
    let mut org = Org::new();
    org.user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let email = format!("{}@example.com", "a".repeat(3000));
    for _ in 0..3 {
        let json = login_from(&app, "203.0.113.5:1", None, &email, "wrong password!!").await;
        assert_eq!(error_code(&json), Some("BAD_USER_INPUT"), "{json}");
        assert_eq!(extension(&json, "field"), "email", "{json}");
    }
    let json = login_from(&app, "203.0.113.5:1", None, "rep@example.com", PASSWORD).await;
    assert_eq!(error_code(&json), Some("RATE_LIMITED"), "{json}");
}

#[tokio::test]
async fn concurrent_refreshes_leave_one_winner_whose_session_lives() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    org.user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let (_, refresh) = app.login("rep@example.com", PASSWORD).await;
    let app = std::sync::Arc::new(app);
    let q =
        "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }";
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let app = app.clone();
        let refresh = refresh.clone();
        tasks.push(tokio::spawn(async move {
            app.gql(None, q, json!({"t": refresh})).await.1
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let json = t.await.unwrap();
        match error_code(&json) {
            None => winners.push(json["data"]["refreshSession"].clone()),
            Some(code) => assert_eq!(code, "CONFLICT", "{json}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one refresh wins");
    let access = winners[0]["accessToken"].as_str().unwrap();
    still_serving(&app, access).await;
    let (_, json) = app
        .gql(None, q, json!({"t": winners[0]["refreshToken"]}))
        .await;
    assert!(json["data"]["refreshSession"].is_object(), "{json}");
}
