//! GraphQL over HTTP as the spec and real clients expect it: content negotiation, status
//! codes, 405 for mutations over GET, JSON error bodies with codes, batching, signing in
//! with a stale token, CORS for browser apps, compression.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use crm_testkit::Org;
use entity::enums::Role;
use serde_json::{Value as Json, json};

use crate::helpers::{PASSWORD, TestApp, error_code};

async fn send(app: &TestApp, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Json) {
    let (status, headers, bytes) = app.request(req).await;
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{status}: not JSON: {}", String::from_utf8_lossy(&bytes)));
    (status, headers, json)
}

fn post(body: &str, accept: Option<&str>) -> Request<Body> {
    let mut req = Request::post("/graphql").header("content-type", "application/json");
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    req.body(Body::from(body.to_owned())).unwrap()
}

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

#[tokio::test]
async fn the_response_media_type_follows_accept() {
    let app = TestApp::new().await;
    let body = json!({"query": "{ __typename }"}).to_string();
    for (accept, media) in [
        (None, "application/json"),
        (Some("application/json"), "application/json"),
        (Some(GRAPHQL_RESPONSE), GRAPHQL_RESPONSE),
        (
            Some("application/graphql-response+json, application/json;q=0.9"),
            GRAPHQL_RESPONSE,
        ),
    ] {
        let (status, headers, json) = send(&app, post(&body, accept)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], media, "{accept:?}");
        assert_eq!(json["data"]["__typename"], "Query");
    }
}

#[tokio::test]
async fn documents_that_cannot_run_are_400_with_a_code_for_graphql_response_clients() {
    let app = TestApp::new().await;
    for (query, code) in [
        ("{ __typename", "GRAPHQL_PARSE_FAILED"),
        ("{ noSuchField }", "GRAPHQL_VALIDATION_FAILED"),
    ] {
        let body = json!({ "query": query }).to_string();
        let (status, _, json) = send(&app, post(&body, Some(GRAPHQL_RESPONSE))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
        assert_eq!(error_code(&json), Some(code), "{json}");
        assert!(
            json.get("data").is_none() || json["data"].is_null(),
            "{json}"
        );
        let message = json["errors"][0]["message"].as_str().unwrap();
        assert!(!message.contains('\n'), "one line: {message:?}");
        // Plain JSON clients get the same body with 200.
        let (status, _, json) = send(&app, post(&body, Some("application/json"))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(error_code(&json), Some(code), "{json}");
    }
}

#[tokio::test]
async fn bodies_that_are_not_json_requests_are_refused_in_json() {
    let app = TestApp::new().await;
    let body = json!({"query": "{ __typename }"}).to_string();
    // No content type, and text/plain: not executed.
    let req = Request::post("/graphql")
        .body(Body::from(body.clone()))
        .unwrap();
    let (status, _, json) = send(&app, req).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{json}");
    assert_eq!(error_code(&json), Some("BAD_REQUEST"));
    let req = Request::post("/graphql")
        .header("content-type", "text/plain")
        .body(Body::from(body))
        .unwrap();
    let (status, _, json) = send(&app, req).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{json}");
    // Malformed JSON: a message for people, not a Rust debug string.
    let (status, _, json) = send(&app, post("{\"query\": ", None)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&json), Some("BAD_REQUEST"));
    let message = json["errors"][0]["message"].as_str().unwrap();
    assert!(!message.contains("InvalidRequest("), "{message}");
    // Too large: JSON too.
    let big = format!(
        "{{\"query\":\"{}\"}}",
        "x".repeat(app.state.config.body_limit_bytes + 10)
    );
    let (status, _, json) = send(&app, post(&big, None)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&json), Some("PAYLOAD_TOO_LARGE"));
}

#[tokio::test]
async fn a_mutation_over_get_is_405_and_changes_nothing() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    org.user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let q = "mutation { login(email: \"rep@example.com\", password: \"correct horse battery staple\") { accessToken } }";
    let uri = format!(
        "/graphql?query={}",
        q.replace(' ', "%20")
            .replace('"', "%22")
            .replace('{', "%7B")
            .replace('}', "%7D")
    );
    let req = Request::get(uri)
        .header("accept", "application/json")
        .body(Body::empty())
        .unwrap();
    let (status, headers, json) = send(&app, req).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{json}");
    assert_eq!(headers["allow"], "POST");
    assert!(json["data"].is_null(), "{json}");
    // Queries over GET still run.
    let req = Request::get("/graphql?query=%7B__typename%7D")
        .header("accept", "application/json")
        .body(Body::empty())
        .unwrap();
    let (status, _, json) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["data"]["__typename"], "Query");
}

