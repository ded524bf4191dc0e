//! `POST /mcp`: the Model Context Protocol tools, driven by the official `rmcp` client over
//! a real loopback server. The tools act as the bearer token's user through the GraphQL
//! services, so what a user finds with them is exactly what GraphQL lists for them (same
//! rows, same hidden amounts), writes are validated and audited the same way, and anything
//! a model can get wrong comes back as a tool error naming the argument.

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Days, NaiveDate, Utc};
use crm_testkit::Org;
use entity::enums::{ActivityType, DealStage, Role, SharePermission};
use rmcp::model::{CallToolRequestParams, CallToolResult, ProtocolVersion};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientLifecycleMode, ClientServiceExt, ServiceExt};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, request_to};

type Client = RunningService<RoleClient, ()>;

/// The organisation: manager m1 over East (reps r1, r2), manager m2 over West (rep r3), an
/// admin; companies, contacts, deals in every stage with close dates around today, one deal
/// shared with r1 to view, activities on r1's deal; and the app on a loopback port.
struct Fixture {
    app: TestApp,
    url: String,
    m1: Uuid,
    r1: Uuid,
    r2: Uuid,
    admin_id: Uuid,
    acme: Uuid,
    initech: Uuid,
    john: Uuid,
    own: Uuid,
    teammates: Uuid,
    west: Uuid,
    shared: Uuid,
    rep: String,
    manager: String,
    admin: String,
}

fn in_days(n: u64) -> NaiveDate {
    Utc::now().date_naive() + Days::new(n)
}

async fn fixture() -> Fixture {
    fixture_with(|_| {}).await
}

/// [`fixture`] with the configuration changed by `adjust`.
async fn fixture_with(adjust: impl FnOnce(&mut api::config::Config)) -> Fixture {
    let app = TestApp::with_config(adjust).await;
    let mut org = Org::new();
    let m1 = org
        .user()
        .email("m1@example.com")
        .role(Role::Manager)
        .insert(&app.db)
        .await;
    let m2 = org
        .user()
        .email("m2@example.com")
        .role(Role::Manager)
        .insert(&app.db)
        .await;
    let east = org.team().name("East").manager(m1.id).insert(&app.db).await;
    let west_team = org.team().name("West").manager(m2.id).insert(&app.db).await;
    let mut rep = |email: &'static str, team: Uuid| {
        org.user()
            .email(email)
            .role(Role::SalesRep)
            .team(team)
            .add()
    };
    let (r1, r2, r3) = (
        rep("r1@example.com", east.id),
        rep("r2@example.com", east.id),
        rep("r3@example.com", west_team.id),
    );
    let admin_user = org
        .user()
        .email("admin@example.com")
        .role(Role::Admin)
        .add();
    let acme = org.company().name("Acme Corp").owner(r1.id).add();
    let globex = org.company().name("Globex").owner(r3.id).add();
    let initech = org.company().name("Initech").owner(r3.id).add();
    let john = org
        .contact()
        .first("John")
        .last("Doe")
        .full_name("John Doe")
        .company(acme.id)
        .owner(r1.id)
        .email("john@acme.example")
        .add();
    let own = org
        .deal()
        .company(acme.id)
        .contact(john.id)
        .owner(r1.id)
        .title("Acme renewal")
        .amount_cents(1_500_000)
        .stage(DealStage::Proposal)
        .expected_close(in_days(3))
        .add();
    let teammates = org
        .deal()
        .company(acme.id)
        .owner(r2.id)
        .title("Acme expansion")
        .amount_cents(2_000_000)
        .stage(DealStage::Prospecting)
        .expected_close(in_days(5))
        .add();
    let west = org
        .deal()
        .company(initech.id)
        .owner(r3.id)
        .title("Initech pilot")
        .amount_cents(3_000_000)
        .stage(DealStage::Negotiation)
        .expected_close(in_days(4))
        .add();
    let shared = org
        .deal()
        .company(globex.id)
        .owner(r3.id)
        .title("Globex shared")
        .amount_cents(4_000_000)
        .stage(DealStage::Qualification)
        .expected_close(in_days(20))
        .add();
    org.deal()
        .company(acme.id)
        .owner(r1.id)
        .title("Acme won last year")
        .amount_cents(500_000)
        .stage(DealStage::ClosedWon)
        .add();
    org.deal()
        .company(acme.id)
        .owner(r2.id)
        .title("Acme lost")
        .amount_cents(700_000)
        .stage(DealStage::ClosedLost)
        .add();
    org.share(shared.id, r1.id)
        .permission(SharePermission::View)
        .add();
    for (i, kind) in [ActivityType::Call, ActivityType::Email, ActivityType::Note]
        .into_iter()
        .enumerate()
    {
        org.activity()
            .subject(format!("Follow-up {i}"))
            .kind(kind)
            .deal(own.id)
            .created_by(r1.id)
            .add();
    }
    org.insert(&app.db).await.expect("insert the organisation");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = api::app(app.state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, router).await });

    let rep = app.login("r1@example.com", PASSWORD).await.0;
    let manager = app.login("m1@example.com", PASSWORD).await.0;
    let admin = app.login("admin@example.com", PASSWORD).await.0;
    Fixture {
        app,
        url: format!("http://{addr}/mcp"),
        m1: m1.id,
        r1: r1.id,
        r2: r2.id,
        admin_id: admin_user.id,
        acme: acme.id,
        initech: initech.id,
        john: john.id,
        own: own.id,
        teammates: teammates.id,
        west: west.id,
        shared: shared.id,
        rep,
        manager,
        admin,
    }
}

/// The client's HTTP stack (reqwest over rustls without a bundled provider, as the server
/// builds it) needs a process-wide crypto provider: ring, as the server installs.
fn crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An MCP client session (initialize handshake) with `token` as its bearer token.
async fn connect(url: &str, token: &str) -> Client {
    crypto_provider();
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url).auth_header(token),
    );
    ().serve(transport).await.expect("initialize")
}

