//! `TestApp`: a fresh, migrated database per test (SQLite file by default, a new
//! PostgreSQL database when `TEST_DATABASE_URL` is set) and the real application on top.

use api::AppState;
use api::config::Config;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};
use serde_json::Value as Json;
use tower::ServiceExt;

/// Keeps the test database alive; dropping it deletes the database.
pub enum DbGuard {
    /// The SQLite file lives in this directory.
    Sqlite(#[expect(dead_code, reason = "held for its Drop")] tempfile::TempDir),
    /// A database created on the server behind `admin_url`.
    Postgres { admin_url: String, name: String },
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        if let DbGuard::Postgres { admin_url, name } = self {
            let admin_url = admin_url.clone();
            let name = name.clone();
            // Drop runs outside any async context we could await in: use a private runtime
            // on its own thread. FORCE ends the test pool's open connections.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    if let Ok(admin) = sea_orm::Database::connect(admin_url.as_str()).await {
                        let _ = admin
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            ))
                            .await;
                        let _ = admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// An empty database (not migrated) and its guard.
pub async fn fresh_database() -> (DatabaseConnection, Config, DbGuard) {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("crm_test_{}", uuid::Uuid::new_v4().simple());
            let admin = sea_orm::Database::connect(admin_url.as_str())
                .await
                .expect("connect to TEST_DATABASE_URL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let url = replace_database(&admin_url, &name);
            let config = Config::for_database(url.clone());
            let db = api::db::connect(&url, 5).await.expect("connect test db");
            (db, config, DbGuard::Postgres { admin_url, name })
        }
        _ => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
            let config = Config::for_database(url.clone());
            let db = api::db::connect(&url, 5).await.expect("connect sqlite");
            (db, config, DbGuard::Sqlite(dir))
        }
    }
}

/// `postgres://u@h:p/db?x` with the database name replaced.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}

/// The application over a fresh, migrated database.
pub struct TestApp {
    pub db: DatabaseConnection,
    pub state: AppState,
    _guard: DbGuard,
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    /// A fresh app that calls `seen` with the text of every SQL statement it runs.
    async fn watching_statements(seen: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Self::build(
            |_| {},
            move |db| db.set_metric_callback(move |metric| seen(&metric.statement.sql)),
        )
        .await
    }

    /// A fresh app whose SQL statements are counted (every statement the app runs
    /// increments the counter).
    pub async fn with_statement_counter() -> (Self, std::sync::Arc<std::sync::atomic::AtomicUsize>)
    {
        let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = counter.clone();
        let app = Self::watching_statements(move |_| {
            c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })
        .await;
        (app, counter)
    }

    /// A fresh app that records the text of every SQL statement it runs.
    pub async fn with_statement_log() -> (Self, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let l = log.clone();
        let app =
            Self::watching_statements(move |sql| l.lock().unwrap().push(sql.to_owned())).await;
        (app, log)
    }

    /// A fresh app whose configuration `adjust` may change first.
    pub async fn with_config(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::build(adjust, |_| {}).await
    }

    async fn build(
        adjust: impl FnOnce(&mut Config),
        tune: impl FnOnce(&mut DatabaseConnection),
    ) -> Self {
        let (mut db, mut config, guard) = fresh_database().await;
        tune(&mut db);
        adjust(&mut config);
        Migrator::up(&db, None).await.expect("migrate");
        let state = AppState::new(db.clone(), config).expect("app state");
        Self {
            db,
            state,
            _guard: guard,
        }
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Sends one HTTP request through the full router (middleware included).
    pub async fn request(
        &self,
        req: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        request_to(&self.state, req).await
    }

    /// POSTs a GraphQL document over HTTP and returns the JSON body.
    pub async fn post_graphql(&self, query: &str, variables: Json) -> (StatusCode, Json) {
        let body = serde_json::json!({ "query": query, "variables": variables });
        let req = Request::post("/graphql")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        let (status, _, bytes) = self.request(req).await;
        (status, serde_json::from_slice(&bytes).unwrap_or(Json::Null))
    }

    /// Runs raw SQL below the ORM. Placeholders are `$1, $2, …` on both backends.
    pub async fn raw(&self, sql: &str, values: Vec<Value>) -> Result<u64, DbErr> {
        raw_exec(&self.db, sql, values).await
    }
}

/// Runs raw SQL with `$N` placeholders on either backend.
pub async fn raw_exec(
    db: &DatabaseConnection,
    sql: &str,
    values: Vec<Value>,
) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let sql = if backend == DbBackend::Sqlite {
        let mut s = sql.to_owned();
        for n in (1..=values.len()).rev() {
            s = s.replace(&format!("${n}"), &format!("?{n}"));
        }
        s
    } else {
        sql.to_owned()
    };
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .map(|r| r.rows_affected())
}

/// The password of every user the row factory builds.
pub use crm_testkit::PASSWORD;

