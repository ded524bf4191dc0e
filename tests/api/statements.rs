//! Relations resolve through DataLoaders: the number of SQL statements a request runs grows
//! with the depth of the query, never with the number of rows. Counts read no page; SQLite's
//! planner statistics are kept.

use crm_testkit::Org;
use std::sync::atomic::Ordering;

use entity::enums::{DealStage, Role, SharePermission};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, gql_to};

const DEEP: &str = "query($n: Int!) {
  deals(first: $n) {
    totalCount
    nodes {
      id title amount viewerCan { update readAmount }
      owner { name team { name manager { name } members { name } } }
      shares { permission user { name team { name } } }
    }
  }
}";

/// Statements for the deep query over `rows` deals (spread over several owners and teams).
async fn statements_for(rows: usize) -> usize {
    let (app, counter) = TestApp::with_statement_counter().await;
    let mut org = Org::new();
    let manager = org
        .user()
        .email("m@example.com")
        .role(Role::Manager)
        .insert(&app.db)
        .await;
    let mut owners = Vec::new();
    for t in 0..3 {
        let team = org
            .team()
            .name(format!("Team {t}"))
            .manager(manager.id)
            .insert(&app.db)
            .await;
        for r in 0..3 {
            owners.push(
                org.user()
                    .email(format!("r{t}{r}@example.com"))
                    .role(Role::SalesRep)
                    .team(team.id)
                    .insert(&app.db)
                    .await,
            );
        }
    }
    org.user()
        .email("admin@example.com")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    let company = org
        .company()
        .name("Acme")
        .owner(owners[0].id)
        .insert(&app.db)
        .await;
    for i in 0..rows {
        let owner = &owners[i % owners.len()];
        let d = org
            .deal()
            .company(company.id)
            .owner(owner.id)
            .title(format!("Deal {i}"))
            .amount_cents(100)
            .stage(DealStage::Proposal)
            .insert(&app.db)
            .await;
        let other = &owners[(i + 1) % owners.len()];
        org.share(d.id, other.id)
            .permission(SharePermission::View)
            .insert(&app.db)
            .await;
    }
    let token = app.login("admin@example.com", PASSWORD).await.0;
    counter.store(0, Ordering::SeqCst);
    let (_, res) = app.gql(Some(&token), DEEP, json!({ "n": rows })).await;
    assert!(res["errors"].is_null(), "{res}");
    let nodes = res["data"]["deals"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), rows);
    assert!(
        nodes
            .iter()
            .all(|n| n["owner"]["team"]["manager"]["name"] == "m")
    );
    counter.load(Ordering::SeqCst)
}

#[tokio::test]
async fn statements_do_not_grow_with_rows() {
    let ten = statements_for(10).await;
    let hundred = statements_for(100).await;
    assert_eq!(
        ten, hundred,
        "10 rows: {ten} statements, 100 rows: {hundred}"
    );
    // Authentication (2), the page, the count, and one per relation level.
    assert!(ten <= 12, "{ten} statements");
}

const COMPANIES: &str = "query($n: Int!) {
  companies(first: $n) {
    totalCount
    nodes {
      name owner { name }
      contacts(first: 5) { totalCount nodes { fullName company { name } } }
      deals(first: 5) {
        totalCount
        nodes { title amount contact { fullName } activities(first: 3) { totalCount nodes { subject creator { name } } } }
      }
    }
  }
}";

