//! Authentication over HTTP: sign-in, every bad-token case, refresh rotation and reuse
//! detection, logout, deactivation, throttling, role changes, admin-only mutations, SSO.

use axum::http::StatusCode;
use crm_testkit::Org;
use entity::enums::Role;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, error_code, snapshot_settings};

const ME: &str = "{ me { id email role team { id } } }";

fn decode_claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64");
    serde_json::from_slice(&bytes).expect("json")
}

#[tokio::test]
async fn good_login_returns_tokens_and_the_user() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let team = org.team().name("East").insert(&app.db).await;
    let rep = org
        .user()
        .email("Rep@Example.com")
        .role(Role::SalesRep)
        .team(team.id)
        .insert(&app.db)
        .await;
    let (status, json) = app
        .gql(
            None,
            r#"mutation { login(email: "REP@example.COM", password: "correct horse battery staple") {
                 accessToken refreshToken expiresAt mustChangePassword user { id role email } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    snapshot_settings().bind(|| insta::assert_json_snapshot!("good_login", json));
    let login = &json["data"]["login"];
    assert_eq!(login["user"]["id"], rep.id.to_string());
    let claims = decode_claims(login["accessToken"].as_str().unwrap());
    assert_eq!(claims["sub"], rep.id.to_string());
    assert_eq!(claims["role"], "sales_rep");
    assert_eq!(claims["iss"], "crm");
    assert_eq!(claims["aud"], "crm-api");
    assert!(claims["sid"].is_string() && claims["jti"].is_string());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        15 * 60
    );

    let token = login["accessToken"].as_str().unwrap();
    let (status, me) = app.gql(Some(token), ME, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["data"]["me"]["email"], "rep@example.com");
    assert_eq!(me["data"]["me"]["team"]["id"], team.id.to_string());
}

#[tokio::test]
async fn wrong_password_and_unknown_email_fail_alike() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    org.user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let q = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";
    let (_, wrong) = app
        .gql(
            None,
            q,
            json!({"e": "rep@example.com", "p": "not the password"}),
        )
        .await;
    let (_, unknown) = app
        .gql(
            None,
            q,
            json!({"e": "nobody@example.com", "p": "not the password"}),
        )
        .await;
    assert_eq!(error_code(&wrong), Some("UNAUTHENTICATED"));
    assert_eq!(error_code(&unknown), Some("UNAUTHENTICATED"));
    assert_eq!(
        wrong["errors"][0]["message"],
        unknown["errors"][0]["message"]
    );
    assert!(wrong["data"].is_null());
}

