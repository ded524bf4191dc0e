//! A change and its event are one: the real `crm` binary is killed (SIGKILL) while writers
//! update deals, then restarted, several times. Afterwards every deal's version counts
//! exactly the update events it has (an update without its event, or an event without its
//! update, would break the count), every update a client saw acknowledged has its event,
//! and each deal's title is the last one its events record. On the embedded SQLite
//! database, and on PostgreSQL with `TEST_DATABASE_URL`.

#[path = "support/server.rs"]
mod server;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use server::{Client, Server, login};

const WRITERS: usize = 8;
const DEALS_PER_WRITER: usize = 3;
const ROUNDS: usize = 3;

const UPDATE: &str =
    "mutation($id: ID!, $t: String!) { updateDeal(id: $id, input: {title: $t}) { id version } }";

/// Updates its own deals with titles never used before, until the server is gone; records
/// each update the server acknowledged (deal, title).
async fn writer(
    addr: std::net::SocketAddr,
    token: String,
    deals: Vec<String>,
    tag: String,
    acked: Arc<Mutex<Vec<(String, String)>>>,
) {
    let Ok(mut c) = Client::connect(addr).await else {
        return;
    };
    for n in 0.. {
        let deal = &deals[n % deals.len()];
        let title = format!("{tag}-{n}");
        match c
            .graphql(
                Some(&token),
                UPDATE,
                serde_json::json!({ "id": deal, "t": title }),
            )
            .await
        {
            Ok((200, json)) if json["errors"].is_null() => {
                acked.lock().unwrap().push((deal.clone(), title));
            }
            // Busy or conflicting answers are not acknowledgements; a dead socket ends it.
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_keeps_each_change_with_its_event() {
    let mut server = Server::start(&[("CRM_MAX_INFLIGHT_PER_USER", "64")]).await;
    let token = login(server.addr, "admin@demo.crm", "demo-password-2026").await;
    let mut c = Client::connect(server.addr).await.unwrap();
    let n = WRITERS * DEALS_PER_WRITER;
    let (_, json) = c
        .graphql(
            Some(&token),
            &format!("{{ deals(first: {n}) {{ nodes {{ id }} }} }}"),
            serde_json::json!({}),
        )
        .await
        .unwrap();
    let deals: Vec<String> = json["data"]["deals"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(deals.len(), n, "{json}");

    let acked = Arc::new(Mutex::new(Vec::new()));
    for round in 0..ROUNDS {
        let tasks: Vec<_> = deals
            .chunks(DEALS_PER_WRITER)
            .enumerate()
            .map(|(w, mine)| {
                tokio::spawn(writer(
                    server.addr,
                    token.clone(),
                    mine.to_vec(),
                    format!("r{round}w{w}"),
                    acked.clone(),
                ))
            })
            .collect();
        // Let the writers get going, then kill the server mid-write.
        tokio::time::sleep(Duration::from_millis(400 + 150 * round as u64)).await;
        server.kill();
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(30), t)
                .await
                .expect("writers stop when the server is gone")
                .unwrap();
        }
        server.restart().await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= ROUNDS * WRITERS,
        "the writers got through: {} updates",
        acked.len()
    );

    // Read the database directly (the server is stopped first).
    server.kill();
    let db = sea_orm::Database::connect(server.database_url.as_str())
        .await
        .unwrap();
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT id, version, title FROM deals",
        ))
        .await
        .unwrap();
    let mut state: HashMap<String, (i32, String)> = HashMap::new();
    for row in rows {
        let id: uuid::Uuid = row.try_get("", "id").unwrap();
        state.insert(
            id.to_string(),
            (
                row.try_get("", "version").unwrap(),
                row.try_get("", "title").unwrap(),
            ),
        );
    }
    let order = if backend == DbBackend::Postgres {
        "txid, position"
    } else {
        "position"
    };
    let events = db
        .query_all_raw(Statement::from_string(
            backend,
            format!(
                "SELECT record_id, changes, ip_address, request_id FROM events WHERE action = 'RECORD_UPDATED' AND kind = 'DEAL' ORDER BY {order}"
            ),
        ))
        .await
        .unwrap();
    // Per deal: the titles its update events set, in commit order.
    let mut titles: HashMap<String, Vec<String>> = HashMap::new();
    for row in events {
        let id: uuid::Uuid = row.try_get("", "record_id").unwrap();
        // Where each came from: the client's address and the request's id.
        let ip: Option<String> = row.try_get("", "ip_address").unwrap();
        assert_eq!(ip.as_deref(), Some("127.0.0.1"));
        let request: Option<String> = row.try_get("", "request_id").unwrap();
        assert!(request.is_some_and(|r| r.len() >= 32), "a request id");
        let changes: String = row.try_get("", "changes").unwrap();
        let changes: serde_json::Value = serde_json::from_str(&changes).unwrap();
        let title = changes
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["field"] == "title")
            .and_then(|c| c["to"].as_str())
            .expect("every update changed the title")
            .to_owned();
        titles.entry(id.to_string()).or_default().push(title);
    }
    for deal in &deals {
        let (version, title) = &state[deal];
        let recorded = titles.get(deal).cloned().unwrap_or_default();
        assert_eq!(
            recorded.len() as i32,
            version - 1,
            "deal {deal}: one event per committed update"
        );
        if let Some(last) = recorded.last() {
            assert_eq!(
                last, title,
                "deal {deal}: the last event is the stored state"
            );
        }
    }
    for (deal, title) in &acked {
        assert!(
            titles.get(deal).is_some_and(|t| t.contains(title)),
            "acknowledged update {title} of {deal} has its event"
        );
    }
    eprintln!(
        "{ROUNDS} kills: {} acknowledged updates, {} committed in all",
        acked.len(),
        titles.values().map(Vec::len).sum::<usize>()
    );
    let _ = db.close().await;
}
