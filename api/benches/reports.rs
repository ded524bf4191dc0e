//! Pipeline and dashboard panels on a large organisation (run with `cargo bench -p api
//! --bench reports`; figures go to docs/reports.md).
//!
//! Seeds `BENCH_DEALS` deals (default 100,000) over 20 teams of 10 reps, 10 managers of two
//! teams each and 2,000 companies, with 1 % of the deals shared, then times every panel
//! (the service call, i.e. the SQL statement and its decoding) for a sales rep, a manager
//! and an admin: the median of `BENCH_RUNS` runs (default 7) after a warm-up run. The
//! whole dashboard through GraphQL is timed too. SQLite always (a temporary file);
//! PostgreSQL as well when `BENCH_DATABASE_URL` points at a server (a database is created
//! and dropped for the run; URL options such as `?options=-c%20jit%3Doff` are kept).
//!
//! Other knobs: `BENCH_EXPLAIN=1` prints the plan of every statement of the rep's panels;
//! `BENCH_SETUP_SQL="DROP INDEX ix_deals_reports; …"` runs statements after seeding (to
//! compare index choices); `BENCH_SQLITE_FILE=/tmp/x.db` keeps the SQLite database;
//! `BENCH_KEEP_DATABASE=1` keeps the PostgreSQL one.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api::AppState;
use api::auth::Actor;
use api::authz::Viewer;
use api::config::Config;
use api::service::Deps;
use api::service::report::{self, Period};
use chrono::{Days, NaiveDate, Utc};
use crm_testkit::Org;
use entity::enums::{DealSource, DealStage, Role, SharePermission};
use entity::user;
use migration::{Migrator, MigratorTrait};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use uuid::Uuid;

const TEAMS: usize = 20;
const REPS_PER_TEAM: usize = 10;
const MANAGERS: usize = 10;
const COMPANIES: usize = 2_000;

const DASHBOARD: &str = "query {
  dashboard {
    revenue { thisMonth lastMonth change changePercent }
    closingSoon { totalCount totalAmount deals { id title amount expectedCloseDate } }
    conversion { rate }
    revenueByMonth { month revenue }
    openDealsByStage { stage count totalAmount weightedAmount }
    topCompanies { name wonAmount }
    repPerformance { ownerId deals won amountWon winRate }
    dealsBySource { source count amount }
  }
}";

struct People {
    rep: user::Model,
    manager: user::Model,
    admin: user::Model,
}

/// The organisation: teams, people, companies, `deals` deals around `today`, shares.
async fn seed(db: &DatabaseConnection, deals: usize, today: NaiveDate) -> People {
    let mut rng = StdRng::seed_from_u64(2026);
    let mut org = Org::new();
    let person = |org: &mut Org, i: usize, role: Role, team: Option<Uuid>| {
        org.user()
            .name(format!("User {i}"))
            .email(format!("user{i}@bench.test"))
            .role(role)
            .team(team)
            .add()
    };
    let teams: Vec<Uuid> = (0..TEAMS)
        .map(|i| org.team().name(format!("Team {i}")).add().id)
        .collect();
    for (t, team) in teams.iter().enumerate() {
        for r in 0..REPS_PER_TEAM {
            person(&mut org, t * REPS_PER_TEAM + r, Role::SalesRep, Some(*team));
        }
    }
    let managers: Vec<user::Model> = (0..MANAGERS)
        .map(|m| person(&mut org, 10_000 + m, Role::Manager, None))
        .collect();
    let admin = person(&mut org, 20_000, Role::Admin, None);
    // Manager m manages teams 2m and 2m + 1.
    for (t, team) in teams.iter().enumerate() {
        org.set_manager(*team, managers[t / 2].id);
    }
    let users: Vec<Uuid> = org.users.iter().map(|u| u.id).collect();
    let sellers: Vec<Uuid> = org
        .users
        .iter()
        .filter(|u| u.role == Role::SalesRep)
        .map(|u| u.id)
        .collect();
    let companies: Vec<Uuid> = (0..COMPANIES)
        .map(|i| {
            org.company()
                .name(format!("Company {i}"))
                .owner(sellers[i % sellers.len()])
                .add()
                .id
        })
        .collect();

    let sources = [
        None,
        Some(DealSource::Website),
        Some(DealSource::Referral),
        Some(DealSource::ColdCall),
        Some(DealSource::Event),
        Some(DealSource::Other),
    ];
    for i in 0..deals {
        // Open deals dominate; a third are closed, won more often than lost.
        let stage = match rng.gen_range(0..12) {
            0..=2 => DealStage::Prospecting,
            3..=4 => DealStage::Qualification,
            5..=6 => DealStage::Proposal,
            7 => DealStage::Negotiation,
            8..=9 => DealStage::ClosedWon,
            _ => DealStage::ClosedLost,
        };
        let expected = today
            .checked_add_days(Days::new(rng.gen_range(0..240)))
            .and_then(|d| d.checked_sub_days(Days::new(60)));
        let actual = stage
            .is_closed()
            .then(|| today.checked_sub_days(Days::new(rng.gen_range(0..730))))
            .flatten();
        org.deal()
            .stage(stage)
            .expected_close(expected)
            .closed_on(actual)
            .company(companies[rng.gen_range(0..companies.len())])
            .title(format!("Deal {i}"))
            .amount_cents(rng.gen_range(0..50_000_000))
            .source(sources[rng.gen_range(0..sources.len())])
            .owner(sellers[rng.gen_range(0..sellers.len())])
            .add();
    }
    let rep = users[0];
    let every_100th: Vec<(usize, Uuid)> = org
        .deals
        .iter()
        .map(|d| d.id)
        .enumerate()
        .filter(|(i, _)| i % 100 == 0)
        .collect();
    for (i, deal) in every_100th {
        // Every 100th deal is shared with a random user; some with the benchmarked rep.
        let user = if i % 1_000 == 0 {
            rep
        } else {
            users[rng.gen_range(0..users.len())]
        };
        let permission = if i % 200 == 0 {
            SharePermission::Edit
        } else {
            SharePermission::View
        };
        org.share(deal, user).permission(permission).add();
    }
    let txn = db.begin().await.unwrap();
    org.insert(&txn).await.unwrap();
    txn.commit().await.unwrap();
    People {
        rep: org.users[0].clone(),
        manager: managers[0].clone(),
        admin,
    }
}

