//! `examples/`: every `examples/graphql/*.graphql` document is documented, parses, validates
//! against the real schema and returns meaningful data for a demo user; and the example
//! client (`cargo run --example client`) runs its whole tour against a live server.

#[path = "../../examples/client/flow.rs"]
mod flow;
#[path = "../../examples/client/http.rs"]
mod http;

use std::net::SocketAddr;
use std::path::Path;

use async_graphql::parser::types::DocumentOperations;
use axum::http::StatusCode;
use entity::enums::{DealStage, Priority};
use entity::{activity, company, contact, deal, user};
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::TestApp;

const REP: &str = "east.rep1@demo.crm";

fn graphql_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/graphql")
}

#[tokio::test]
async fn every_example_document_is_run_by_the_client_documented_and_parses() {
    let mut on_disk: Vec<String> = std::fs::read_dir(graphql_dir())
        .expect("examples/graphql/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".graphql"))
        .collect();
    on_disk.sort();
    let mut known: Vec<String> = flow::DOCUMENTS
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    known.sort();
    assert_eq!(
        on_disk, known,
        "examples/graphql/ and flow::DOCUMENTS (examples/client/flow.rs) differ: add each \
         document there (the client runs it) and to `run_document` below (the tests check it)"
    );

    let mut failures = Vec::new();
    for (name, text) in flow::DOCUMENTS {
        let header: Vec<&str> = text.lines().take_while(|l| l.starts_with('#')).collect();
        if header.len() < 2 || !header.iter().any(|l| l.contains("Variables")) {
            failures.push(format!(
                "{name}: needs a header comment saying what it is for and its `Variables`"
            ));
        }
        match async_graphql::parser::parse_query(text) {
            Ok(doc) => match &doc.operations {
                DocumentOperations::Multiple(ops) if ops.len() == 1 => {}
                _ => failures.push(format!("{name}: expected exactly one named operation")),
            },
            Err(err) => failures.push(format!("{name}: does not parse: {err}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Ids of demo records to feed the documents, read straight from the database so each
/// document runs on its own (one failing does not hide the others).
struct Demo {
    rep: user::Model,
    /// A deal the rep owns, with a contact.
    deal: deal::Model,
    /// Another deal the rep owns (to move).
    other_deal: deal::Model,
    contact: contact::Model,
    /// An open activity assigned to the rep.
    task: activity::Model,
}

async fn demo(db: &DatabaseConnection) -> Demo {
    let rep = user::Entity::find()
        .filter(user::Column::Email.eq(REP))
        .one(db)
        .await
        .unwrap()
        .expect("the demo rep");
    let deals = deal::Entity::find()
        .filter(deal::Column::OwnerId.eq(rep.id))
        .filter(deal::Column::ContactId.is_not_null())
        .filter(deal::Column::Stage.is_in([
            DealStage::Prospecting,
            DealStage::Qualification,
            DealStage::Proposal,
        ]))
        .order_by_asc(deal::Column::Id)
        .all(db)
        .await
        .unwrap();
    assert!(
        deals.len() >= 2,
        "the demo rep owns at least two open deals"
    );
    let contact = contact::Entity::find_by_id(deals[0].contact_id.expect("filtered"))
        .one(db)
        .await
        .unwrap()
        .expect("the deal's contact");
    let task = activity::Entity::find()
        .filter(activity::Column::AssignedTo.eq(rep.id))
        .filter(activity::Column::Completed.eq(false))
        .order_by_asc(activity::Column::Id)
        .one(db)
        .await
        .unwrap()
        .expect("the demo rep has an open task");
    Demo {
        rep,
        deal: deals[0].clone(),
        other_deal: deals[1].clone(),
        contact,
        task,
    }
}

/// The next stage on the board.
fn next_stage(stage: DealStage) -> (DealStage, &'static str) {
    match stage {
        DealStage::Prospecting => (DealStage::Qualification, "QUALIFICATION"),
        DealStage::Qualification => (DealStage::Proposal, "PROPOSAL"),
        _ => (DealStage::Negotiation, "NEGOTIATION"),
    }
}

fn dec(v: &Value) -> Option<Decimal> {
    v.as_str().and_then(|s| s.parse().ok())
}

fn ids(nodes: &Value) -> Vec<String> {
    nodes
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs one document as the signed-in rep with sensible variables and checks its data.
/// `Err` names what is wrong (GraphQL errors verbatim).
async fn run_document(
    app: &TestApp,
    token: &str,
    d: &Demo,
    name: &str,
    document: &str,
) -> Result<(), String> {
    let today = chrono::Utc::now().date_naive();
    let variables = match name {
        "login.graphql" => json!({ "email": REP, "password": api::seed::DEMO_PASSWORD }),
        "me.graphql" => json!({}),
        // The document's defaults: PROPOSAL/NEGOTIATION and >= 10,000; plus an explicit run.
        "deals_list.graphql" => json!({}),
        "deal_detail.graphql" => json!({ "id": d.deal.id }),
        "company_detail.graphql" => json!({ "id": d.deal.company_id }),
        "contacts_search.graphql" => {
            json!({ "search": d.contact.last_name.as_deref().expect("seeded").to_uppercase() })
        }
        "my_open_tasks.graphql" => json!({ "me": d.rep.id, "first": 100 }),
        "complete_activity.graphql" => {
            json!({ "id": d.task.id, "expectedVersion": d.task.version })
        }
        "create_company.graphql" => json!({ "input": {
            "name": "Docs Example Ltd",
            "domain": "docs-example.example",
            "industry": "RETAIL",
            "size": "SIZE_51_200",
            "phone": "+16175550199",
            "website": "https://docs-example.example",
        }}),
        "create_deal.graphql" => json!({ "input": {
            "companyId": d.deal.company_id,
            "title": "Docs example deal",
            "amount": "1234.50",
            "stage": "PROPOSAL",
            "expectedCloseDate": (today + chrono::Duration::days(45)).to_string(),
        }}),
        "update_deal.graphql" => json!({ "id": d.deal.id, "input": {
            "priority": "HIGH",
            "notes": "Updated by the examples test.",
            "expectedVersion": d.deal.version,
        }}),
        "move_deal.graphql" => json!({
            "id": d.other_deal.id,
            "stage": next_stage(d.other_deal.stage).1,
            "expectedVersion": d.other_deal.version,
        }),
        other => {
            return Err(format!(
                "no variables and checks for {other}: add them here"
            ));
        }
    };
    let token = (name != "login.graphql").then_some(token);
    let (status, body) = app.gql(token, document, variables).await;
    if let Some(errors) = body["errors"].as_array().filter(|e| !e.is_empty()) {
        return Err(format!(
            "HTTP {status}, errors: {}",
            Value::from(errors.clone())
        ));
    }
    if status != StatusCode::OK {
        return Err(format!("HTTP {status}: {body}"));
    }
    let data = &body["data"];
    let ensure = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("{what}; data: {data}"))
        }
    };
    match name {
        "login.graphql" => {
            ensure(data["login"]["accessToken"].is_string(), "an access token")?;
            ensure(
                data["login"]["user"]["role"] == "SALES_REP",
                "the rep's role",
            )?;
        }
        "me.graphql" => {
            ensure(data["me"]["email"] == REP, "me is the rep")?;
            ensure(data["me"]["team"]["name"] == "East Coast", "the rep's team")?;
            ensure(
                data["me"]["team"]["manager"]["name"].is_string(),
                "team manager",
            )?;
        }
        "deals_list.graphql" => {
            // The defaults list PROPOSAL/NEGOTIATION deals of at least 10,000 whose amount
            // the viewer may read; the rep's own open deals are all QUALIFICATION, so widen
            // the stages to see rows, page through them, and check every row.
            let (_, first) = app
                .gql(
                    token,
                    document,
                    json!({ "stages": ["QUALIFICATION", "PROPOSAL", "NEGOTIATION"], "first": 2 }),
                )
                .await;
            let conn = &first["data"]["deals"];
            let total = conn["totalCount"].as_i64().unwrap_or(0);
            ensure(total >= 3, "at least three qualified deals >= 10,000")?;
            let mut seen = Vec::new();
            let mut page = first.clone();
            loop {
                let conn = &page["data"]["deals"];
                let edges = conn["edges"].as_array().cloned().unwrap_or_default();
                ensure(!edges.is_empty(), "a non-empty page")?;
                for e in &edges {
                    let n = &e["node"];
                    ensure(e["cursor"].is_string(), "an edge cursor")?;
                    ensure(
                        ["QUALIFICATION", "PROPOSAL", "NEGOTIATION"]
                            .contains(&n["stage"].as_str().unwrap_or("")),
                        "only the requested stages",
                    )?;
                    ensure(
                        dec(&n["amount"]).is_some_and(|a| a >= Decimal::from(10_000)),
                        "a readable amount >= 10,000",
                    )?;
                    ensure(n["viewerCan"]["readAmount"] == true, "viewerCan.readAmount")?;
                    ensure(n["company"]["name"].is_string(), "the company's name")?;
                    seen.push(n.clone());
                }
                if conn["pageInfo"]["hasNextPage"] != true {
                    break;
                }
                let (_, next) = app
                    .gql(
                        token,
                        document,
                        json!({
                            "stages": ["QUALIFICATION", "PROPOSAL", "NEGOTIATION"],
                            "first": 2,
                            "after": conn["pageInfo"]["endCursor"],
                        }),
                    )
                    .await;
                page = next;
            }
            ensure(seen.len() as i64 == total, "pages add up to totalCount")?;
            let amounts: Vec<Decimal> = seen.iter().filter_map(|n| dec(&n["amount"])).collect();
            ensure(
                amounts.windows(2).all(|w| w[0] >= w[1]),
                "ordered by amount, largest first",
            )?;
            let mut unique = ids(&Value::from(seen.clone()));
            unique.sort();
            unique.dedup();
            ensure(unique.len() == seen.len(), "no deal on two pages")?;
            // With the defaults, every listed deal is late-stage and readable.
            for n in data["deals"]["edges"].as_array().into_iter().flatten() {
                ensure(
                    ["PROPOSAL", "NEGOTIATION"]
                        .contains(&n["node"]["stage"].as_str().unwrap_or("")),
                    "defaults: PROPOSAL or NEGOTIATION only",
                )?;
            }
        }
        "deal_detail.graphql" => {
            let deal = &data["deal"];
            ensure(deal["id"] == d.deal.id.to_string(), "the deal")?;
            ensure(deal["amount"].is_string(), "the owner sees the amount")?;
            ensure(
                deal["company"]["contacts"]["nodes"]
                    .as_array()
                    .is_some_and(|c| !c.is_empty() && c.iter().all(|c| c["fullName"].is_string())),
                "the company's contacts",
            )?;
            ensure(
                deal["contact"]["fullName"] == d.contact.full_name.as_str(),
                "the contact",
            )?;
            ensure(deal["owner"]["name"] == d.rep.name.as_str(), "the owner")?;
            ensure(
                deal["owner"]["team"]["name"] == "East Coast",
                "the owner's team",
            )?;
            ensure(deal["shares"].is_array(), "shares")?;
            ensure(
                deal["activities"]["nodes"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty() && a.iter().all(|a| a["subject"].is_string())),
                "the deal's activities",
            )?;
            ensure(deal["viewerCan"]["update"] == true, "the owner may update")?;
            ensure(deal["viewerCan"]["delete"] == false, "reps never delete")?;
        }
        "company_detail.graphql" => {
            let c = &data["company"];
            ensure(c["id"] == d.deal.company_id.to_string(), "the company")?;
            ensure(c["contacts"]["totalCount"].as_i64() >= Some(1), "contacts")?;
            ensure(
                ids(&c["deals"]["nodes"]).contains(&d.deal.id.to_string()),
                "the company's deals include the rep's deal",
            )?;
            ensure(
                c["activities"]["totalCount"].as_i64() >= Some(1),
                "activities",
            )?;
            ensure(c["owner"]["name"].is_string(), "the owner")?;
        }
        "contacts_search.graphql" => {
            let nodes = data["contacts"]["nodes"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            ensure(
                ids(&Value::from(nodes.clone())).contains(&d.contact.id.to_string()),
                "the search (upper-cased last name) finds the contact",
            )?;
            let needle = d.contact.last_name.as_deref().unwrap_or("").to_lowercase();
            ensure(
                nodes.iter().all(|n| {
                    ["fullName", "email", "title"].iter().any(|f| {
                        n[f].as_str()
                            .is_some_and(|s| s.to_lowercase().contains(&needle))
                    })
                }),
                "every hit matches the search",
            )?;
        }
        "my_open_tasks.graphql" => {
            let nodes = data["activities"]["nodes"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            ensure(!nodes.is_empty(), "open tasks")?;
            let expected: Vec<String> = activity::Entity::find()
                .filter(activity::Column::AssignedTo.eq(d.rep.id))
                .filter(activity::Column::Completed.eq(false))
                .all(&app.db)
                .await
                .unwrap()
                .iter()
                .map(|a| a.id.to_string())
                .collect();
            let mut got = ids(&Value::from(nodes.clone()));
            ensure(
                got.len() == expected.len(),
                "all and only the rep's open tasks",
            )?;
            got.sort();
            let mut expected = expected;
            expected.sort();
            ensure(got == expected, "all and only the rep's open tasks")?;
            let due: Vec<&str> = nodes.iter().filter_map(|n| n["dueAt"].as_str()).collect();
            let parsed: Vec<chrono::DateTime<chrono::Utc>> =
                due.iter().filter_map(|s| s.parse().ok()).collect();
            ensure(
                parsed.len() == nodes.len() && parsed.windows(2).all(|w| w[0] <= w[1]),
                "ordered by due date, soonest first",
            )?;
        }
        "complete_activity.graphql" => {
            let a = &data["completeActivity"];
            ensure(a["completed"] == true, "completed")?;
            ensure(a["completedAt"].is_string(), "completedAt set")?;
            ensure(
                a["version"].as_i64() == Some(i64::from(d.task.version) + 1),
                "version incremented",
            )?;
        }
        "create_company.graphql" => {
            let c = &data["createCompany"];
            ensure(c["name"] == "Docs Example Ltd", "the name")?;
            ensure(c["domain"] == "docs-example.example", "the domain")?;
            ensure(
                c["owner"]["name"] == d.rep.name.as_str(),
                "owned by the rep",
            )?;
            ensure(c["viewerCan"]["update"] == true, "the owner may update it")?;
            let id: Uuid = c["id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or_default();
            ensure(
                company::Entity::find_by_id(id)
                    .one(&app.db)
                    .await
                    .unwrap()
                    .is_some(),
                "stored",
            )?;
        }
        "create_deal.graphql" => {
            let c = &data["createDeal"];
            ensure(c["stage"] == "PROPOSAL", "the stage")?;
            ensure(c["probability"] == 50, "probability derived from the stage")?;
            ensure(
                dec(&c["amount"]) == Some(Decimal::new(123_450, 2)),
                "the exact amount",
            )?;
            ensure(
                c["owner"]["name"] == d.rep.name.as_str(),
                "owned by the rep",
            )?;
            ensure(c["version"].is_i64(), "a version")?;
        }
        "update_deal.graphql" => {
            let u = &data["updateDeal"];
            ensure(u["priority"] == "HIGH", "the new priority")?;
            ensure(
                u["version"].as_i64() == Some(i64::from(d.deal.version) + 1),
                "version incremented",
            )?;
            // Replaying the version read before the update is a conflict and writes nothing.
            let (_, stale) = app
                .gql(
                    token,
                    document,
                    json!({ "id": d.deal.id, "input": {
                        "priority": "LOW",
                        "expectedVersion": d.deal.version,
                    }}),
                )
                .await;
            ensure(
                stale["errors"][0]["extensions"]["code"] == "CONFLICT",
                "a stale expectedVersion is CONFLICT",
            )?;
            let stored = deal::Entity::find_by_id(d.deal.id)
                .one(&app.db)
                .await
                .unwrap()
                .expect("deal");
            ensure(
                stored.priority == Priority::High,
                "the stale update wrote nothing",
            )?;
        }
        "move_deal.graphql" => {
            let (stage, stage_name) = next_stage(d.other_deal.stage);
            let m = &data["moveDeal"];
            ensure(m["stage"] == stage_name, "the new stage")?;
            ensure(
                m["probability"].as_i64() == Some(i64::from(stage.probability())),
                "probability follows the stage",
            )?;
            ensure(m["actualCloseDate"].is_null(), "still open")?;
        }
        _ => unreachable!("variables above cover the same names"),
    }
    Ok(())
}

#[tokio::test]
async fn every_example_document_validates_and_returns_data_for_a_demo_rep() {
    let app = TestApp::new().await;
    api::seed::seed_demo(&app.db).await.expect("seed");
    let (token, _) = app.login(REP, api::seed::DEMO_PASSWORD).await;
    let demo = demo(&app.db).await;

    let mut failures = Vec::new();
    for (name, document) in flow::DOCUMENTS {
        if let Err(err) = run_document(&app, &token, &demo, name, document).await {
            failures.push(format!("examples/graphql/{name}: {err}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Serves the app on an ephemeral port, as `crm serve` does.
async fn serve(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = api::app(app.state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}/graphql")
}

#[tokio::test]
async fn the_example_client_runs_its_tour_against_a_live_server_for_every_demo_user() {
    let app = TestApp::new().await;
    let logins = api::seed::seed_demo(&app.db).await.expect("seed");
    let url = serve(&app).await;
    let transport = http::Http::new(&url).expect("url");

    // The default user twice (a second run must not trip over the first one's records),
    // then everyone else once: admins, managers and reps see very different data.
    let mut users = vec![REP.to_owned(), REP.to_owned()];
    users.extend(logins.into_iter().map(|l| l.email).filter(|e| e != REP));
    for (run, email) in users.iter().enumerate() {
        let mut steps = Vec::new();
        flow::run(&transport, email, api::seed::DEMO_PASSWORD, &mut |s| {
            steps.push(s);
        })
        .await
        .unwrap_or_else(|err| panic!("run {run} as {email}: {err:#}"));

        let documents: Vec<&str> = steps.iter().map(|s| s.document).collect();
        let expected: Vec<&str> = flow::DOCUMENTS.iter().map(|(name, _)| *name).collect();
        assert_eq!(documents, expected, "{email}: every document, in order");
        for s in &steps {
            assert!(!s.summary.is_empty(), "{email}: {}", s.document);
            if s.document != "complete_activity.graphql" {
                assert!(s.data.is_object(), "{email}: {}: {}", s.document, s.data);
            }
        }
        if email == REP {
            assert!(
                steps[2].summary.starts_with("3 of ") && steps[2].summary.contains("page 2"),
                "{email}: {}",
                steps[2].summary
            );
            assert!(
                steps[7].summary.starts_with("completed "),
                "{email}: {}",
                steps[7].summary
            );
        }
    }

    // Each run left its company and deal behind, edited and moved.
    let created = company::Entity::find()
        .filter(company::Column::Name.starts_with("Example Client Co "))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(created.len(), users.len());
    let rep = user::Entity::find()
        .filter(user::Column::Email.eq(REP))
        .one(&app.db)
        .await
        .unwrap()
        .expect("rep");
    assert_eq!(created.iter().filter(|c| c.owner_id == rep.id).count(), 2);
    for c in created {
        let deals = deal::Entity::find()
            .filter(deal::Column::CompanyId.eq(c.id))
            .all(&app.db)
            .await
            .unwrap();
        assert_eq!(deals.len(), 1, "{}", c.name);
        assert_eq!(deals[0].stage, DealStage::Qualification);
        assert_eq!(deals[0].priority, Priority::High);
        assert_eq!(deals[0].amount_cents, 2_750_000);
        assert_eq!(deals[0].version, 3);
    }
}

#[tokio::test]
async fn the_example_client_explains_an_unreachable_server_and_a_refused_login() {
    // A port nobody listens on: bind one, then let it go.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let transport = http::Http::new(&format!("http://{addr}/graphql")).unwrap();
    let err = flow::run(&transport, REP, "x", &mut |_| {})
        .await
        .expect_err("nothing listens there");
    let message = format!("{err:#}");
    assert!(
        message.contains("cannot reach the CRM server") && message.contains("login.graphql"),
        "{message}"
    );

    let https = http::Http::new("https://crm.example/graphql")
        .err()
        .expect("https refused");
    assert!(format!("{https:#}").contains("plain http"), "{https:#}");

    let app = TestApp::new().await;
    api::seed::seed_demo(&app.db).await.expect("seed");
    let transport = http::Http::new(&serve(&app).await).unwrap();
    let err = flow::run(&transport, REP, "not the password", &mut |_| {})
        .await
        .expect_err("wrong password");
    let message = format!("{err:#}");
    assert!(
        message.starts_with("login.graphql failed: UNAUTHENTICATED"),
        "{message}"
    );
}