/// A tool call's outcome: whether it is a tool error, and its structured content (which
/// must also be its text content).
async fn call(client: &Client, tool: &str, arguments: Value) -> (bool, Value) {
    let Value::Object(arguments) = arguments else {
        panic!("arguments are an object")
    };
    let result: CallToolResult = client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
        .await
        .unwrap_or_else(|e| panic!("{tool}: a protocol error: {e}"));
    let structured = result
        .structured_content
        .clone()
        .unwrap_or_else(|| panic!("{tool}: no structured content: {result:?}"));
    let text = result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .expect("text content");
    assert_eq!(
        serde_json::from_str::<Value>(&text).expect("JSON text"),
        structured,
        "the text content is the structured content"
    );
    (result.is_error == Some(true), structured)
}

/// A call that must succeed.
async fn ok(client: &Client, tool: &str, arguments: Value) -> Value {
    let (is_error, value) = call(client, tool, arguments.clone()).await;
    assert!(!is_error, "{tool}({arguments}) failed: {value}");
    value
}

/// A call that must be a tool error; returns the error object.
async fn tool_error(client: &Client, tool: &str, arguments: Value) -> Value {
    let (is_error, value) = call(client, tool, arguments.clone()).await;
    assert!(is_error, "{tool}({arguments}) should fail: {value}");
    value["error"].clone()
}

/// `(id, amount)` of each result, in order.
fn rows(list: &Value, key: &str) -> Vec<(String, Value)> {
    list[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {list}"))
        .iter()
        .map(|r| {
            (
                r["id"].as_str().expect("id").to_owned(),
                r["amount"].clone(),
            )
        })
        .collect()
}

const DEALS: &str = "query($f: DealFilter, $s: String, $o: [DealOrder!]) {
  deals(filter: $f, search: $s, orderBy: $o, first: 100) { totalCount nodes { id amount } }
}";

/// The user's GraphQL `deals` list with this filter, search and order.
async fn graphql_deals(app: &TestApp, token: &str, vars: Value) -> (Vec<(String, Value)>, u64) {
    let (_, json) = app.gql(Some(token), DEALS, vars).await;
    assert!(json["errors"].is_null(), "{json}");
    let deals = &json["data"]["deals"];
    (
        rows(deals, "nodes"),
        deals["totalCount"].as_u64().expect("count"),
    )
}

