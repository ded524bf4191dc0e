//! `deals` / `deal`: the policy scopes rows in SQL (so `totalCount` and pages are exact),
//! hides amounts per row, fills `viewerCan`; filters, search, ordering and keyset
//! pagination work over the scoped rows only.

use crm_testkit::Org;
use entity::enums::{DealStage, Role, SharePermission};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, error_code, snapshot_settings};

struct Fixture {
    app: TestApp,
    rep: String,
    manager: String,
    admin: String,
    own: Uuid,
    teammates: Uuid,
    other_team: Uuid,
    shared_view: Uuid,
    shared_edit: Uuid,
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
    let m2 = org
        .user()
        .email("m2@example.com")
        .role(Role::Manager)
        .insert(&app.db)
        .await;
    let east = org.team().name("East").manager(m1.id).insert(&app.db).await;
    let west = org.team().name("West").manager(m2.id).insert(&app.db).await;
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
    let c = org
        .company()
        .name("Acme")
        .owner(r1.id)
        .insert(&app.db)
        .await;
    let own = org
        .deal()
        .company(c.id)
        .owner(r1.id)
        .title("Own deal")
        .amount_cents(100_000)
        .stage(DealStage::Proposal)
        .insert(&app.db)
        .await;
    let teammates = org
        .deal()
        .company(c.id)
        .owner(r2.id)
        .title("Teammate deal")
        .amount_cents(200_000)
        .stage(DealStage::Prospecting)
        .insert(&app.db)
        .await;
    let other_team = org
        .deal()
        .company(c.id)
        .owner(r3.id)
        .title("West deal")
        .amount_cents(300_000)
        .stage(DealStage::Negotiation)
        .insert(&app.db)
        .await;
    let shared_view = org
        .deal()
        .company(c.id)
        .owner(r3.id)
        .title("Shared to view")
        .amount_cents(400_000)
        .stage(DealStage::ClosedWon)
        .insert(&app.db)
        .await;
    let shared_edit = org
        .deal()
        .company(c.id)
        .owner(r3.id)
        .title("Shared to edit")
        .amount_cents(500_000)
        .stage(DealStage::ClosedLost)
        .insert(&app.db)
        .await;
    org.share(shared_view.id, r1.id)
        .permission(SharePermission::View)
        .insert(&app.db)
        .await;
    org.share(shared_edit.id, r1.id)
        .permission(SharePermission::Edit)
        .insert(&app.db)
        .await;
    let rep = app.login("r1@example.com", PASSWORD).await.0;
    let manager = app.login("m1@example.com", PASSWORD).await.0;
    let admin = app.login("admin@example.com", PASSWORD).await.0;
    Fixture {
        app,
        rep,
        manager,
        admin,
        own: own.id,
        teammates: teammates.id,
        other_team: other_team.id,
        shared_view: shared_view.id,
        shared_edit: shared_edit.id,
    }
}

const LIST: &str = "query($f: DealFilter, $o: [DealOrder!], $s: String, $first: Int, $after: String, $last: Int, $before: String) {
  deals(filter: $f, orderBy: $o, search: $s, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id title amount stage probability viewerCan { update delete reassign share readAmount updateAmount } } }
    nodes { id }
  }
}";

async fn list(app: &TestApp, token: &str, vars: Value) -> Value {
    let (_, json) = app.gql(Some(token), LIST, vars).await;
    assert!(json["errors"].is_null(), "{json}");
    json["data"]["deals"].clone()
}

