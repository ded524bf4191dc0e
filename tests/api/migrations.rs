//! Every migration applies and reverts cleanly on the backend under test.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::helpers::fresh_database;

const TABLES: [&str; 9] = [
    "events",
    "schedule_runs",
    "teams",
    "users",
    "companies",
    "contacts",
    "deals",
    "deal_shares",
    "activities",
];

async fn existing_tables(db: &sea_orm::DatabaseConnection) -> Vec<String> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
        _ => {
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()"
        }
    };
    let rows = db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .expect("list tables");
    rows.iter()
        .map(|r| r.try_get::<String>("", "name").expect("name"))
        .collect()
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let (db, _config, _guard) = fresh_database().await;

    Migrator::up(&db, None).await.expect("up");
    let tables = existing_tables(&db).await;
    for t in TABLES {
        assert!(
            tables.iter().any(|x| x == t),
            "{t} created; have {tables:?}"
        );
    }
    assert!(
        Migrator::get_pending_migrations(&db)
            .await
            .unwrap()
            .is_empty()
    );

    Migrator::down(&db, None).await.expect("down");
    let tables = existing_tables(&db).await;
    for t in TABLES {
        assert!(
            !tables.iter().any(|x| x == t),
            "{t} dropped; have {tables:?}"
        );
    }

    Migrator::up(&db, None).await.expect("up again");
    let tables = existing_tables(&db).await;
    for t in TABLES {
        assert!(tables.iter().any(|x| x == t), "{t} recreated");
    }
}

#[tokio::test]
async fn each_migration_reverts_on_its_own() {
    let (db, _config, _guard) = fresh_database().await;
    Migrator::up(&db, None).await.expect("up");
    let total = Migrator::migrations().len() as u32;
    for applied in (0..total).rev() {
        Migrator::down(&db, Some(1)).await.expect("down one");
        let status = Migrator::get_applied_migrations(&db).await.unwrap();
        assert_eq!(status.len() as u32, applied);
    }
    Migrator::up(&db, None).await.expect("up again");
}

/// The pool's sessions run as `db::connect` sets them up: foreign keys enforced on SQLite;
/// on PostgreSQL JIT compilation off (it costs more than the report queries it compiles),
/// cached generic plans (no planning per execution) and no parallel workers.
#[tokio::test]
async fn connections_are_tuned_for_the_backend() {
    let (db, _config, _guard) = fresh_database().await;
    let backend = db.get_database_backend();
    let settings: &[(&str, &str)] = match backend {
        DbBackend::Sqlite => &[("PRAGMA foreign_keys", "1")],
        _ => &[
            ("SELECT current_setting('jit')", "off"),
            (
                "SELECT current_setting('plan_cache_mode')",
                "force_generic_plan",
            ),
            (
                "SELECT current_setting('max_parallel_workers_per_gather')",
                "0",
            ),
        ],
    };
    for (sql, expected) in settings {
        let row = db
            .query_one_raw(Statement::from_string(backend, *sql))
            .await
            .expect("query setting")
            .expect("one row");
        let value = match backend {
            DbBackend::Sqlite => row.try_get_by_index::<i32>(0).unwrap().to_string(),
            _ => row.try_get_by_index::<String>(0).unwrap(),
        };
        assert_eq!(value, *expected, "{sql}");
    }
}