/// Median of `runs` timed runs after one warm-up run.
async fn median<F, Fut>(runs: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    f().await;
    let mut samples: Vec<Duration> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f().await;
        samples.push(start.elapsed());
    }
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

async fn readable_count(deps: &Deps, actor: &Actor) -> u64 {
    report::pipeline(deps, &actor.viewer, &report::DealSet::everything())
        .await
        .unwrap()
        .iter()
        .map(|s| s.count)
        .sum()
}

/// Times every panel for each person on one database.
async fn bench(label: &str, db: DatabaseConnection, url: String, deals: usize, runs: usize) {
    Migrator::up(&db, None).await.unwrap();
    let today = Utc::now().date_naive();
    let start = Instant::now();
    let people = seed(&db, deals, today).await;
    let seeded = start.elapsed();
    // Fresh statistics for the planner, as a maintained database has them (SQLite:
    // `ANALYZE`, also run by `PRAGMA optimize`; PostgreSQL: what autovacuum does).
    // `BENCH_SETUP_SQL="DROP INDEX ix_deals_reports; CREATE INDEX …"` compares index choices.
    if let Ok(setup) = std::env::var("BENCH_SETUP_SQL") {
        for sql in setup.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            db.execute_unprepared(sql).await.unwrap();
        }
    }
    let maintain = match db.get_database_backend() {
        // Also sets PostgreSQL's visibility map, which index-only scans need.
        DbBackend::Postgres => "VACUUM ANALYZE",
        _ => "ANALYZE",
    };
    db.execute_unprepared(maintain).await.unwrap();
    let state = AppState::new(db.clone(), Config::for_database(url.clone())).unwrap();
    let deps = &state.deps;
    let period = Period::new(today, 12, 7).unwrap();

    println!();
    println!(
        "{label}: {deals} deals (seeded in {:.1} s), median of {runs} runs, ms",
        seeded.as_secs_f64()
    );
    let mut header = vec!["who", "readable"];
    header.extend(PANELS);
    header.push("GraphQL");
    println!(
        "{}",
        header
            .iter()
            .map(|h| format!("{h:>9}"))
            .collect::<Vec<_>>()
            .join("")
    );
    for (who, model) in [
        ("rep", &people.rep),
        ("manager", &people.manager),
        ("admin", &people.admin),
    ] {
        let actor = Actor::load(&db, model.id, None).await.unwrap().unwrap();
        let v = &actor.viewer;
        let mut cells = vec![
            who.to_owned(),
            readable_count(deps, &actor).await.to_string(),
        ];
        for panel in 0..PANELS.len() {
            cells.push(ms(median(runs, || run_panel(panel, deps, v, &period)).await));
        }
        cells.push(ms(median(runs, || async {
            let res = state
                .schema
                .execute(
                    async_graphql::Request::new(DASHBOARD)
                        .data(api::graphql::loaders::for_viewer(
                            state.deps.clone(),
                            actor.viewer.clone(),
                        ))
                        .data(actor.clone()),
                )
                .await;
            assert!(res.errors.is_empty(), "{:?}", res.errors);
        })
        .await));
        println!(
            "{}",
            cells
                .iter()
                .map(|c| format!("{c:>9}"))
                .collect::<Vec<_>>()
                .join("")
        );
    }
    if std::env::var_os("BENCH_EXPLAIN").is_some() {
        explain(&db, &url, &people.rep, &period).await;
    }
}

