//! `companies` / `company` and the company mutations: rows scoped by the policy (own,
//! teammates', linked to a readable deal; team's; all), filters, search, ordering, keyset
//! pages, `viewerCan`, validation (all failures at once, nothing written), optimistic
//! concurrency, owner changes and the delete rules.

use api::error::ApiError;
use crm_testkit::Org;
use entity::enums::{DealStage, Role};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, error_code};

const FIELDS: &str = "id name domain industry size address city state country phone website ownerId version createdAt updatedAt viewerCan { update delete }";

fn list_query() -> String {
    format!(
        "query($f: CompanyFilter, $o: [CompanyOrder!], $s: String, $first: Int, $after: String, $last: Int, $before: String) {{
  companies(filter: $f, orderBy: $o, search: $s, first: $first, after: $after, last: $last, before: $before) {{
    totalCount
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
    edges {{ cursor node {{ {FIELDS} }} }}
    nodes {{ id name }}
  }}
}}"
    )
}

fn create_query() -> String {
    format!(
        "mutation($input: CreateCompanyInput!) {{ createCompany(input: $input) {{ {FIELDS} }} }}"
    )
}

fn update_query() -> String {
    format!(
        "mutation($id: ID!, $input: UpdateCompanyInput!) {{ updateCompany(id: $id, input: $input) {{ {FIELDS} }} }}"
    )
}

const DELETE: &str = "mutation($id: ID!) { deleteCompany(id: $id) }";
const GET: &str =
    "query($id: ID!) { company(id: $id) { id name version viewerCan { update delete } } }";

async fn list(app: &TestApp, token: &str, vars: Value) -> Value {
    let (_, json) = app.gql(Some(token), &list_query(), vars).await;
    assert!(json["errors"].is_null(), "{json}");
    json["data"]["companies"].clone()
}

fn names(companies: &Value) -> Vec<String> {
    companies["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["name"].as_str().expect("name").to_owned())
        .collect()
}

fn node<'a>(companies: &'a Value, name: &str) -> &'a Value {
    companies["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed"))
}

async fn create(app: &TestApp, token: &str, input: Value) -> Value {
    app.gql(Some(token), &create_query(), json!({ "input": input }))
        .await
        .1
}

async fn update(app: &TestApp, token: &str, id: impl ToString, input: Value) -> Value {
    app.gql(
        Some(token),
        &update_query(),
        json!({ "id": id.to_string(), "input": input }),
    )
    .await
    .1
}

async fn delete(app: &TestApp, token: &str, id: impl ToString) -> Value {
    app.gql(Some(token), DELETE, json!({ "id": id.to_string() }))
        .await
        .1
}

/// The `field`s of a `BAD_USER_INPUT`, in order.
fn bad_fields(json: &Value) -> Vec<String> {
    assert_eq!(error_code(json), Some("BAD_USER_INPUT"), "{json}");
    json["errors"][0]["extensions"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["field"].as_str().expect("field").to_owned())
        .collect()
}

async fn company_count(app: &TestApp) -> u64 {
    entity::company::Entity::find()
        .count(&app.db)
        .await
        .expect("count")
}

async fn stored(app: &TestApp, id: Uuid) -> entity::company::Model {
    entity::company::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .expect("load")
        .expect("exists")
}

struct Fixture {
    app: TestApp,
    /// The rows built so far (tests add more).
    org: Org,
    rep: String,
    manager: String,
    admin: String,
    r1: Uuid,
    r2: Uuid,
    r3: Uuid,
    acme: Uuid,
    beta: Uuid,
    gamma: Uuid,
    delta: Uuid,
}

/// East (managed by m1): reps r1, r2. West (managed by m2): rep r3. Acme is r1's, Beta r2's,
/// Gamma and Delta r3's; Delta has a deal of r1's.
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
    let acme = org
        .company()
        .name("Acme")
        .owner(r1.id)
        .insert(&app.db)
        .await;
    let beta = org
        .company()
        .name("Beta")
        .owner(r2.id)
        .insert(&app.db)
        .await;
    let gamma = org
        .company()
        .name("Gamma")
        .owner(r3.id)
        .insert(&app.db)
        .await;
    let delta = org
        .company()
        .name("Delta")
        .owner(r3.id)
        .insert(&app.db)
        .await;
    org.deal()
        .company(delta.id)
        .owner(r1.id)
        .title("Delta deal")
        .amount_cents(100)
        .stage(DealStage::Prospecting)
        .insert(&app.db)
        .await;
    Fixture {
        rep: app.login("r1@example.com", PASSWORD).await.0,
        manager: app.login("m1@example.com", PASSWORD).await.0,
        admin: app.login("admin@example.com", PASSWORD).await.0,
        r1: r1.id,
        r2: r2.id,
        r3: r3.id,
        acme: acme.id,
        beta: beta.id,
        gamma: gamma.id,
        delta: delta.id,
        app,
        org,
    }
}