#[tokio::test]
async fn mcp_initializes_and_lists_every_tool_with_a_schema() {
    let f = fixture().await;
    let client = connect(&f.url, &f.rep).await;
    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("crm")
    );
    assert!(
        info.instructions
            .as_deref()
            .is_some_and(|i| i.contains("signed-in user"))
    );
    assert!(info.capabilities.tools.is_some());

    let tools = client.list_all_tools().await.expect("tools/list");
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "create_contact",
            "create_deal",
            "get_deal",
            "log_activity",
            "pipeline_summary",
            "search_companies",
            "search_contacts",
            "search_deals",
        ]
    );
    for tool in &tools {
        let description = tool.description.as_deref().unwrap_or("");
        assert!(description.len() > 80, "{}: {description}", tool.name);
        assert_eq!(tool.input_schema["type"], "object", "{}", tool.name);
        assert!(tool.input_schema["properties"].is_object(), "{}", tool.name);
        let read_only = tool.name.starts_with("search_")
            || tool.name == "get_deal"
            || tool.name == "pipeline_summary";
        let annotations = tool.annotations.as_ref().expect("annotations");
        assert_eq!(annotations.read_only_hint, Some(read_only), "{}", tool.name);
    }
    let search = tools.iter().find(|t| t.name == "search_deals").unwrap();
    let schema = serde_json::to_string(&search.input_schema).unwrap();
    for needle in [
        "CLOSED_WON",
        "closeFrom",
        "minAmount",
        "\"team\"",
        "\"format\":\"date\"",
    ] {
        assert!(schema.contains(needle), "{needle} missing from {schema}");
    }
    assert_eq!(search.input_schema["additionalProperties"], false);
    let create = tools.iter().find(|t| t.name == "create_deal").unwrap();
    let required = create.input_schema["required"].as_array().unwrap();
    assert!(required.contains(&json!("companyId")) && required.contains(&json!("title")));
    let log = tools.iter().find(|t| t.name == "log_activity").unwrap();
    assert!(
        log.input_schema["required"]
            .as_array()
            .unwrap()
            .contains(&json!("type"))
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn mcp_search_deals_returns_exactly_the_graphql_deals_list() {
    let f = fixture().await;
    // The same question to both: MCP arguments, GraphQL variables.
    let cases = |me: Uuid, team: &[Uuid]| {
        let (from, to) = (in_days(0).to_string(), in_days(7).to_string());
        let team: Vec<String> = team.iter().map(Uuid::to_string).collect();
        [
            (json!({}), json!({})),
            (
                json!({ "owner": "me" }),
                json!({ "f": { "ownerId": { "eq": me.to_string() } } }),
            ),
            (
                json!({ "owner": "team" }),
                json!({ "f": { "ownerId": { "in": team } } }),
            ),
            (
                json!({ "stage": ["PROPOSAL", "PROSPECTING"] }),
                json!({ "f": { "stage": { "in": ["PROPOSAL", "PROSPECTING"] } } }),
            ),
            (
                json!({ "stage": "QUALIFICATION" }),
                json!({ "f": { "stage": { "in": ["QUALIFICATION"] } } }),
            ),
            (
                json!({ "openOnly": true, "closeFrom": from, "closeTo": to, "sort": "closeDate" }),
                json!({
                    "f": {
                        "stage": { "in": ["PROSPECTING", "QUALIFICATION", "PROPOSAL", "NEGOTIATION"] },
                        "expectedCloseDate": { "gte": from, "lte": to },
                    },
                    "o": [{ "field": "EXPECTED_CLOSE_DATE", "direction": "ASC" }],
                }),
            ),
            (
                json!({ "minAmount": 10000, "maxAmount": "50000.00", "sort": "amount" }),
                json!({
                    "f": { "amount": { "gte": "10000", "lte": "50000.00", "isNull": false } },
                    "o": [{ "field": "AMOUNT", "direction": "DESC" }],
                }),
            ),
            (
                json!({ "sort": "amount" }),
                json!({
                    "f": { "amount": { "isNull": false } },
                    "o": [{ "field": "AMOUNT", "direction": "DESC" }],
                }),
            ),
            (
                json!({ "query": "acme", "companyId": f.acme.to_string(), "sort": "updated" }),
                json!({
                    "s": "acme",
                    "f": { "companyId": { "eq": f.acme.to_string() } },
                    "o": [{ "field": "UPDATED_AT", "direction": "DESC" }],
                }),
            ),
        ]
    };
    // "team": the user and the members of their teams (East for r1 and m1).
    for (who, token, me, team) in [
        ("rep", &f.rep, f.r1, vec![f.r1, f.r2]),
        ("manager", &f.manager, f.m1, vec![f.m1, f.r1, f.r2]),
        ("admin", &f.admin, f.admin_id, vec![f.admin_id]),
    ] {
        let client = connect(&f.url, token).await;
        for (arguments, vars) in &cases(me, &team) {
            let mcp = ok(&client, "search_deals", arguments.clone()).await;
            let (graphql, total) = graphql_deals(&f.app, token, vars.clone()).await;
            assert_eq!(
                rows(&mcp, "results"),
                graphql,
                "{who}: search_deals({arguments}) against deals({vars})"
            );
            assert_eq!(mcp["total"], total, "{who}: {arguments}");
            assert_eq!(mcp["more"], false);
            assert_eq!(mcp["today"], Utc::now().date_naive().to_string());
        }
        client.cancel().await.ok();
    }

    // What the rep sees, spelled out: own and teammate's and shared deals, the teammate's
    // and the view-only share's amounts hidden; West's deal not at all.
    let client = connect(&f.url, &f.rep).await;
    let all = ok(&client, "search_deals", json!({})).await;
    let found = rows(&all, "results");
    let amount = |id: Uuid| {
        found
            .iter()
            .find(|(i, _)| *i == id.to_string())
            .map(|(_, a)| a.clone())
    };
    assert_eq!(amount(f.own), Some(json!("15000.00")));
    assert_eq!(amount(f.teammates), Some(Value::Null));
    assert_eq!(amount(f.shared), Some(Value::Null));
    assert_eq!(amount(f.west), None);
    // A hidden amount never matches an amount condition.
    let big = ok(&client, "search_deals", json!({ "minAmount": 1 })).await;
    assert!(rows(&big, "results").iter().all(|(_, a)| !a.is_null()));
    let own = all["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == f.own.to_string())
        .unwrap();
    assert_eq!(own["companyName"], "Acme Corp");
    assert_eq!(own["stage"], "PROPOSAL");
    assert_eq!(own["ownerId"], f.r1.to_string());
    client.cancel().await.ok();
}

#[tokio::test]
async fn mcp_search_results_are_bounded_with_a_cursor_for_more() {
    let f = fixture().await;
    let client = connect(&f.url, &f.admin).await;
    let (all, total) = graphql_deals(&f.app, &f.admin, json!({})).await;
    assert_eq!(total, 6);
    let mut seen = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let page = ok(
            &client,
            "search_deals",
            json!({ "limit": 4, "cursor": cursor }),
        )
        .await;
        assert_eq!(page["total"], 6);
        let got = rows(&page, "results");
        assert!(got.len() <= 4);
        seen.extend(got);
        if page["more"] == true {
            assert!(page["hint"].as_str().unwrap().contains("nextCursor"));
            cursor = page["nextCursor"].clone();
            assert!(cursor.is_string());
        } else {
            assert!(page.get("nextCursor").is_none());
            break;
        }
    }
    assert_eq!(seen, all);
    // The default page is 20 rows, the most 50.
    let err = tool_error(&client, "search_deals", json!({ "limit": 51 })).await;
    assert_eq!(err["field"], "limit");
    let err = tool_error(&client, "search_deals", json!({ "cursor": "garbage" })).await;
    assert_eq!(err["field"], "cursor");
    client.cancel().await.ok();
}

#[tokio::test]
async fn mcp_search_companies_and_contacts_list_what_graphql_lists() {
    let f = fixture().await;
    for token in [&f.rep, &f.manager, &f.admin] {
        let client = connect(&f.url, token).await;
        for search in [None, Some("acme"), Some("glob"), Some("john")] {
            let arguments = match search {
                Some(q) => json!({ "query": q }),
                None => json!({}),
            };
            for (tool, field) in [
                ("search_companies", "companies"),
                ("search_contacts", "contacts"),
            ] {
                let mcp = ok(&client, tool, arguments.clone()).await;
                let query = format!(
                    "query($s: String) {{ {field}(search: $s, first: 100) {{ totalCount nodes {{ id }} }} }}"
                );
                let (_, json) = f.app.gql(Some(token), &query, json!({ "s": search })).await;
                let list = &json["data"][field];
                let ids = |nodes: &Value| -> Vec<String> {
                    nodes
                        .as_array()
                        .unwrap_or_else(|| panic!("{json}"))
                        .iter()
                        .map(|n| n["id"].as_str().unwrap().to_owned())
                        .collect()
                };
                assert_eq!(
                    ids(&mcp["results"]),
                    ids(&list["nodes"]),
                    "{tool}({arguments})"
                );
                assert_eq!(mcp["total"], list["totalCount"], "{tool}({arguments})");
            }
        }
        client.cancel().await.ok();
    }

    // The rep: their team's company and the one linked to a deal shared with them, never
    // the other team's.
    let client = connect(&f.url, &f.rep).await;
    let companies = ok(&client, "search_companies", json!({})).await;
    let names: Vec<&str> = companies["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Acme Corp", "Globex"]);
    let none = ok(&client, "search_companies", json!({ "query": "initech" })).await;
    assert_eq!(none["total"], 0);
    assert!(
        none["hint"]
            .as_str()
            .unwrap()
            .starts_with("Nothing matches")
    );

    let contacts = ok(
        &client,
        "search_contacts",
        json!({ "query": "JOHN", "companyId": f.acme.to_string() }),
    )
    .await;
    assert_eq!(contacts["total"], 1);
    let john = &contacts["results"][0];
    assert_eq!(john["id"], f.john.to_string());
    assert_eq!(john["fullName"], "John Doe");
    assert_eq!(john["companyName"], "Acme Corp");
    assert_eq!(john["email"], "john@acme.example");
    let elsewhere = ok(
        &client,
        "search_contacts",
        json!({ "companyId": f.initech.to_string() }),
    )
    .await;
    assert_eq!(elsewhere["total"], 0);
    client.cancel().await.ok();
}