#[tokio::test]
async fn batches_answer_in_order_and_are_bounded() {
    let app = TestApp::with_config(|c| c.limits.max_batch = 3).await;
    let body = json!([
        {"query": "{ __typename }"},
        {"query": "query P { a: __typename } query Q { __typename }", "operationName": "Q"},
        {"query": "{ nope }"},
    ])
    .to_string();
    let (status, _, json) = send(&app, post(&body, None)).await;
    assert_eq!(status, StatusCode::OK);
    let list = json.as_array().expect("an array");
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["data"]["__typename"], "Query");
    assert_eq!(list[1]["data"]["__typename"], "Query");
    assert_eq!(error_code(&list[2]), Some("GRAPHQL_VALIDATION_FAILED"));
    let body = json!(vec![json!({"query": "{ __typename }"}); 4]).to_string();
    let (status, _, json) = send(&app, post(&body, None)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    assert_eq!(error_code(&json), Some("QUERY_TOO_COMPLEX"));
}

#[tokio::test]
async fn signing_in_works_whatever_stale_token_is_sent() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    org.user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let (_, refresh) = app.login("rep@example.com", PASSWORD).await;
    let stale = Some("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl");
    let (status, json) = app
        .gql(
            stale,
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
            json!({"e": "rep@example.com", "p": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert!(json["data"]["login"]["accessToken"].is_string(), "{json}");
    let (status, json) = app
        .gql(
            stale,
            "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }",
            json!({"t": refresh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert!(json["data"]["refreshSession"]["accessToken"].is_string());
    // Anything else with that header is still 401.
    let (status, _) = app.gql(stale, "{ me { id } }", json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .gql(
            stale,
            "mutation { login(email: \"a@b.co\", password: \"x\") { accessToken } logout }",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn browser_apps_pass_the_cors_preflight_and_read_the_request_id() {
    let app = TestApp::with_config(|c| c.cors_origins = vec!["https://app.example".into()]).await;
    let req = Request::options("/graphql")
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization,apollographql-client-name,apollographql-client-version,sentry-trace,baggage",
        )
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = app.request(req).await;
    assert!(status.is_success(), "{status}");
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for h in [
        "apollographql-client-name",
        "sentry-trace",
        "baggage",
        "authorization",
    ] {
        assert!(allowed.contains(h), "{h} in {allowed}");
    }
    let req = Request::post("/graphql")
        .header("origin", "https://app.example")
        .header("content-type", "application/json")
        .body(Body::from(json!({"query": "{ __typename }"}).to_string()))
        .unwrap();
    let (_, headers, _) = app.request(req).await;
    let exposed = headers["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");
}

#[tokio::test]
async fn responses_are_compressed_with_brotli_or_gzip() {
    let app = TestApp::new().await;
    let body = json!({"query": "{ __schema { types { name description } } }"}).to_string();
    for encoding in ["br", "gzip"] {
        let req = Request::post("/graphql")
            .header("content-type", "application/json")
            .header("accept-encoding", encoding)
            .body(Body::from(body.clone()))
            .unwrap();
        let (status, headers, _) = app.request(req).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-encoding"], encoding);
    }
}

#[tokio::test]
async fn a_failing_nullable_field_is_null_in_data_with_its_error() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    org.user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let (token, _) = app.login("rep@example.com", PASSWORD).await;
    // A malformed id fails each (nullable) field with BAD_USER_INPUT.
    let (_, json) = app
        .gql(
            Some(&token),
            "query($id: ID!) { me { id } deal(id: $id) { id } other: company(id: $id) { id } }",
            json!({ "id": "not-an-id" }),
        )
        .await;
    let data = json["data"].as_object().expect("data");
    assert!(data["me"]["id"].is_string(), "{json}");
    assert!(
        data.contains_key("deal") && data["deal"].is_null(),
        "{json}"
    );
    assert!(
        data.contains_key("other") && data["other"].is_null(),
        "{json}"
    );
    let errors = json["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2, "{json}");
    let mut paths: Vec<String> = errors.iter().map(|e| e["path"][0].to_string()).collect();
    paths.sort();
    assert_eq!(paths, ["\"deal\"", "\"other\""], "{json}");
    assert!(
        errors
            .iter()
            .all(|e| e["extensions"]["code"] == "BAD_USER_INPUT"),
        "{json}"
    );
}

#[tokio::test]
async fn a_sign_in_payload_resolves_relations_as_the_new_user() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let manager = org
        .user()
        .email("manager@example.com")
        .role(Role::Manager)
        .insert(&app.db)
        .await;
    let team = org
        .team()
        .name("East")
        .manager(manager.id)
        .insert(&app.db)
        .await;
    org.user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .team(team.id)
        .insert(&app.db)
        .await;
    let (_, refresh) = app.login("rep@example.com", PASSWORD).await;
    let (_, json) = app
        .gql(
            None,
            "mutation($e: String!, $p: String!, $t: String!) {
               signIn: login(email: $e, password: $p) {
                 user { email team { name manager { email } members { email } } }
               }
               refreshSession(refreshToken: $t) { user { team { name } } }
             }",
            json!({"e": "rep@example.com", "p": PASSWORD, "t": refresh}),
        )
        .await;
    assert!(json["errors"].is_null(), "{json}");
    let user = &json["data"]["signIn"]["user"];
    assert_eq!(user["team"]["name"], "East", "{json}");
    assert_eq!(user["team"]["manager"]["email"], "manager@example.com");
    assert_eq!(user["team"]["members"].as_array().unwrap().len(), 1);
    assert_eq!(
        json["data"]["refreshSession"]["user"]["team"]["name"],
        "East"
    );
    // Only under the sign-in: the rest of an anonymous document is still anonymous.
    let (_, json) = app
        .gql(
            None,
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } logout }",
            json!({"e": "rep@example.com", "p": PASSWORD}),
        )
        .await;
    assert_eq!(error_code(&json), Some("UNAUTHENTICATED"), "{json}");
    assert_eq!(json["errors"][0]["path"][0], "logout", "{json}");
}

fn sha256(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn automatic_persisted_queries_work_as_apollo_expects() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let query = "{ persisted: __typename }";
    let hash = sha256(query);
    let ext = json!({"persistedQuery": {"version": 1, "sha256Hash": hash}});
    // The hash alone first: unknown.
    let body = json!({ "extensions": ext }).to_string();
    let (status, _, json) = send(&app, post(&body, None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        error_code(&json),
        Some("PERSISTED_QUERY_NOT_FOUND"),
        "{json}"
    );
    assert_eq!(json["errors"][0]["message"], "PersistedQueryNotFound");
    // With the query: runs and is remembered.
    let body = json!({ "query": query, "extensions": ext }).to_string();
    let (_, _, json) = send(&app, post(&body, None)).await;
    assert_eq!(json["data"]["persisted"], "Query", "{json}");
    // The hash alone now works, over POST and over GET.
    let body = json!({ "extensions": ext }).to_string();
    let (_, _, json) = send(&app, post(&body, None)).await;
    assert_eq!(json["data"]["persisted"], "Query", "{json}");
    let uri = format!(
        "/graphql?extensions=%7B%22persistedQuery%22%3A%7B%22version%22%3A1%2C%22sha256Hash%22%3A%22{hash}%22%7D%7D"
    );
    let req = Request::get(uri)
        .header("accept", "application/json")
        .body(Body::empty())
        .unwrap();
    let (_, _, json) = send(&app, req).await;
    assert_eq!(json["data"]["persisted"], "Query", "{json}");
    // A hash that is not the query's is refused (no cache poisoning).
    let body = json!({ "query": "{ __schema { types { name } } }", "extensions": ext }).to_string();
    let (_, _, json) = send(&app, post(&body, None)).await;
    assert_eq!(error_code(&json), Some("BAD_REQUEST"), "{json}");
    // A persisted mutation over GET is still 405.
    org.user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let mutation = "mutation { logout }";
    let m_hash = sha256(mutation);
    let body = json!({ "query": mutation, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": m_hash}} }).to_string();
    send(&app, post(&body, None)).await;
    let uri = format!(
        "/graphql?extensions=%7B%22persistedQuery%22%3A%7B%22version%22%3A1%2C%22sha256Hash%22%3A%22{m_hash}%22%7D%7D"
    );
    let req = Request::get(uri)
        .header("accept", "application/json")
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = send(&app, req).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn trusted_documents_mode_runs_only_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let trusted = "query Hello { __typename }";
    let manifest = dir.path().join("manifest.json");
    std::fs::write(
        &manifest,
        json!({
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [{"id": sha256(trusted), "name": "Hello", "type": "query", "body": trusted}]
        })
        .to_string(),
    )
    .unwrap();
    let app = TestApp::with_config(|c| c.trusted_documents = Some(manifest.clone())).await;
    // By hash, and by identical text.
    let body =
        json!({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256(trusted)}}})
            .to_string();
    let (_, _, json) = send(&app, post(&body, None)).await;
    assert_eq!(json["data"]["__typename"], "Query", "{json}");
    let body = json!({ "query": trusted }).to_string();
    let (_, _, json) = send(&app, post(&body, None)).await;
    assert_eq!(json["data"]["__typename"], "Query", "{json}");
    // Anything else is refused, whatever its hash claims.
    let body = json!({ "query": "{ __schema { types { name } } }" }).to_string();
    let (_, _, json) = send(&app, post(&body, None)).await;
    assert_eq!(error_code(&json), Some("BAD_REQUEST"), "{json}");
    let other = "{ __typename }";
    let body = json!({"query": other, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256(other)}}}).to_string();
    let (_, _, json) = send(&app, post(&body, None)).await;
    assert_eq!(error_code(&json), Some("BAD_REQUEST"), "{json}");
}

#[tokio::test]
async fn any_record_is_found_through_node_and_nodes_by_its_uuid() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let rep = org
        .user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let other = org
        .user()
        .email("other@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let team = org.team().name("East").insert(&app.db).await;
    let company = org
        .company()
        .name("Acme")
        .owner(rep.id)
        .insert(&app.db)
        .await;
    let deal = org
        .deal()
        .company(company.id)
        .owner(rep.id)
        .title("Mine")
        .amount_cents(50_000)
        .stage(entity::enums::DealStage::Proposal)
        .insert(&app.db)
        .await;
    let theirs_co = org
        .company()
        .name("Other Co")
        .owner(other.id)
        .insert(&app.db)
        .await;
    let hidden = org
        .deal()
        .company(theirs_co.id)
        .owner(other.id)
        .title("Theirs")
        .amount_cents(70_000)
        .stage(entity::enums::DealStage::Proposal)
        .insert(&app.db)
        .await;
    let (token, _) = app.login("rep@example.com", PASSWORD).await;
    let (_, json) = app
        .gql(
            Some(&token),
            "query($id: ID!) { node(id: $id) { __typename id ... on Deal { title amount } } }",
            json!({ "id": deal.id }),
        )
        .await;
    assert_eq!(json["data"]["node"]["__typename"], "Deal", "{json}");
    assert_eq!(json["data"]["node"]["id"], deal.id.to_string());
    assert_eq!(json["data"]["node"]["amount"], "500.00");
    // In order, every kind, with nulls for the unreadable and the unknown.
    let ids = json!([
        company.id,
        hidden.id,
        rep.id,
        team.id,
        uuid::Uuid::new_v4(),
        deal.id
    ]);
    let (_, json) = app
        .gql(
            Some(&token),
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
            json!({ "ids": ids }),
        )
        .await;
    let types: Vec<Json> = json["data"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{json}"))
        .iter()
        .map(|n| n["__typename"].clone())
        .collect();
    assert_eq!(
        types,
        [
            json!("Company"),
            Json::Null,
            json!("User"),
            json!("Team"),
            Json::Null,
            json!("Deal")
        ],
        "{json}"
    );
    // Bounded, and anonymous callers get nothing.
    let many: Vec<String> = (0..101).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let (_, json) = app
        .gql(
            Some(&token),
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": many }),
        )
        .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"), "{json}");
    let (_, json) = app
        .gql(
            None,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": deal.id }),
        )
        .await;
    assert_eq!(error_code(&json), Some("UNAUTHENTICATED"), "{json}");
}

#[tokio::test]
async fn a_failing_non_null_field_nulls_its_nearest_nullable_parent() {
    let app = TestApp::new().await;
    // `login` is non-null: when it fails, so does the whole `data`, not just its key.
    let (_, json) = app
        .gql(
            None,
            "mutation { t: __typename login(email: \"nobody@example.com\", password: \"wrong password!!\") { accessToken } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&json), Some("UNAUTHENTICATED"), "{json}");
    assert!(json["data"].is_null(), "{json}");
    // Through a fragment and an alias as well.
    let (_, json) = app
        .gql(
            None,
            "mutation M { ...F } fragment F on Mutation { t: __typename signIn: login(email: \"nobody@example.com\", password: \"wrong password!!\") { accessToken } }",
            json!({}),
        )
        .await;
    assert!(json["data"].is_null(), "{json}");
}
