//! Two server processes on one PostgreSQL database: a scheduled automation fires exactly
//! once per fire time (each fire's jobs are written by one instance), and each job runs
//! once. PostgreSQL only (`TEST_DATABASE_URL`): the embedded SQLite database serves one
//! process.

#[path = "support/server.rs"]
mod server;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};
use server::{Client, Server, login};

const PASSWORD: &str = "demo-password-2026";

async fn gql(addr: SocketAddr, token: &str, query: &str, vars: Value) -> Value {
    let mut c = Client::connect(addr).await.unwrap();
    let (status, json) = c.graphql(Some(token), query, vars).await.unwrap();
    assert_eq!(status, 200, "{json}");
    assert!(json["errors"].is_null(), "{json}");
    json["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_fires_once_per_period_across_instances() {
    if !std::env::var("TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        eprintln!("skipped: several instances need PostgreSQL (set TEST_DATABASE_URL)");
        return;
    }
    let a = Server::start(&[]).await;
    let b = Server::beside(&a, &[]).await;
    let admin = login(a.addr, "admin@demo.crm", PASSWORD).await;
    // Every second: one notification to the admins per fire.
    let created = gql(
        a.addr,
        &admin,
        "mutation($i: AutomationInput!) { createAutomation(input: $i) { id } }",
        json!({ "i": {
            "name": "Heartbeat",
            "trigger": "SCHEDULE",
            "schedule": "* * * * * *",
            "actions": [{ "notify": { "recipients": ["ADMINS"], "title": "Tick", "body": "Still here" } }]
        }}),
    )
    .await;
    let id = created["createAutomation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_secs(5)).await;
    gql(
        b.addr,
        &admin,
        "mutation($id: ID!) { updateAutomation(id: $id, input: {enabled: false}) { id } }",
        json!({ "id": id }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let db = Database::connect(a.database_url.as_str()).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT context, status FROM jobs WHERE automation_id = $1::uuid",
            [id.clone().into()],
        ))
        .await
        .unwrap();
    let mut per_fire: HashMap<String, usize> = HashMap::new();
    for r in &rows {
        let context: String = r.try_get("", "context").unwrap();
        let status: String = r.try_get("", "status").unwrap();
        assert_eq!(status, "succeeded", "{context}");
        let context: Value = serde_json::from_str(&context).unwrap();
        *per_fire
            .entry(context["fired_at"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    assert!(
        per_fire.len() >= 3,
        "fired {} times in 5 s: {per_fire:?}",
        per_fire.len()
    );
    assert!(
        per_fire.values().all(|&n| n == 1),
        "a fire time was claimed twice: {per_fire:?}"
    );
    // Each job ran once: one run each, and one notification per admin per fire.
    let runs = gql(
        a.addr,
        &admin,
        "query($id: ID!) { automationRuns(automationId: $id, first: 100) { nodes { jobId status } } }",
        json!({ "id": id }),
    )
    .await;
    let runs = runs["automationRuns"]["nodes"].as_array().unwrap();
    assert_eq!(runs.len(), rows.len(), "{runs:?}");
    let notes = gql(
        b.addr,
        &admin,
        "{ notifications(first: 100) { nodes { kind title } } }",
        json!({}),
    )
    .await;
    let ticks = notes["notifications"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["title"] == "Tick")
        .count();
    assert_eq!(ticks, rows.len());
    db.close().await.ok();
}
