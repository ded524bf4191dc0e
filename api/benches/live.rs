//! Live delivery under load (run with `cargo bench -p api --bench live`; figures go to
//! docs/live.md).
//!
//! Starts the real `crm` binary on a fresh embedded database with the demo organisation
//! (on PostgreSQL with `BENCH_DATABASE_URL` or `TEST_DATABASE_URL`), opens
//! `BENCH_SUBSCRIBERS` (default 1,000) `recordChanged(kinds: [DEAL])` subscriptions spread
//! over every demo user (admin, managers, reps: several roles), `BENCH_PER_SOCKET` (10) per
//! WebSocket, waits until the server has caught them all up, then changes deals through
//! GraphQL at `BENCH_RATE` (100) per second for `BENCH_SECONDS` (10) as the admin. Each
//! change writes the time it was sent into the deal's title; each subscriber that receives
//! it records the delay. Prints deliveries, latency p50/p99/max (from the mutation being
//! sent to the subscriber reading the change, so the write itself is included), and the
//! CPU milliseconds per change of the server and of the database server processes (from
//! /proc).

#[path = "../tests/support/server.rs"]
mod server;
#[path = "../tests/support/ws.rs"]
mod ws;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use server::{Client, Server, env_or, login, postgres_cpu_ms};
use tokio_tungstenite::tungstenite::Message;

const PASSWORD: &str = "demo-password-2026";
const LIVE: &str = "subscription { recordChanged(kinds: [DEAL]) { op id deal { title } } }";
const UPDATE: &str =
    "mutation($id: ID!, $t: String!) { updateDeal(id: $id, input: {title: $t}) { id } }";

/// The bench's clock: milliseconds since `epoch`, written into titles.
fn now_us(epoch: Instant) -> u64 {
    epoch.elapsed().as_micros() as u64
}

/// Opens one socket carrying `n` subscriptions; records the delay of every change received.
async fn socket(
    addr: SocketAddr,
    token: String,
    n: usize,
    epoch: Instant,
    delays: Arc<Mutex<Vec<u64>>>,
    received: Arc<AtomicU64>,
) {
    let mut ws = ws::connect(addr, &token).await;
    for i in 0..n {
        ws::subscribe(&mut ws, &i.to_string(), LIVE, json!({})).await;
    }
    let mut local = Vec::new();
    while let Some(Ok(m)) = ws.next().await {
        let Message::Text(text) = m else { continue };
        // Cheap parsing: the title is "bench <micros>".
        if let Some(at) = text.find("bench ") {
            let digits: String = text[at + 6..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(sent) = digits.parse::<u64>() {
                local.push(now_us(epoch).saturating_sub(sent));
                received.fetch_add(1, Ordering::Relaxed);
                if local.len() >= 256 {
                    delays.lock().unwrap().append(&mut local);
                }
            }
        }
    }
    delays.lock().unwrap().append(&mut local);
}

/// Waits until the server's CPU use settles (every subscriber caught up).
async fn settle(server: &Server) {
    let mut last = server.cpu_ms();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = server.cpu_ms();
        if now - last < 30.0 {
            return;
        }
        last = now;
    }
}

fn quantile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn main() {
    let subscribers = env_or("BENCH_SUBSCRIBERS", 1000) as usize;
    let per_socket = env_or("BENCH_PER_SOCKET", 10).max(1) as usize;
    let rate = env_or("BENCH_RATE", 100);
    let seconds = env_or("BENCH_SECONDS", 10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let server = Server::start(&[
            ("CRM_MAX_INFLIGHT_PER_USER", "256"),
            ("CRM_MAX_INFLIGHT_PER_ADDRESS", "4096"),
            ("CRM_WS_MAX_OPERATIONS", &per_socket.to_string()),
        ])
        .await;
        let backend = if server.database_url.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        };
        let mut emails = vec!["admin@demo.crm".to_owned()];
        for team in ["east", "west", "enterprise"] {
            emails.push(format!("{team}.manager@demo.crm"));
            for r in 1..=3 {
                emails.push(format!("{team}.rep{r}@demo.crm"));
            }
        }
        let mut tokens = Vec::new();
        for e in &emails {
            tokens.push(login(server.addr, e, PASSWORD).await);
        }
        let admin = tokens[0].clone();
        let epoch = Instant::now();
        let delays = Arc::new(Mutex::new(Vec::new()));
        let received = Arc::new(AtomicU64::new(0));
        let sockets = subscribers.div_ceil(per_socket);
        let mut left = subscribers;
        for s in 0..sockets {
            let n = left.min(per_socket);
            left -= n;
            tokio::spawn(socket(
                server.addr,
                tokens[s % tokens.len()].clone(),
                n,
                epoch,
                delays.clone(),
                received.clone(),
            ));
        }
        let joined = Instant::now();
        settle(&server).await;
        println!(
            "{backend}: {subscribers} subscribers on {sockets} sockets over {} users, caught up in {:.1} s",
            emails.len(),
            joined.elapsed().as_secs_f64()
        );
        // The deals to change: all of them, round robin.
        let mut c = Client::connect(server.addr).await.expect("connect");
        let (_, json) = c
            .graphql(Some(&admin), "{ deals(first: 100) { nodes { id } } }", json!({}))
            .await
            .expect("deals");
        let deals: Vec<String> = json["data"]["deals"]["nodes"]
            .as_array()
            .expect("deals")
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect();
        delays.lock().unwrap().clear();
        received.store(0, Ordering::Relaxed);
        let (cpu0, db0) = (server.cpu_ms(), postgres_cpu_ms());
        // Writers: 4 connections sharing the rate.
        let writers = 4;
        let total = rate * seconds;
        let sent = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..writers {
            let (addr, admin, deals, sent) = (server.addr, admin.clone(), deals.clone(), sent.clone());
            tasks.push(tokio::spawn(async move {
                let mut c = Client::connect(addr).await.expect("connect");
                let mut i = w;
                loop {
                    let n = sent.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        return;
                    }
                    // Pace: change n is due at n / rate seconds.
                    let due = start + Duration::from_secs_f64(n as f64 / rate as f64);
                    tokio::time::sleep_until(due.into()).await;
                    let title = format!("bench {}", now_us(epoch));
                    let deal = &deals[i % deals.len()];
                    i += writers;
                    let _ = c
                        .graphql(Some(&admin), UPDATE, json!({ "id": deal, "t": title }))
                        .await;
                }
            }));
        }
        for t in tasks {
            t.await.expect("writer");
        }
        let wrote = start.elapsed();
        // Let the last deliveries arrive.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (cpu1, db1) = (server.cpu_ms(), postgres_cpu_ms());
        let mut d = delays.lock().unwrap().clone();
        d.sort_unstable();
        let per_change = |ms: f64| ms / total as f64;
        println!(
            "{backend}: {total} changes in {:.1} s ({:.0}/s), {} deliveries ({:.0} per change)",
            wrote.as_secs_f64(),
            total as f64 / wrote.as_secs_f64(),
            received.load(Ordering::Relaxed),
            received.load(Ordering::Relaxed) as f64 / total as f64
        );
        println!(
            "{backend}: delivery latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            quantile(&d, 0.5),
            quantile(&d, 0.99),
            quantile(&d, 1.0)
        );
        println!(
            "{backend}: CPU per change: server {:.2} ms, database {:.2} ms",
            per_change(cpu1 - cpu0),
            per_change(db1 - db0)
        );
    });
}
