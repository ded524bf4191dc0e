//! The cost of authorization on the list path, as ratios (run with `cargo bench -p api
//! --bench authz`; figures go to docs/authorization.md).
//!
//! For a page of 100 and for 1,000 deals (ten pages of 100) with every field and
//! `viewerCan`, as a sales rep and as a manager, the same GraphQL request runs through the
//! same code path twice: with the default policy, and with a policy that allows everything.
//! The ratio is the price of the policy. For comparison it also prints the raw cost of one
//! `Oso::is_allowed` call and what deciding the same rows naively (one call per row and
//! guarded field) would cost.

use std::time::{Duration, Instant};

use api::AppState;
use api::auth::Actor;
use api::authz::{
    Authorizer, DealAction, DealFacts, PolarDeal, PolarResource, PolarUser, RealUser,
};
use api::config::Config;
use chrono::Utc;
use crm_testkit::Org;
use entity::enums::{DealStage, Role, SharePermission};
use entity::user;
use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

const QUERY: &str = "query($after: String) {
  deals(first: 100, after: $after) {
    pageInfo { endCursor hasNextPage }
    nodes {
      id title amount currency stage probability expectedCloseDate actualCloseDate source
      priority notes ownerId companyId contactId version createdAt updatedAt
      viewerCan { update delete reassign share readAmount updateAmount }
    }
  }
}";

/// Everything allowed: the baseline with the same code path and no policy cost.
/// (Oso prints a hint that `allow` does not call `has_permission`; that is the point here.)
const ALLOW_ALL: &str = "actor User {}\nallow(_actor, _action, _resource);\n";

struct People {
    rep: user::Model,
    manager: user::Model,
}

/// A team (a manager, five reps) and an outsider; `deals` deals at one company owned by
/// the team's reps (the rep sees every one, with amounts for a fifth of them), every
/// seventh shared with the outsider so share facts are exercised.
async fn seed(db: &DatabaseConnection, deals: usize) -> People {
    let mut org = Org::new();
    let team = org.team().name("Bench").add();
    let manager = org
        .user()
        .email("manager@bench")
        .role(Role::Manager)
        .team(&team)
        .add();
    org.set_manager(team.id, manager.id);
    let reps: Vec<user::Model> = (0..5)
        .map(|i| org.user().email(format!("rep{i}@bench")).team(&team).add())
        .collect();
    let outsider = org.user().email("outsider@bench").add();
    let company = org.company().name("Bench Co").owner(&reps[0]).add();
    let now = Utc::now();
    for i in 0..deals {
        let deal = org
            .deal()
            .company(&company)
            .title(format!("Deal {i:05}"))
            .amount_cents((i as i64 + 1) * 10_000)
            .stage(DealStage::ALL[i % 6])
            .closed_on(None)
            .notes("notes")
            .owner(&reps[i % reps.len()])
            .created_at(now - chrono::Duration::seconds(i as i64))
            .add();
        if i % 7 == 0 {
            org.share(&deal, &outsider)
                .permission(SharePermission::Edit)
                .add();
        }
    }
    org.insert(db).await.unwrap();
    People {
        rep: reps[0].clone(),
        manager,
    }
}