/// The panels, in the order of the table's columns.
const PANELS: [&str; 9] = [
    "pipeline", "revenue", "closing", "convers.", "by month", "open/stg", "top cos", "per rep",
    "source",
];

/// Runs panel `i` of [`PANELS`] once.
async fn run_panel(i: usize, deps: &Deps, v: &Viewer, period: &Period) {
    let all = &report::DealSet::everything();
    match i {
        0 => drop(report::pipeline(deps, v, all).await.unwrap()),
        1 => drop(report::revenue(deps, v, all, period).await.unwrap()),
        2 => drop(report::closing_soon(deps, v, all, period).await.unwrap()),
        3 => drop(report::conversion(deps, v, all).await.unwrap()),
        4 => drop(
            report::revenue_by_month(deps, v, all, period)
                .await
                .unwrap(),
        ),
        5 => drop(report::open_by_stage(deps, v, all).await.unwrap()),
        6 => drop(report::top_companies(deps, v, all).await.unwrap()),
        7 => drop(report::owners(deps, v, all).await.unwrap()),
        _ => drop(report::by_source(deps, v, all).await.unwrap()),
    }
}

/// Prints the plan of every statement of the rep's panels (set `BENCH_EXPLAIN=1`): the
/// statements are captured from a second connection's metric callback and explained on
/// the first.
async fn explain(db: &DatabaseConnection, url: &str, rep: &user::Model, period: &Period) {
    let seen: Arc<Mutex<Vec<Statement>>> = Arc::default();
    let mut conn = api::db::connect(url, 1).await.unwrap();
    let sink = seen.clone();
    conn.set_metric_callback(move |info| sink.lock().unwrap().push(info.statement.clone()));
    let state = AppState::new(conn, Config::for_database(url.to_owned())).unwrap();
    let actor = Actor::load(&state.db, rep.id, None).await.unwrap().unwrap();
    let backend = db.get_database_backend();
    let prefix = match backend {
        DbBackend::Sqlite => "EXPLAIN QUERY PLAN ",
        _ => "EXPLAIN ",
    };
    for (i, name) in PANELS.iter().enumerate() {
        seen.lock().unwrap().clear();
        run_panel(i, &state.deps, &actor.viewer, period).await;
        let statements = std::mem::take(&mut *seen.lock().unwrap());
        for stmt in statements {
            println!("-- {name}: {}", stmt.sql);
            let plan = Statement {
                sql: format!("{prefix}{}", stmt.sql),
                ..stmt
            };
            for row in db.query_all_raw(plan).await.unwrap() {
                let line: String = match backend {
                    DbBackend::Sqlite => row.try_get("", "detail").unwrap(),
                    _ => row.try_get("", "QUERY PLAN").unwrap(),
                };
                println!("   {line}");
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let deals: usize = std::env::var("BENCH_DEALS")
        .ok()
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(100_000);
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    println!(
        "Reports benchmark ({} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // `BENCH_SQLITE_FILE=/path/new.db` keeps the seeded database for inspection.
    let dir = tempfile::tempdir().unwrap();
    let file = std::env::var("BENCH_SQLITE_FILE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("bench.db"));
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let db = api::db::connect(&url, 4).await.unwrap();
    bench("SQLite", db, url, deals, runs).await;

    if let Ok(admin_url) = std::env::var("BENCH_DATABASE_URL") {
        let name = format!("crm_bench_{}", Uuid::new_v4().simple());
        let admin = sea_orm::Database::connect(admin_url.as_str())
            .await
            .unwrap();
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        // Same server and options (e.g. `?options=-c%20jit%3Doff`), our database.
        let (base, query) = admin_url
            .split_once('?')
            .map_or((admin_url.as_str(), None), |(b, q)| (b, Some(q)));
        let server = base
            .rsplit_once('/')
            .map(|(server, _)| server)
            .expect("BENCH_DATABASE_URL needs a database path");
        let url = match query {
            Some(q) => format!("{server}/{name}?{q}"),
            None => format!("{server}/{name}"),
        };
        let db = api::db::connect(&url, 4).await.unwrap();
        let label = if url.contains("jit") {
            "PostgreSQL (JIT setting from the URL)"
        } else {
            "PostgreSQL"
        };
        bench(label, db.clone(), url, deals, runs).await;
        db.close().await.unwrap();
        if std::env::var_os("BENCH_KEEP_DATABASE").is_some() {
            println!("kept PostgreSQL database {name}");
        } else {
            admin
                .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
                .await
                .unwrap();
        }
    }
}