#[tokio::test]
async fn the_policy_scopes_companies_per_role() {
    let o = org().await;
    // Rep: own, teammate's, and the one linked to a deal they can read.
    let got = list(&o.app, &o.rep, json!({})).await;
    assert_eq!(got["totalCount"], 3);
    assert_eq!(names(&got), ["Acme", "Beta", "Delta"]);
    assert_eq!(
        node(&got, "Acme")["viewerCan"],
        json!({"update": true, "delete": false})
    );
    assert_eq!(
        node(&got, "Beta")["viewerCan"],
        json!({"update": false, "delete": false})
    );
    assert_eq!(
        node(&got, "Delta")["viewerCan"],
        json!({"update": false, "delete": false})
    );
    assert_eq!(node(&got, "Acme")["ownerId"], o.r1.to_string());
    assert_eq!(node(&got, "Acme")["version"], 1);

    // Manager: the team's, plus Delta through the team member's deal (read only).
    let got = list(&o.app, &o.manager, json!({})).await;
    assert_eq!(names(&got), ["Acme", "Beta", "Delta"]);
    assert_eq!(
        node(&got, "Beta")["viewerCan"],
        json!({"update": true, "delete": true})
    );
    assert_eq!(
        node(&got, "Delta")["viewerCan"],
        json!({"update": false, "delete": false})
    );

    // Admin: everything.
    let got = list(&o.app, &o.admin, json!({})).await;
    assert_eq!(got["totalCount"], 4);
    assert_eq!(
        node(&got, "Gamma")["viewerCan"],
        json!({"update": true, "delete": true})
    );

    // By id: unreadable is null, like missing; a malformed id is BAD_USER_INPUT.
    for (token, id, visible) in [
        (&o.rep, o.acme, true),
        (&o.rep, o.delta, true),
        (&o.rep, o.gamma, false),
        (&o.manager, o.gamma, false),
        (&o.admin, o.gamma, true),
        (&o.rep, Uuid::new_v4(), false),
    ] {
        let (_, json) = o.app.gql(Some(token), GET, json!({"id": id})).await;
        assert!(json["errors"].is_null(), "{json}");
        assert_eq!(json["data"]["company"].is_object(), visible, "{id}: {json}");
    }
    let (_, json) = o.app.gql(Some(&o.rep), GET, json!({"id": "nope"})).await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"));
    assert_eq!(json["errors"][0]["extensions"]["field"], "id");
    // Anonymous callers get nothing.
    let (_, json) = o.app.gql(None, &list_query(), json!({})).await;
    assert_eq!(error_code(&json), Some("UNAUTHENTICATED"));
}

/// Five companies with distinct values in every filterable column, created through the API.
struct Catalog {
    app: TestApp,
    admin: String,
    r1: Uuid,
    ids: std::collections::HashMap<&'static str, String>,
    created: Vec<String>,
}

