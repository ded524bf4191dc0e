//! A policy edited in memory changes the SQL scopes, the field conditions and the per-row
//! decisions, with no code change.

use api::authz::{Authorizer, DealAction, Viewer};
use crm_testkit::Org;
use entity::enums::Role;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use uuid::Uuid;

use crate::authz_differential::check_random_org;
use crate::authz_support::{DEFAULT, edited_policy, fast_path, scoped_ids};
use crate::helpers::TestApp;

/// Reps also see the amounts of their teammates' deals.
const TEAMMATES_AMOUNTS: &str = "
# Edited: reps also see the amounts of their teammates' deals.
has_permission(user: User, \"read:amount\", deal: Deal) if
    user.role = \"sales_rep\" and deal.in_team_of(user);
";

struct Team {
    app: TestApp,
    rae: Viewer,
    d_rae: Uuid,
    d_ray: Uuid,
    d_wes: Uuid,
}

async fn team() -> Team {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let east = org.team().name("East").add().id;
    let west = org.team().name("West").add().id;
    let rae = org
        .user()
        .name("Rae")
        .role(Role::SalesRep)
        .team(east)
        .add()
        .id;
    let ray = org
        .user()
        .name("Ray")
        .role(Role::SalesRep)
        .team(east)
        .add()
        .id;
    let wes = org
        .user()
        .name("Wes")
        .role(Role::SalesRep)
        .team(west)
        .add()
        .id;
    let c = org.company().name("Acme").owner(ray).add().id;
    let d_rae = org
        .deal()
        .title("Rae's")
        .owner(rae)
        .company(c)
        .amount_cents(100)
        .add()
        .id;
    let d_ray = org
        .deal()
        .title("Ray's")
        .owner(ray)
        .company(c)
        .amount_cents(200)
        .add()
        .id;
    let d_wes = org
        .deal()
        .title("Wes's")
        .owner(wes)
        .company(c)
        .amount_cents(400)
        .add()
        .id;
    org.insert(&app.db).await.expect("insert");
    let rae = Viewer::load(&app.db, rae, Role::SalesRep, Some(east))
        .await
        .expect("viewer");
    Team {
        app,
        rae,
        d_rae,
        d_ray,
        d_wes,
    }
}

/// The sum of the amounts `viewer` may read, over the deals they may read.
async fn amount_sum(db: &DatabaseConnection, authz: &Authorizer, viewer: &Viewer) -> i64 {
    let readable_amount = Expr::case(
        authz.field_condition(viewer, DealAction::ReadAmount),
        Expr::col(("deals", "amount_cents")),
    )
    .finally(0);
    let readable_amount: Expr = readable_amount.into();
    let select = Query::select()
        .expr_as(readable_amount.sum().cast_as("bigint"), Alias::new("total"))
        .from("deals")
        .cond_where(authz.scope(viewer, DealAction::Read))
        .to_owned();
    let row = db.query_one(&select).await.expect("sum").expect("row");
    row.try_get::<Option<i64>>("", "total")
        .expect("total")
        .unwrap_or(0)
}

#[tokio::test]
async fn letting_reps_read_teammates_amounts_changes_field_decisions_and_sums() {
    let t = team().await;
    let db = &t.app.db;
    let edited = edited_policy("deal.polar", "", TEAMMATES_AMOUNTS);

    // Before: Rae reads Ray's deal but not its amount.
    assert!(fast_path(db, &DEFAULT, &t.rae, DealAction::Read, t.d_ray).await);
    assert!(!fast_path(db, &DEFAULT, &t.rae, DealAction::ReadAmount, t.d_ray).await);
    assert_eq!(amount_sum(db, &DEFAULT, &t.rae).await, 100);
    assert_eq!(
        DEFAULT.describe(Role::SalesRep, DealAction::ReadAmount),
        "owned_by(user) or shared_with(user, \"edit\")"
    );

    // After: the amount is readable, the sum includes it; other teams' still are not.
    assert!(fast_path(db, &edited, &t.rae, DealAction::ReadAmount, t.d_ray).await);
    assert!(fast_path(db, &edited, &t.rae, DealAction::ReadAmount, t.d_rae).await);
    assert!(!fast_path(db, &edited, &t.rae, DealAction::ReadAmount, t.d_wes).await);
    assert_eq!(amount_sum(db, &edited, &t.rae).await, 300);
    assert_eq!(
        edited.describe(Role::SalesRep, DealAction::ReadAmount),
        "owned_by(user) or in_team_of(user) or shared_with(user, \"edit\")"
    );
    // Writing stays as it was.
    assert!(!fast_path(db, &edited, &t.rae, DealAction::UpdateAmount, t.d_ray).await);
}

#[tokio::test]
async fn removing_the_teammates_rule_narrows_the_sql_scope() {
    let t = team().await;
    let db = &t.app.db;
    let edited = edited_policy(
        "deal.polar",
        "has_role(user: User, \"viewer\", deal: Deal) if\n    user.role = \"sales_rep\" and deal.in_team_of(user);",
        "",
    );
    let before = scoped_ids(db, &DEFAULT, &t.rae, DealAction::Read).await;
    let after = scoped_ids(db, &edited, &t.rae, DealAction::Read).await;
    assert_eq!(before, [t.d_rae, t.d_ray].into_iter().collect());
    assert_eq!(after, [t.d_rae].into_iter().collect());
    assert!(!fast_path(db, &edited, &t.rae, DealAction::Read, t.d_ray).await);
}

#[tokio::test]
async fn an_edited_policy_passes_the_differential_test() {
    let app = TestApp::new().await;
    let edited = edited_policy("deal.polar", "", TEAMMATES_AMOUNTS);
    let decisions = check_random_org(&app.db, &edited, 99).await;
    assert!(decisions > 1_000);
}
