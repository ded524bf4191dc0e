//! What recording events costs writers (run with `cargo bench -p api --bench events`;
//! figures go to docs/events-benchmark.md).
//!
//! Real `updateDeal` calls through the service layer (`service::deal::update`, the path of
//! the GraphQL mutation: load and authorize in the write transaction, validate, the
//! versioned update, the event with its diff, commit, read back as the viewer), each by a
//! sales rep on one of their own deals, changing title, amount and notes. Measured as deal
//! updates per second with 1 and with 16 concurrent writers, with events recorded (the
//! server) and without (`Config::record_events` off, which only the benchmarks turn off);
//! the ratio without ÷ with is the cost factor of events (target ≤ 1.3).
//!
//! Each writer is a different rep updating only their own deals, in turn, passing the
//! version they last saw: writers never conflict (a conflict would be counted, its version
//! reloaded, and the writer would go on). `BENCH_ROUNDS` (default 3) rounds each give both
//! modes `BENCH_SECONDS` (default 6) of writing, in slices of `BENCH_SLICE` seconds
//! (default 1) that alternate between the modes — with, without, with, … in odd rounds,
//! without first in even ones — so that whatever else the machine runs meanwhile falls on
//! both. A slice counts the updates that finished, the last ones included. The log starts
//! with `BENCH_EVENTS` (default 100,000) older events, so its indexes are not tiny.
//!
//! Besides throughput: CPU per update of this process (all its threads, from
//! `/proc/self/stat`; on SQLite the database work is done here) and, on PostgreSQL, of the
//! server backends serving the benchmark's database (processes whose command line is
//! `postgres: … <database> …`; the WAL writer and checkpointer are shared and left out),
//! and the WAL written per update: on SQLite from a separate probe with auto-checkpoints
//! off (frames appended to the `-wal` file), on PostgreSQL from `pg_current_wal_lsn()`
//! around each slice (the whole server: anything else writing counts too). The load
//! average is printed before and after the rounds.
//!
//! SQLite always (a temporary file); PostgreSQL as well when `BENCH_DATABASE_URL` points at
//! a server (a database is created and dropped for the run). Other knobs: `BENCH_WRITERS`
//! (default `1,16`), `BENCH_POOL` (connections, default 10 as the server's
//! `CRM_DB_MAX_CONNECTIONS`), `BENCH_SETUP_SQL="DROP INDEX …; CREATE INDEX …"` run after
//! the migrations and before seeding (to compare index layouts; docs/events-benchmark.md
//! has the one of the first events migration), `BENCH_EXPLAIN=1` prints the plan of every
//! `auditLog` and `history` statement per filter after the rounds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api::authz::Viewer;
use api::config::Config;
use api::error::ApiError;
use api::service::Deps;
use api::service::audit::{self, AuditFilter};
use api::service::deal::{self, DealChanges};
use api::service::list::PageArgs;
use chrono::Utc;
use crm_testkit::Org;
use entity::enums::{AuditAction, RecordKind, Role};
use entity::{event, user};
use migration::{Migrator, MigratorTrait};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, Statement, TransactionTrait,
};
use uuid::Uuid;

/// Reps, hence the most concurrent writers; each owns [`DEALS_PER_REP`] deals.
const REPS: usize = 16;
const DEALS_PER_REP: usize = 250;
const COMPANIES: usize = 200;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// One writer: a rep, their deals and the version of each they last saw.
struct Writer {
    viewer: Viewer,
    deals: Vec<(Uuid, i32)>,
    next: usize,
    revision: u64,
}