async fn catalog() -> Catalog {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let r1 = org
        .user()
        .email("r1@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    org.user()
        .email("admin@example.com")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    let admin = app.login("admin@example.com", PASSWORD).await.0;
    let rows = [
        (
            "Alpha Systems",
            json!({"name": "Alpha Systems", "domain": "alpha.io", "industry": "TECHNOLOGY", "size": "SIZE_11_50", "city": "Berlin", "country": "Germany", "ownerId": r1.id.to_string()}),
        ),
        (
            "Bravo Health",
            json!({"name": "Bravo Health", "domain": "bravo-health.com", "industry": "HEALTHCARE", "size": "SIZE_201_1000", "city": "Boston", "state": "MA", "country": "USA"}),
        ),
        (
            "Charlie Bank",
            json!({"name": "Charlie Bank", "domain": "charlie.bank", "industry": "FINANCE", "size": "SIZE_1000_PLUS", "city": "New York", "state": "NY", "country": "USA"}),
        ),
        (
            "Delta Shop",
            json!({"name": "Delta Shop", "industry": "RETAIL"}),
        ),
        (
            "echo_50% Off",
            json!({"name": "echo_50% Off", "domain": "echo.store", "industry": "OTHER", "size": "SIZE_1_10", "city": "Austin"}),
        ),
    ];
    let mut ids = std::collections::HashMap::new();
    let mut created = Vec::new();
    for (name, input) in rows {
        let json = create(&app, &admin, input).await;
        assert!(json["errors"].is_null(), "{json}");
        let c = &json["data"]["createCompany"];
        ids.insert(name, c["id"].as_str().expect("id").to_owned());
        created.push(c["createdAt"].as_str().expect("createdAt").to_owned());
    }
    Catalog {
        app,
        admin,
        r1: r1.id,
        ids,
        created,
    }
}

#[tokio::test]
async fn every_filter_operator_and_search_narrow_the_list() {
    let c = catalog().await;
    let count = |filter: Value| {
        let app = &c.app;
        let admin = &c.admin;
        async move {
            let got = list(app, admin, json!({ "f": filter })).await;
            let n = got["totalCount"].as_u64().expect("count");
            assert_eq!(n as usize, got["nodes"].as_array().expect("nodes").len());
            (n, names(&got))
        }
    };
    let alpha = &c.ids["Alpha Systems"];
    let bravo = &c.ids["Bravo Health"];
    let cases: Vec<(Value, Vec<&str>)> = vec![
        // Text.
        (
            json!({"name": {"eq": "Bravo Health"}}),
            vec!["Bravo Health"],
        ),
        (
            json!({"name": {"ne": "Bravo Health"}}),
            vec![
                "Alpha Systems",
                "Charlie Bank",
                "Delta Shop",
                "echo_50% Off",
            ],
        ),
        (
            json!({"name": {"in": ["Alpha Systems", "Charlie Bank"]}}),
            vec!["Alpha Systems", "Charlie Bank"],
        ),
        (
            json!({"name": {"notIn": ["Alpha Systems", "Charlie Bank"]}}),
            vec!["Bravo Health", "Delta Shop", "echo_50% Off"],
        ),
        (
            json!({"name": {"lt": "C"}}),
            vec!["Alpha Systems", "Bravo Health"],
        ),
        (
            json!({"name": {"lte": "Bravo Health"}}),
            vec!["Alpha Systems", "Bravo Health"],
        ),
        (
            json!({"name": {"gt": "Charlie Bank"}}),
            vec!["Delta Shop", "echo_50% Off"],
        ),
        (
            json!({"name": {"gte": "Charlie Bank"}}),
            vec!["Charlie Bank", "Delta Shop", "echo_50% Off"],
        ),
        (json!({"name": {"contains": "SHOP"}}), vec!["Delta Shop"]),
        (json!({"name": {"startsWith": "ECH"}}), vec!["echo_50% Off"]),
        (json!({"name": {"contains": "0%"}}), vec!["echo_50% Off"]),
        (json!({"name": {"contains": "_"}}), vec!["echo_50% Off"]),
        (json!({"domain": {"isNull": true}}), vec!["Delta Shop"]),
        (
            json!({"domain": {"isNull": false}}),
            vec![
                "Alpha Systems",
                "Bravo Health",
                "Charlie Bank",
                "echo_50% Off",
            ],
        ),
        (json!({"city": {"contains": "BOST"}}), vec!["Bravo Health"]),
        (
            json!({"state": {"in": ["MA", "NY"]}}),
            vec!["Bravo Health", "Charlie Bank"],
        ),
        (
            json!({"country": {"eq": "USA"}}),
            vec!["Bravo Health", "Charlie Bank"],
        ),
        // Enums.
        (
            json!({"industry": {"eq": "TECHNOLOGY"}}),
            vec!["Alpha Systems"],
        ),
        (
            json!({"industry": {"ne": "FINANCE"}}),
            vec![
                "Alpha Systems",
                "Bravo Health",
                "Delta Shop",
                "echo_50% Off",
            ],
        ),
        (
            json!({"industry": {"in": ["HEALTHCARE", "FINANCE"]}}),
            vec!["Bravo Health", "Charlie Bank"],
        ),
        (
            json!({"industry": {"notIn": ["TECHNOLOGY", "OTHER", "RETAIL"]}}),
            vec!["Bravo Health", "Charlie Bank"],
        ),
        (json!({"size": {"isNull": true}}), vec!["Delta Shop"]),
        (
            json!({"size": {"eq": "SIZE_1000_PLUS"}}),
            vec!["Charlie Bank"],
        ),
        (
            json!({"size": {"in": ["SIZE_1_10", "SIZE_11_50"]}}),
            vec!["Alpha Systems", "echo_50% Off"],
        ),
        // IDs.
        (json!({"id": {"eq": alpha}}), vec!["Alpha Systems"]),
        (
            json!({"id": {"in": [alpha, bravo]}}),
            vec!["Alpha Systems", "Bravo Health"],
        ),
        (
            json!({"id": {"notIn": [alpha, bravo]}}),
            vec!["Charlie Bank", "Delta Shop", "echo_50% Off"],
        ),
        (
            json!({"id": {"ne": alpha}}),
            vec!["Bravo Health", "Charlie Bank", "Delta Shop", "echo_50% Off"],
        ),
        (
            json!({"ownerId": {"eq": c.r1.to_string()}}),
            vec!["Alpha Systems"],
        ),
        (
            json!({"ownerId": {"notIn": [c.r1.to_string()]}}),
            vec!["Bravo Health", "Charlie Bank", "Delta Shop", "echo_50% Off"],
        ),
        (
            json!({"ownerId": {"isNull": false}, "id": {"isNull": false}}),
            vec![
                "Alpha Systems",
                "Bravo Health",
                "Charlie Bank",
                "Delta Shop",
                "echo_50% Off",
            ],
        ),
        // Timestamps.
        (
            json!({"createdAt": {"lte": c.created[2]}}),
            vec!["Alpha Systems", "Bravo Health", "Charlie Bank"],
        ),
        (
            json!({"createdAt": {"gt": c.created[2]}}),
            vec!["Delta Shop", "echo_50% Off"],
        ),
        (
            json!({"createdAt": {"gte": c.created[1], "lt": c.created[3]}}),
            vec!["Bravo Health", "Charlie Bank"],
        ),
        (
            json!({"createdAt": {"eq": c.created[0]}}),
            vec!["Alpha Systems"],
        ),
        // Combinators.
        (
            json!({"or": [{"industry": {"eq": "TECHNOLOGY"}}, {"city": {"eq": "Boston"}}]}),
            vec!["Alpha Systems", "Bravo Health"],
        ),
        (
            json!({"and": [{"country": {"eq": "USA"}}, {"state": {"eq": "NY"}}]}),
            vec!["Charlie Bank"],
        ),
        (
            json!({"not": {"industry": {"in": ["TECHNOLOGY", "FINANCE"]}}}),
            vec!["Bravo Health", "Delta Shop", "echo_50% Off"],
        ),
        (
            json!({"not": {"or": [{"name": {"startsWith": "a"}}, {"name": {"startsWith": "b"}}]}, "size": {"isNull": false}}),
            vec!["Charlie Bank", "echo_50% Off"],
        ),
    ];
    for (filter, want) in cases {
        let (n, got) = count(filter.clone()).await;
        assert_eq!(got, want, "{filter}");
        assert_eq!(n as usize, want.len(), "{filter}");
    }

    // updatedAt follows changes.
    let json = update(
        &c.app,
        &c.admin,
        &c.ids["Charlie Bank"],
        json!({"city": "Boston"}),
    )
    .await;
    let updated = json["data"]["updateCompany"]["updatedAt"]
        .as_str()
        .expect("updatedAt")
        .to_owned();
    let (_, got) = count(json!({"updatedAt": {"gte": updated}})).await;
    assert_eq!(got, ["Charlie Bank"]);
    let (_, got) = count(json!({"updatedAt": {"lt": updated}, "city": {"eq": "Boston"}})).await;
    assert_eq!(got, ["Bravo Health"]);

    // Search: name or domain, ignoring case; wildcards are literal.
    for (text, want) in [
        ("alpha", vec!["Alpha Systems"]),
        ("HEALTH.COM", vec!["Bravo Health"]),
        ("bank", vec!["Charlie Bank"]),
        ("%", vec!["echo_50% Off"]),
        (
            "  ",
            vec![
                "Alpha Systems",
                "Bravo Health",
                "Charlie Bank",
                "Delta Shop",
                "echo_50% Off",
            ],
        ),
        ("zzz", vec![]),
    ] {
        let got = list(&c.app, &c.admin, json!({"s": text})).await;
        assert_eq!(names(&got), want, "{text}");
        assert_eq!(got["totalCount"], want.len(), "{text}");
    }
    let got = list(
        &c.app,
        &c.admin,
        json!({"s": "o", "f": {"country": {"eq": "USA"}}}),
    )
    .await;
    assert_eq!(names(&got), ["Bravo Health"], "search and filter combine");

    // A malformed id in a filter names the field.
    let (_, json) = c
        .app
        .gql(
            Some(&c.admin),
            &list_query(),
            json!({"f": {"ownerId": {"in": ["x"]}}}),
        )
        .await;
    assert_eq!(bad_fields(&json), ["filter.ownerId"]);
}

#[tokio::test]
async fn every_order_sorts_with_ties_broken_by_id() {
    let c = catalog().await;
    let order =
        |field: &str, direction: &str| json!({"o": [{"field": field, "direction": direction}]});
    let all = [
        "Alpha Systems",
        "Bravo Health",
        "Charlie Bank",
        "Delta Shop",
        "echo_50% Off",
    ];
    let got = list(&c.app, &c.admin, json!({})).await;
    assert_eq!(names(&got), all, "default: name ascending");
    let got = list(&c.app, &c.admin, order("NAME", "DESC")).await;
    assert_eq!(names(&got), all.iter().rev().copied().collect::<Vec<_>>());
    let got = list(&c.app, &c.admin, order("CITY", "ASC")).await;
    assert_eq!(
        names(&got),
        [
            "echo_50% Off",
            "Alpha Systems",
            "Bravo Health",
            "Charlie Bank",
            "Delta Shop"
        ],
        "no city last"
    );
    let got = list(&c.app, &c.admin, order("CITY", "DESC")).await;
    assert_eq!(
        names(&got),
        [
            "Delta Shop",
            "Charlie Bank",
            "Bravo Health",
            "Alpha Systems",
            "echo_50% Off"
        ]
    );
    let got = list(&c.app, &c.admin, order("INDUSTRY", "ASC")).await;
    assert_eq!(
        names(&got),
        [
            "Charlie Bank",
            "Bravo Health",
            "echo_50% Off",
            "Delta Shop",
            "Alpha Systems"
        ]
    );
    let got = list(&c.app, &c.admin, order("CREATED_AT", "DESC")).await;
    assert_eq!(names(&got), all.iter().rev().copied().collect::<Vec<_>>());
    let json = update(
        &c.app,
        &c.admin,
        &c.ids["Alpha Systems"],
        json!({"phone": "+4930123456"}),
    )
    .await;
    assert!(json["errors"].is_null(), "{json}");
    let got = list(&c.app, &c.admin, order("UPDATED_AT", "ASC")).await;
    assert_eq!(
        names(&got),
        [
            "Bravo Health",
            "Charlie Bank",
            "Delta Shop",
            "echo_50% Off",
            "Alpha Systems"
        ]
    );

    // Equal keys: by id.
    let json = update(
        &c.app,
        &c.admin,
        &c.ids["Bravo Health"],
        json!({"city": "Berlin"}),
    )
    .await;
    assert!(json["errors"].is_null(), "{json}");
    let got = list(
        &c.app,
        &c.admin,
        json!({"o": [{"field": "CITY"}], "f": {"city": {"eq": "Berlin"}}}),
    )
    .await;
    let mut ids = vec![
        c.ids["Alpha Systems"].clone(),
        c.ids["Bravo Health"].clone(),
    ];
    ids.sort_by_key(|id| Uuid::parse_str(id).expect("uuid"));
    let got_ids: Vec<&str> = got["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].as_str().expect("id"))
        .collect();
    assert_eq!(got_ids, ids);
}

#[tokio::test]
async fn keyset_pages_cover_every_row_once_in_both_directions() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let admin = org
        .user()
        .email("admin@example.com")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    for i in 0..30 {
        org.company()
            .name(format!("Co {i:02}"))
            .owner(admin.id)
            .insert(&app.db)
            .await;
    }
    let token = app.login("admin@example.com", PASSWORD).await.0;
    let p1 = list(&app, &token, json!({"first": 10})).await;
    assert_eq!(p1["totalCount"], 30);
    assert_eq!(p1["pageInfo"]["hasNextPage"], true);
    assert_eq!(p1["pageInfo"]["hasPreviousPage"], false);
    // A row sorting before the cursor arrives between pages: nothing repeats or goes missing.
    org.company()
        .name("Co 05a")
        .owner(admin.id)
        .insert(&app.db)
        .await;
    let p2 = list(
        &app,
        &token,
        json!({"first": 10, "after": p1["pageInfo"]["endCursor"]}),
    )
    .await;
    let p3 = list(
        &app,
        &token,
        json!({"first": 10, "after": p2["pageInfo"]["endCursor"]}),
    )
    .await;
    assert_eq!(p3["pageInfo"]["hasNextPage"], false);
    assert_eq!(p3["pageInfo"]["hasPreviousPage"], true);
    let all: Vec<String> = [names(&p1), names(&p2), names(&p3)].concat();
    assert_eq!(
        all,
        (0..30).map(|i| format!("Co {i:02}")).collect::<Vec<_>>()
    );
    // Edge cursors equal the page-info cursors.
    assert_eq!(p2["edges"][0]["cursor"], p2["pageInfo"]["startCursor"]);
    assert_eq!(p2["edges"][9]["cursor"], p2["pageInfo"]["endCursor"]);

    // Backwards.
    let last = list(&app, &token, json!({"last": 5})).await;
    assert_eq!(names(&last), ["Co 25", "Co 26", "Co 27", "Co 28", "Co 29"]);
    assert_eq!(last["pageInfo"]["hasPreviousPage"], true);
    let before = list(
        &app,
        &token,
        json!({"last": 3, "before": last["pageInfo"]["startCursor"]}),
    )
    .await;
    assert_eq!(names(&before), ["Co 22", "Co 23", "Co 24"]);
    assert_eq!(before["pageInfo"]["hasNextPage"], true);

    // Over a column that is NULL everywhere (ties by id only), pages still cover all rows.
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = list(
            &app,
            &token,
            json!({"o": [{"field": "CITY", "direction": "DESC"}], "first": 7, "after": after}),
        )
        .await;
        seen.extend(names(&page));
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 31);

    // Default 25, at most 100; bad arguments are BAD_USER_INPUT.
    let all = list(&app, &token, json!({})).await;
    assert_eq!(all["nodes"].as_array().expect("nodes").len(), 25);
    for bad in [
        json!({"first": 101}),
        json!({"last": -1}),
        json!({"first": 1, "last": 1}),
        json!({"before": "garbage"}),
    ] {
        let (_, json) = app.gql(Some(&token), &list_query(), bad.clone()).await;
        assert_eq!(error_code(&json), Some("BAD_USER_INPUT"), "{bad}");
    }
}

