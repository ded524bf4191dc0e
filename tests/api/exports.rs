//! CSV exports: the policy decides who may export (reps may not), which rows (a manager's
//! teams', an admin's all) and which values (hidden ones empty); a row cap and a daily
//! quota; RFC 4180 text read back with a real CSV parser; downloads for the exporter only;
//! every export in the audit log.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, east_west, error_code};

struct Fixture {
    app: TestApp,
    admin: String,
    manager: String,
    rep: String,
    teammate: String,
    r1_deal: Uuid,
    r2_deal: Uuid,
    west_deal: Uuid,
}

async fn fixture_with(app: TestApp) -> Fixture {
    east_west(&app).await;
    let mut deals = Vec::new();
    let tokens = [
        app.login("r1@example.com", PASSWORD).await.0,
        app.login("r2@example.com", PASSWORD).await.0,
        app.login("r3@example.com", PASSWORD).await.0,
    ];
    // Titles a spreadsheet or a naive parser would trip on.
    let titles = [
        "Acme, \"big\" renewal\nsecond line",
        "=HYPERLINK(\"http://evil\")",
        "West deal",
    ];
    for (i, token) in tokens.iter().enumerate() {
        let company = ok(
            &app,
            token,
            "mutation($n: String!) { createCompany(input: {name: $n}) { id } }",
            json!({"n": format!("Company {i}")}),
        )
        .await["createCompany"]["id"]
            .clone();
        let deal = ok(
            &app,
            token,
            "mutation($c: ID!, $t: String!, $a: Decimal!) { createDeal(input: {companyId: $c, title: $t, amount: $a}) { id } }",
            json!({"c": company, "t": titles[i], "a": format!("{}000.50", i + 1)}),
        )
        .await["createDeal"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        deals.push(deal);
    }
    Fixture {
        admin: app.login("admin@example.com", PASSWORD).await.0,
        manager: app.login("m1@example.com", PASSWORD).await.0,
        rep: tokens[0].clone(),
        teammate: tokens[1].clone(),
        r1_deal: deals[0],
        r2_deal: deals[1],
        west_deal: deals[2],
        app,
    }
}

async fn ok(app: &TestApp, token: &str, query: &str, vars: Value) -> Value {
    let (_, json) = app.gql(Some(token), query, vars).await;
    assert!(json["errors"].is_null(), "{json}");
    json["data"].clone()
}

const EXPORT: &str = "mutation($f: DealFilter, $o: [DealOrder!]) { exportDeals(filter: $f, orderBy: $o) { id rowCount truncated downloadUrl expiresAt } }";

/// Downloads `url` with `token`: status, headers, body.
async fn download(
    app: &TestApp,
    url: &str,
    token: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::get(url);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let (status, headers, body) = app.request(req.body(Body::empty()).unwrap()).await;
    (status, headers, String::from_utf8(body).unwrap())
}

/// The CSV read back with a real parser: header and rows.
fn parse(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

fn column(header: &[String], rows: &[Vec<String>], name: &str) -> Vec<String> {
    let i = header.iter().position(|h| h == name).unwrap();
    rows.iter().map(|r| r[i].clone()).collect()
}

#[tokio::test]
async fn exports_follow_the_policy_and_round_trip_through_a_csv_parser() {
    let o = fixture_with(TestApp::new().await).await;
    // Reps may not export.
    let (_, json) = o.app.gql(Some(&o.rep), EXPORT, json!({})).await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"), "{json}");

    // The manager: their team's deals only, amounts included, in the asked order.
    let done = ok(
        &o.app,
        &o.manager,
        EXPORT,
        json!({"o": [{"field": "AMOUNT", "direction": "DESC"}]}),
    )
    .await;
    let e = &done["exportDeals"];
    assert_eq!(e["rowCount"], 2);
    assert_eq!(e["truncated"], false);
    let url = e["downloadUrl"].as_str().unwrap().to_owned();
    let (status, headers, text) = download(&o.app, &url, Some(&o.manager)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(
        headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"deal-")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(text.contains("\r\n"), "RFC 4180 line ends");
    let (header, rows) = parse(&text);
    assert_eq!(header[..3], ["id", "title", "amount"]);
    assert_eq!(
        column(&header, &rows, "id"),
        [o.r2_deal.to_string(), o.r1_deal.to_string()]
    );
    assert_eq!(column(&header, &rows, "amount"), ["2000.50", "1000.50"]);
    // Quotes, commas and newlines survive; a formula is made inert.
    assert_eq!(
        column(&header, &rows, "title"),
        [
            "'=HYPERLINK(\"http://evil\")".to_owned(),
            "Acme, \"big\" renewal\nsecond line".to_owned()
        ]
    );
    assert_eq!(
        column(&header, &rows, "stage"),
        ["PROSPECTING", "PROSPECTING"]
    );

    // Only the exporter downloads it; others and strangers see nothing.
    let (status, _, _) = download(&o.app, &url, Some(&o.admin)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = download(&o.app, &url, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = download(&o.app, "/exports/not-an-id", Some(&o.manager)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The admin: everything; filters apply.
    let all = ok(&o.app, &o.admin, EXPORT, json!({})).await;
    assert_eq!(all["exportDeals"]["rowCount"], 3);
    let west = ok(
        &o.app,
        &o.admin,
        EXPORT,
        json!({"f": {"title": {"eq": "West deal"}}}),
    )
    .await;
    let (_, _, text) = download(
        &o.app,
        west["exportDeals"]["downloadUrl"].as_str().unwrap(),
        Some(&o.admin),
    )
    .await;
    let (header, rows) = parse(&text);
    assert_eq!(column(&header, &rows, "id"), [o.west_deal.to_string()]);

    // The other kinds.
    for (field, n) in [
        ("exportCompanies", 3),
        ("exportContacts", 0),
        ("exportActivities", 0),
    ] {
        let data = ok(
            &o.app,
            &o.admin,
            &format!("mutation {{ {field} {{ rowCount downloadUrl }} }}"),
            json!({}),
        )
        .await;
        assert_eq!(data[field]["rowCount"], n, "{field}");
    }

    // Every export is in the audit log, with its filter and row count.
    let log = ok(
        &o.app,
        &o.admin,
        "{ auditLog(first: 20, filter: {action: EXPORT_COMPLETED}) { nodes { actor { id } changes { field to } } } }",
        json!({}),
    )
    .await["auditLog"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(log.len(), 6, "{log:#?}");
    let west_entry =
        log.iter()
            .find(|e| {
                e["changes"].as_array().unwrap().iter().any(|c| {
                    c["field"] == "filter" && c["to"]["filter"]["title"]["eq"] == "West deal"
                })
            })
            .expect("the filtered export");
    assert!(
        west_entry["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "rowCount" && c["to"] == 1)
    );
}

#[tokio::test]
async fn hidden_amounts_are_empty_and_caps_and_quotas_hold() {
    // An edited policy lets reps export their team's deals; a teammate's amount stays
    // hidden from them.
    let dir = crate::authz_support::policy_dir_with(&[
        (
            "deal.polar",
            "\nhas_permission(user: User, \"export\", deal: Deal) if\n    user.role = \"sales_rep\" and deal.in_team_of(user);\n",
        ),
        (
            "export.polar",
            "\nhas_permission(user: User, \"create\", _export: Export) if\n    user.role = \"sales_rep\";\n",
        ),
    ]);
    let path = dir.path().to_owned();
    let app = TestApp::with_config(|c| {
        c.policy_dir = path;
        c.export_max_rows = 1;
        c.export_max_per_day = 2;
    })
    .await;
    let o = fixture_with(app).await;
    let first = ok(
        &o.app,
        &o.teammate,
        EXPORT,
        json!({"o": [{"field": "CREATED_AT"}]}),
    )
    .await;
    assert_eq!(first["exportDeals"]["rowCount"], 1);
    assert_eq!(
        first["exportDeals"]["truncated"], true,
        "2 rows match, the cap is 1"
    );
    let (_, _, text) = download(
        &o.app,
        first["exportDeals"]["downloadUrl"].as_str().unwrap(),
        Some(&o.teammate),
    )
    .await;
    let (header, rows) = parse(&text);
    assert_eq!(column(&header, &rows, "id"), [o.r1_deal.to_string()]);
    assert_eq!(
        column(&header, &rows, "amount"),
        [""],
        "a teammate's amount is hidden"
    );
    let second = ok(
        &o.app,
        &o.teammate,
        EXPORT,
        json!({"o": [{"field": "CREATED_AT", "direction": "DESC"}]}),
    )
    .await;
    let (_, _, text) = download(
        &o.app,
        second["exportDeals"]["downloadUrl"].as_str().unwrap(),
        Some(&o.teammate),
    )
    .await;
    let (header, rows) = parse(&text);
    assert_eq!(column(&header, &rows, "id"), [o.r2_deal.to_string()]);
    assert_eq!(column(&header, &rows, "amount"), ["2000.50"], "their own");
    // The third in a day is refused, with when to come back.
    let (_, json) = o.app.gql(Some(&o.teammate), EXPORT, json!({})).await;
    assert_eq!(error_code(&json), Some("RATE_LIMITED"), "{json}");
    assert!(
        json["errors"][0]["extensions"]["retryAfterSeconds"]
            .as_u64()
            .unwrap()
            > 80_000
    );
    // Another user's quota is their own.
    ok(&o.app, &o.rep, EXPORT, json!({})).await;
    // The daily purge keeps what still counts toward a quota or can be downloaded.
    let deps = &o.app.state.deps;
    let now = chrono::Utc::now();
    assert_eq!(api::service::export::purge(deps, now).await.unwrap(), 0);
    assert_eq!(
        api::service::export::purge(deps, now + chrono::Duration::days(2))
            .await
            .unwrap(),
        3
    );
}