/// Runs `pages` consecutive pages of 100 once; returns rows seen.
async fn run(state: &AppState, actor: &Actor, pages: usize) -> usize {
    let mut after: Option<String> = None;
    let mut rows = 0;
    for _ in 0..pages {
        let loader = api::graphql::loaders::for_viewer(state.deps.clone(), actor.viewer.clone());
        let vars = async_graphql::Variables::from_json(serde_json::json!({ "after": after }));
        let res = state
            .schema
            .execute(
                async_graphql::Request::new(QUERY)
                    .variables(vars)
                    .data(loader)
                    .data(actor.clone()),
            )
            .await;
        assert!(res.errors.is_empty(), "{:?}", res.errors);
        let data = res.data.into_json().unwrap();
        let deals = &data["deals"];
        rows += deals["nodes"].as_array().unwrap().len();
        after = deals["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    rows
}

/// Median wall time of `iterations` runs (after warm-up).
async fn time(state: &AppState, actor: &Actor, pages: usize, iterations: usize) -> Duration {
    for _ in 0..3 {
        run(state, actor, pages).await;
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        let rows = run(state, actor, pages).await;
        samples.push(start.elapsed());
        assert_eq!(rows, pages * 100);
    }
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let db = api::db::connect(&url, 4).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    let org = seed(&db, 1_000).await;
    let config = Config::for_database(url);
    let policy_dir = config.policy_dir.clone();
    let oso_state = AppState::with_authorizer(
        db.clone(),
        config.clone(),
        Authorizer::load(&policy_dir).unwrap(),
    )
    .unwrap();
    let open_state = AppState::with_authorizer(
        db.clone(),
        config,
        Authorizer::from_sources(&[("allow_all.polar", ALLOW_ALL)]).unwrap(),
    )
    .unwrap();

    println!(
        "Authorization cost on the deals list (SQLite, {} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<34} {:>11} {:>11} {:>7}",
        "case", "policy ms", "allow-all", "ratio"
    );
    for (who, model) in [("sales rep", &org.rep), ("manager", &org.manager)] {
        let actor = Actor::load(&db, model.id, None).await.unwrap().unwrap();
        for (label, pages, iterations) in
            [("page of 100", 1, 41), ("1,000 rows (10 pages)", 10, 11)]
        {
            let with_policy = time(&oso_state, &actor, pages, iterations).await;
            let open = time(&open_state, &actor, pages, iterations).await;
            println!(
                "{:<34} {:>11.2} {:>11.2} {:>7.3}",
                format!("{label}, {who}"),
                ms(with_policy),
                ms(open),
                with_policy.as_secs_f64() / open.as_secs_f64()
            );
        }
    }

    // The raw cost of asking Oso directly, per call.
    let authz = Authorizer::load(&policy_dir).unwrap();
    let rep = RealUser {
        id: org.rep.id,
        role: Role::SalesRep,
        team_id: org.rep.team_id,
        team_ids: org.rep.team_id.into_iter().collect(),
        active: true,
    };
    let polar_rep = PolarUser::real(rep);
    let deal = PolarResource::Deal(PolarDeal::real(DealFacts {
        owner_id: Uuid::new_v4(),
        owner_team_id: org.rep.team_id,
        share: None,
    }));
    let calls = 2_000;
    let start = Instant::now();
    for i in 0..calls {
        let action = ["read", "update", "read:amount", "delete"][i % 4];
        let _ = deal.is_allowed(authz.oso(), &polar_rep, action).unwrap();
    }
    let per_call = start.elapsed() / calls as u32;
    let per_decision = {
        let mask = api::authz::FactMask::NONE;
        let n = 10_000_000u32;
        let start = Instant::now();
        let mut allowed = 0u32;
        for i in 0..n {
            let action = [
                DealAction::Read,
                DealAction::Update,
                DealAction::ReadAmount,
                DealAction::Delete,
            ][(i % 4) as usize];
            allowed += u32::from(authz.decide(
                Role::SalesRep,
                std::hint::black_box(action),
                std::hint::black_box(mask),
            ));
        }
        std::hint::black_box(allowed);
        start.elapsed() / n
    };
    println!();
    println!(
        "Oso::is_allowed, one call:        {:>9.1} µs",
        per_call.as_secs_f64() * 1e6
    );
    println!(
        "compiled decision (table lookup): {:>9.1} ns",
        per_decision.as_secs_f64() * 1e9
    );
    println!(
        "naive per-row checks, 1,000 deals × 7 decisions: {:.0} ms of Oso CPU",
        per_call.as_secs_f64() * 1e3 * 7_000.0
    );
}