#[tokio::test]
async fn create_normalises_validates_and_reports_every_failure_at_once() {
    let o = org().await;
    let json = create(
        &o.app,
        &o.rep,
        json!({
            "name": "  Initech  ", "domain": " Initech.COM ", "industry": "TECHNOLOGY",
            "size": "SIZE_51_200", "address": "1 Main St", "city": "Austin", "state": "TX",
            "country": "USA", "phone": "+1 (512) 555-0100", "website": "https://initech.com/about"
        }),
    )
    .await;
    assert!(json["errors"].is_null(), "{json}");
    let c = &json["data"]["createCompany"];
    assert_eq!(c["name"], "Initech");
    assert_eq!(c["domain"], "initech.com");
    assert_eq!(c["phone"], "+15125550100");
    assert_eq!(c["website"], "https://initech.com/about");
    assert_eq!(c["industry"], "TECHNOLOGY");
    assert_eq!(c["size"], "SIZE_51_200");
    assert_eq!(
        c["ownerId"],
        o.r1.to_string(),
        "the owner defaults to the actor"
    );
    assert_eq!(c["version"], 1);
    assert_eq!(c["viewerCan"], json!({"update": true, "delete": false}));
    // Blank optional fields are empty, not "".
    let json = create(
        &o.app,
        &o.rep,
        json!({"name": "Blank Co", "domain": "  ", "city": ""}),
    )
    .await;
    assert!(json["data"]["createCompany"]["domain"].is_null(), "{json}");
    assert!(json["data"]["createCompany"]["city"].is_null(), "{json}");

    let before = company_count(&o.app).await;
    // Every failure at once, nothing written.
    let json = create(
        &o.app,
        &o.rep,
        json!({"name": "  ", "domain": "not a domain", "phone": "555-0100", "website": "ftp://initech.com", "ownerId": Uuid::new_v4().to_string()}),
    )
    .await;
    assert_eq!(
        bad_fields(&json),
        ["ownerId", "name", "domain", "phone", "website"]
    );
    assert_eq!(json["errors"][0]["extensions"]["field"], "ownerId");
    // One rule at a time.
    for (input, field) in [
        (json!({"name": "x".repeat(201)}), "name"),
        (json!({"name": "Ok", "domain": "UPPER CASE.com"}), "domain"),
        (json!({"name": "Ok", "domain": "localhost"}), "domain"),
        (json!({"name": "Ok", "domain": "under_score.com"}), "domain"),
        (json!({"name": "Ok", "phone": "+0123456"}), "phone"),
        (json!({"name": "Ok", "phone": "+1234567890123456"}), "phone"),
        (json!({"name": "Ok", "website": "initech.com"}), "website"),
        (json!({"name": "Ok", "website": "https://"}), "website"),
        (json!({"name": "Ok", "city": "c".repeat(201)}), "city"),
    ] {
        let json = create(&o.app, &o.rep, input.clone()).await;
        assert_eq!(bad_fields(&json), [field], "{input}");
    }
    let json = create(&o.app, &o.rep, json!({"name": "Ok", "domain": "a b.com"})).await;
    assert!(
        json["errors"][0]["message"]
            .as_str()
            .expect("message")
            .contains("spaces"),
        "{json}"
    );
    let json = create(&o.app, &o.rep, json!({"name": "Ok", "ownerId": "nope"})).await;
    assert_eq!(bad_fields(&json), ["ownerId"]);
    // Exactly 200 characters is fine.
    let json = create(&o.app, &o.rep, json!({"name": "n".repeat(200)})).await;
    assert!(json["errors"].is_null(), "{json}");

    // Unique name and domain, ignoring case: CONFLICT naming the field.
    let json = create(&o.app, &o.rep, json!({"name": "ACME"})).await;
    assert_eq!(error_code(&json), Some("CONFLICT"));
    assert_eq!(json["errors"][0]["extensions"]["field"], "name");
    let json = create(
        &o.app,
        &o.rep,
        json!({"name": "Initech Two", "domain": "INITECH.com"}),
    )
    .await;
    assert_eq!(error_code(&json), Some("CONFLICT"));
    assert_eq!(json["errors"][0]["extensions"]["field"], "domain");
    assert_eq!(
        company_count(&o.app).await,
        before + 1,
        "only the valid 200-character name was written"
    );
}