/// Statements for the three-level companies query over `rows` companies, each with two
/// contacts, two deals and two activities per deal.
async fn company_statements(rows: usize) -> usize {
    let (app, counter) = TestApp::with_statement_counter().await;
    let mut org = Org::new();
    let team = org.team().name("East").insert(&app.db).await;
    let rep = org
        .user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .team(team.id)
        .insert(&app.db)
        .await;
    let mate = org
        .user()
        .email("mate@example.com")
        .role(Role::SalesRep)
        .team(team.id)
        .insert(&app.db)
        .await;
    for i in 0..rows {
        let owner = if i % 2 == 0 { &rep } else { &mate };
        let c = org
            .company()
            .name(format!("Company {i:03}"))
            .owner(owner.id)
            .insert(&app.db)
            .await;
        let ada = org
            .contact()
            .first("Ada")
            .last(format!("{i}"))
            .owner(owner.id)
            .company(c.id)
            .insert(&app.db)
            .await;
        org.contact()
            .first("Bob")
            .last(format!("{i}"))
            .owner(owner.id)
            .company(c.id)
            .insert(&app.db)
            .await;
        for k in 0..2 {
            let d = org
                .deal()
                .company(c.id)
                .owner(owner.id)
                .title(format!("Deal {i}-{k}"))
                .amount_cents(100)
                .stage(DealStage::Proposal)
                .insert(&app.db)
                .await;
            org.activity()
                .subject("Call")
                .created_by(owner.id)
                .deal(d.id)
                .company(c.id)
                .contact(ada.id)
                .due_at(chrono::Utc::now() + chrono::Duration::days(1))
                .insert(&app.db)
                .await;
            org.activity()
                .subject("Email")
                .created_by(owner.id)
                .deal(d.id)
                .due_at(chrono::Utc::now() + chrono::Duration::days(1))
                .insert(&app.db)
                .await;
        }
    }
    let token = app.login("rep@example.com", PASSWORD).await.0;
    counter.store(0, Ordering::SeqCst);
    let (_, res) = app.gql(Some(&token), COMPANIES, json!({ "n": rows })).await;
    assert!(res["errors"].is_null(), "{res}");
    let nodes = res["data"]["companies"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), rows);
    assert!(
        nodes
            .iter()
            .all(|n| n["deals"]["totalCount"] == 2 && n["contacts"]["totalCount"] == 2)
    );
    assert!(
        nodes
            .iter()
            .all(|n| n["deals"]["nodes"][0]["activities"]["totalCount"] == 2)
    );
    counter.load(Ordering::SeqCst)
}

#[tokio::test]
async fn three_level_statements_do_not_grow_with_rows() {
    let ten = company_statements(10).await;
    let hundred = company_statements(100).await;
    assert_eq!(
        ten, hundred,
        "10 companies: {ten} statements, 100: {hundred}"
    );
}

/// `{ totalCount }` alone is the count and nothing else: no page is read for it (the
/// arguments are still checked as for a page).
#[tokio::test]
async fn a_count_alone_reads_no_page() {
    let (app, counter) = TestApp::with_statement_counter().await;
    crate::helpers::east_west(&app).await;
    let token = app.login("r1@example.com", PASSWORD).await.0;
    let run = |query: &'static str| {
        let (app, counter, token) = (&app, &counter, &token);
        async move {
            counter.store(0, Ordering::SeqCst);
            let (_, res) = app.gql(Some(token), query, json!({})).await;
            (counter.load(Ordering::SeqCst), res)
        }
    };
    // The first page of a minute may first ask whether the rep reads few deals
    // (`record::reads_few`); that answer is remembered, so the second page is the measure.
    run("{ deals(first: 5) { totalCount nodes { id } } }").await;
    let (with_page, res) = run("{ deals(first: 5) { totalCount nodes { id } } }").await;
    assert_eq!(res["data"]["deals"]["totalCount"], 0, "{res}");
    let (alone, res) = run("{ deals(first: 5) { totalCount } }").await;
    assert_eq!(res["data"]["deals"]["totalCount"], 0, "{res}");
    assert_eq!(
        alone + 1,
        with_page,
        "count alone {alone}, with a page {with_page}"
    );
    let (through_fragment, _) =
        run("{ deals(first: 5) { totalCount ...F } } fragment F on DealConnection { pageInfo { hasNextPage } }").await;
    assert_eq!(
        through_fragment, with_page,
        "a page asked for in a fragment is read"
    );
    let (_, res) = run("{ deals(first: 5000) { totalCount } }").await;
    assert_eq!(res["errors"][0]["extensions"]["field"], "first", "{res}");
    let (_, res) = run("{ deals(after: \"garbage\") { totalCount } }").await;
    assert_eq!(
        res["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{res}"
    );
}