/// Sends one HTTP request through the full router of `state` (middleware included): the
/// test's own instance, or another one over the same database.
pub async fn request_to(
    state: &AppState,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let res = api::app(state.clone())
        .oneshot(req)
        .await
        .expect("router is infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let body = res
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

/// POSTs a GraphQL document to `state`'s router with an optional bearer token.
pub async fn gql_to(
    state: &AppState,
    token: Option<&str>,
    query: &str,
    variables: Json,
) -> (StatusCode, Json) {
    let body = serde_json::json!({ "query": query, "variables": variables });
    let mut req = Request::post("/graphql").header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let (status, _, bytes) = request_to(
        state,
        req.body(Body::from(body.to_string())).expect("request"),
    )
    .await;
    (status, serde_json::from_slice(&bytes).unwrap_or(Json::Null))
}

impl TestApp {
    /// POSTs a GraphQL document with an optional bearer token.
    pub async fn gql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Json,
    ) -> (StatusCode, Json) {
        gql_to(&self.state, token, query, variables).await
    }

    /// Signs in over HTTP; returns `(accessToken, refreshToken)`.
    pub async fn login(&self, email: &str, password: &str) -> (String, String) {
        let (status, json) = self
            .gql(
                None,
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken } }",
                serde_json::json!({ "e": email, "p": password }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{json}");
        let login = &json["data"]["login"];
        assert!(login.is_object(), "login failed: {json}");
        (
            login["accessToken"].as_str().expect("access").to_owned(),
            login["refreshToken"].as_str().expect("refresh").to_owned(),
        )
    }
}

/// The `extensions.code` of the first error, if any.
pub fn error_code(json: &Json) -> Option<&str> {
    json["errors"][0]["extensions"]["code"].as_str()
}

/// Snapshot settings for GraphQL responses: what differs from run to run is replaced by a
/// placeholder — ids (`id`, `…Id`) by `[id]`, cursors by `[cursor]`, tokens by `[token]`,
/// timestamps by `[timestamp]` — only after checking that it is one. A value of the wrong
/// kind stays as it is, so the snapshot no longer matches and the test fails.
///
/// `snapshot_settings().bind(|| insta::assert_json_snapshot!("name", value))`.
pub fn snapshot_settings() -> insta::Settings {
    use insta::internals::Content;

    fn check(
        placeholder: &'static str,
        is_one: fn(&str) -> bool,
    ) -> impl Fn(Content, insta::internals::ContentPath<'_>) -> Content + Send + Sync + 'static
    {
        move |value, _| match value.as_str() {
            Some(s) if is_one(s) => Content::String(placeholder.to_owned()),
            _ => value,
        }
    }
    let is_id = |s: &str| uuid::Uuid::parse_str(s).is_ok();
    let is_cursor = |s: &str| !s.is_empty();
    let is_token = |s: &str| s.len() >= 20;
    let is_timestamp = |s: &str| chrono::DateTime::parse_from_rfc3339(s).is_ok();

    let mut settings = insta::Settings::clone_current();
    for key in [
        "id",
        "ownerId",
        "companyId",
        "contactId",
        "dealId",
        "createdById",
        "assignedToId",
    ] {
        settings.add_redaction(
            &format!(".**.{key}"),
            insta::dynamic_redaction(check("[id]", is_id)),
        );
    }
    for key in ["cursor", "startCursor", "endCursor"] {
        settings.add_redaction(
            &format!(".**.{key}"),
            insta::dynamic_redaction(check("[cursor]", is_cursor)),
        );
    }
    for key in ["accessToken", "refreshToken"] {
        settings.add_redaction(
            &format!(".**.{key}"),
            insta::dynamic_redaction(check("[token]", is_token)),
        );
    }
    for key in [
        "expiresAt",
        "createdAt",
        "updatedAt",
        "dueAt",
        "completedAt",
    ] {
        settings.add_redaction(
            &format!(".**.{key}"),
            insta::dynamic_redaction(check("[timestamp]", is_timestamp)),
        );
    }
    settings
}

impl TestApp {
    /// Sends a GraphQL multipart request (the GraphQL multipart request spec) with one file
    /// bound to `$file`: fields `operations` (the document and `variables`, with `file: null`
    /// set), `map` (`{"0": ["variables.file"]}`) and the file part `0`. Returns the JSON body
    /// (`Null` when the body is not JSON).
    pub async fn multipart_gql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Json,
        file_name: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Json {
        let mut variables = match variables {
            Json::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        variables.insert("file".to_owned(), Json::Null);
        let operations = serde_json::json!({ "query": query, "variables": variables });
        let boundary = format!("crm-test-{}", uuid::Uuid::new_v4().simple());
        let mut body = Vec::with_capacity(bytes.len() + 1024);
        let mut field = |name: &str, value: &str| {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        };
        field("operations", &operations.to_string());
        field("map", r#"{"0":["variables.file"]}"#);
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"{}\"\r\nContent-Type: {content_type}\r\n\r\n",
                file_name.replace(['"', '\r', '\n'], "_")
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let mut req = Request::post("/graphql")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("apollo-require-preflight", "true");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let (_, _, bytes) = self
            .request(req.body(Body::from(body)).expect("request"))
            .await;
        serde_json::from_slice(&bytes).unwrap_or(Json::Null)
    }
}

/// The small organisation several suites share: `admin@example.com`; `m1@example.com`
/// managing team East, with reps `r1@` and `r2@example.com`; `r3@example.com` in team West
/// (no manager). Everyone's password is [`PASSWORD`].
pub async fn east_west(app: &TestApp) {
    use entity::enums::Role;
    let mut org = crm_testkit::Org::new();
    org.user()
        .email("admin@example.com")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    let m1 = org
        .user()
        .email("m1@example.com")
        .role(Role::Manager)
        .insert(&app.db)
        .await;
    let east = org.team().name("East").manager(m1.id).insert(&app.db).await;
    let west = org.team().name("West").insert(&app.db).await;
    for (email, team) in [
        ("r1@example.com", east.id),
        ("r2@example.com", east.id),
        ("r3@example.com", west.id),
    ] {
        org.user()
            .email(email)
            .role(Role::SalesRep)
            .team(team)
            .insert(&app.db)
            .await;
    }
}