#[tokio::test]
async fn create_for_another_owner_is_decided_by_the_policy() {
    let o = org().await;
    let input = |name: &str, owner: Uuid| json!({"name": name, "ownerId": owner.to_string()});
    // Reps create for themselves only.
    let json = create(&o.app, &o.rep, input("Own", o.r1)).await;
    assert!(json["errors"].is_null(), "{json}");
    let json = create(&o.app, &o.rep, input("For teammate", o.r2)).await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"), "{json}");
    // Managers for their team members, not for other teams.
    let json = create(&o.app, &o.manager, input("For r2", o.r2)).await;
    assert_eq!(
        json["data"]["createCompany"]["ownerId"],
        o.r2.to_string(),
        "{json}"
    );
    let json = create(&o.app, &o.manager, input("For r3", o.r3)).await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"), "{json}");
    // Admins for anyone.
    let json = create(&o.app, &o.admin, input("For r3 by admin", o.r3)).await;
    assert_eq!(
        json["data"]["createCompany"]["ownerId"],
        o.r3.to_string(),
        "{json}"
    );
    let names: Vec<String> = entity::company::Entity::find()
        .all(&o.app.db)
        .await
        .expect("all")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert!(!names.iter().any(|n| n == "For teammate" || n == "For r3"));
}