/// The server keeps SQLite's planner statistics (`sqlite_stat1`): a database grown through
/// the API gets them at start and as it grows; on PostgreSQL the call does nothing
/// (autovacuum analyzes there).
#[tokio::test]
async fn sqlite_statistics_are_maintained() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::new().await;
    crate::helpers::east_west(&app).await;
    let mut org = Org::new();
    let owner = org
        .user()
        .email("stats@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let company = org.company().owner(owner.id).insert(&app.db).await;
    for _ in 0..20 {
        org.deal()
            .owner(owner.id)
            .company(company.id)
            .insert(&app.db)
            .await;
    }
    api::db::refresh_statistics(&app.db, true)
        .await
        .expect("refresh");
    if app.backend() != sea_orm::DbBackend::Sqlite {
        return;
    }
    let analysed = |table: &'static str| {
        let db = app.db.clone();
        async move {
            let row = db
                .query_one_raw(sea_orm::Statement::from_sql_and_values(
                    sea_orm::DbBackend::Sqlite,
                    "SELECT COUNT(*) AS n FROM sqlite_stat1 WHERE tbl = ?",
                    [table.into()],
                ))
                .await
                .expect("sqlite_stat1")
                .expect("a row");
            row.try_get::<i64>("", "n").expect("n")
        }
    };
    assert!(analysed("deals").await > 0, "deals were analysed");
    assert!(analysed("users").await > 0, "users were analysed");
    // The periodic pass (limited) runs too, and keeps them.
    api::db::refresh_statistics(&app.db, false)
        .await
        .expect("refresh");
    assert!(analysed("deals").await > 0);
}

/// The bundled SQLite is built with its query planner stability guarantee
/// (`.cargo/config.toml`): without it, a statement whose plan could depend on a bound value
/// (`LIMIT ?`, a value compared with a sampled index, `LIKE ?`) is compiled again every
/// time it is executed with new values, i.e. on every request.
#[tokio::test]
async fn sqlite_plans_do_not_depend_on_bound_values() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::new().await;
    if app.backend() != sea_orm::DbBackend::Sqlite {
        return;
    }
    let options: Vec<String> = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "PRAGMA compile_options",
        ))
        .await
        .expect("compile options")
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).expect("option"))
        .collect();
    assert!(
        options.iter().any(|o| o == "ENABLE_QPSG"),
        "SQLite built without ENABLE_QPSG: {options:?}"
    );
}

