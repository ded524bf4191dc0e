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
use entity::enums::{DealStage, Priority, Role, SharePermission};
use entity::{company, deal, deal_share, team, user};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, IntoActiveModel, Set};
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

struct Org {
    rep: user::Model,
    manager: user::Model,
}

async fn seed(db: &DatabaseConnection, deals: usize) -> Org {
    let now = Utc::now();
    let team_id = Uuid::new_v4();
    team::ActiveModel {
        id: Set(team_id),
        name: Set("Bench".into()),
        manager_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    let mk = |email: &str, role: Role, team: Option<Uuid>| user::Model {
        id: Uuid::new_v4(),
        email: email.into(),
        name: email.into(),
        password_hash: "x".into(),
        role,
        team_id: team,
        active: true,
        must_change_password: false,
        created_at: now,
        updated_at: now,
    };
    let manager = mk("manager@bench", Role::Manager, Some(team_id));
    let reps: Vec<user::Model> = (0..5)
        .map(|i| mk(&format!("rep{i}@bench"), Role::SalesRep, Some(team_id)))
        .collect();
    let outsider = mk("outsider@bench", Role::SalesRep, None);
    let mut all = reps.clone();
    all.push(manager.clone());
    all.push(outsider.clone());
    user::Entity::insert_many(all.into_iter().map(IntoActiveModel::into_active_model))
        .exec(db)
        .await
        .unwrap();
    let mut t = team::Entity::find_by_id(team_id)
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .into_active_model();
    t.manager_id = Set(Some(manager.id));
    t.update(db).await.unwrap();
    let company_id = Uuid::new_v4();
    company::ActiveModel {
        id: Set(company_id),
        name: Set("Bench Co".into()),
        owner_id: Set(reps[0].id),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    // Owned by the team's reps (the rep sees every one, with amounts for a fifth of them);
    // some shared with an outsider so share facts are exercised.
    let rows: Vec<deal::ActiveModel> = (0..deals)
        .map(|i| {
            let stage = DealStage::ALL[i % 6];
            deal::Model {
                id: Uuid::new_v4(),
                company_id,
                contact_id: None,
                title: format!("Deal {i:05}"),
                amount_cents: (i as i64 + 1) * 10_000,
                currency: "USD".into(),
                stage,
                probability: stage.probability(),
                expected_close_date: None,
                actual_close_date: None,
                source: None,
                priority: Priority::Medium,
                notes: Some("notes".into()),
                owner_id: reps[i % reps.len()].id,
                version: 1,
                created_at: now - chrono::Duration::seconds(i as i64),
                updated_at: now,
            }
            .into_active_model()
        })
        .collect();
    for chunk in rows.chunks(500) {
        deal::Entity::insert_many(chunk.to_vec())
            .exec(db)
            .await
            .unwrap();
    }
    let ids: Vec<Uuid> = deal::Entity::find()
        .all(db)
        .await
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    let shares: Vec<deal_share::ActiveModel> = ids
        .iter()
        .step_by(7)
        .map(|d| deal_share::ActiveModel {
            id: Set(Uuid::new_v4()),
            deal_id: Set(*d),
            user_id: Set(outsider.id),
            permission: Set(SharePermission::Edit),
            created_at: Set(now),
        })
        .collect();
    deal_share::Entity::insert_many(shares)
        .exec(db)
        .await
        .unwrap();
    Org {
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
        let actor = Actor::load(&db, model.clone(), None).await.unwrap();
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
