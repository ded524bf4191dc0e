//! The HTTP surface: probes, GraphQL over HTTP, GraphiQL, request ids.

use axum::body::Body;
use axum::http::{Request, StatusCode};

use crate::helpers::TestApp;

#[tokio::test]
async fn healthz_and_readyz_answer() {
    let app = TestApp::new().await;
    for path in ["/healthz", "/readyz"] {
        let (status, _, body) = app
            .request(Request::get(path).body(Body::empty()).unwrap())
            .await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["status"], "ok", "{path}");
    }
}

#[tokio::test]
async fn readyz_reports_an_unreachable_database() {
    let app = TestApp::new().await;
    app.db.clone().close().await.unwrap();
    let (status, _, _) = app
        .request(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn graphql_answers_typename_over_post_and_get() {
    let app = TestApp::new().await;
    let (status, json) = app
        .post_graphql("{ __typename }", serde_json::json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["data"]["__typename"], "Query");

    let req = Request::get("/graphql?query=%7B__typename%7D")
        .header("accept", "application/json")
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = app.request(req).await;
    assert_eq!(status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["data"]["__typename"], "Query");
}

#[tokio::test]
async fn browsers_get_graphiql_with_local_assets() {
    let app = TestApp::new().await;
    let req = Request::get("/graphql")
        .header("accept", "text/html,application/xhtml+xml")
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = app.request(req).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("/graphiql/assets/graphiql.min.js"), "{html}");

    for asset in [
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
    ] {
        let (status, _, body) = app
            .request(
                Request::get(format!("/graphiql/assets/{asset}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        assert!(body.len() > 1000, "{asset} is embedded");
    }
    let (status, _, _) = app
        .request(
            Request::get("/graphiql/assets/secret.txt")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn graphiql_asset_base_is_configurable() {
    let app = TestApp::with_config(|c| {
        c.graphiql_assets_url = "https://cdn.example.test/graphiql/".into();
    })
    .await;
    let req = Request::get("/graphql")
        .header("accept", "text/html")
        .body(Body::empty())
        .unwrap();
    let (_, _, body) = app.request(req).await;
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("https://cdn.example.test/graphiql/graphiql.min.js"));
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::new().await;
    let (_, headers, _) = app
        .request(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    let id = headers["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");

    let (_, headers, _) = app
        .request(
            Request::get("/healthz")
                .header("x-request-id", "client-chosen-id")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(headers["x-request-id"], "client-chosen-id");
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = TestApp::new().await;
    let big = "x".repeat(app.state.config.body_limit_bytes + 10);
    let body = format!("{{\"query\":\"{big}\"}}");
    let req = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("content-length", body.len())
        .body(Body::from(body))
        .unwrap();
    let (status, _, _) = app.request(req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

/// GraphiQL's own introspection query (schema with nine levels of `ofType`) must pass the
/// depth and complexity limits, or the playground shows no schema.
#[tokio::test]
async fn graphiql_introspection_passes_the_query_limits() {
    let app = TestApp::new().await;
    let type_ref = "kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";
    let query = format!(
        "query IntrospectionQuery {{ __schema {{ queryType {{ name }} mutationType {{ name }} subscriptionType {{ name }}
          types {{ kind name description
            fields(includeDeprecated: true) {{ name description args {{ name description type {{ {type_ref} }} defaultValue }} type {{ {type_ref} }} isDeprecated deprecationReason }}
            inputFields {{ name description type {{ {type_ref} }} defaultValue }}
            interfaces {{ {type_ref} }}
            enumValues(includeDeprecated: true) {{ name description isDeprecated deprecationReason }}
            possibleTypes {{ {type_ref} }} }}
          directives {{ name description locations args {{ name description type {{ {type_ref} }} defaultValue }} }} }} }}"
    );
    let (_, json) = app.post_graphql(&query, serde_json::json!({})).await;
    assert!(json["errors"].is_null(), "{json}");
    assert!(json["data"]["__schema"]["types"].as_array().unwrap().len() > 50);
}
