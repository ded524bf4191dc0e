//! Deal mutations: create, update with optimistic concurrency, move, reassign, share,
//! unshare, delete — each validated, authorized by the policy, and all-or-nothing.

use chrono::{Duration, Utc};
use crm_testkit::Org;
use entity::enums::{DealStage, Role};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, error_code};

struct Fixture {
    app: TestApp,
    /// The rows built so far (tests add more).
    org: Org,
    company: Uuid,
    r1: Uuid,
    r2: Uuid,
    r3: Uuid,
    rep: String,
    teammate: String,
    west_rep: String,
    manager: String,
    admin: String,
}

async fn org() -> Fixture {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let m1 = org
        .user()
        .email("m1@example.com")
        .role(Role::Manager)
        .insert(&app.db)
        .await;
    let east = org.team().name("East").manager(m1.id).insert(&app.db).await;
    let west = org.team().name("West").insert(&app.db).await;
    let r1 = org
        .user()
        .email("r1@example.com")
        .role(Role::SalesRep)
        .team(east.id)
        .insert(&app.db)
        .await;
    let r2 = org
        .user()
        .email("r2@example.com")
        .role(Role::SalesRep)
        .team(east.id)
        .insert(&app.db)
        .await;
    let r3 = org
        .user()
        .email("r3@example.com")
        .role(Role::SalesRep)
        .team(west.id)
        .insert(&app.db)
        .await;
    org.user()
        .email("admin@example.com")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    let company = org
        .company()
        .name("Acme")
        .owner(r1.id)
        .insert(&app.db)
        .await;
    Fixture {
        rep: app.login("r1@example.com", PASSWORD).await.0,
        teammate: app.login("r2@example.com", PASSWORD).await.0,
        west_rep: app.login("r3@example.com", PASSWORD).await.0,
        manager: app.login("m1@example.com", PASSWORD).await.0,
        admin: app.login("admin@example.com", PASSWORD).await.0,
        company: company.id,
        r1: r1.id,
        r2: r2.id,
        r3: r3.id,
        app,
        org,
    }
}

const CREATE: &str = "mutation($input: CreateDealInput!) { createDeal(input: $input) {
  id title amount currency stage probability actualCloseDate expectedCloseDate priority version ownerId
} }";

async fn create(o: &Fixture, token: &str, input: Value) -> Value {
    o.app
        .gql(Some(token), CREATE, json!({ "input": input }))
        .await
        .1
}

fn future() -> String {
    (Utc::now() + Duration::days(30))
        .format("%Y-%m-%d")
        .to_string()
}

async fn deal_count(app: &TestApp) -> u64 {
    entity::deal::Entity::find().count(&app.db).await.unwrap()
}

#[tokio::test]
async fn a_rep_creates_own_deals_with_derived_fields() {
    let o = org().await;
    let json = create(
        &o,
        &o.rep,
        json!({"companyId": o.company, "title": "  Big one ", "amount": "1234.5", "currency": "eur", "expectedCloseDate": future()}),
    )
    .await;
    let d = &json["data"]["createDeal"];
    assert_eq!(d["title"], "Big one", "{json}");
    assert_eq!(d["amount"], "1234.50");
    assert_eq!(d["currency"], "EUR");
    assert_eq!(d["stage"], "PROSPECTING");
    assert_eq!(d["probability"], 10);
    assert_eq!(d["priority"], "MEDIUM");
    assert_eq!(d["version"], 1);
    assert_eq!(d["ownerId"], o.r1.to_string());
    assert!(d["actualCloseDate"].is_null());

    // Created closed: the close date is set.
    let json = create(
        &o,
        &o.rep,
        json!({"companyId": o.company, "title": "Won", "stage": "CLOSED_WON"}),
    )
    .await;
    let d = &json["data"]["createDeal"];
    assert_eq!(d["probability"], 100);
    assert_eq!(
        d["actualCloseDate"],
        Utc::now().format("%Y-%m-%d").to_string()
    );
    assert_eq!(d["amount"], "0.00");

    // Probability is derived, never written.
    let json = create(
        &o,
        &o.rep,
        json!({"companyId": o.company, "title": "X", "probability": 90}),
    )
    .await;
    assert!(
        json["errors"].is_array(),
        "probability is not an input field"
    );
}