#[tokio::test]
async fn anonymous_callers_may_only_sign_in() {
    let app = TestApp::new().await;
    let (status, json) = app.gql(None, ME, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(error_code(&json), Some("UNAUTHENTICATED"));
    let (_, json) = app.gql(None, "{ apiVersion }", json!({})).await;
    assert_eq!(error_code(&json), Some("UNAUTHENTICATED"));
    let (_, json) = app.gql(None, "mutation { logout }", json!({})).await;
    assert_eq!(error_code(&json), Some("UNAUTHENTICATED"));
    let (_, json) = app
        .gql(
            None,
            r#"mutation { createTeam(input: {name: "X"}) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error_code(&json), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn every_bad_token_is_http_401() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let rep = org
        .user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let (good, _) = app.login("rep@example.com", PASSWORD).await;
    let claims = decode_claims(&good);
    let secret = app.state.config.jwt_secret.clone().unwrap();
    let now = chrono::Utc::now().timestamp();
    let sign = |alg: Algorithm, key: &[u8], claims: &serde_json::Value| {
        jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).unwrap()
    };
    let with = |k: &str, v: serde_json::Value| {
        let mut c = claims.clone();
        c[k] = v;
        c
    };
    let header_b64 = |h: &str| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h)
    };
    let payload = good.split('.').nth(1).unwrap();
    let none_token = format!("{}.{payload}.", header_b64(r#"{"alg":"none","typ":"JWT"}"#));
    let tampered = {
        let mut c = claims.clone();
        c["role"] = json!("admin");
        c["sub"] = json!(uuid::Uuid::new_v4().to_string());
        let forged_payload = header_b64(&c.to_string());
        let mut parts: Vec<&str> = good.split('.').collect();
        parts[1] = &forged_payload;
        parts.join(".")
    };
    let cases = vec![
        ("malformed", "not-a-jwt".to_owned()),
        ("alg none", none_token),
        (
            "other algorithm (HS512)",
            sign(Algorithm::HS512, secret.as_bytes(), &claims),
        ),
        (
            "bad signature",
            sign(
                Algorithm::HS256,
                b"another-secret-of-sufficient-length!!",
                &claims,
            ),
        ),
        ("tampered payload", tampered),
        (
            "expired",
            sign(
                Algorithm::HS256,
                secret.as_bytes(),
                &with("exp", json!(now - 120)),
            ),
        ),
        (
            "wrong issuer",
            sign(
                Algorithm::HS256,
                secret.as_bytes(),
                &with("iss", json!("evil")),
            ),
        ),
        (
            "wrong audience",
            sign(
                Algorithm::HS256,
                secret.as_bytes(),
                &with("aud", json!("other-api")),
            ),
        ),
        (
            "unknown session",
            sign(
                Algorithm::HS256,
                secret.as_bytes(),
                &with("sid", json!(uuid::Uuid::new_v4().to_string())),
            ),
        ),
    ];
    for (name, token) in cases {
        let (status, json) = app.gql(Some(&token), ME, json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {json}");
        assert_eq!(error_code(&json), Some("UNAUTHENTICATED"), "{name}");
    }
    // Not a Bearer header at all.
    let req = axum::http::Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Basic {good}"))
        .body(axum::body::Body::from(json!({"query": ME}).to_string()))
        .unwrap();
    let (status, _, _) = app.request(req).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // And the good token still works.
    let (status, json) = app.gql(Some(&good), ME, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["data"]["me"]["id"], rep.id.to_string());
}

const REFRESH: &str =
    "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }";

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_session() {
    // No grace period: any reuse counts as theft (the grace for a client's own concurrent
    // refreshes is tested in `hardening`).
    let app = TestApp::with_config(|c| c.refresh_reuse_grace_secs = 0).await;
    let mut org = Org::new();
    org.user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let (access1, refresh1) = app.login("rep@example.com", PASSWORD).await;

    let (_, json) = app.gql(None, REFRESH, json!({"t": refresh1})).await;
    let access2 = json["data"]["refreshSession"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh2 = json["data"]["refreshSession"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(refresh1, refresh2);
    assert_eq!(
        app.gql(Some(&access2), ME, json!({})).await.0,
        StatusCode::OK
    );

    // The first token again: theft detected, the whole family dies.
    let (_, json) = app.gql(None, REFRESH, json!({"t": refresh1})).await;
    assert_eq!(error_code(&json), Some("UNAUTHENTICATED"));
    let (_, json) = app.gql(None, REFRESH, json!({"t": refresh2})).await;
    assert_eq!(
        error_code(&json),
        Some("UNAUTHENTICATED"),
        "rotated token revoked too"
    );
    assert_eq!(
        app.gql(Some(&access1), ME, json!({})).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.gql(Some(&access2), ME, json!({})).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Garbage refresh tokens are refused.
    let (_, json) = app.gql(None, REFRESH, json!({"t": "garbage"})).await;
    assert_eq!(error_code(&json), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn logout_ends_the_session_only() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    org.user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let (phone, phone_refresh) = app.login("rep@example.com", PASSWORD).await;
    let (laptop, _) = app.login("rep@example.com", PASSWORD).await;
    let (_, json) = app
        .gql(Some(&phone), "mutation { logout }", json!({}))
        .await;
    assert_eq!(json["data"]["logout"], true);
    assert_eq!(
        app.gql(Some(&phone), ME, json!({})).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (_, json) = app.gql(None, REFRESH, json!({"t": phone_refresh})).await;
    assert_eq!(error_code(&json), Some("UNAUTHENTICATED"));
    assert_eq!(
        app.gql(Some(&laptop), ME, json!({})).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn deactivation_stops_tokens_at_once_and_reactivation_allows_login() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    org.user()
        .email("admin@example.com")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    let rep = org
        .user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let (admin, _) = app.login("admin@example.com", PASSWORD).await;
    let (rep_token, rep_refresh) = app.login("rep@example.com", PASSWORD).await;

    let q =
        "mutation($id: ID!, $a: Boolean) { updateUser(id: $id, input: {active: $a}) { active } }";
    let (_, json) = app
        .gql(Some(&admin), q, json!({"id": rep.id, "a": false}))
        .await;
    assert_eq!(json["data"]["updateUser"]["active"], false, "{json}");
    assert_eq!(
        app.gql(Some(&rep_token), ME, json!({})).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (_, json) = app.gql(None, REFRESH, json!({"t": rep_refresh})).await;
    assert_eq!(error_code(&json), Some("UNAUTHENTICATED"));
    let (_, json) = app
        .gql(
            None,
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
            json!({"e": "rep@example.com", "p": PASSWORD}),
        )
        .await;
    assert_eq!(error_code(&json), Some("UNAUTHENTICATED"));

    app.gql(Some(&admin), q, json!({"id": rep.id, "a": true}))
        .await;
    app.login("rep@example.com", PASSWORD).await;
}

#[tokio::test]
async fn repeated_failures_lock_the_account_and_success_resets() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    org.user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let q = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";
    let attempt = |p: &'static str| {
        let app = &app;
        async move {
            app.gql(None, q, json!({"e": "rep@example.com", "p": p}))
                .await
                .1
        }
    };
    // Four failures, then a success resets the counter…
    for _ in 0..4 {
        assert_eq!(
            error_code(&attempt("wrong password!!").await),
            Some("UNAUTHENTICATED")
        );
    }
    assert!(attempt(PASSWORD).await["data"]["login"].is_object());
    // …so four more failures still do not lock.
    for _ in 0..4 {
        assert_eq!(
            error_code(&attempt("wrong password!!").await),
            Some("UNAUTHENTICATED")
        );
    }
    // The fifth within the window locks: even the right password is refused for a while.
    assert_eq!(
        error_code(&attempt("wrong password!!").await),
        Some("UNAUTHENTICATED")
    );
    let locked = attempt(PASSWORD).await;
    assert_eq!(error_code(&locked), Some("RATE_LIMITED"), "{locked}");
    assert!(
        locked["errors"][0]["extensions"]["retryAfterSeconds"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[tokio::test]
async fn repeated_failures_from_one_address_lock_that_address() {
    let app = TestApp::with_config(|c| c.login_max_failures_per_address = 3).await;
    let mut org = Org::new();
    org.user()
        .email("victim@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let addr: std::net::SocketAddr = "203.0.113.7:50000".parse().unwrap();
    let send = |email: String, password: &'static str| {
        let app = &app;
        async move {
            let body = json!({
                "query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
                "variables": {"e": email, "p": password}
            });
            let mut req = axum::http::Request::post("/graphql")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap();
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(addr));
            let (_, _, bytes) = app.request(req).await;
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
        }
    };
    // Password spraying: a different account each time.
    for i in 0..3 {
        let json = send(format!("user{i}@example.com"), "wrong password!!").await;
        assert_eq!(error_code(&json), Some("UNAUTHENTICATED"));
    }
    let json = send("victim@example.com".into(), PASSWORD).await;
    assert_eq!(error_code(&json), Some("RATE_LIMITED"), "{json}");
    // Another address is unaffected.
    app.login("victim@example.com", PASSWORD).await;
}

const ADMIN_MUTATIONS: [(&str, &str); 5] = [
    (
        "createTeam",
        r#"mutation { createTeam(input: {name: "New team"}) { id } }"#,
    ),
    (
        "updateTeam",
        r#"mutation($team: ID!) { updateTeam(id: $team, input: {name: "Renamed"}) { id } }"#,
    ),
    (
        "createUser",
        r#"mutation { createUser(input: {email: "new@example.com", name: "New", password: "a long enough password", role: SALES_REP}) { id } }"#,
    ),
    (
        "updateUser",
        r#"mutation($user: ID!) { updateUser(id: $user, input: {role: ADMIN}) { id } }"#,
    ),
    (
        "resetUserPassword",
        r#"mutation($user: ID!) { resetUserPassword(id: $user) { temporaryPassword } }"#,
    ),
];

#[tokio::test]
async fn non_admins_are_forbidden_every_admin_mutation() {
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
    let rep = org
        .user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .team(team.id)
        .insert(&app.db)
        .await;
    for who in ["rep@example.com", "manager@example.com"] {
        let (token, _) = app.login(who, PASSWORD).await;
        for (name, q) in ADMIN_MUTATIONS {
            let (_, json) = app
                .gql(Some(&token), q, json!({"team": team.id, "user": rep.id}))
                .await;
            assert_eq!(error_code(&json), Some("FORBIDDEN"), "{who} {name}: {json}");
        }
    }
    // Nothing changed.
    let (token, _) = app.login("rep@example.com", PASSWORD).await;
    let (_, json) = app.gql(Some(&token), ME, json!({})).await;
    assert_eq!(json["data"]["me"]["role"], "SALES_REP");
}

#[tokio::test]
async fn admins_manage_teams_and_users() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    org.user()
        .email("admin@example.com")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    let manager = org
        .user()
        .email("manager@example.com")
        .role(Role::Manager)
        .insert(&app.db)
        .await;
    let rep = org
        .user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let (admin, _) = app.login("admin@example.com", PASSWORD).await;

    let (_, json) = app
        .gql(
            Some(&admin),
            "mutation($m: ID) { createTeam(input: {name: \"West\", managerId: $m}) { id name manager { id } } }",
            json!({"m": manager.id}),
        )
        .await;
    let team_id = json["data"]["createTeam"]["id"]
        .as_str()
        .expect("team")
        .to_owned();
    assert_eq!(
        json["data"]["createTeam"]["manager"]["id"],
        manager.id.to_string()
    );

    // A rep cannot manage a team.
    let (_, json) = app
        .gql(
            Some(&admin),
            "mutation($t: ID!, $m: ID) { updateTeam(id: $t, input: {managerId: $m}) { id } }",
            json!({"t": team_id, "m": rep.id}),
        )
        .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"));
    assert_eq!(json["errors"][0]["extensions"]["field"], "managerId");

    // Validation reports every bad field together; nothing is written.
    let (_, json) = app
        .gql(
            Some(&admin),
            r#"mutation { createUser(input: {email: "not-an-email", name: "", password: "short", role: SALES_REP}) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"));
    let fields: Vec<&str> = json["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "name", "password"]);

    let (_, json) = app
        .gql(
            Some(&admin),
            r#"mutation { createUser(input: {email: "pw@example.com", name: "P", password: "pw@example.com", role: SALES_REP}) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(json["errors"][0]["extensions"]["field"], "password");

    let create = "mutation($t: ID) { createUser(input: {email: \"New.Rep@Example.com\", name: \"New Rep\", password: \"a long enough password\", role: SALES_REP, teamId: $t}) { id email role team { id } } }";
    let (_, json) = app.gql(Some(&admin), create, json!({"t": team_id})).await;
    assert_eq!(
        json["data"]["createUser"]["email"], "new.rep@example.com",
        "{json}"
    );
    assert_eq!(json["data"]["createUser"]["team"]["id"], team_id);
    let (_, json) = app.gql(Some(&admin), create, json!({"t": team_id})).await;
    assert_eq!(error_code(&json), Some("CONFLICT"));
    assert_eq!(json["errors"][0]["extensions"]["field"], "email");
    app.login("new.rep@example.com", "a long enough password")
        .await;

    // Bad ids are bad input, unknown ones not found.
    let (_, json) = app
        .gql(
            Some(&admin),
            r#"mutation { updateUser(id: "nope", input: {name: "X"}) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"));
    let (_, json) = app
        .gql(
            Some(&admin),
            "mutation($u: ID!) { updateUser(id: $u, input: {name: \"X\"}) { id } }",
            json!({"u": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(error_code(&json), Some("NOT_FOUND"));
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_or_deactivated() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let admin = org
        .user()
        .email("admin@example.com")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    let (token, _) = app.login("admin@example.com", PASSWORD).await;
    for (input, field) in [("{role: MANAGER}", "role"), ("{active: false}", "active")] {
        let q = format!("mutation($u: ID!) {{ updateUser(id: $u, input: {input}) {{ id }} }}");
        let (_, json) = app.gql(Some(&token), &q, json!({"u": admin.id})).await;
        assert_eq!(error_code(&json), Some("BAD_USER_INPUT"));
        assert_eq!(json["errors"][0]["extensions"]["field"], field);
    }
}

#[tokio::test]
async fn role_changes_take_effect_on_the_next_request() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    org.user()
        .email("admin@example.com")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    let rep = org
        .user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let (admin, _) = app.login("admin@example.com", PASSWORD).await;
    let (rep_token, _) = app.login("rep@example.com", PASSWORD).await;
    let create = r#"mutation { createTeam(input: {name: "Rep's team"}) { id } }"#;
    let (_, json) = app.gql(Some(&rep_token), create, json!({})).await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"));

    let (_, json) = app
        .gql(
            Some(&admin),
            "mutation($u: ID!) { updateUser(id: $u, input: {role: ADMIN}) { role } }",
            json!({"u": rep.id}),
        )
        .await;
    assert_eq!(json["data"]["updateUser"]["role"], "ADMIN");
    // Same token, new role.
    let (_, json) = app.gql(Some(&rep_token), create, json!({})).await;
    assert!(json["data"]["createTeam"]["id"].is_string(), "{json}");
    let (_, json) = app.gql(Some(&rep_token), ME, json!({})).await;
    assert_eq!(json["data"]["me"]["role"], "ADMIN");
}

#[tokio::test]
async fn a_reset_password_must_be_changed_before_anything_else() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    org.user()
        .email("admin@example.com")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    let rep = org
        .user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let (admin, _) = app.login("admin@example.com", PASSWORD).await;
    let (old_session, _) = app.login("rep@example.com", PASSWORD).await;

    let (_, json) = app
        .gql(
            Some(&admin),
            "mutation($u: ID!) { resetUserPassword(id: $u) { temporaryPassword user { id } } }",
            json!({"u": rep.id}),
        )
        .await;
    let temporary = json["data"]["resetUserPassword"]["temporaryPassword"]
        .as_str()
        .expect("temporary password")
        .to_owned();
    assert!(temporary.len() >= 12);
    assert_eq!(
        app.gql(Some(&old_session), ME, json!({})).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        error_code(&app.gql(None, "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }", json!({"e": "rep@example.com", "p": PASSWORD})).await.1),
        Some("UNAUTHENTICATED"),
        "the old password no longer works"
    );

    let (token, _) = app.login("rep@example.com", &temporary).await;
    let (_, json) = app.gql(Some(&token), ME, json!({})).await;
    assert_eq!(
        json["data"]["me"]["id"],
        rep.id.to_string(),
        "me is allowed"
    );
    let (_, json) = app
        .gql(
            Some(&token),
            "query($u: ID!) { user(id: $u) { id } }",
            json!({"u": rep.id}),
        )
        .await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"));
    assert_eq!(
        json["errors"][0]["extensions"]["reason"],
        "PASSWORD_CHANGE_REQUIRED"
    );

    let change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
    let (_, json) = app
        .gql(
            Some(&token),
            change,
            json!({"c": "wrong current password", "n": "a brand new password"}),
        )
        .await;
    assert_eq!(json["errors"][0]["extensions"]["field"], "currentPassword");
    let (_, json) = app
        .gql(Some(&token), change, json!({"c": temporary, "n": "short"}))
        .await;
    assert_eq!(json["errors"][0]["extensions"]["field"], "newPassword");
    let (_, json) = app
        .gql(
            Some(&token),
            change,
            json!({"c": temporary, "n": "a brand new password"}),
        )
        .await;
    assert_eq!(json["data"]["changePassword"], true, "{json}");
    let (_, json) = app
        .gql(
            Some(&token),
            "query($u: ID!) { user(id: $u) { id } }",
            json!({"u": rep.id}),
        )
        .await;
    assert_eq!(json["data"]["user"]["id"], rep.id.to_string());
    app.login("rep@example.com", "a brand new password").await;
}

#[tokio::test]
async fn changing_a_password_signs_out_other_sessions() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    org.user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let (here, _) = app.login("rep@example.com", PASSWORD).await;
    let (elsewhere, _) = app.login("rep@example.com", PASSWORD).await;
    let (_, json) = app
        .gql(
            Some(&here),
            "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
            json!({"c": PASSWORD, "n": "a brand new password"}),
        )
        .await;
    assert_eq!(json["data"]["changePassword"], true);
    assert_eq!(app.gql(Some(&here), ME, json!({})).await.0, StatusCode::OK);
    assert_eq!(
        app.gql(Some(&elsewhere), ME, json!({})).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_directory_shows_active_users_and_no_secrets() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let admin = org
        .user()
        .email("admin@example.com")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    let rep = org
        .user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let gone = org
        .user()
        .email("gone@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let (admin_token, _) = app.login("admin@example.com", PASSWORD).await;
    app.gql(
        Some(&admin_token),
        "mutation($u: ID!) { updateUser(id: $u, input: {active: false}) { id } }",
        json!({"u": gone.id}),
    )
    .await;
    let (rep_token, _) = app.login("rep@example.com", PASSWORD).await;
    let q = "query($u: ID!) { user(id: $u) { id name email role active } }";
    let (_, json) = app.gql(Some(&rep_token), q, json!({"u": admin.id})).await;
    assert_eq!(json["data"]["user"]["email"], "admin@example.com");
    let (_, json) = app.gql(Some(&rep_token), q, json!({"u": gone.id})).await;
    assert!(
        json["data"]["user"].is_null(),
        "reps do not see deactivated users"
    );
    let (_, json) = app.gql(Some(&admin_token), q, json!({"u": gone.id})).await;
    assert_eq!(json["data"]["user"]["active"], false, "admins do");
    let _ = rep;

    let sdl = api::export_sdl();
    let user_type = sdl
        .split("type User ")
        .nth(1)
        .and_then(|rest| rest.split_once('{'))
        .map(|(_, body)| body)
        .unwrap()
        .split('}')
        .next()
        .unwrap();
    for secret in ["password", "hash", "token", "session"] {
        assert!(
            !user_type.to_lowercase().contains(secret),
            "User exposes {secret}"
        );
    }
}