impl Writer {
    /// Updates the next of its deals; true when that was a version conflict.
    async fn update_one(&mut self, deps: &Deps) -> bool {
        let i = self.next % self.deals.len();
        self.next += 1;
        self.revision += 1;
        let (id, version) = self.deals[i];
        let n = self.revision;
        let changes = DealChanges {
            title: Some(format!("Deal {i} revision {n}")),
            amount: Some(Decimal::new(100_000 + (n as i64 % 90_000) * 7, 2)),
            notes: Some(Some(format!("Call back about revision {n}."))),
            expected_version: Some(version),
            ..Default::default()
        };
        match deal::update(deps, &self.viewer, api::service::At::Own, id, changes).await {
            Ok(row) => {
                self.deals[i].1 = row.model.version;
                false
            }
            Err(ApiError::Conflict { .. }) => {
                let stored = entity::deal::Entity::find_by_id(id)
                    .one(&deps.db)
                    .await
                    .unwrap()
                    .expect("the deal exists");
                self.deals[i].1 = stored.version;
                true
            }
            Err(e) => panic!("updateDeal failed: {e:?}"),
        }
    }
}

/// The organisation: two teams of eight reps with a manager each, an admin; every rep
/// owns `DEALS_PER_REP` deals. Returns the writers (one per rep) and the admin.
async fn seed_records(db: &DatabaseConnection) -> (Vec<Writer>, user::Model, Vec<Uuid>) {
    let mut org = Org::new();
    let teams: Vec<Uuid> = (0..2)
        .map(|t| org.team().name(format!("Team {t}")).add().id)
        .collect();
    let reps: Vec<user::Model> = (0..REPS)
        .map(|i| {
            org.user()
                .name(format!("Rep {i}"))
                .email(format!("rep{i}@bench.test"))
                .team(teams[i % 2])
                .add()
        })
        .collect();
    for (t, team) in teams.iter().enumerate() {
        let manager = org
            .user()
            .name(format!("Manager {t}"))
            .email(format!("manager{t}@bench.test"))
            .role(Role::Manager)
            .add();
        org.set_manager(*team, manager.id);
    }
    let admin = org
        .user()
        .name("Admin")
        .email("admin@bench.test")
        .role(Role::Admin)
        .add();
    let companies: Vec<Uuid> = (0..COMPANIES)
        .map(|c| {
            org.company()
                .name(format!("Company {c}"))
                .owner(&reps[c % REPS])
                .add()
                .id
        })
        .collect();
    let mut owned: Vec<Vec<(Uuid, i32)>> = vec![Vec::new(); REPS];
    for i in 0..REPS * DEALS_PER_REP {
        let r = i % REPS;
        let d = org
            .deal()
            .title(format!("Deal {i}"))
            .company(companies[i % COMPANIES])
            .owner(&reps[r])
            .amount_cents(100_000 + i as i64)
            .closed_on(None)
            .add();
        owned[r].push((d.id, d.version));
    }
    let txn = db.begin().await.unwrap();
    org.insert(&txn).await.unwrap();
    txn.commit().await.unwrap();
    let users = org.users.iter().map(|u| u.id).collect();
    let writers = reps
        .iter()
        .zip(owned)
        .map(|(rep, deals)| Writer {
            viewer: org.viewer(rep.id),
            deals,
            next: 0,
            revision: 0,
        })
        .collect();
    (writers, admin, users)
}