#[tokio::test]
async fn who_may_create_for_whom_follows_the_policy() {
    let o = org().await;
    let for_owner =
        |owner: Uuid| json!({"companyId": o.company, "title": "For someone", "ownerId": owner});
    assert_eq!(
        error_code(&create(&o, &o.rep, for_owner(o.r2)).await),
        Some("FORBIDDEN")
    );
    assert!(create(&o, &o.manager, for_owner(o.r2)).await["data"]["createDeal"]["id"].is_string());
    assert_eq!(
        error_code(&create(&o, &o.manager, for_owner(o.r3)).await),
        Some("FORBIDDEN")
    );
    assert!(create(&o, &o.admin, for_owner(o.r3)).await["data"]["createDeal"]["id"].is_string());
}

#[tokio::test]
async fn invalid_deals_report_every_field_and_write_nothing() {
    let mut o = org().await;
    let before = deal_count(&o.app).await;
    let past = (Utc::now() - Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let json = create(
        &o,
        &o.rep,
        json!({"companyId": Uuid::new_v4(), "title": "  ", "amount": "-5", "currency": "ABC", "expectedCloseDate": past}),
    )
    .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"));
    let mut fields: Vec<&str> = json["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "amount",
            "companyId",
            "currency",
            "expectedCloseDate",
            "title"
        ]
    );
    let json = create(
        &o,
        &o.rep,
        json!({"companyId": o.company, "title": "t", "amount": "1.001"}),
    )
    .await;
    assert_eq!(json["errors"][0]["extensions"]["field"], "amount");
    // A company the rep cannot read is "no such company", not a hint that it exists.
    let hidden = o
        .org
        .company()
        .name("Hidden Inc")
        .owner(o.r3)
        .insert(&o.app.db)
        .await;
    let json = create(&o, &o.rep, json!({"companyId": hidden.id, "title": "t"})).await;
    assert_eq!(json["errors"][0]["extensions"]["field"], "companyId");
    assert_eq!(deal_count(&o.app).await, before);
}

const UPDATE: &str = "mutation($id: ID!, $input: UpdateDealInput!) { updateDeal(id: $id, input: $input) { title amount notes version stage } }";

#[tokio::test]
async fn updates_bump_the_version_and_refuse_stale_writes() {
    let mut o = org().await;
    let d = o
        .org
        .deal()
        .company(o.company)
        .owner(o.r1)
        .title("Original")
        .amount_cents(100)
        .stage(DealStage::Proposal)
        .insert(&o.app.db)
        .await;
    let (_, json) = o
        .app
        .gql(Some(&o.rep), UPDATE, json!({"id": d.id, "input": {"title": "Renamed", "notes": "call back", "expectedVersion": 1}}))
        .await;
    assert_eq!(json["data"]["updateDeal"]["version"], 2, "{json}");
    assert_eq!(json["data"]["updateDeal"]["notes"], "call back");
    // A client still holding version 1 is refused; nothing changes.
    let (_, json) = o
        .app
        .gql(
            Some(&o.rep),
            UPDATE,
            json!({"id": d.id, "input": {"title": "Stale", "expectedVersion": 1}}),
        )
        .await;
    assert_eq!(error_code(&json), Some("CONFLICT"));
    assert_eq!(json["errors"][0]["extensions"]["field"], "expectedVersion");
    let (_, json) = o
        .app
        .gql(
            Some(&o.rep),
            "query($id: ID!) { deal(id: $id) { title version } }",
            json!({"id": d.id}),
        )
        .await;
    assert_eq!(
        json["data"]["deal"],
        json!({"title": "Renamed", "version": 2})
    );
    // Null clears.
    let (_, json) = o
        .app
        .gql(
            Some(&o.rep),
            UPDATE,
            json!({"id": d.id, "input": {"notes": null}}),
        )
        .await;
    assert!(json["data"]["updateDeal"]["notes"].is_null());
}