/// A viewer who can read only a few rows of a kind gets pages planned for that (SQLite: the
/// scope's rows read through its indexes and sorted, not a walk of the list order): the
/// same rows, order, cursors and page info as the walk, page after page, for every kind and
/// several orders. The walk is the same app with `CRM_FEW_ROWS=0`, on the same database.
#[tokio::test]
async fn pages_for_viewers_who_read_few_rows_equal_the_walked_pages() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let manager = org
        .user()
        .email("few-m@example.com")
        .role(Role::Manager)
        .add();
    let east = org.team().name("East").manager(manager.id).add();
    let west = org.team().name("West").add();
    let reps: Vec<uuid::Uuid> = ["few-r1", "few-r2", "few-r3"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            org.user()
                .email(format!("{name}@example.com"))
                .role(Role::SalesRep)
                .team(if i < 2 { east.id } else { west.id })
                .add()
                .id
        })
        .collect();
    let stages = [
        DealStage::Prospecting,
        DealStage::Proposal,
        DealStage::ClosedWon,
    ];
    for c in 0..6 {
        let company = org
            .company()
            .name(format!("Company {}", 6 - c))
            .owner(reps[c % 3])
            .add()
            .id;
        org.contact().company(company).owner(reps[c % 3]).add();
        for d in 0..5 {
            let deal = org
                .deal()
                .title(format!("Deal {}", (c * 7 + d * 3) % 11))
                .owner(reps[(c + d) % 3])
                .company(company)
                .amount(&format!("{}.00", (c * 5 + d) % 4 * 100))
                .stage(stages[(c + d) % 3])
                .add()
                .id;
            if d == 4 {
                org.share(deal, reps[(c + 1) % 3])
                    .permission(if c % 2 == 0 {
                        SharePermission::Edit
                    } else {
                        SharePermission::View
                    })
                    .add();
            }
        }
    }
    org.insert(&app.db).await.expect("org");
    let mut config = app.state.config.as_ref().clone();
    config.limits.few_rows = 0;
    let walk = api::AppState::new(app.db.clone(), config).expect("walking instance");
    let on = |state: api::AppState, token: String, query: &'static str, after: Option<String>| async move {
        let (_, json) = gql_to(&state, Some(&token), query, json!({ "after": after })).await;
        assert!(json["errors"].is_null(), "{json}");
        json["data"]
            .as_object()
            .expect("data")
            .values()
            .next()
            .expect("list")
            .clone()
    };
    const QUERIES: [&str; 7] = [
        "query($after: String) { deals(first: 4, after: $after) { pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { id title amount } } } }",
        "query($after: String) { deals(first: 3, after: $after, orderBy: [{field: AMOUNT, direction: DESC}]) { pageInfo { hasNextPage endCursor } edges { cursor node { id amount } } } }",
        "query($after: String) { deals(first: 5, after: $after, orderBy: [{field: TITLE}], filter: {stage: {in: [PROSPECTING, PROPOSAL]}}) { pageInfo { hasNextPage endCursor } edges { cursor node { id title stage } } } }",
        "query($after: String) { companies(first: 2, after: $after, orderBy: [{field: NAME}]) { pageInfo { hasNextPage endCursor } edges { cursor node { id name } } } }",
        "query($after: String) { companies(first: 3, after: $after) { pageInfo { hasNextPage endCursor } edges { cursor node { id } } } }",
        "query($after: String) { contacts(first: 2, after: $after) { pageInfo { hasNextPage endCursor } edges { cursor node { id } } } }",
        "query($after: String) { deals(first: 2, after: $after, search: \"Deal 1\") { pageInfo { hasNextPage endCursor } edges { cursor node { id title } } } }",
    ];
    let viewers = [
        "few-r1@example.com",
        "few-r3@example.com",
        "few-m@example.com",
    ];
    let mut pages_walked = 0;
    for email in viewers {
        let (token, _) = app.login(email, PASSWORD).await;
        let mut total = 0;
        for query in QUERIES {
            let mut after: Option<String> = None;
            let mut seen = 0;
            loop {
                let few = on(app.state.clone(), token.clone(), query, after.clone()).await;
                let walked = on(walk.clone(), token.clone(), query, after.clone()).await;
                assert_eq!(few, walked, "{email}: {query} after {after:?}");
                seen += few["edges"].as_array().expect("edges").len();
                if few["pageInfo"]["hasNextPage"] != true {
                    break;
                }
                assert!(seen < 200, "{email}: {query} pages without end");
                after = few["pageInfo"]["endCursor"].as_str().map(str::to_owned);
            }
            total += seen;
            pages_walked += usize::from(after.is_some());
        }
        assert!(total > 0, "{email} reads some rows");
    }
    assert!(pages_walked > 0, "some lists span several pages");
    // The restricted viewers did go through the few-rows plan here (on both databases).
    let deps = &app.state.deps;
    let rep = api::authz::Viewer::new(reps[0], Role::SalesRep, [east.id]);
    let few = api::service::record::reads_few::<entity::deal::Entity>(deps, &rep)
        .await
        .expect("reads few");
    assert!(few, "a rep of a small organisation reads few rows");
}