#[tokio::test]
async fn mcp_get_deal_shows_what_the_policy_lets_each_role_see() {
    let f = fixture().await;
    let rep = connect(&f.url, &f.rep).await;
    let deal = ok(
        &rep,
        "get_deal",
        json!({ "dealId": f.own.to_string(), "activities": 2 }),
    )
    .await;
    assert_eq!(deal["id"], f.own.to_string());
    assert_eq!(deal["title"], "Acme renewal");
    assert_eq!(deal["amount"], "15000.00");
    assert_eq!(deal["company"]["id"], f.acme.to_string());
    assert_eq!(deal["company"]["name"], "Acme Corp");
    assert_eq!(deal["contact"]["id"], f.john.to_string());
    assert_eq!(deal["contact"]["fullName"], "John Doe");
    assert_eq!(deal["recentActivities"].as_array().unwrap().len(), 2);
    assert_eq!(deal["activityCount"], 3);
    assert_eq!(deal["recentActivities"][0]["dealId"], f.own.to_string());
    assert_eq!(
        deal["youCan"],
        json!({ "update": true, "seeAmount": true, "changeAmount": true })
    );

    // A teammate's deal: readable, amount hidden, read-only.
    let teammates = ok(
        &rep,
        "get_deal",
        json!({ "dealId": f.teammates.to_string() }),
    )
    .await;
    assert!(teammates["amount"].is_null());
    assert_eq!(
        teammates["youCan"],
        json!({ "update": false, "seeAmount": false, "changeAmount": false })
    );
    // Another team's deal reads as missing, like a deal that does not exist.
    for id in [f.west, Uuid::new_v4()] {
        let err = tool_error(&rep, "get_deal", json!({ "dealId": id.to_string() })).await;
        assert_eq!(err["code"], "NOT_FOUND");
    }
    // The GraphQL `deal` field agrees on the hidden amount.
    let (_, json) = f
        .app
        .gql(
            Some(&f.rep),
            "query($id: ID!) { deal(id: $id) { amount } }",
            json!({ "id": f.teammates.to_string() }),
        )
        .await;
    assert!(json["data"]["deal"]["amount"].is_null());
    rep.cancel().await.ok();

    // The manager of East sees the teammate's amount; the admin sees West's deal.
    let manager = connect(&f.url, &f.manager).await;
    let teammates = ok(
        &manager,
        "get_deal",
        json!({ "dealId": f.teammates.to_string() }),
    )
    .await;
    assert_eq!(teammates["amount"], "20000.00");
    let err = tool_error(
        &manager,
        "get_deal",
        json!({ "dealId": f.west.to_string() }),
    )
    .await;
    assert_eq!(err["code"], "NOT_FOUND");
    manager.cancel().await.ok();
    let admin = connect(&f.url, &f.admin).await;
    let west = ok(&admin, "get_deal", json!({ "dealId": f.west.to_string() })).await;
    assert_eq!(west["amount"], "30000.00");
    assert_eq!(west["company"]["name"], "Initech");
    admin.cancel().await.ok();
}