/// `count` older events over the last 300 days, oldest first: mostly deal changes, by
/// random people about random deals, as a year of use leaves them.
async fn seed_events(db: &DatabaseConnection, count: usize, users: &[Uuid], deals: &[Uuid]) {
    let mut rng = StdRng::seed_from_u64(13);
    let now = Utc::now();
    let span = chrono::Duration::days(300).num_milliseconds();
    let mut rows = Vec::with_capacity(1_000);
    for i in 0..count {
        let at = now - chrono::Duration::milliseconds(span - span * i as i64 / count as i64);
        let (action, kind, record) = match rng.gen_range(0..100) {
            0..=59 => (
                AuditAction::RecordUpdated,
                Some(RecordKind::Deal),
                Some(deals[rng.gen_range(0..deals.len())]),
            ),
            60..=74 => (
                AuditAction::RecordCreated,
                Some(RecordKind::Activity),
                Some(Uuid::new_v4()),
            ),
            75..=84 => (
                AuditAction::RecordUpdated,
                Some(RecordKind::Contact),
                Some(Uuid::new_v4()),
            ),
            85..=89 => (
                AuditAction::RecordUpdated,
                Some(RecordKind::Company),
                Some(Uuid::new_v4()),
            ),
            90..=97 => {
                let u = users[rng.gen_range(0..users.len())];
                (AuditAction::UserLogin, Some(RecordKind::User), Some(u))
            }
            _ => (AuditAction::PermissionChanged, Some(RecordKind::User), None),
        };
        rows.push(event::ActiveModel {
            position: NotSet,
            txid: NotSet,
            at: Set(at),
            actor_id: Set(Some(users[rng.gen_range(0..users.len())])),
            action: Set(action),
            kind: Set(kind),
            record_id: Set(record),
            changes: Set(
                r#"[{"field":"amount","from":"1200.00","to":"1350.00"},{"field":"notes","from":null,"to":"Call back on Monday."}]"#
                    .to_owned(),
            ),
            request_id: Set(Some(Uuid::new_v4().to_string())),
            ip_address: Set(Some("10.1.2.3".to_owned())),
            automation_id: Set(None),
        });
        if rows.len() == 1_000 || i + 1 == count {
            // A transaction per thousand: on PostgreSQL each gets a transaction id of its own.
            let txn = db.begin().await.unwrap();
            event::Entity::insert_many(std::mem::take(&mut rows))
                .exec_without_returning(&txn)
                .await
                .unwrap();
            txn.commit().await.unwrap();
        }
    }
}

/// CPU time (user + system) in clock ticks of process `pid` (all its threads).
fn ticks_of(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux when it cannot be asked).
fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The machine's load averages (1, 5, 15 minutes): what else ran beside the benchmark.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// CPU ticks of every PostgreSQL backend serving database `name`, by process id.
fn backend_ticks(name: &str) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.starts_with("postgres:")
            && cmdline.split_whitespace().any(|w| w == name)
            && let Some(t) = ticks_of(&pid)
        {
            out.insert(pid, t);
        }
    }
    out
}

/// The database under test and how to observe it.
struct Target {
    label: &'static str,
    url: String,
    db: DatabaseConnection,
    /// PostgreSQL: the database's name (for its backends).
    pg_name: Option<String>,
}

impl Target {
    fn is_postgres(&self) -> bool {
        self.pg_name.is_some()
    }

    /// The server's WAL position in bytes (PostgreSQL).
    async fn wal_lsn(&self) -> Option<i64> {
        self.pg_name.as_ref()?;
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS lsn",
            ))
            .await
            .ok()??;
        row.try_get("", "lsn").ok()
    }
}

/// What one measurement saw.
#[derive(Clone, Copy, Default)]
struct Sample {
    updates: u64,
    conflicts: u64,
    seconds: f64,
    /// This process's CPU ticks.
    cpu: u64,
    /// The database's PostgreSQL backends' CPU ticks.
    pg_cpu: Option<u64>,
    /// WAL bytes written by the server (PostgreSQL).
    wal: Option<i64>,
}

impl Sample {
    fn add(&mut self, other: Sample) {
        self.updates += other.updates;
        self.conflicts += other.conflicts;
        self.seconds += other.seconds;
        self.cpu += other.cpu;
        self.pg_cpu = match (self.pg_cpu, other.pg_cpu) {
            (None, b) => b,
            (a, None) => a,
            (Some(a), Some(b)) => Some(a + b),
        };
        self.wal = match (self.wal, other.wal) {
            (None, b) => b,
            (a, None) => a,
            (Some(a), Some(b)) => Some(a + b),
        };
    }

    fn per_second(&self) -> f64 {
        self.updates as f64 / self.seconds
    }
}