fn ids(deals: &Value) -> Vec<String> {
    deals["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

fn node(deals: &Value, id: Uuid) -> &Value {
    deals["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["id"] == id.to_string())
        .unwrap_or_else(|| panic!("{id} not listed"))
}

#[tokio::test]
async fn a_rep_lists_own_teammates_and_shared_deals_only() {
    let o = org().await;
    let deals = list(&o.app, &o.rep, json!({})).await;
    // The whole page, newest first: hidden amounts are null, viewerCan per row.
    snapshot_settings().bind(|| insta::assert_json_snapshot!("rep_deal_list", deals));
    assert_eq!(deals["totalCount"], 4);
    let mut got = ids(&deals);
    got.sort();
    let mut want: Vec<String> = [o.own, o.teammates, o.shared_view, o.shared_edit]
        .iter()
        .map(Uuid::to_string)
        .collect();
    want.sort();
    assert_eq!(got, want);

    // Amounts: own and shared-to-edit visible; teammate's and view-only hidden.
    assert_eq!(node(&deals, o.own)["amount"], "1000.00");
    assert_eq!(node(&deals, o.shared_edit)["amount"], "5000.00");
    assert!(node(&deals, o.teammates)["amount"].is_null());
    assert!(node(&deals, o.shared_view)["amount"].is_null());
    assert_eq!(node(&deals, o.teammates)["viewerCan"]["readAmount"], false);

    let own = &node(&deals, o.own)["viewerCan"];
    assert_eq!(
        own,
        &json!({"update": true, "delete": false, "reassign": false, "share": true, "readAmount": true, "updateAmount": true})
    );
    let mate = &node(&deals, o.teammates)["viewerCan"];
    assert_eq!(mate["update"], false);
    assert_eq!(node(&deals, o.shared_edit)["viewerCan"]["update"], true);
    assert_eq!(node(&deals, o.shared_view)["viewerCan"]["update"], false);

    // The other team's deal is invisible, by id too.
    let (_, json) = o
        .app
        .gql(
            Some(&o.rep),
            "query($id: ID!) { deal(id: $id) { id } }",
            json!({"id": o.other_team}),
        )
        .await;
    assert!(json["data"]["deal"].is_null());
    assert!(json["errors"].is_null());
    let (_, json) = o
        .app
        .gql(
            Some(&o.rep),
            "query($id: ID!) { deal(id: $id) { id amount } }",
            json!({"id": o.own}),
        )
        .await;
    assert_eq!(json["data"]["deal"]["amount"], "1000.00");
}

#[tokio::test]
async fn a_manager_lists_the_team_and_an_admin_everything() {
    let o = org().await;
    let deals = list(&o.app, &o.manager, json!({})).await;
    assert_eq!(deals["totalCount"], 2);
    for id in [o.own, o.teammates] {
        let n = node(&deals, id);
        assert!(n["amount"].is_string());
        assert_eq!(n["viewerCan"]["delete"], true);
        assert_eq!(n["viewerCan"]["reassign"], true);
    }
    let deals = list(&o.app, &o.admin, json!({})).await;
    assert_eq!(deals["totalCount"], 5);
    assert!(node(&deals, o.other_team)["amount"].is_string());
}

#[tokio::test]
async fn filters_combine_and_never_match_hidden_amounts() {
    let o = org().await;
    let f = |filter: Value| json!({ "f": filter });
    let got = list(
        &o.app,
        &o.rep,
        f(json!({"stage": {"in": ["PROPOSAL", "PROSPECTING"]}})),
    )
    .await;
    assert_eq!(got["totalCount"], 2);
    // Amount conditions see only visible amounts: the teammate's 2000.00 is hidden.
    let got = list(&o.app, &o.rep, f(json!({"amount": {"gte": "1500"}}))).await;
    assert_eq!(ids(&got), vec![o.shared_edit.to_string()]);
    let got = list(&o.app, &o.rep, f(json!({"amount": {"isNull": true}}))).await;
    assert_eq!(got["totalCount"], 2, "hidden amounts behave as empty");
    let got = list(&o.app, &o.admin, f(json!({"amount": {"gte": "1500"}}))).await;
    assert_eq!(got["totalCount"], 4);
    let got = list(&o.app, &o.rep, f(json!({"title": {"contains": "SHARED"}}))).await;
    assert_eq!(got["totalCount"], 2);
    let got = list(&o.app, &o.rep, f(json!({"title": {"startsWith": "own"}}))).await;
    assert_eq!(ids(&got), vec![o.own.to_string()]);
    let got = list(
        &o.app,
        &o.rep,
        f(json!({"or": [{"stage": {"eq": "CLOSED_WON"}}, {"stage": {"eq": "CLOSED_LOST"}}]})),
    )
    .await;
    assert_eq!(got["totalCount"], 2);
    let got = list(
        &o.app,
        &o.rep,
        f(json!({"not": {"stage": {"eq": "CLOSED_WON"}}, "and": [{"probability": {"lt": 50}}]})),
    )
    .await;
    // prospecting (10) and closed lost (0)
    assert_eq!(got["totalCount"], 2);
    let got = list(
        &o.app,
        &o.rep,
        f(json!({"id": {"notIn": [o.own.to_string()]}, "stage": {"ne": "CLOSED_LOST"}})),
    )
    .await;
    assert_eq!(got["totalCount"], 2);
    let got = list(&o.app, &o.rep, json!({"s": "teammate"})).await;
    assert_eq!(ids(&got), vec![o.teammates.to_string()]);
    // Wildcards in text are literal.
    let got = list(&o.app, &o.rep, json!({"s": "%"})).await;
    assert_eq!(got["totalCount"], 0);

    let (_, json) = o
        .app
        .gql(
            Some(&o.rep),
            LIST,
            f(json!({"ownerId": {"eq": "not-a-uuid"}})),
        )
        .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"));
    assert_eq!(json["errors"][0]["extensions"]["field"], "filter.ownerId");
    let (_, json) = o
        .app
        .gql(Some(&o.rep), LIST, f(json!({"amount": {"gte": "1.005"}})))
        .await;
    assert_eq!(json["errors"][0]["extensions"]["field"], "filter.amount");
}

#[tokio::test]
async fn ordering_by_amount_puts_hidden_amounts_with_empty_ones() {
    let o = org().await;
    let got = list(
        &o.app,
        &o.rep,
        json!({"o": [{"field": "AMOUNT", "direction": "DESC"}]}),
    )
    .await;
    let order = ids(&got);
    // Hidden (NULL) first when descending, then 5000.00 and 1000.00.
    assert_eq!(order[2..], [o.shared_edit.to_string(), o.own.to_string()]);
    let got = list(&o.app, &o.rep, json!({"o": [{"field": "AMOUNT"}]})).await;
    assert_eq!(
        ids(&got)[..2],
        [o.own.to_string(), o.shared_edit.to_string()]
    );
    let got = list(&o.app, &o.admin, json!({"o": [{"field": "STAGE"}]})).await;
    let stages: Vec<&str> = got["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "PROSPECTING",
            "PROPOSAL",
            "NEGOTIATION",
            "CLOSED_WON",
            "CLOSED_LOST"
        ]
    );
}

#[tokio::test]
async fn keyset_pages_stay_exact_when_rows_arrive_between_pages() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let rep = org
        .user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let company = org
        .company()
        .name("Acme")
        .owner(rep.id)
        .insert(&app.db)
        .await;
    for i in 0..23 {
        org.deal()
            .company(company.id)
            .owner(rep.id)
            .title(format!("Deal {i:02}"))
            .amount_cents(i * 100)
            .stage(DealStage::Proposal)
            .insert(&app.db)
            .await;
    }
    let token = app.login("rep@example.com", PASSWORD).await.0;
    let by_title = json!([{"field": "TITLE"}]);

    let p1 = list(&app, &token, json!({"o": by_title, "first": 10})).await;
    assert_eq!(p1["totalCount"], 23);
    assert_eq!(p1["pageInfo"]["hasNextPage"], true);
    assert_eq!(p1["pageInfo"]["hasPreviousPage"], false);
    // A row that sorts before the cursor arrives: the next page neither repeats nor skips.
    org.deal()
        .company(company.id)
        .owner(rep.id)
        .title("Deal 00a")
        .amount_cents(1)
        .stage(DealStage::Proposal)
        .insert(&app.db)
        .await;
    let p2 = list(
        &app,
        &token,
        json!({"o": by_title, "first": 10, "after": p1["pageInfo"]["endCursor"]}),
    )
    .await;
    let p3 = list(
        &app,
        &token,
        json!({"o": by_title, "first": 10, "after": p2["pageInfo"]["endCursor"]}),
    )
    .await;
    assert_eq!(p3["pageInfo"]["hasNextPage"], false);
    let titles = |p: &Value| -> Vec<String> {
        p["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let all: Vec<String> = [titles(&p1), titles(&p2), titles(&p3)].concat();
    let want: Vec<String> = (0..23).map(|i| format!("Deal {i:02}")).collect();
    assert_eq!(all, want);

    // Backwards from the end.
    let last = list(&app, &token, json!({"o": by_title, "last": 5})).await;
    assert_eq!(
        titles(&last),
        ["Deal 18", "Deal 19", "Deal 20", "Deal 21", "Deal 22"]
    );
    assert_eq!(titles(&last).last().unwrap(), "Deal 22");
    assert_eq!(titles(&last).len(), 5);
    assert_eq!(last["pageInfo"]["hasPreviousPage"], true);
    let before = list(
        &app,
        &token,
        json!({"o": by_title, "last": 3, "before": last["pageInfo"]["startCursor"]}),
    )
    .await;
    assert_eq!(titles(&before), ["Deal 15", "Deal 16", "Deal 17"]);

    // Default page size 25, maximum 100.
    let all = list(&app, &token, json!({})).await;
    assert_eq!(all["nodes"].as_array().unwrap().len(), 24);
    for bad in [
        json!({"first": 101}),
        json!({"first": -1}),
        json!({"first": 1, "last": 1}),
        json!({"after": "garbage"}),
    ] {
        let (_, json) = app.gql(Some(&token), LIST, bad.clone()).await;
        assert_eq!(error_code(&json), Some("BAD_USER_INPUT"), "{bad}");
    }
    // A cursor of another ordering is refused, not misread.
    let (_, json) = app
        .gql(Some(&token), LIST, json!({"o": [{"field": "AMOUNT"}, {"field": "TITLE"}], "after": p1["pageInfo"]["endCursor"]}))
        .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"));
}