#[tokio::test]
async fn mcp_pipeline_summary_is_the_graphql_pipeline() {
    let f = fixture().await;
    for token in [&f.rep, &f.manager, &f.admin] {
        let client = connect(&f.url, token).await;
        for (owner, graphql_owner) in [("me", "ME"), ("team", "MY_TEAMS"), ("all", "ALL")] {
            let mcp = ok(&client, "pipeline_summary", json!({ "owner": owner })).await;
            let (_, json) = f
                .app
                .gql(
                    Some(token),
                    "query($o: OwnerScope) { pipeline(owner: $o) { stage count totalAmount weightedAmount } }",
                    json!({ "o": graphql_owner }),
                )
                .await;
            assert_eq!(mcp["stages"], json["data"]["pipeline"], "owner {owner}");
            let open: u64 = mcp["stages"].as_array().unwrap()[..4]
                .iter()
                .map(|s| s["count"].as_u64().unwrap())
                .sum();
            assert_eq!(mcp["openDeals"], open);
        }
        client.cancel().await.ok();
    }
    // The rep: the teammate's and the shared deal count, their amounts do not.
    let client = connect(&f.url, &f.rep).await;
    let mcp = ok(&client, "pipeline_summary", json!({})).await;
    let stage = |name: &str| {
        mcp["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(stage("PROSPECTING")["count"], 1);
    assert_eq!(stage("PROSPECTING")["totalAmount"], "0.00");
    assert_eq!(stage("PROPOSAL")["totalAmount"], "15000.00");
    assert_eq!(mcp["openDeals"], 3);
    assert_eq!(mcp["openAmount"], "15000.00");
    let within = ok(
        &client,
        "pipeline_summary",
        json!({ "closeFrom": in_days(0).to_string(), "closeTo": in_days(7).to_string(), "currency": "usd" }),
    )
    .await;
    assert_eq!(within["openDeals"], 2);
    assert_eq!(within["currency"], "USD");
    let err = tool_error(
        &client,
        "pipeline_summary",
        json!({ "currency": "dollars" }),
    )
    .await;
    assert_eq!(err["field"], "currency");
    client.cancel().await.ok();
}

/// The audit entries of record `id`, read by the admin.
async fn history(f: &Fixture, kind: &str, id: &str) -> Vec<Value> {
    let query = format!(
        "query($id: ID!) {{ {kind}(id: $id) {{ history(first: 10) {{ nodes {{ action ipAddress requestId actor {{ id }} }} }} }} }}"
    );
    let (_, json) = f.app.gql(Some(&f.admin), &query, json!({ "id": id })).await;
    json["data"][kind]["history"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{json}"))
        .clone()
}

#[tokio::test]
async fn mcp_writes_go_through_the_services_and_are_audited() {
    let f = fixture().await;
    let client = connect(&f.url, &f.rep).await;

    // "Add John Smith, VP of Sales at Acme."
    let contact = ok(
        &client,
        "create_contact",
        json!({
            "firstName": "John",
            "lastName": "Smith",
            "title": "VP of Sales",
            "companyId": f.acme.to_string(),
            "email": "John.Smith@Acme.example",
        }),
    )
    .await;
    assert_eq!(contact["fullName"], "John Smith");
    assert_eq!(contact["companyName"], "Acme Corp");
    assert_eq!(contact["email"], "john.smith@acme.example");
    assert_eq!(contact["ownerId"], f.r1.to_string());
    let contact_id = contact["id"].as_str().unwrap().to_owned();

    let deal = ok(
        &client,
        "create_deal",
        json!({
            "companyId": f.acme.to_string(),
            "contactId": contact_id,
            "title": "Acme add-on",
            "amount": 12500.5,
            "stage": "QUALIFICATION",
            "expectedCloseDate": in_days(30).to_string(),
            "source": "REFERRAL",
        }),
    )
    .await;
    assert_eq!(deal["amount"], "12500.50");
    assert_eq!(deal["stage"], "QUALIFICATION");
    assert_eq!(deal["probability"], 25);
    let deal_id = deal["id"].as_str().unwrap().to_owned();

    let activity = ok(
        &client,
        "log_activity",
        json!({
            "type": "CALL",
            "subject": "Intro call with John",
            "completed": true,
            "dealId": deal_id,
            "contactId": contact_id,
        }),
    )
    .await;
    assert_eq!(activity["type"], "CALL");
    assert_eq!(activity["status"], "COMPLETED");
    assert_eq!(activity["assignedToId"], f.r1.to_string());
    let activity_id = activity["id"].as_str().unwrap().to_owned();

    // GraphQL reads what the tools wrote.
    let (_, json) = f
        .app
        .gql(
            Some(&f.rep),
            "query($id: ID!) { deal(id: $id) { title amount contact { fullName } activities { nodes { id subject } } } }",
            json!({ "id": deal_id }),
        )
        .await;
    let read = &json["data"]["deal"];
    assert_eq!(read["title"], "Acme add-on");
    assert_eq!(read["amount"], "12500.50");
    assert_eq!(read["contact"]["fullName"], "John Smith");
    assert_eq!(read["activities"]["nodes"][0]["id"], activity_id.as_str());

    // Each write is one RECORD_CREATED event by the rep, with the request's address and id.
    for (kind, id) in [
        ("contact", &contact_id),
        ("deal", &deal_id),
        ("activity", &activity_id),
    ] {
        let entries = history(&f, kind, id).await;
        assert_eq!(entries.len(), 1, "{kind}: {entries:?}");
        assert_eq!(entries[0]["action"], "RECORD_CREATED");
        assert_eq!(entries[0]["actor"]["id"], f.r1.to_string());
        assert_eq!(entries[0]["ipAddress"], "127.0.0.1");
        assert!(entries[0]["requestId"].is_string(), "{kind}: {entries:?}");
    }

    // Validation and the policy, as for GraphQL: nothing is written.
    let err = tool_error(
        &client,
        "create_deal",
        json!({
            "companyId": f.acme.to_string(),
            "title": " ",
            "amount": "10.001",
            "expectedCloseDate": "2001-01-01",
        }),
    )
    .await;
    assert_eq!(err["code"], "BAD_USER_INPUT");
    let fields: Vec<&str> = err["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    for field in ["title", "amount", "expectedCloseDate"] {
        assert!(fields.contains(&field), "{field} in {err}");
    }
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("expectedCloseDate")
    );
    let err = tool_error(
        &client,
        "create_deal",
        json!({ "companyId": f.initech.to_string(), "title": "Poaching" }),
    )
    .await;
    assert_eq!(err["field"], "companyId");
    let err = tool_error(
        &client,
        "create_deal",
        json!({ "companyId": f.acme.to_string(), "title": "For r2", "ownerId": f.r2.to_string() }),
    )
    .await;
    assert_eq!(err["code"], "FORBIDDEN");
    let err = tool_error(&client, "create_contact", json!({ "title": "Nobody" })).await;
    assert_eq!(err["field"], "firstName");
    let err = tool_error(
        &client,
        "create_contact",
        json!({ "firstName": "Jo", "email": "john.smith@acme.example" }),
    )
    .await;
    assert_eq!(err["code"], "CONFLICT");
    assert_eq!(err["field"], "email");
    let err = tool_error(
        &client,
        "log_activity",
        json!({ "type": "TASK", "subject": "x", "dealId": f.west.to_string() }),
    )
    .await;
    assert_eq!(err["field"], "dealId");
    let (_, json) = f
        .app
        .gql(
            Some(&f.admin),
            "{ deals(search: \"Poaching\") { totalCount } contacts(search: \"Jo\") { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(json["data"]["deals"]["totalCount"], 0);
    client.cancel().await.ok();
}

#[tokio::test]
async fn mcp_every_tool_works_for_a_rep_a_manager_and_an_admin() {
    let f = fixture().await;
    for (who, token, sees_teammates_amount) in [
        ("rep", &f.rep, false),
        ("manager", &f.manager, true),
        ("admin", &f.admin, true),
    ] {
        let client = connect(&f.url, token).await;
        let companies = ok(&client, "search_companies", json!({ "query": "acme" })).await;
        assert_eq!(companies["results"][0]["id"], f.acme.to_string(), "{who}");
        let contacts = ok(&client, "search_contacts", json!({ "query": "doe" })).await;
        assert_eq!(contacts["results"][0]["id"], f.john.to_string(), "{who}");
        let deals = ok(&client, "search_deals", json!({ "query": "expansion" })).await;
        assert_eq!(deals["results"][0]["id"], f.teammates.to_string(), "{who}");
        assert_eq!(
            !deals["results"][0]["amount"].is_null(),
            sees_teammates_amount,
            "{who}"
        );
        let deal = ok(&client, "get_deal", json!({ "dealId": f.own.to_string() })).await;
        assert_eq!(deal["amount"], "15000.00", "{who}");
        ok(&client, "pipeline_summary", json!({ "owner": "team" })).await;
        let contact = ok(
            &client,
            "create_contact",
            json!({ "firstName": who, "companyId": f.acme.to_string() }),
        )
        .await;
        let deal = ok(
            &client,
            "create_deal",
            json!({ "companyId": f.acme.to_string(), "title": format!("{who}'s deal"), "amount": 100 }),
        )
        .await;
        assert_eq!(deal["amount"], "100.00", "{who}");
        ok(
            &client,
            "log_activity",
            json!({
                "type": "NOTE",
                "subject": format!("{who} was here"),
                "dealId": deal["id"],
                "contactId": contact["id"],
            }),
        )
        .await;
        client.cancel().await.ok();
    }
    // A manager creates a deal for a rep of their team; a rep may not (above).
    let manager = connect(&f.url, &f.manager).await;
    let deal = ok(
        &manager,
        "create_deal",
        json!({ "companyId": f.acme.to_string(), "title": "For r2", "ownerId": f.r2.to_string() }),
    )
    .await;
    assert_eq!(deal["ownerId"], f.r2.to_string());
    manager.cancel().await.ok();
}

#[tokio::test]
async fn mcp_bad_arguments_are_tool_errors_naming_the_argument() {
    let f = fixture().await;
    let client = connect(&f.url, &f.rep).await;
    let cases = [
        ("search_deals", json!({ "limit": "ten" }), "limit"),
        ("search_deals", json!({ "limit": -1 }), "limit"),
        ("search_deals", json!({ "limit": 0 }), "limit"),
        ("search_deals", json!({ "stage": "WON" }), "stage"),
        ("search_deals", json!({ "stage": ["PROPOSAL", 7] }), "stage"),
        ("search_deals", json!({ "owner": "boss" }), "owner"),
        (
            "search_deals",
            json!({ "closeFrom": "next week" }),
            "closeFrom",
        ),
        ("search_deals", json!({ "minAmount": "lots" }), "minAmount"),
        ("search_deals", json!({ "maxAmount": "1.005" }), "maxAmount"),
        ("search_deals", json!({ "companyId": "acme" }), "companyId"),
        ("search_deals", json!({ "stages": ["PROPOSAL"] }), "stages"),
        ("search_deals", json!({ "query": "x".repeat(201) }), "query"),
        ("search_companies", json!({ "query": "a\u{0}b" }), "query"),
        (
            "search_companies",
            json!({ "industry": "Tech" }),
            "industry",
        ),
        ("get_deal", json!({}), "dealId"),
        ("get_deal", json!({ "dealId": "123" }), "dealId"),
        (
            "get_deal",
            json!({ "dealId": f.own.to_string(), "activities": 99 }),
            "activities",
        ),
        ("create_deal", json!({ "title": "No company" }), "companyId"),
        (
            "create_deal",
            json!({ "companyId": f.acme.to_string(), "title": 5 }),
            "title",
        ),
        (
            "create_deal",
            json!({ "companyId": f.acme.to_string(), "title": "t", "amount": -5 }),
            "amount",
        ),
        (
            "create_contact",
            json!({ "firstName": "A", "email": "not-an-email" }),
            "email",
        ),
        (
            "create_contact",
            json!({ "firstName": "A", "department": "Legal" }),
            "department",
        ),
        ("log_activity", json!({ "subject": "no type" }), "type"),
        (
            "log_activity",
            json!({ "type": "CALL", "subject": "x", "dueAt": "tomorrow" }),
            "dueAt",
        ),
        (
            "log_activity",
            json!({ "type": "CALL", "subject": "x", "completed": true, "status": "PENDING" }),
            "status",
        ),
    ];
    for (tool, arguments, field) in cases {
        let err = tool_error(&client, tool, arguments.clone()).await;
        assert_eq!(err["code"], "BAD_USER_INPUT", "{tool}({arguments}): {err}");
        assert_eq!(err["field"], field, "{tool}({arguments}): {err}");
        assert!(
            err["message"].as_str().unwrap().contains(field),
            "{tool}({arguments}): {err}"
        );
    }
    // An unknown tool is the protocol's error, not a crash; the session still works.
    let unknown = client
        .call_tool(CallToolRequestParams::new("drop_database"))
        .await;
    assert!(unknown.is_err());
    ok(&client, "search_deals", json!({})).await;
    client.cancel().await.ok();
}

/// `POST /mcp` with a JSON-RPC message, through the whole router (no TCP).
async fn post(
    app: &TestApp,
    token: Option<&str>,
    message: Value,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut req = Request::post("/mcp")
        .header("host", "localhost")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let (status, headers, body) = app
        .request(req.body(Body::from(message.to_string())).expect("request"))
        .await;
    (
        status,
        headers,
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned())),
    )
}

#[tokio::test]
async fn mcp_refuses_anonymous_and_invalid_tokens_with_401() {
    let f = fixture().await;
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": { "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } },
    });
    for token in [None, Some("not-a-token"), Some("")] {
        let (status, headers, body) = post(&f.app, token, initialize.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}: {body}");
        assert!(headers.contains_key("www-authenticate"));
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    }
    // The official client without a token cannot even initialize.
    crypto_provider();
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(f.url.as_str()),
    );
    assert!(().serve(transport).await.is_err());
    // A token whose session was revoked stops working at once.
    let (_, json) = f
        .app
        .gql(Some(&f.rep), "mutation { logout }", json!({}))
        .await;
    assert!(json["errors"].is_null(), "{json}");
    let (status, _, _) = post(&f.app, Some(&f.rep), initialize).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn mcp_is_stateless_any_request_stands_alone() {
    let f = fixture().await;
    // Initialize: an answer, no session to remember.
    let (status, headers, body) = post(
        &f.app,
        Some(&f.rep),
        json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": { "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } },
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!headers.contains_key("mcp-session-id"));
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(body["result"]["serverInfo"]["name"], "crm");
    // A tool call on its own (as another instance would receive it) is answered in full.
    let (status, _, body) = post(
        &f.app,
        Some(&f.rep),
        json!({
            "jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": { "name": "get_deal", "arguments": { "dealId": f.own.to_string() } },
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["isError"], false);
    assert_eq!(body["result"]["structuredContent"]["id"], f.own.to_string());
    // A second instance over the same database answers the same call the same way.
    let other = api::AppState::new(f.app.db.clone(), f.app.state.config.as_ref().clone())
        .expect("second instance");
    let req = Request::post("/mcp")
        .header("host", "localhost")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("authorization", format!("Bearer {}", f.rep))
        .body(Body::from(
            json!({
                "jsonrpc": "2.0", "id": 3, "method": "tools/call",
                "params": { "name": "search_deals", "arguments": { "owner": "me" } },
            })
            .to_string(),
        ))
        .expect("request");
    let (status, _, bytes) = request_to(&other, req).await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(body["result"]["structuredContent"]["total"], 2);
    // There is no server-to-client stream to open.
    let (status, _, _) = {
        let req = Request::get("/mcp")
            .header("host", "localhost")
            .header("accept", "text/event-stream")
            .header("authorization", format!("Bearer {}", f.rep))
            .body(Body::empty())
            .expect("request");
        f.app.request(req).await
    };
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

    // A client of the newest protocol revision, which has no handshake at all: every call
    // carries its own protocol metadata.
    crypto_provider();
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(f.url.as_str()).auth_header(f.rep.as_str()),
    );
    let client = ()
        .serve_with_lifecycle(
            transport,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .expect("server/discover");
    let deal = ok(&client, "get_deal", json!({ "dealId": f.own.to_string() })).await;
    assert_eq!(deal["amount"], "15000.00");
    let err = tool_error(&client, "get_deal", json!({ "dealId": "nope" })).await;
    assert_eq!(err["field"], "dealId");
    client.cancel().await.ok();
}

#[tokio::test]
async fn mcp_refuses_a_user_who_must_change_their_password() {
    let f = fixture().await;
    f.app
        .raw(
            "UPDATE users SET must_change_password = $1 WHERE id = $2",
            vec![true.into(), f.r1.into()],
        )
        .await
        .expect("flag");
    let (status, _, body) = post(
        &f.app,
        Some(&f.rep),
        json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
}

#[tokio::test]
async fn mcp_owner_team_narrows_within_the_read_scope_and_names_only_visible_users() {
    let f = fixture().await;
    // r2 leaves: their deals stay with the team; the directory hides them from reps.
    f.app
        .raw(
            "UPDATE users SET active = $1 WHERE id = $2",
            vec![false.into(), f.r2.into()],
        )
        .await
        .expect("deactivate r2");
    for (who, token, names_r2) in [("rep", &f.rep, false), ("manager", &f.manager, true)] {
        let client = connect(&f.url, token).await;
        let all = ok(&client, "search_deals", json!({})).await;
        let team = ok(&client, "search_deals", json!({ "owner": "team" })).await;
        let ids =
            |v: &Value| -> Vec<String> { rows(v, "results").into_iter().map(|r| r.0).collect() };
        let (all_ids, team_ids) = (ids(&all), ids(&team));
        // Narrowing only: every "team" row is one "all" shows; the deal shared from West is
        // not the team's.
        assert!(
            team_ids.iter().all(|id| all_ids.contains(id)),
            "{who}: {team_ids:?}"
        );
        assert!(team_ids.contains(&f.teammates.to_string()), "{who}");
        assert!(!team_ids.contains(&f.shared.to_string()), "{who}");
        assert!(!team_ids.contains(&f.west.to_string()), "{who}");
        // The owner's name is what the GraphQL directory shows this user: hidden from the
        // rep once r2 is deactivated, shown to the manager.
        let (_, json) = f
            .app
            .gql(
                Some(token),
                "query($id: ID!) { deal(id: $id) { owner { name } } }",
                json!({ "id": f.teammates.to_string() }),
            )
            .await;
        let graphql_name = &json["data"]["deal"]["owner"]["name"];
        assert_eq!(!graphql_name.is_null(), names_r2, "{who}: {json}");
        let row = team["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == f.teammates.to_string())
            .unwrap();
        assert_eq!(&row["ownerName"], graphql_name, "{who}: {row}");
        let deal = ok(
            &client,
            "get_deal",
            json!({ "dealId": f.teammates.to_string() }),
        )
        .await;
        assert_eq!(&deal["ownerName"], graphql_name, "{who}: {deal}");
        client.cancel().await.ok();
    }
}

#[tokio::test]
async fn mcp_large_and_odd_arguments_are_answered_never_crashed() {
    let f = fixture().await;
    let client = connect(&f.url, &f.admin).await;
    // One stage named 90,000 times: more values than PostgreSQL binds in one statement,
    // unless each stage is bound once.
    let (is_error, many) = call(
        &client,
        "search_deals",
        json!({ "stage": vec!["PROPOSAL"; 90_000] }),
    )
    .await;
    assert!(!is_error, "90,000 stages: {many}");
    let one = ok(&client, "search_deals", json!({ "stage": "PROPOSAL" })).await;
    assert_eq!(rows(&many, "results"), rows(&one, "results"));
    assert_eq!(many["total"], 1);
    // LIKE wildcards in search text are text, not patterns.
    for tool in ["search_companies", "search_contacts", "search_deals"] {
        let everything = ok(&client, tool, json!({})).await;
        assert!(everything["total"].as_u64().unwrap() > 0, "{tool}");
        for wildcard in ["%", "_", "\\", "%a%"] {
            let found = ok(&client, tool, json!({ "query": wildcard })).await;
            assert_eq!(found["total"], 0, "{tool}({wildcard}): {found}");
        }
    }
    // A huge unknown argument name is refused without being echoed whole.
    let err = tool_error(&client, "search_deals", json!({ "x".repeat(100_000): 1 })).await;
    assert_eq!(err["code"], "BAD_USER_INPUT");
    assert!(
        err["field"].as_str().unwrap().chars().count() <= 65,
        "{err}"
    );
    assert!(err.to_string().len() < 2_000, "{err}");
    // A NUL deep under a long name: the path names it, bounded.
    let mut deep = json!(["ok", "no\u{0}"]);
    for _ in 0..50 {
        deep = json!({ "k".repeat(1_000): deep });
    }
    let err = tool_error(&client, "search_deals", json!({ "query": deep })).await;
    assert_eq!(err["code"], "BAD_USER_INPUT");
    let field = err["field"].as_str().unwrap();
    assert!(
        field.starts_with("query.kkk") && field.ends_with("[1]"),
        "{field}"
    );
    assert!(field.len() < 50 * 80, "{field}");
    // Numbers past every range are the argument's error.
    for (arguments, field) in [
        (json!({ "limit": 1e20 }), "limit"),
        (json!({ "limit": 18446744073709551615u64 }), "limit"),
        (json!({ "minAmount": "1e30" }), "minAmount"),
        (json!({ "maxAmount": 1e300 }), "maxAmount"),
        (json!({ "minAmount": "9".repeat(10_000) }), "minAmount"),
    ] {
        let err = tool_error(&client, "search_deals", arguments.clone()).await;
        assert_eq!(err["code"], "BAD_USER_INPUT", "{arguments}: {err}");
        assert_eq!(err["field"], field, "{arguments}: {err}");
    }
    let err = tool_error(
        &client,
        "get_deal",
        json!({ "dealId": f.own.to_string(), "activities": 1e20 }),
    )
    .await;
    assert_eq!(err["field"], "activities");
    client.cancel().await.ok();
}

#[tokio::test]
async fn mcp_a_finished_call_frees_its_in_flight_slot() {
    // One request at a time per user: each call holds the slot until its work is done
    // (the work runs in a task of rmcp's), and gives it back then, so calls one after
    // another are all served.
    let f = fixture_with(|c| c.limits.max_inflight_per_user = 1).await;
    let client = connect(&f.url, &f.rep).await;
    for _ in 0..5 {
        ok(&client, "search_deals", json!({})).await;
        ok(&client, "get_deal", json!({ "dealId": f.own.to_string() })).await;
        tool_error(&client, "get_deal", json!({ "dealId": "nope" })).await;
    }
    client.cancel().await.ok();
}

#[tokio::test]
async fn mcp_and_graphql_share_one_in_flight_allowance_per_user() {
    // One request at a time per user. While the rep's one slot is held (as a GraphQL
    // request in progress holds it), an MCP request of theirs waits and is then refused,
    // and so is a GraphQL request; another user is served; once the slot is free both are.
    let f = fixture_with(|c| c.limits.max_inflight_per_user = 1).await;
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": { "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } },
    });
    let held = f
        .app
        .state
        .in_flight_users
        .acquire(f.r1.to_string())
        .await
        .expect("the rep's slot");
    let (status, headers, body) = post(&f.app, Some(&f.rep), initialize.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(headers["retry-after"], "1");
    let (_, json) = f.app.gql(Some(&f.rep), "{ me { id } }", json!({})).await;
    assert_eq!(
        json["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{json}"
    );
    let (status, _, body) = post(&f.app, Some(&f.manager), initialize.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    drop(held);
    let (status, _, body) = post(&f.app, Some(&f.rep), initialize).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, json) = f.app.gql(Some(&f.rep), "{ me { id } }", json!({})).await;
    assert!(json["errors"].is_null(), "{json}");
}