/// Runs `n` writers (the first `n` of `writers`) for `seconds`, each updating its deals in
/// turn, and counts the updates finished.
async fn measure(
    target: &Target,
    deps: &Deps,
    writers: &mut Vec<Writer>,
    n: usize,
    seconds: f64,
) -> Sample {
    let me = std::process::id().to_string();
    let cpu0 = ticks_of(&me).unwrap_or(0);
    let pg0 = target.pg_name.as_deref().map(backend_ticks);
    let wal0 = target.wal_lsn().await;
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let mut rest = writers.split_off(n);
    let tasks: Vec<_> = std::mem::take(writers)
        .into_iter()
        .map(|mut w| {
            let deps = deps.clone();
            tokio::spawn(async move {
                let (mut updates, mut conflicts) = (0u64, 0u64);
                while Instant::now() < deadline {
                    if w.update_one(&deps).await {
                        conflicts += 1;
                    } else {
                        updates += 1;
                    }
                }
                (w, updates, conflicts)
            })
        })
        .collect();
    let mut sample = Sample::default();
    for task in tasks {
        let (w, updates, conflicts) = task.await.unwrap();
        writers.push(w);
        sample.updates += updates;
        sample.conflicts += conflicts;
    }
    sample.seconds = start.elapsed().as_secs_f64();
    writers.append(&mut rest);
    sample.cpu = ticks_of(&me).unwrap_or(0).saturating_sub(cpu0);
    if let (Some(before), Some(name)) = (pg0, target.pg_name.as_deref()) {
        // A backend that started during the run counts from zero; one that ended is lost
        // (the pool keeps its connections, so neither happens in practice).
        let after = backend_ticks(name);
        sample.pg_cpu = Some(
            after
                .iter()
                .map(|(pid, t)| t.saturating_sub(before.get(pid).copied().unwrap_or(0)))
                .sum(),
        );
    }
    if let (Some(a), Some(b)) = (wal0, target.wal_lsn().await) {
        sample.wal = Some(b - a);
    }
    sample
}

/// SQLite: WAL frames appended per update, one writer, auto-checkpoints off on a pool of
/// one connection (the main pool is idle meanwhile).
async fn sqlite_wal_frames(target: &Target, record_events: bool, writer: &mut Writer) -> f64 {
    let db = api::db::connect(&target.url, 1).await.unwrap();
    let mut config = Config::for_database(target.url.clone());
    config.record_events = record_events;
    let deps = api::AppState::new(db.clone(), config).unwrap().deps;
    let page_size: i64 = pragma(&db, "PRAGMA page_size", "page_size").await;
    db.execute_unprepared("PRAGMA wal_autocheckpoint = 0")
        .await
        .unwrap();
    db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
        .await
        .unwrap();
    let wal = format!(
        "{}-wal",
        target
            .url
            .trim_start_matches("sqlite://")
            .split('?')
            .next()
            .unwrap()
    );
    let size = || std::fs::metadata(&wal).map_or(0, |m| m.len() as i64);
    let before = size();
    let updates = 300;
    for _ in 0..updates {
        writer.update_one(&deps).await;
    }
    // A new WAL file starts with a 32-byte header; each frame is a page and 24 bytes.
    let header = if before == 0 { 32 } else { 0 };
    let frames = (size() - before - header) as f64 / (page_size + 24) as f64;
    db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
        .await
        .unwrap();
    db.close().await.unwrap();
    frames / updates as f64
}

