//! The differential test: on random organisations, for every user × record × action
//! (guarded fields included), the fast path — membership in the SQL scope, and the compiled
//! table looked up with the SQL facts mask — agrees with a direct Oso query on real data
//! against the same policy files.

use std::collections::{HashMap, HashSet};

use api::authz::{
    Action, Authorizer, CompanyAction, ContactAction, DealAction, DealFacts, FactMask, Kind,
    UserFacts, Viewer,
};
use crm_testkit::direct::Oracle;
use crm_testkit::{Org, Shape};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::authz_support::{DEFAULT, knowing_linked_agrees, masks, scoped_ids};
use crate::helpers::TestApp;

/// Kinds whose records live in tables (the others are decided by role alone).
const RECORD_KINDS: [Kind; 5] = [
    Kind::Deal,
    Kind::Company,
    Kind::Contact,
    Kind::Activity,
    Kind::User,
];
const ROLE_ONLY_KINDS: [Kind; 3] = [Kind::Team, Kind::AuditLog, Kind::Export];

/// What SQL says for one viewer: every row's facts mask, and each action's scope.
struct SqlView {
    viewer: Viewer,
    masks: HashMap<Kind, HashMap<Uuid, FactMask>>,
    scopes: HashMap<Action, HashSet<Uuid>>,
}

fn record_ids(org: &Org, kind: Kind) -> Vec<Uuid> {
    match kind {
        Kind::Deal => org.deals.iter().map(|r| r.id).collect(),
        Kind::Company => org.companies.iter().map(|r| r.id).collect(),
        Kind::Contact => org.contacts.iter().map(|r| r.id).collect(),
        Kind::Activity => org.activities.iter().map(|r| r.id).collect(),
        Kind::User => org.users.iter().map(|r| r.id).collect(),
        _ => Vec::new(),
    }
}

