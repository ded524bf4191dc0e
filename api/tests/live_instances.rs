//! Several instances on one PostgreSQL database: a change made through instance A reaches a
//! `recordChanged` subscriber on instance B within 2 s, nothing about it reaches a
//! subscriber who may not read it, and a subscriber whose instance was killed resumes from
//! its last cursor on the restarted instance without losing the change made meanwhile.
//! PostgreSQL only (`TEST_DATABASE_URL`): the embedded SQLite database serves one process.

#[path = "support/server.rs"]
mod server;
#[path = "support/ws.rs"]
mod ws;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use server::{Client, Server, login};
use ws::{Socket, next};

const PASSWORD: &str = "demo-password-2026";

const LIVE: &str = "subscription($since: String) { recordChanged(kinds: [DEAL], since: $since) { op id cursor deal { id title } } }";

async fn subscribe(addr: SocketAddr, token: &str, since: Option<&str>) -> Socket {
    let mut socket = ws::connect(addr, token).await;
    ws::subscribe(&mut socket, "1", LIVE, json!({ "since": since })).await;
    socket
}

async fn gql(addr: SocketAddr, token: &str, query: &str, vars: Value) -> Value {
    let mut c = Client::connect(addr).await.unwrap();
    let (status, json) = c.graphql(Some(token), query, vars).await.unwrap();
    assert_eq!(status, 200, "{json}");
    assert!(json["errors"].is_null(), "{json}");
    json["data"].clone()
}

async fn create_deal(addr: SocketAddr, token: &str, title: &str) -> String {
    let company = gql(
        addr,
        token,
        "{ companies(first: 1) { nodes { id } } }",
        json!({}),
    )
    .await["companies"]["nodes"][0]["id"]
        .clone();
    gql(
        addr,
        token,
        "mutation($c: ID!, $t: String!) { createDeal(input: {companyId: $c, title: $t}) { id } }",
        json!({ "c": company, "t": title }),
    )
    .await["createDeal"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_instance_reaches_subscribers_of_another() {
    if !std::env::var("TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        eprintln!("skipped: several instances need PostgreSQL (set TEST_DATABASE_URL)");
        return;
    }
    let a = Server::start(&[]).await;
    let mut b = Server::beside(&a, &[]).await;
    let teammate = login(a.addr, "east.rep2@demo.crm", PASSWORD).await;
    let reader = login(b.addr, "east.rep1@demo.crm", PASSWORD).await;
    let outsider = login(b.addr, "west.rep1@demo.crm", PASSWORD).await;
    let mut east = subscribe(b.addr, &reader, None).await;
    let mut west = subscribe(b.addr, &outsider, None).await;
    // Give both subscriptions time to register before the change.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let started = Instant::now();
    let deal = create_deal(a.addr, &teammate, "Made on A").await;
    let m = next(&mut east, Duration::from_secs(2))
        .await
        .expect("the change reached instance B within 2 s");
    let elapsed = started.elapsed();
    let change = &m["payload"]["data"]["recordChanged"];
    assert_eq!(change["op"], "UPSERT", "{m}");
    assert_eq!(change["deal"]["id"], deal.as_str());
    eprintln!("A → B delivery: {} ms", elapsed.as_millis());
    assert!(
        next(&mut west, Duration::from_secs(2)).await.is_none(),
        "nothing about another team's deal"
    );

    // B dies; a change is made through A meanwhile; the subscriber resumes on the
    // restarted B from the last cursor it applied and gets it.
    let cursor = change["cursor"].as_str().unwrap().to_owned();
    drop(east);
    b.kill();
    let missed = create_deal(a.addr, &teammate, "Made while B was down").await;
    b.restart().await;
    let mut east = subscribe(b.addr, &reader, Some(&cursor)).await;
    let m = next(&mut east, Duration::from_secs(10))
        .await
        .expect("the missed change after resuming");
    let change = &m["payload"]["data"]["recordChanged"];
    assert_eq!(change["deal"]["id"], missed.as_str(), "{m}");
    assert_eq!(change["deal"]["title"], "Made while B was down");
}
