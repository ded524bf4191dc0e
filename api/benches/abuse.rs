//! One abusive client against one ordinary client, from outside, on loopback (run with
//! `cargo bench -p api --bench abuse`; figures go to docs/hardening.md).
//!
//! Starts the real `crm` binary on a fresh embedded database with the demo organisation.
//! A rep (the victim) lists their first 25 deals, one request at a time, for
//! `BENCH_SECONDS` (default 10) alone, then while an abuser runs for the same time:
//! 1. an admin on `BENCH_ABUSERS` connections (default 16), each sending documents with
//!    the most aliases allowed, every alias a 100-row list with relations;
//! 2. a sign-in flood: the same number of connections sending wrong passwords.
//!
//! Prints the victim's p50/p99 in each phase, the abuser's answers by status, and the
//! server's CPU milliseconds per request (from /proc). Exits non-zero when the victim's p99
//! under abuse passes one second.

#[path = "../tests/support/server.rs"]
mod server;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use server::{Client, Server, env_or, login, quantile_ms};

const VICTIM_QUERY: &str =
    "{ deals(first: 25) { nodes { id title amount stage company { name } } } }";
const PASSWORD: &str = "demo-password-2026";

/// Runs the victim for `seconds`; returns sorted latencies and how many requests failed.
async fn victim(server: &Server, token: &str, seconds: u64) -> (Vec<Duration>, u64) {
    let mut c = Client::connect(server.addr).await.expect("connect");
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut latencies = Vec::new();
    let mut failed = 0;
    while Instant::now() < end {
        let t = Instant::now();
        let (status, json) = c
            .graphql(Some(token), VICTIM_QUERY, serde_json::json!({}))
            .await
            .expect("victim request");
        latencies.push(t.elapsed());
        if status != 200 || json.get("errors").is_some() {
            failed += 1;
        }
    }
    latencies.sort();
    (latencies, failed)
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    refused: AtomicU64,
    other: AtomicU64,
}

/// Starts `connections` abusers sending `query` as `token` (or signing in when `None`).
fn abuse(
    server: &Server,
    token: Option<String>,
    query: Arc<String>,
    connections: u64,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..connections)
        .map(|i| {
            let (addr, token, query, stop, tally) = (
                server.addr,
                token.clone(),
                query.clone(),
                stop.clone(),
                tally.clone(),
            );
            tokio::spawn(async move {
                let mut c = Client::connect(addr).await.expect("connect");
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let vars = serde_json::json!({ "e": format!("x{i}-{n}@example.com"), "p": "wrong password!!" });
                    let Ok((status, json)) = c.graphql(token.as_deref(), &query, vars).await else {
                        c = Client::connect(addr).await.expect("reconnect");
                        continue;
                    };
                    let code = json["errors"][0]["extensions"]["code"].as_str();
                    let counter = match (status, code) {
                        (429 | 503, _) | (_, Some("RATE_LIMITED")) => &tally.refused,
                        (200, None | Some("UNAUTHENTICATED")) => &tally.ok,
                        _ => &tally.other,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect()
}

fn report(name: &str, lat: &[Duration], failed: u64) -> f64 {
    let p99 = quantile_ms(lat, 0.99);
    println!(
        "{name:<34} {:>6} requests  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  failed {failed}",
        lat.len(),
        quantile_ms(lat, 0.5),
        p99,
        quantile_ms(lat, 1.0)
    );
    p99
}

#[tokio::main]
async fn main() {
    let seconds = env_or("BENCH_SECONDS", 10);
    let connections = env_or("BENCH_ABUSERS", 16);
    let server = Server::start(&[("CRM_LOGIN_MAX_FAILURES_PER_ADDRESS", "1000000")]).await;
    let rep = login(server.addr, "east.rep1@demo.crm", PASSWORD).await;
    let admin = login(server.addr, "admin@demo.crm", PASSWORD).await;

    let cpu0 = server.cpu_ms();
    let (base, base_failed) = victim(&server, &rep, seconds).await;
    report("victim alone", &base, base_failed);
    let cpu_base = (server.cpu_ms() - cpu0) / base.len().max(1) as f64;

    let aliases: String = (0..50)
        .map(|i| format!("a{i}: deals(first: 100) {{ totalCount nodes {{ id amount company {{ name }} owner {{ name }} }} }} "))
        .collect();
    let heavy = Arc::new(format!("{{ {aliases} }}"));
    let signin = Arc::new(
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }"
            .to_owned(),
    );
    let mut worst: f64 = 0.0;
    for (name, token, query) in [
        (
            "victim + admin, 50 aliases x 100 rows",
            Some(admin.clone()),
            heavy,
        ),
        ("victim + sign-in flood", None, signin),
    ] {
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Tally::default());
        let cpu0 = server.cpu_ms();
        let started = Instant::now();
        let tasks = abuse(
            &server,
            token,
            query,
            connections,
            stop.clone(),
            tally.clone(),
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (lat, failed) = victim(&server, &rep, seconds).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let cpu = server.cpu_ms() - cpu0;
        worst = worst.max(report(name, &lat, failed));
        let (ok, refused, other) = (
            tally.ok.load(Ordering::Relaxed),
            tally.refused.load(Ordering::Relaxed),
            tally.other.load(Ordering::Relaxed),
        );
        let total = ok + refused + other + lat.len() as u64;
        println!(
            "{:<34} abuser answered {ok} ({:.0}/s), refused {refused}, other {other}; server CPU {:.2} ms/request",
            "",
            ok as f64 / elapsed,
            cpu / total.max(1) as f64
        );
    }
    println!("victim alone: server CPU {cpu_base:.2} ms/request");
    println!("peak RSS {} MiB", server.status_kib("VmHWM") / 1024);
    if worst > 1000.0 {
        println!("FAIL: the victim's p99 under abuse was {worst:.0} ms (bound: 1,000 ms)");
        std::process::exit(1);
    }
    println!("ok: the victim's p99 under abuse stayed under 1 s ({worst:.0} ms)");
}