#[tokio::test]
async fn who_may_update_what_follows_the_policy() {
    let mut o = org().await;
    let d = o
        .org
        .deal()
        .company(o.company)
        .owner(o.r1)
        .title("R1 deal")
        .amount_cents(100)
        .stage(DealStage::Proposal)
        .insert(&o.app.db)
        .await;
    // Teammate reads it but may not change it.
    let (_, json) = o
        .app
        .gql(
            Some(&o.teammate),
            UPDATE,
            json!({"id": d.id, "input": {"title": "Mine now"}}),
        )
        .await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"));
    // Another team cannot even see it: indistinguishable from a missing deal.
    let (_, json) = o
        .app
        .gql(
            Some(&o.west_rep),
            UPDATE,
            json!({"id": d.id, "input": {"title": "x"}}),
        )
        .await;
    assert_eq!(error_code(&json), Some("NOT_FOUND"));
    let (_, json) = o
        .app
        .gql(
            Some(&o.west_rep),
            UPDATE,
            json!({"id": Uuid::new_v4(), "input": {"title": "x"}}),
        )
        .await;
    assert_eq!(error_code(&json), Some("NOT_FOUND"));
    // Shared for viewing: amount hidden and not writable; for editing: both.
    let share = "mutation($id: ID!, $u: ID!, $p: SharePermission!) { shareDeal(id: $id, userId: $u, permission: $p) { id shares { userId permission } } }";
    let (_, json) = o
        .app
        .gql(
            Some(&o.rep),
            share,
            json!({"id": d.id, "u": o.r3, "p": "VIEW"}),
        )
        .await;
    assert_eq!(
        json["data"]["shareDeal"]["shares"],
        json!([{"userId": o.r3.to_string(), "permission": "VIEW"}])
    );
    let (_, json) = o
        .app
        .gql(
            Some(&o.west_rep),
            UPDATE,
            json!({"id": d.id, "input": {"amount": "1"}}),
        )
        .await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"));
    o.app
        .gql(
            Some(&o.rep),
            share,
            json!({"id": d.id, "u": o.r3, "p": "EDIT"}),
        )
        .await;
    let (_, json) = o
        .app
        .gql(
            Some(&o.west_rep),
            UPDATE,
            json!({"id": d.id, "input": {"amount": "99.99"}}),
        )
        .await;
    assert_eq!(json["data"]["updateDeal"]["amount"], "99.99", "{json}");
    // The share list is for those who may share.
    let (_, json) = o
        .app
        .gql(
            Some(&o.west_rep),
            "query($id: ID!) { deal(id: $id) { shares { userId } viewerCan { share } } }",
            json!({"id": d.id}),
        )
        .await;
    assert_eq!(
        json["data"]["deal"],
        json!({"shares": [], "viewerCan": {"share": false}})
    );
    // Unshare: gone again.
    let (_, json) = o
        .app
        .gql(Some(&o.rep), "mutation($id: ID!, $u: ID!) { unshareDeal(id: $id, userId: $u) { shares { userId } } }", json!({"id": d.id, "u": o.r3}))
        .await;
    assert_eq!(json["data"]["unshareDeal"]["shares"], json!([]));
    let (_, json) = o
        .app
        .gql(
            Some(&o.west_rep),
            "query($id: ID!) { deal(id: $id) { id } }",
            json!({"id": d.id}),
        )
        .await;
    assert!(json["data"]["deal"].is_null());
    // Sharing with the owner, or someone's deal you do not own, is refused.
    let (_, json) = o
        .app
        .gql(
            Some(&o.rep),
            share,
            json!({"id": d.id, "u": o.r1, "p": "VIEW"}),
        )
        .await;
    assert_eq!(json["errors"][0]["extensions"]["field"], "userId");
    let mate = o
        .org
        .deal()
        .company(o.company)
        .owner(o.r2)
        .title("R2 deal")
        .amount_cents(100)
        .stage(DealStage::Proposal)
        .insert(&o.app.db)
        .await;
    let (_, json) = o
        .app
        .gql(
            Some(&o.rep),
            share,
            json!({"id": mate.id, "u": o.r3, "p": "VIEW"}),
        )
        .await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"));
}