async fn sql_view(db: &DatabaseConnection, authz: &Authorizer, org: &Org, user: Uuid) -> SqlView {
    let u = org.find_user(user).expect("user");
    let viewer = Viewer::load(db, u.id, u.role, u.team_id)
        .await
        .expect("load viewer");
    assert_eq!(
        viewer,
        org.viewer(user),
        "Viewer::load disagrees with the data"
    );
    let mut view = SqlView {
        viewer,
        masks: HashMap::new(),
        scopes: HashMap::new(),
    };
    for kind in RECORD_KINDS {
        view.masks
            .insert(kind, masks(db, authz, &view.viewer, kind).await);
        for &action in kind.actions() {
            view.scopes
                .insert(action, scoped_ids(db, authz, &view.viewer, action).await);
        }
    }
    // The companies and contacts of the deals the viewer may read, as the relation
    // loaders reach them.
    let readable = &view.scopes[&Action::from(DealAction::Read)];
    let deals = || org.deals.iter().filter(|d| readable.contains(&d.id));
    let companies: HashSet<Uuid> = deals().map(|d| d.company_id).collect();
    let contacts: HashSet<Uuid> = deals().filter_map(|d| d.contact_id).collect();
    let mut wrong =
        knowing_linked_agrees(db, authz, &view.viewer, CompanyAction::Read, &companies).await;
    wrong.extend(
        knowing_linked_agrees(db, authz, &view.viewer, ContactAction::Read, &contacts).await,
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    view
}

/// The facts the server would compute in Rust for loaded rows must equal the SQL masks.
fn rust_facts_agree(authz: &Authorizer, org: &Org, view: &SqlView) -> Vec<String> {
    let v = &view.viewer;
    // SQL computes only the facts some decision of the role depends on.
    let only = |kind, mask: FactMask| {
        FactMask::from_bits(mask.bits() & authz.relevant_facts(v.role, kind).bits())
    };
    let mut wrong = Vec::new();
    for d in &org.deals {
        let share = org
            .shares
            .iter()
            .find(|s| s.deal_id == d.id && s.user_id == v.user_id)
            .map(|s| s.permission);
        let rust = only(
            Kind::Deal,
            v.facts(&DealFacts {
                owner_id: d.owner_id,
                owner_team_id: org.team_of(d.owner_id),
                share,
            }),
        );
        let sql = view.masks[&Kind::Deal][&d.id];
        if rust != sql {
            wrong.push(format!("deal {} facts: Rust {rust:?}, SQL {sql:?}", d.id));
        }
    }
    for u in &org.users {
        let rust = only(Kind::User, v.facts(&UserFacts::from(u)));
        let sql = view.masks[&Kind::User][&u.id];
        if rust != sql {
            wrong.push(format!("user {} facts: Rust {rust:?}, SQL {sql:?}", u.id));
        }
    }
    wrong
}

/// Compares every decision for one user; returns (decisions, mismatches).
fn compare(authz: &Authorizer, org: &Org, view: &SqlView) -> (usize, Vec<String>) {
    let mut oracle = Oracle::new(authz, org, view.viewer.user_id);
    let role = view.viewer.role;
    let mut decisions = 0;
    let mut wrong = rust_facts_agree(authz, org, view);
    for kind in RECORD_KINDS {
        for id in record_ids(org, kind) {
            let mask = view.masks[&kind][&id];
            for &action in kind.actions() {
                let direct = oracle
                    .is_allowed(id, action)
                    .unwrap_or_else(|e| panic!("direct query failed: {e}"));
                let listed = view.scopes[&action].contains(&id);
                let decided = authz.decide(role, action, mask);
                decisions += 1;
                if listed != direct || decided != direct {
                    wrong.push(format!(
                        "{role:?} {} {action:?} on {kind} {id}: Oso {direct}, SQL scope \
                         {listed}, table {decided} (facts {mask:?})",
                        view.viewer.user_id
                    ));
                }
            }
        }
    }
    for kind in ROLE_ONLY_KINDS {
        for &action in kind.actions() {
            let direct = oracle
                .is_allowed(Uuid::nil(), action)
                .unwrap_or_else(|e| panic!("direct query failed: {e}"));
            decisions += 1;
            if authz.allowed_without_facts(role, action) != direct {
                wrong.push(format!("{role:?} {action:?} on {kind}: Oso {direct}"));
            }
        }
    }
    (decisions, wrong)
}

/// Generates the organisation of `seed`, writes it to `db`, and checks every decision of
/// `authz` against Oso. Returns the number of decisions checked.
pub async fn check_random_org(db: &DatabaseConnection, authz: &Authorizer, seed: u64) -> usize {
    let mut org = Org::random(seed, Shape::DIFFERENTIAL);
    org.insert(db).await.expect("insert the organisation");

    let mut views = Vec::new();
    for user in &org.users {
        views.push(sql_view(db, authz, &org, user.id).await);
    }

    // Oso queries are synchronous CPU work: spread the users over the cores.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = views.len().div_ceil(workers).max(1);
    let results: Vec<(usize, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = views
            .chunks(chunk)
            .map(|part| {
                let org = &org;
                scope.spawn(move || {
                    part.iter().map(|view| compare(authz, org, view)).fold(
                        (0, Vec::new()),
                        |(n, mut w), (m, more)| {
                            w.extend(more);
                            (n + m, w)
                        },
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("comparison thread"))
            .collect()
    });
    let decisions: usize = results.iter().map(|(n, _)| n).sum();
    let wrong: Vec<&String> = results.iter().flat_map(|(_, w)| w).collect();
    assert!(
        wrong.is_empty(),
        "seed {seed}: {} of {decisions} decisions differ, e.g.:\n{}",
        wrong.len(),
        wrong
            .iter()
            .take(20)
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    decisions
}

/// The organisations to check: one fixed seed, plus any listed in `CRM_AUTHZ_SEEDS`
/// (comma-separated) to explore more.
fn seeds() -> Vec<u64> {
    let mut seeds = vec![20_261_121];
    if let Ok(more) = std::env::var("CRM_AUTHZ_SEEDS") {
        seeds.extend(more.split(',').filter_map(|s| s.trim().parse::<u64>().ok()));
    }
    seeds
}

#[tokio::test]
async fn fast_path_agrees_with_direct_oso_queries_on_random_organisations() {
    let app = TestApp::new().await;
    let mut decisions = 0;
    // Several organisations can share a database (their names and emails do not collide).
    for seed in seeds() {
        decisions += check_random_org(&app.db, &DEFAULT, seed).await;
    }
    eprintln!("differential: {decisions} decisions agree");
    assert!(decisions >= 5_000, "only {decisions} decisions checked");
}
