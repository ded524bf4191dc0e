//! Read load on a large organisation, from outside (run with `cargo bench -p api --bench
//! load`; figures go to docs/performance.md).
//!
//! Builds the data set of issue 17 — 56 users (5 teams of a manager and 10 reps, one
//! admin), 5,000 companies, `BENCH_DEALS` (100,000) deals of which 90 % have a company owned
//! in the owner's team (and 50 owned by a rep alone in a team: the sparse case), 10,000
//! shares of which 30 % edit — in a fresh SQLite file, or in a
//! new PostgreSQL database when `BENCH_DATABASE_URL` is set (dropped afterwards); starts the
//! release `crm` server on it; then drives each query with 16 keep-alive connections
//! (`BENCH_CONNECTIONS`) for `BENCH_SECONDS` (8) after a 1 s warm-up, all on loopback, and
//! prints requests per second, p50/p99 latency, and CPU milliseconds per request of the
//! server process and of the PostgreSQL processes (from /proc): the steadiest figure on a
//! shared machine.

#[path = "../tests/support/server.rs"]
mod server;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crm_testkit::{Org, PASSWORD};
use entity::enums::{DealStage, Role, SharePermission};
use migration::{Migrator, MigratorTrait};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::TransactionTrait;
use serde_json::json;
use server::{Client, Server, env_or, login, postgres_cpu_ms, psql, quantile_ms};
use uuid::Uuid;

const REP_PAGE: &str = "{ deals(first: 25) { nodes { id title amount } } }";
const MANAGER_PAGE: &str =
    "{ deals(first: 50) { nodes { id title amount company { name } owner { name } } } }";
const COUNT: &str = "{ deals { totalCount } }";
const PIPELINE: &str = "{ pipeline { stage count totalAmount } }";
const DASHBOARD: &str = "{ dashboard {
    revenue { thisMonth lastMonth change changePercent }
    closingSoon { totalCount totalAmount deals { id title amount expectedCloseDate } }
    conversion { rate }
    revenueByMonth { month revenue }
    openDealsByStage { stage count totalAmount weightedAmount }
    topCompanies { name wonAmount }
    repPerformance { ownerId deals won amountWon winRate }
    dealsBySource { source count amount }
} }";