#[tokio::test]
async fn moving_a_deal_sets_probability_and_close_date() {
    let mut o = org().await;
    let d = o
        .org
        .deal()
        .company(o.company)
        .owner(o.r1)
        .title("Mover")
        .amount_cents(100)
        .stage(DealStage::Prospecting)
        .insert(&o.app.db)
        .await;
    let mv = "mutation($id: ID!, $s: DealStage!, $v: Int) { moveDeal(id: $id, stage: $s, expectedVersion: $v) { stage probability actualCloseDate version } }";
    let (_, json) = o
        .app
        .gql(Some(&o.rep), mv, json!({"id": d.id, "s": "NEGOTIATION"}))
        .await;
    assert_eq!(json["data"]["moveDeal"]["probability"], 75);
    let (_, json) = o
        .app
        .gql(
            Some(&o.rep),
            mv,
            json!({"id": d.id, "s": "CLOSED_WON", "v": 2}),
        )
        .await;
    assert_eq!(json["data"]["moveDeal"]["probability"], 100);
    assert_eq!(
        json["data"]["moveDeal"]["actualCloseDate"],
        Utc::now().format("%Y-%m-%d").to_string()
    );
    let (_, json) = o
        .app
        .gql(
            Some(&o.rep),
            mv,
            json!({"id": d.id, "s": "CLOSED_LOST", "v": 1}),
        )
        .await;
    assert_eq!(error_code(&json), Some("CONFLICT"));
    let (_, json) = o
        .app
        .gql(Some(&o.rep), mv, json!({"id": d.id, "s": "PROPOSAL"}))
        .await;
    assert_eq!(json["data"]["moveDeal"]["probability"], 50);
    assert!(
        json["data"]["moveDeal"]["actualCloseDate"].is_null(),
        "reopened"
    );
}

#[tokio::test]
async fn reassignment_stays_within_the_managers_teams() {
    let mut o = org().await;
    let d = o
        .org
        .deal()
        .company(o.company)
        .owner(o.r1)
        .title("Reassign me")
        .amount_cents(100)
        .stage(DealStage::Proposal)
        .insert(&o.app.db)
        .await;
    let re = "mutation($id: ID!, $o: ID!) { reassignDeal(id: $id, ownerId: $o) { ownerId owner { id } } }";
    let (_, json) = o
        .app
        .gql(Some(&o.rep), re, json!({"id": d.id, "o": o.r2}))
        .await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"));
    let (_, json) = o
        .app
        .gql(Some(&o.manager), re, json!({"id": d.id, "o": o.r3}))
        .await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"));
    assert_eq!(json["errors"][0]["extensions"]["field"], "ownerId");
    let (_, json) = o
        .app
        .gql(Some(&o.manager), re, json!({"id": d.id, "o": o.r2}))
        .await;
    assert_eq!(
        json["data"]["reassignDeal"]["ownerId"],
        o.r2.to_string(),
        "{json}"
    );
    assert_eq!(
        json["data"]["reassignDeal"]["owner"]["id"],
        o.r2.to_string()
    );
    let (_, json) = o
        .app
        .gql(Some(&o.admin), re, json!({"id": d.id, "o": o.r3}))
        .await;
    assert_eq!(json["data"]["reassignDeal"]["ownerId"], o.r3.to_string());
    let (_, json) = o
        .app
        .gql(Some(&o.admin), re, json!({"id": d.id, "o": Uuid::new_v4()}))
        .await;
    assert_eq!(json["errors"][0]["extensions"]["field"], "ownerId");
}

#[tokio::test]
async fn reps_never_delete_managers_delete_their_teams_deals() {
    let mut o = org().await;
    let d = o
        .org
        .deal()
        .company(o.company)
        .owner(o.r1)
        .title("Delete me")
        .amount_cents(100)
        .stage(DealStage::Proposal)
        .insert(&o.app.db)
        .await;
    let west = o
        .org
        .deal()
        .company(o.company)
        .owner(o.r3)
        .title("West")
        .amount_cents(100)
        .stage(DealStage::Proposal)
        .insert(&o.app.db)
        .await;
    let del = "mutation($id: ID!) { deleteDeal(id: $id) }";
    let (_, json) = o.app.gql(Some(&o.rep), del, json!({"id": d.id})).await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"));
    let (_, json) = o
        .app
        .gql(Some(&o.manager), del, json!({"id": west.id}))
        .await;
    assert_eq!(error_code(&json), Some("NOT_FOUND"));
    let (_, json) = o.app.gql(Some(&o.manager), del, json!({"id": d.id})).await;
    assert_eq!(json["data"]["deleteDeal"], d.id.to_string());
    let (_, json) = o
        .app
        .gql(
            Some(&o.admin),
            "query($id: ID!) { deal(id: $id) { id } }",
            json!({"id": d.id}),
        )
        .await;
    assert!(json["data"]["deal"].is_null());
}
