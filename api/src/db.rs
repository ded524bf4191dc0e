//! Database connections: SQLite tuned for a single-machine server, PostgreSQL with a pool.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, TransactionTrait,
};

/// The session settings of every PostgreSQL connection, each unless the URL sets it itself
/// (`?options=-c%20jit%3Don`):
/// - `jit`: the row scopes' subqueries inflate the cost estimates past `jit_above_cost`,
///   and JIT-compiling a 30 ms report or list query costs 300 ms or more (docs/reports.md).
/// - `plan_cache_mode`: the server's statements are prepared once per connection and run
///   with other values on every request. PostgreSQL planned the list statements anew on
///   every execution (its estimate of the cached generic plan is higher than the custom
///   one, though the plans are the same): planning was a third of the database's CPU on a
///   page of deals. The scopes' values are user and team ids whose selectivity the planner
///   cannot tell apart anyway (the viewer's sets are `InitPlan`s, unknown at planning), so
///   the generic plan is the plan. Load benchmark (docs/performance.md, session 12): rep
///   page 0.91 → 0.72, manager page 2.00 → 1.54, dashboard 8.61 → 7.59 ms of CPU per request.
/// - `max_parallel_workers_per_gather`: a page of 25 rows does not pay for starting a
///   worker process; with generic plans PostgreSQL chose a parallel sort for the few-rows
///   page and took 6–26 ms instead of 1.
const POSTGRES_SETTINGS: [(&str, &str); 3] = [
    ("jit", "off"),
    ("plan_cache_mode", "force_generic_plan"),
    ("max_parallel_workers_per_gather", "0"),
];

/// Opens a pool. SQLite gets WAL (readers never block the writer), foreign keys on (SQLite
/// ships them off) and a busy timeout so concurrent writers wait instead of failing;
/// PostgreSQL sessions run with [`POSTGRES_SETTINGS`].
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, max_connections, Duration::from_secs(5)).await
}

/// [`connect`] with the longest wait for a free connection: past it a request gets
/// `RATE_LIMITED` (see `ApiError::from(DbErr)`) instead of queueing without end.
pub async fn connect_with(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<DatabaseConnection, DbErr> {
    let mut opt = ConnectOptions::new(url);
    opt.max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(acquire_timeout)
        // sqlx pings a pooled connection on every checkout by default: a round trip to
        // PostgreSQL, or a hop to the SQLite driver's thread and back, before every
        // statement. Only a connection idle long enough to have been dropped by the server
        // or a proxy is tested now; one broken while in use (the database restarted) is
        // found out by the statement that uses it, which fails as with the database down.
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        opt.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
                // Reads through a memory map of the file (shared by every connection through
                // the OS page cache) instead of a `read()` per page missing from each
                // connection's 2 MB page cache: a report over 20,000 scattered deals spent
                // as much time in the kernel as in SQLite before.
                .pragma("mmap_size", "268435456")
        });
    }
    if url.starts_with("postgres") {
        let settings: Vec<(&str, &str)> = POSTGRES_SETTINGS
            .iter()
            .copied()
            .filter(|(name, _)| !url.contains(name))
            .collect();
        opt.map_sqlx_postgres_opts(move |o| o.options(settings.iter().copied()));
    }
    Database::connect(opt).await
}

/// Keeps SQLite's planner statistics (`sqlite_stat1`) current. Without them SQLite plans the
/// policy's scopes blind: a database grown through the API never had `ANALYZE` run, and the
/// load benchmark measured lists 4 to 15 times dearer than with statistics
/// (docs/performance.md). `full` analyses every table that has none or has grown or shrunk
/// ten-fold since (at start: SQLite's advice for long-lived connections); otherwise the same
/// check with SQLite's own cap on the rows an `ANALYZE` reads, cheap enough to run every few
/// minutes (a no-op when nothing moved). PostgreSQL's autovacuum does this by itself.
pub async fn refresh_statistics(db: &DatabaseConnection, full: bool) -> Result<(), DbErr> {
    if db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        return Ok(());
    }
    // 0x10000: check every table, not only those this pooled connection used; 0x2: run
    // ANALYZE where it helps; 0x10: under a temporary analysis limit.
    let mask = if full { "0x10002" } else { "0x10012" };
    // One transaction: the schema change below commits with the new statistics.
    let txn = db.begin().await?;
    txn.execute_unprepared(&format!("PRAGMA optimize={mask}"))
        .await?;
    // A schema change makes every pooled connection read the schema again, and the
    // statistics with it; without it only this connection and connections opened later
    // would plan with the new ones.
    txn.execute_unprepared(
        "CREATE TABLE crm_statistics_epoch (x INTEGER); DROP TABLE crm_statistics_epoch",
    )
    .await?;
    txn.commit().await
}

/// [`refresh_statistics`] every `every`, for as long as the server runs.
pub async fn keep_statistics(db: DatabaseConnection, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick fires at once: the full pass at start.
    let mut full = true;
    loop {
        tick.tick().await;
        if let Err(e) = refresh_statistics(&db, full).await {
            tracing::warn!(error = %e, "refreshing SQLite statistics failed");
        }
        full = false;
    }
}

/// Runs a trivial statement: the readiness probe.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

/// A raw statement written with `$1, $2, …` placeholders, rewritten to `?1, ?2, …` on
/// SQLite. Values are always bound, never interpolated.
pub fn statement(
    backend: sea_orm::DbBackend,
    sql: &str,
    values: Vec<sea_orm::Value>,
) -> sea_orm::Statement {
    let sql = if backend == sea_orm::DbBackend::Sqlite {
        let mut s = sql.to_owned();
        for n in (1..=values.len()).rev() {
            s = s.replace(&format!("${n}"), &format!("?{n}"));
        }
        s
    } else {
        sql.to_owned()
    };
    sea_orm::Statement::from_sql_and_values(backend, sql, values)
}