/// The organisation; returns the emails of the benchmarked rep and manager.
async fn seed(db: &sea_orm::DatabaseConnection, deals: usize) -> (String, String) {
    let mut rng = StdRng::seed_from_u64(17);
    let mut org = Org::new();
    let mut team_reps: Vec<Vec<Uuid>> = Vec::new();
    for t in 0..5 {
        let manager = org
            .user()
            .name(format!("Manager {t}"))
            .email(format!("manager{t}@load.test"))
            .role(Role::Manager)
            .add();
        let team = org
            .team()
            .name(format!("Team {t}"))
            .manager(manager.id)
            .add();
        let reps = (0..10)
            .map(|r| {
                org.user()
                    .name(format!("Rep {t}.{r}"))
                    .email(format!("rep{t}.{r}@load.test"))
                    .role(Role::SalesRep)
                    .team(team.id)
                    .add()
                    .id
            })
            .collect();
        team_reps.push(reps);
    }
    org.user()
        .name("Admin")
        .email("admin@load.test")
        .role(Role::Admin)
        .add();
    let users: Vec<Uuid> = org.users.iter().map(|u| u.id).collect();
    // The sparse case: a rep alone in a team, who reads their own 50 deals, spread through
    // the table, and nothing else (no share names them).
    let solo_team = org.team().name("Solo").add();
    let solo = org
        .user()
        .name("Solo rep")
        .email("solo@load.test")
        .role(Role::SalesRep)
        .team(solo_team.id)
        .add()
        .id;
    // Companies owned round-robin by the reps, remembered per team.
    let mut team_companies: Vec<Vec<Uuid>> = vec![Vec::new(); 5];
    for i in 0..5_000 {
        let t = i % 5;
        let owner = team_reps[t][(i / 5) % 10];
        let id = org
            .company()
            .name(format!("Company {i}"))
            .owner(owner)
            .add()
            .id;
        team_companies[t].push(id);
    }
    let stages = [
        DealStage::Prospecting,
        DealStage::Qualification,
        DealStage::Proposal,
        DealStage::Negotiation,
        DealStage::ClosedWon,
        DealStage::ClosedLost,
    ];
    write(db, &mut org).await;
    for i in 0..deals {
        // In transactions of 20,000 deals: PostgreSQL's totals trigger updates the same few
        // hundred totals rows for every deal, and within one transaction each update walks
        // the row's versions written earlier by the same transaction (a 1,000,000-deal
        // transaction did not finish in 10 minutes).
        if i > 0 && i % 20_000 == 0 {
            write(db, &mut org).await;
        }
        let t = rng.gen_range(0..5);
        let owner = team_reps[t][rng.gen_range(0..10)];
        let company_team = if rng.gen_range(0..10) == 0 {
            rng.gen_range(0..5)
        } else {
            t
        };
        let companies = &team_companies[company_team];
        let owner = if i % (deals / 50).max(1) == 0 {
            solo
        } else {
            owner
        };
        org.deal()
            .title(format!("Deal {i}"))
            .owner(owner)
            .company(companies[rng.gen_range(0..companies.len())])
            .amount_cents(rng.gen_range(0..50_000_000))
            .stage(stages[rng.gen_range(0..stages.len())])
            .add();
    }
    let deal_ids: Vec<Uuid> = org.deals.iter().map(|d| d.id).collect();
    let mut pairs = std::collections::HashSet::new();
    while pairs.len() < 10_000.min(deals) {
        pairs.insert((
            deal_ids[rng.gen_range(0..deal_ids.len())],
            users[rng.gen_range(0..users.len())],
        ));
    }
    for (n, (deal, user)) in pairs.into_iter().enumerate() {
        let permission = if n % 10 < 3 {
            SharePermission::Edit
        } else {
            SharePermission::View
        };
        org.share(deal, user).permission(permission).add();
    }
    write(db, &mut org).await;
    ("rep0.0@load.test".into(), "manager0@load.test".into())
}

/// Writes the rows of `org` not written yet, in one transaction.
async fn write(db: &sea_orm::DatabaseConnection, org: &mut Org) {
    let txn = db.begin().await.expect("begin");
    org.insert(&txn).await.expect("seed");
    txn.commit().await.expect("commit");
}