#[tokio::test]
async fn update_changes_clears_bumps_the_version_and_respects_the_policy() {
    let o = org().await;
    let before = stored(&o.app, o.acme).await;
    let json = update(
        &o.app,
        &o.rep,
        o.acme,
        json!({"name": "Acme Corp", "domain": "Acme.com", "industry": "RETAIL", "size": "SIZE_1_10", "phone": "+44 20 7946 0000", "website": "http://acme.com", "city": "Leeds", "expectedVersion": 1}),
    )
    .await;
    assert!(json["errors"].is_null(), "{json}");
    let c = &json["data"]["updateCompany"];
    assert_eq!(c["name"], "Acme Corp");
    assert_eq!(c["domain"], "acme.com");
    assert_eq!(c["phone"], "+442079460000");
    assert_eq!(c["version"], 2);
    let after = stored(&o.app, o.acme).await;
    assert!(after.updated_at > before.updated_at);
    assert_eq!(after.created_at, before.created_at);
    // Omitted fields stay; null clears.
    let json = update(
        &o.app,
        &o.rep,
        o.acme,
        json!({"domain": null, "industry": null, "city": null}),
    )
    .await;
    let c = &json["data"]["updateCompany"];
    assert!(
        c["domain"].is_null() && c["industry"].is_null() && c["city"].is_null(),
        "{json}"
    );
    assert_eq!(c["size"], "SIZE_1_10");
    assert_eq!(c["name"], "Acme Corp");
    assert_eq!(c["version"], 3);
    // Changing only the case of the own name is not a conflict with itself.
    let json = update(&o.app, &o.rep, o.acme, json!({"name": "ACME CORP"})).await;
    assert_eq!(json["data"]["updateCompany"]["name"], "ACME CORP", "{json}");

    // Readable but not allowed: FORBIDDEN; unreadable: NOT_FOUND; nothing written.
    let json = update(&o.app, &o.rep, o.beta, json!({"name": "Mine now"})).await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"));
    let json = update(&o.app, &o.rep, o.delta, json!({"name": "Mine now"})).await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"));
    let json = update(&o.app, &o.rep, o.gamma, json!({"name": "Mine now"})).await;
    assert_eq!(error_code(&json), Some("NOT_FOUND"));
    let json = update(&o.app, &o.rep, Uuid::new_v4(), json!({"name": "Mine now"})).await;
    assert_eq!(error_code(&json), Some("NOT_FOUND"));
    assert_eq!(stored(&o.app, o.beta).await.name, "Beta");
    // Managers update the team's companies.
    let json = update(&o.app, &o.manager, o.beta, json!({"country": "Canada"})).await;
    assert_eq!(json["data"]["updateCompany"]["country"], "Canada", "{json}");

    // Validation: every failure at once, nothing written.
    let json = update(
        &o.app,
        &o.rep,
        o.acme,
        json!({"name": "", "domain": "x", "phone": "1", "website": "www"}),
    )
    .await;
    assert_eq!(bad_fields(&json), ["name", "domain", "phone", "website"]);
    // Unique values.
    let json = update(&o.app, &o.admin, o.gamma, json!({"name": "beta"})).await;
    assert_eq!(error_code(&json), Some("CONFLICT"));
    assert_eq!(json["errors"][0]["extensions"]["field"], "name");
    update(&o.app, &o.admin, o.beta, json!({"domain": "beta.com"})).await;
    let json = update(
        &o.app,
        &o.admin,
        o.gamma,
        json!({"domain": "BETA.COM", "city": "Paris"}),
    )
    .await;
    assert_eq!(json["errors"][0]["extensions"]["field"], "domain");
    let gamma = stored(&o.app, o.gamma).await;
    assert_eq!(
        (gamma.name.as_str(), gamma.city, gamma.version),
        ("Gamma", None, 1)
    );
}