async fn pragma(db: &DatabaseConnection, sql: &str, column: &str) -> i64 {
    db.query_one_raw(Statement::from_string(DbBackend::Sqlite, sql))
        .await
        .unwrap()
        .unwrap()
        .try_get("", column)
        .unwrap()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One line of the summary.
struct Summary {
    label: &'static str,
    writers: usize,
    ratios: Vec<f64>,
    with: Vec<f64>,
    without: Vec<f64>,
}

/// The rounds on one database; returns a summary per writer count.
async fn bench(target: Target, hz: f64) -> Vec<Summary> {
    let seconds: f64 = env_or("BENCH_SECONDS", 6.0);
    let slice: f64 = env_or("BENCH_SLICE", 1.0);
    let rounds: usize = env_or("BENCH_ROUNDS", 3);
    let old_events: usize = env_or("BENCH_EVENTS", 100_000);
    let counts: Vec<usize> = std::env::var("BENCH_WRITERS")
        .unwrap_or_else(|_| "1,16".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .map(|n: usize| n.clamp(1, REPS))
        .collect();

    Migrator::up(&target.db, None).await.unwrap();
    if let Ok(setup) = std::env::var("BENCH_SETUP_SQL") {
        // Before seeding, so that what it creates grows as it would in use (an index built
        // over existing rows is packed, and its first inserts split pages). One
        // transaction, hence one connection.
        let txn = target.db.begin().await.unwrap();
        for sql in setup.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            txn.execute_unprepared(sql).await.unwrap();
        }
        txn.commit().await.unwrap();
    }
    let start = Instant::now();
    let (mut writers, admin, users) = seed_records(&target.db).await;
    let deals: Vec<Uuid> = writers
        .iter()
        .flat_map(|w| w.deals.iter().map(|d| d.0))
        .collect();
    seed_events(&target.db, old_events, &users, &deals).await;
    let maintain = if target.is_postgres() {
        "VACUUM ANALYZE"
    } else {
        "ANALYZE"
    };
    target.db.execute_unprepared(maintain).await.unwrap();
    let seeded = start.elapsed();

    let deps_for = |record_events: bool| {
        let mut config = Config::for_database(target.url.clone());
        config.record_events = record_events;
        api::AppState::new(target.db.clone(), config).unwrap().deps
    };
    let with = deps_for(true);
    let without = deps_for(false);
    println!();
    println!(
        "{}: {} deals of {REPS} reps, {old_events} older events (seeded in {:.1} s); \
         {rounds} rounds of {seconds} s per mode",
        target.label,
        REPS * DEALS_PER_REP,
        seeded.as_secs_f64()
    );

    println!("load average before the rounds: {}", load_average());
    if !target.is_postgres() {
        let on = sqlite_wal_frames(&target, true, &mut writers[0]).await;
        let off = sqlite_wal_frames(&target, false, &mut writers[0]).await;
        println!(
            "WAL frames (pages) per update, one writer: {on:.1} with events, {off:.1} without"
        );
    }

    // Warm-up: every writer once through both paths, caches and pool filled.
    measure(&target, &with, &mut writers, REPS, 1.0).await;
    measure(&target, &without, &mut writers, REPS, 1.0).await;

    let per_update = |ticks: u64, s: &Sample| ticks as f64 * 1e3 / hz / s.updates.max(1) as f64;
    let mut summaries = Vec::new();
    let mut results: HashMap<(usize, usize), (Sample, Sample)> = HashMap::new();
    // A round gives each mode `seconds`, in slices of `slice` seconds that alternate
    // (with, without, with, … or the other way round), so that a change in what else the
    // machine runs lands on both modes alike.
    let slices = (seconds / slice).ceil().max(1.0) as usize;
    for round in 0..rounds {
        for &n in &counts {
            // Even rounds start with events, odd rounds without.
            let with_first = round % 2 == 0;
            let mut pair = (Sample::default(), Sample::default());
            for i in 0..2 * slices {
                if (i % 2 == 0) == with_first {
                    pair.0
                        .add(measure(&target, &with, &mut writers, n, slice).await);
                } else {
                    pair.1
                        .add(measure(&target, &without, &mut writers, n, slice).await);
                }
            }
            results.insert((round, n), pair);
        }
    }

    println!("load average after the rounds: {}", load_average());
    let pg = target.is_postgres();
    for &n in &counts {
        println!();
        println!(
            "{}, {n} writer{}: deal updates per second",
            target.label,
            if n == 1 { "" } else { "s" }
        );
        let mut header = format!(
            "{:<7}{:<10}{:>10}{:>10}{:>8}{:>14}{:>14}",
            "round", "first", "with/s", "without/s", "ratio", "CPU ms with", "CPU ms w/o"
        );
        if pg {
            header.push_str(&format!(
                "{:>13}{:>13}{:>12}{:>12}",
                "PG ms with", "PG ms w/o", "WAL B with", "WAL B w/o"
            ));
        }
        println!("{header}");
        let mut summary = Summary {
            label: target.label,
            writers: n,
            ratios: Vec::new(),
            with: Vec::new(),
            without: Vec::new(),
        };
        for round in 0..rounds {
            let (w, wo) = results[&(round, n)];
            let ratio = wo.per_second() / w.per_second();
            summary.ratios.push(ratio);
            summary.with.push(w.per_second());
            summary.without.push(wo.per_second());
            let mut line = format!(
                "{:<7}{:<10}{:>10.0}{:>10.0}{:>8.3}{:>14.3}{:>14.3}",
                round + 1,
                if round % 2 == 0 { "with" } else { "without" },
                w.per_second(),
                wo.per_second(),
                ratio,
                per_update(w.cpu, &w),
                per_update(wo.cpu, &wo),
            );
            if pg {
                let pg_ms = |s: &Sample| s.pg_cpu.map_or(f64::NAN, |t| per_update(t, s));
                let wal = |s: &Sample| {
                    s.wal
                        .map_or(f64::NAN, |b| b as f64 / s.updates.max(1) as f64)
                };
                line.push_str(&format!(
                    "{:>13.3}{:>13.3}{:>12.0}{:>12.0}",
                    pg_ms(&w),
                    pg_ms(&wo),
                    wal(&w),
                    wal(&wo)
                ));
            }
            let conflicts = w.conflicts + wo.conflicts;
            if conflicts > 0 {
                line.push_str(&format!("  ({conflicts} conflicts retried)"));
            }
            println!("{line}");
        }
        println!(
            "median ratio {:.3} (without ÷ with; target ≤ 1.3)",
            median(summary.ratios.clone())
        );
        summaries.push(summary);
    }

    let events = sea_orm::PaginatorTrait::count(event::Entity::find(), &target.db)
        .await
        .unwrap_or(0);
    println!("events in the log at the end: {events}");
    if std::env::var_os("BENCH_EXPLAIN").is_some() {
        target.db.execute_unprepared(maintain).await.unwrap();
        explain(&target, &admin, &deals).await;
    }
    summaries
}

/// Prints the plan of every statement `auditLog` (a page and `totalCount`) and `history`
/// run, for each filter (set `BENCH_EXPLAIN=1`): the statements are captured from a second
/// connection's metric callback and explained on the first.
async fn explain(target: &Target, admin: &user::Model, deals: &[Uuid]) {
    let seen: Arc<Mutex<Vec<Statement>>> = Arc::default();
    let mut conn = api::db::connect(&target.url, 1).await.unwrap();
    let sink = seen.clone();
    conn.set_metric_callback(move |info| sink.lock().unwrap().push(info.statement.clone()));
    let deps = api::AppState::new(conn, Config::for_database(target.url.clone()))
        .unwrap()
        .deps;
    let viewer = Viewer::new(admin.id, admin.role, Vec::new());
    let now = Utc::now();
    let record = deals[0];
    let filters: Vec<(&str, AuditFilter)> = vec![
        ("no filter", AuditFilter::default()),
        (
            "actorId",
            AuditFilter {
                actor_id: Some(viewer.user_id),
                ..Default::default()
            },
        ),
        (
            "action",
            AuditFilter {
                action: Some(AuditAction::PermissionChanged),
                ..Default::default()
            },
        ),
        (
            "kind",
            AuditFilter {
                kind: Some(RecordKind::Company),
                ..Default::default()
            },
        ),
        (
            "recordId",
            AuditFilter {
                record_id: Some(record),
                ..Default::default()
            },
        ),
        (
            "at range",
            AuditFilter {
                at_gte: Some(now - chrono::Duration::days(100)),
                at_lt: Some(now - chrono::Duration::days(99)),
                ..Default::default()
            },
        ),
        (
            "kind+action+at",
            AuditFilter {
                kind: Some(RecordKind::Deal),
                action: Some(AuditAction::RecordUpdated),
                at_gte: Some(now - chrono::Duration::days(7)),
                ..Default::default()
            },
        ),
    ];
    let backend = target.db.get_database_backend();
    let prefix = match backend {
        DbBackend::Sqlite => "EXPLAIN QUERY PLAN ",
        _ => "EXPLAIN ",
    };
    let print_plans = |name: String, statements: Vec<Statement>| {
        let db = target.db.clone();
        let prefix = prefix.to_owned();
        async move {
            for stmt in statements
                .into_iter()
                .filter(|s| s.sql.contains("\"events\""))
            {
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
    };
    // The statements captured since the last call (the lock is released at once).
    let taken = || std::mem::take(&mut *seen.lock().unwrap());
    println!();
    println!("{}: plans of the audit log's statements", target.label);
    for (name, filter) in &filters {
        for (how, page) in [
            (
                "first 50",
                PageArgs {
                    first: Some(50),
                    ..Default::default()
                },
            ),
            (
                "last 50",
                PageArgs {
                    last: Some(50),
                    ..Default::default()
                },
            ),
        ] {
            seen.lock().unwrap().clear();
            let first = audit::log(&deps, &viewer, filter, &page).await.unwrap();
            print_plans(format!("{name}, {how}"), taken()).await;
            // The next page: the cursor condition added.
            if let Some((cursor, _)) = first.rows.last()
                && how == "first 50"
            {
                let next = PageArgs {
                    first: Some(50),
                    after: Some(cursor.clone()),
                    ..Default::default()
                };
                audit::log(&deps, &viewer, filter, &next).await.unwrap();
                print_plans(format!("{name}, next 50"), taken()).await;
            }
        }
        audit::count(&deps, &viewer, filter).await.unwrap();
        print_plans(format!("{name}, totalCount"), taken()).await;
    }
    seen.lock().unwrap().clear();
    let facts = api::authz::FactMask::NONE;
    audit::history(
        &deps,
        &viewer,
        api::authz::Kind::Deal,
        record,
        facts,
        &PageArgs {
            first: Some(50),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    audit::history_count(&deps, api::authz::Kind::Deal, record)
        .await
        .unwrap();
    print_plans("deal history".to_owned(), taken()).await;
    audit::purge(&deps, now - chrono::Duration::days(10_000))
        .await
        .unwrap();
    print_plans("retention purge".to_owned(), taken()).await;
}

#[tokio::main]
async fn main() {
    let hz = ticks_per_second();
    let pool: u32 = env_or("BENCH_POOL", 10);
    println!(
        "Events write benchmark ({} cores, pool of {pool})",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut summaries = Vec::new();

    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let db = api::db::connect(&url, pool).await.unwrap();
    summaries.extend(
        bench(
            Target {
                label: "SQLite",
                url,
                db,
                pg_name: None,
            },
            hz,
        )
        .await,
    );

    if let Ok(admin_url) = std::env::var("BENCH_DATABASE_URL") {
        let name = format!("crm_bench_{}", Uuid::new_v4().simple());
        let admin = sea_orm::Database::connect(admin_url.as_str())
            .await
            .unwrap();
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
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
        let db = api::db::connect(&url, pool).await.unwrap();
        summaries.extend(
            bench(
                Target {
                    label: "PostgreSQL",
                    url,
                    db: db.clone(),
                    pg_name: Some(name.clone()),
                },
                hz,
            )
            .await,
        );
        db.close().await.unwrap();
        admin
            .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
            .await
            .unwrap();
    }

    println!();
    println!("Summary: deal updates per second (median of rounds), cost factor without ÷ with");
    println!(
        "{:<12}{:>8}{:>10}{:>11}{:>9}{:>18}",
        "database", "writers", "with/s", "without/s", "median", "range"
    );
    for s in summaries {
        let lo = s.ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = s.ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        println!(
            "{:<12}{:>8}{:>10.0}{:>11.0}{:>9.3}{:>18}",
            s.label,
            s.writers,
            median(s.with),
            median(s.without),
            median(s.ratios),
            format!("{lo:.3}–{hi:.3}")
        );
    }
}