/// One request of a benchmarked query: a GraphQL document to this server, or a `GET`
/// path of the peer's REST API (`benches/peer`).
#[derive(Clone, Copy)]
enum Ask {
    Graphql(&'static str),
    Get(&'static str),
}

impl Ask {
    /// Sends it; the status and, for GraphQL, whether the answer holds errors.
    async fn send(self, c: &mut Client, token: &str) -> (u16, String) {
        match self {
            Ask::Graphql(query) => {
                let (status, body) = c
                    .graphql(Some(token), query, json!({}))
                    .await
                    .expect("query");
                let errors = if body["errors"].is_null() {
                    String::new()
                } else {
                    body.to_string()
                };
                (status, errors)
            }
            Ask::Get(path) => {
                let (status, _) = c.get_with_token(path, token).await.expect("get");
                (status, String::new())
            }
        }
    }
}

/// Drives `ask` at `addr` and prints its figures, with the CPU time `cpu_ms` reads (the
/// process that answers, and PostgreSQL's).
async fn drive(
    addr: std::net::SocketAddr,
    cpu_ms: &dyn Fn() -> f64,
    label: &str,
    token: &str,
    ask: Ask,
    (connections, seconds): (u64, u64),
) {
    // Warm-up, and a check that the query answers without errors.
    let mut c = Client::connect(addr).await.expect("connect");
    let (status, errors) = ask.send(&mut c, token).await;
    assert!(
        status == 200 && errors.is_empty(),
        "{label}: {status} {errors}"
    );
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_secs(1) {
        ask.send(&mut c, token).await;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (cpu0, db0) = (cpu_ms(), postgres_cpu_ms());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (token, stop) = (token.to_owned(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(addr).await.expect("connect");
            let mut times = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let (status, _) = ask.send(&mut c, &token).await;
                assert_eq!(status, 200);
                times.push(t.elapsed());
            }
            times
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut times = Vec::new();
    for t in tasks {
        times.extend(t.await.expect("driver"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (cpu, db) = (cpu_ms() - cpu0, postgres_cpu_ms() - db0);
    times.sort();
    let n = times.len() as f64;
    println!(
        "{label:<34} {:>7.0} req/s  p50 {:>6.1} ms  p99 {:>6.1} ms  CPU ms/request: server {:.2} + database {:.2} = {:.2}",
        n / elapsed,
        quantile_ms(&times, 0.5),
        quantile_ms(&times, 0.99),
        cpu / n,
        db / n,
        (cpu + db) / n,
    );
}

/// Whether `BENCH_ONLY`'s words (`only`; none: every query) choose the query `label`.
fn chosen(only: &[String], label: &str) -> bool {
    only.is_empty() || only.iter().any(|w| label.contains(w.as_str()))
}

/// The seed stack of issue 17 on the same SQLite file (`benches/peer`: Node.js, Express,
/// better-sqlite3 in WAL mode, JWT, the policy written as SQL; `npm ci` on first use),
/// driven like this server: the same rows as the page and count queries, as REST.
async fn peer(file: &str, only: &[String], load: (u64, u64)) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peer");
    if !dir.join("node_modules").exists() {
        let ok = std::process::Command::new("npm")
            .arg("ci")
            .current_dir(&dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "npm ci in {}: Node 20 and npm are needed",
            dir.display()
        );
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut child = std::process::Command::new("node")
        .arg("server.js")
        .current_dir(&dir)
        .env("DB", file)
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("node");
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let mut c = loop {
        match Client::connect(addr).await {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let mut tokens = Vec::new();
    for email in ["rep0.0@load.test", "manager0@load.test"] {
        let (status, body) = c
            .post_json("/login", None, &json!({ "email": email }))
            .await
            .expect("peer login");
        assert_eq!(status, 200, "peer login: {body}");
        tokens.push(body["accessToken"].as_str().expect("a token").to_owned());
    }
    let (rep, manager) = (&tokens[0], &tokens[1]);
    let pid = child.id();
    let cpu = move || server::process_cpu_ms(pid);
    for (label, token, path) in [
        ("peer rep: first 25 deals", rep, "/deals?first=25"),
        (
            "peer manager: 50 deals + company + owner",
            manager,
            "/deals?first=50&with=company,owner",
        ),
        ("peer rep: count", rep, "/deals/count"),
        ("peer manager: count", manager, "/deals/count"),
    ] {
        if !chosen(only, label) {
            continue;
        }
        drive(addr, &cpu, label, token, Ask::Get(path), load).await;
    }
    child.kill().ok();
    child.wait().ok();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let deals = env_or("BENCH_DEALS", 100_000) as usize;
    let seconds = env_or("BENCH_SECONDS", 8);
    let connections = env_or("BENCH_CONNECTIONS", 16);
    let dir = tempfile::tempdir().expect("tempdir");
    let admin = std::env::var("BENCH_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"));
    let (url, drop_name) = match &admin {
        // `BENCH_KEEP=name`: that database is kept (and reused when it exists).
        Some(admin) => {
            let kept = std::env::var("BENCH_KEEP").ok();
            let name = kept
                .clone()
                .unwrap_or_else(|| format!("crm_load_{}", Uuid::new_v4().simple()));
            let (base, query) = admin.split_once('?').unwrap_or((admin, ""));
            let host = &base[..base.rfind('/').expect("a database path")];
            let sep = if query.is_empty() { "" } else { "?" };
            let url = format!("{host}/{name}{sep}{query}");
            let exists = match &kept {
                Some(_) => sea_orm::Database::connect(url.as_str()).await.is_ok(),
                None => false,
            };
            if !exists {
                psql(admin, &format!("CREATE DATABASE \"{name}\""));
            }
            (url, kept.is_none().then_some(name))
        }
        // `BENCH_KEEP=path.db`: the SQLite file is kept (and reused when it exists), for
        // looking at query plans afterwards.
        None => {
            let file = std::env::var("BENCH_KEEP")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|_| dir.path().join("load.db"));
            (format!("sqlite://{}?mode=rwc", file.display()), None)
        }
    };
    let seeding = Instant::now();
    {
        let db = api::db::connect(&url, 2).await.expect("connect");
        Migrator::up(&db, None).await.expect("migrate");
        use sea_orm::{EntityTrait, PaginatorTrait};
        if entity::deal::Entity::find()
            .count(&db)
            .await
            .expect("count")
            == 0
        {
            seed(&db, deals).await;
            // PostgreSQL: what autovacuum does within a minute of the load (statistics and
            // the visibility map, which index-only scans need); the server maintains
            // SQLite's statistics itself.
            if admin.is_some() {
                use sea_orm::ConnectionTrait;
                db.execute_unprepared("VACUUM ANALYZE")
                    .await
                    .expect("vacuum");
            }
        }
        db.close().await.ok();
    }
    let backend = if admin.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "load bench on {backend}: {deals} deals seeded in {:.0} s; {connections} connections, {seconds} s per query",
        seeding.elapsed().as_secs_f64()
    );
    let server = Server::on_database(
        &url,
        &[
            ("RUST_LOG", "warn"),
            ("CRM_DEFAULT_AUTOMATIONS", "false"),
            ("CRM_MAX_INFLIGHT_PER_USER", "64"),
            ("CRM_MAX_INFLIGHT_PER_ADDRESS", "256"),
        ],
    )
    .await;
    // `BENCH_ONLY=manager,total` runs the queries whose label holds one of the words.
    let only: Vec<String> = std::env::var("BENCH_ONLY")
        .map(|v| v.split(',').map(|w| w.trim().to_owned()).collect())
        .unwrap_or_default();
    let rep = login(server.addr, "rep0.0@load.test", PASSWORD).await;
    let manager = login(server.addr, "manager0@load.test", PASSWORD).await;
    let solo = login(server.addr, "solo@load.test", PASSWORD).await;
    for (label, token, query) in [
        ("rep: first 25 deals with amount", &rep, REP_PAGE),
        (
            "manager: 50 deals + company + owner",
            &manager,
            MANAGER_PAGE,
        ),
        ("rep: deals { totalCount }", &rep, COUNT),
        ("manager: deals { totalCount }", &manager, COUNT),
        ("rep: pipeline", &rep, PIPELINE),
        ("manager: pipeline", &manager, PIPELINE),
        ("rep: dashboard", &rep, DASHBOARD),
        ("manager: dashboard", &manager, DASHBOARD),
        ("sparse rep (50 deals): first 25", &solo, REP_PAGE),
        ("sparse rep (50 deals): totalCount", &solo, COUNT),
    ] {
        if !chosen(&only, label) {
            continue;
        }
        let cpu = || server.cpu_ms();
        let load = (connections, seconds);
        drive(server.addr, &cpu, label, token, Ask::Graphql(query), load).await;
    }
    if std::env::var_os("BENCH_PEER").is_some() {
        match &admin {
            Some(_) => println!("BENCH_PEER: the peer serves SQLite only"),
            None => {
                let file = url.trim_start_matches("sqlite://");
                let file = file.split_once('?').map_or(file, |(f, _)| f);
                peer(file, &only, (connections, seconds)).await;
            }
        }
    }
    drop(server);
    if let (Some(admin), Some(name)) = (admin, drop_name) {
        psql(&admin, &format!("DROP DATABASE \"{name}\" WITH (FORCE)"));
    }
}