#[tokio::test]
async fn a_stale_expected_version_is_a_conflict_and_writes_nothing() {
    let o = org().await;
    let json = update(
        &o.app,
        &o.rep,
        o.acme,
        json!({"city": "Paris", "expectedVersion": 1}),
    )
    .await;
    assert_eq!(json["data"]["updateCompany"]["version"], 2, "{json}");
    // An offline client still holding version 1.
    let json = update(
        &o.app,
        &o.rep,
        o.acme,
        json!({"city": "Rome", "name": "Stale", "expectedVersion": 1}),
    )
    .await;
    assert_eq!(error_code(&json), Some("CONFLICT"));
    assert_eq!(json["errors"][0]["extensions"]["field"], "expectedVersion");
    let acme = stored(&o.app, o.acme).await;
    assert_eq!(
        (acme.name.as_str(), acme.city.as_deref(), acme.version),
        ("Acme", Some("Paris"), 2)
    );

    // Concurrent writers holding the same version: exactly one wins.
    let (a, b, c, d) = tokio::join!(
        update(
            &o.app,
            &o.rep,
            o.acme,
            json!({"city": "A", "expectedVersion": 2})
        ),
        update(
            &o.app,
            &o.rep,
            o.acme,
            json!({"city": "B", "expectedVersion": 2})
        ),
        update(
            &o.app,
            &o.manager,
            o.acme,
            json!({"city": "C", "expectedVersion": 2})
        ),
        update(
            &o.app,
            &o.admin,
            o.acme,
            json!({"city": "D", "expectedVersion": 2})
        ),
    );
    let results = [a, b, c, d];
    let winners: Vec<&Value> = results.iter().filter(|j| j["errors"].is_null()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for loser in results.iter().filter(|j| !j["errors"].is_null()) {
        assert_eq!(error_code(loser), Some("CONFLICT"), "{loser}");
        assert_eq!(loser["errors"][0]["extensions"]["field"], "expectedVersion");
    }
    let acme = stored(&o.app, o.acme).await;
    assert_eq!(acme.version, 3);
    assert_eq!(
        Some(
            winners[0]["data"]["updateCompany"]["city"]
                .as_str()
                .expect("city")
        ),
        acme.city.as_deref()
    );
}

#[tokio::test]
async fn changing_the_owner_needs_update_now_and_create_for_the_new_owner() {
    let o = org().await;
    // A rep may not hand their company to a teammate (they could not create it for them).
    let json = update(
        &o.app,
        &o.rep,
        o.acme,
        json!({"ownerId": o.r2.to_string(), "city": "Oslo"}),
    )
    .await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"), "{json}");
    assert_eq!(json["errors"][0]["extensions"]["field"], "ownerId");
    let acme = stored(&o.app, o.acme).await;
    assert_eq!((acme.owner_id, acme.city, acme.version), (o.r1, None, 1));
    // Re-stating the current owner is no change.
    let json = update(&o.app, &o.rep, o.acme, json!({"ownerId": o.r1.to_string()})).await;
    assert!(json["errors"].is_null(), "{json}");
    // A manager within the team, not outside it.
    let json = update(
        &o.app,
        &o.manager,
        o.acme,
        json!({"ownerId": o.r2.to_string()}),
    )
    .await;
    assert_eq!(
        json["data"]["updateCompany"]["ownerId"],
        o.r2.to_string(),
        "{json}"
    );
    let json = update(
        &o.app,
        &o.manager,
        o.acme,
        json!({"ownerId": o.r3.to_string()}),
    )
    .await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"), "{json}");
    assert_eq!(stored(&o.app, o.acme).await.owner_id, o.r2);
    // Unknown owners are bad input.
    let json = update(
        &o.app,
        &o.manager,
        o.acme,
        json!({"ownerId": Uuid::new_v4().to_string()}),
    )
    .await;
    assert_eq!(bad_fields(&json), ["ownerId"]);
    // Admins to anyone.
    let json = update(
        &o.app,
        &o.admin,
        o.acme,
        json!({"ownerId": o.r3.to_string()}),
    )
    .await;
    assert_eq!(
        json["data"]["updateCompany"]["ownerId"],
        o.r3.to_string(),
        "{json}"
    );
}

#[tokio::test]
async fn delete_follows_the_policy_and_the_foreign_keys() {
    let mut o = org().await;
    // Reps never delete.
    let json = delete(&o.app, &o.rep, o.acme).await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"));
    let json = delete(&o.app, &o.rep, o.gamma).await;
    assert_eq!(error_code(&json), Some("NOT_FOUND"));
    let json = delete(&o.app, &o.manager, o.gamma).await;
    assert_eq!(error_code(&json), Some("NOT_FOUND"));

    // A company with deals cannot go: CONFLICT saying what blocks it.
    o.org
        .deal()
        .company(o.beta)
        .owner(o.r2)
        .title("One")
        .amount_cents(1)
        .stage(DealStage::Proposal)
        .insert(&o.app.db)
        .await;
    o.org
        .deal()
        .company(o.beta)
        .owner(o.r3)
        .title("Two")
        .amount_cents(1)
        .stage(DealStage::Proposal)
        .insert(&o.app.db)
        .await;
    let json = delete(&o.app, &o.admin, o.beta).await;
    assert_eq!(error_code(&json), Some("CONFLICT"));
    assert_eq!(json["errors"][0]["extensions"]["field"], "id");
    assert!(
        json["errors"][0]["message"]
            .as_str()
            .expect("message")
            .contains("company has 2 deals"),
        "{json}"
    );
    // The manager cannot read the West rep's deal: it is not counted out loud.
    let json = delete(&o.app, &o.manager, o.beta).await;
    assert_eq!(error_code(&json), Some("CONFLICT"));
    assert!(
        json["errors"][0]["message"]
            .as_str()
            .expect("message")
            .contains("1 of them visible"),
        "{json}"
    );
    let json = delete(&o.app, &o.admin, o.delta).await;
    assert!(
        json["errors"][0]["message"]
            .as_str()
            .expect("message")
            .contains("company has 1 deal;"),
        "{json}"
    );
    assert_eq!(company_count(&o.app).await, 4);

    // Without deals: deleted, its contacts stay without a company.
    let contact = o
        .org
        .contact()
        .first("Ann")
        .primary(true)
        .owner(o.r1)
        .company(o.acme)
        .insert(&o.app.db)
        .await;
    let json = delete(&o.app, &o.manager, o.acme).await;
    assert_eq!(json["data"]["deleteCompany"], o.acme.to_string(), "{json}");
    let (_, json) = o.app.gql(Some(&o.admin), GET, json!({"id": o.acme})).await;
    assert!(json["data"]["company"].is_null());
    let contact = entity::contact::Entity::find_by_id(contact.id)
        .one(&o.app.db)
        .await
        .expect("load")
        .expect("contact kept");
    assert_eq!(contact.company_id, None);
    // Deleting again: gone.
    let json = delete(&o.app, &o.admin, o.acme).await;
    assert_eq!(error_code(&json), Some("NOT_FOUND"));
}

/// Unique violations that get past the checks (a race) are mapped by index name on both
/// databases; anything else stays `INTERNAL`.
#[tokio::test]
async fn unique_violations_map_to_the_field_by_index_name() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let owner = org
        .user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    org.company()
        .name("Acme")
        .domain("acme.com")
        .owner(owner.id)
        .insert(&app.db)
        .await;
    let indexes = [
        (
            "ux_companies_name_lower",
            "name",
            "a company with this name",
        ),
        (
            "ux_companies_domain_lower",
            "domain",
            "a company with this domain",
        ),
    ];
    let err = org
        .company()
        .name("ACME")
        .owner(&owner)
        .try_insert(&app.db)
        .await
        .expect_err("duplicate name");
    match api::service::company::map_unique(err, &indexes) {
        ApiError::Conflict { field, .. } => assert_eq!(field.as_deref(), Some("name")),
        other => panic!("{other:?}"),
    }
    let err = org
        .company()
        .name("Other")
        .domain("acme.com")
        .owner(&owner)
        .try_insert(&app.db)
        .await
        .expect_err("duplicate domain");
    match api::service::company::map_unique(err, &indexes) {
        ApiError::Conflict { field, .. } => assert_eq!(field.as_deref(), Some("domain")),
        other => panic!("{other:?}"),
    }
    let err = org
        .company()
        .name("acme")
        .owner(&owner)
        .try_insert(&app.db)
        .await
        .expect_err("duplicate name");
    assert!(matches!(
        api::service::company::map_unique(err, &[]),
        ApiError::Internal
    ));
}
