//! `contacts` / `contact` and the contact mutations: rows scoped by the policy, filters,
//! search, ordering (address-book NAME over two columns), keyset pages, `viewerCan`,
//! validation, optimistic concurrency, the owner-only `notes` field, and delete.

use crm_testkit::Org;
use crm_testkit::rows::ContactBuilder;
use entity::enums::{DealStage, Role};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, error_code};

const FIELDS: &str = "id companyId firstName lastName fullName email phone mobile title department isPrimary linkedinUrl notes ownerId version createdAt updatedAt viewerCan { update delete updateNotes }";

fn list_query() -> String {
    format!(
        "query($f: ContactFilter, $o: [ContactOrder!], $s: String, $first: Int, $after: String, $last: Int, $before: String) {{
  contacts(filter: $f, orderBy: $o, search: $s, first: $first, after: $after, last: $last, before: $before) {{
    totalCount
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
    edges {{ cursor node {{ {FIELDS} }} }}
    nodes {{ id fullName }}
  }}
}}"
    )
}

fn create_query() -> String {
    format!(
        "mutation($input: CreateContactInput!) {{ createContact(input: $input) {{ {FIELDS} }} }}"
    )
}

fn update_query() -> String {
    format!(
        "mutation($id: ID!, $input: UpdateContactInput!) {{ updateContact(id: $id, input: $input) {{ {FIELDS} }} }}"
    )
}

const DELETE: &str = "mutation($id: ID!) { deleteContact(id: $id) }";
const GET: &str = "query($id: ID!) { contact(id: $id) { id fullName notes viewerCan { update delete updateNotes } } }";

async fn list(app: &TestApp, token: &str, vars: Value) -> Value {
    let (_, json) = app.gql(Some(token), &list_query(), vars).await;
    assert!(json["errors"].is_null(), "{json}");
    json["data"]["contacts"].clone()
}

fn names(contacts: &Value) -> Vec<String> {
    contacts["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["fullName"].as_str().expect("fullName").to_owned())
        .collect()
}

fn node<'a>(contacts: &'a Value, name: &str) -> &'a Value {
    contacts["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["fullName"] == name)
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

fn bad_fields(json: &Value) -> Vec<String> {
    assert_eq!(error_code(json), Some("BAD_USER_INPUT"), "{json}");
    json["errors"][0]["extensions"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["field"].as_str().expect("field").to_owned())
        .collect()
}

async fn contact_count(app: &TestApp) -> u64 {
    entity::contact::Entity::find()
        .count(&app.db)
        .await
        .expect("count")
}

async fn stored(app: &TestApp, id: Uuid) -> entity::contact::Model {
    entity::contact::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .expect("load")
        .expect("exists")
}

/// A contact with the email and notes these tests search for.
fn person<'o>(org: &'o mut Org, first: &str, last: &str) -> ContactBuilder<'o> {
    org.contact()
        .first(first)
        .last(last)
        .email(format!("{}@example.com", first.to_lowercase()))
        .notes(format!("notes on {first}"))
}

struct Fixture {
    app: TestApp,
    rep: String,
    manager: String,
    admin: String,
    r1: Uuid,
    r2: Uuid,
    r3: Uuid,
    acme: Uuid,
    gamma: Uuid,
    ann: Uuid,
    bob: Uuid,
    cat: Uuid,
    dan: Uuid,
    deal: Uuid,
}

/// East (managed by m1): reps r1, r2. West: rep r3. Ann is r1's contact at Acme, Bob r2's,
/// Cat and Dan r3's; Dan is the contact of a deal of r1's.
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
    let acme = org
        .company()
        .name("Acme")
        .owner(r1.id)
        .insert(&app.db)
        .await;
    let gamma = org
        .company()
        .name("Gamma")
        .owner(r3.id)
        .insert(&app.db)
        .await;
    let ann = person(&mut org, "Ann", "Able")
        .owner(r1.id)
        .company(acme.id)
        .insert(&app.db)
        .await
        .id;
    let bob = person(&mut org, "Bob", "Baker")
        .owner(r2.id)
        .insert(&app.db)
        .await
        .id;
    let cat = person(&mut org, "Cat", "Cole")
        .owner(r3.id)
        .company(gamma.id)
        .insert(&app.db)
        .await
        .id;
    let dan = person(&mut org, "Dan", "Dale")
        .owner(r3.id)
        .company(gamma.id)
        .insert(&app.db)
        .await
        .id;
    let deal = org
        .deal()
        .company(acme.id)
        .owner(r1.id)
        .title("Deal with Dan")
        .contact(dan)
        .amount_cents(100)
        .stage(DealStage::Proposal)
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
        gamma: gamma.id,
        ann,
        bob,
        cat,
        dan,
        deal: deal.id,
        app,
    }
}

#[tokio::test]
async fn the_policy_scopes_contacts_per_role() {
    let o = org().await;
    let all = json!({"update": true, "delete": true, "updateNotes": true});
    let none = json!({"update": false, "delete": false, "updateNotes": false});
    // Rep: own, teammate's, linked to a readable deal.
    let got = list(&o.app, &o.rep, json!({})).await;
    assert_eq!(got["totalCount"], 3);
    assert_eq!(names(&got), ["Ann Able", "Bob Baker", "Dan Dale"]);
    assert_eq!(
        node(&got, "Ann Able")["viewerCan"],
        json!({"update": true, "delete": false, "updateNotes": true})
    );
    assert_eq!(node(&got, "Bob Baker")["viewerCan"], none);
    assert_eq!(node(&got, "Dan Dale")["viewerCan"], none);
    // Readers see the notes even when they may not change them.
    assert_eq!(node(&got, "Bob Baker")["notes"], "notes on Bob");
    assert_eq!(node(&got, "Ann Able")["companyId"], o.acme.to_string());

    // Manager: the team's (notes stay the owner's), plus Dan through the team's deal.
    let got = list(&o.app, &o.manager, json!({})).await;
    assert_eq!(names(&got), ["Ann Able", "Bob Baker", "Dan Dale"]);
    assert_eq!(
        node(&got, "Ann Able")["viewerCan"],
        json!({"update": true, "delete": true, "updateNotes": false})
    );
    assert_eq!(node(&got, "Dan Dale")["viewerCan"], none);

    // Admin: everything.
    let got = list(&o.app, &o.admin, json!({})).await;
    assert_eq!(got["totalCount"], 4);
    assert_eq!(node(&got, "Cat Cole")["viewerCan"], all);

    for (token, id, visible) in [
        (&o.rep, o.ann, true),
        (&o.rep, o.dan, true),
        (&o.rep, o.cat, false),
        (&o.manager, o.cat, false),
        (&o.admin, o.cat, true),
        (&o.rep, Uuid::new_v4(), false),
    ] {
        let (_, json) = o.app.gql(Some(token), GET, json!({"id": id})).await;
        assert!(json["errors"].is_null(), "{json}");
        assert_eq!(json["data"]["contact"].is_object(), visible, "{id}: {json}");
    }
    let (_, json) = o.app.gql(Some(&o.rep), GET, json!({"id": "x"})).await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"));
}

struct Catalog {
    app: TestApp,
    admin: String,
    r1: Uuid,
    acme: String,
    gamma: String,
    ids: std::collections::HashMap<&'static str, String>,
    created: Vec<String>,
}

/// Four contacts created through the API: "Ann Able", "Bob" (no last name), "Cole" (no
/// first name), "Dan Dale" (no email).
async fn catalog() -> Catalog {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let r1 = org
        .user()
        .email("r1@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let admin_user = org
        .user()
        .email("admin@example.com")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    let acme = org
        .company()
        .name("Acme")
        .owner(admin_user.id)
        .insert(&app.db)
        .await
        .id
        .to_string();
    let gamma = org
        .company()
        .name("Gamma")
        .owner(admin_user.id)
        .insert(&app.db)
        .await
        .id
        .to_string();
    let admin = app.login("admin@example.com", PASSWORD).await.0;
    let rows = [
        (
            "Ann Able",
            json!({"firstName": "Ann", "lastName": "Able", "email": "ann@acme.com", "title": "CEO", "department": "SALES", "isPrimary": true, "companyId": acme, "ownerId": r1.id.to_string()}),
        ),
        (
            "Bob",
            json!({"firstName": "Bob", "email": "BOB@Example.com", "department": "ENGINEERING"}),
        ),
        (
            "Cole",
            json!({"lastName": "Cole", "email": "cole@acme.com", "title": "CTO", "department": "HR", "companyId": acme}),
        ),
        (
            "Dan Dale",
            json!({"firstName": "Dan", "lastName": "Dale", "companyId": gamma}),
        ),
    ];
    let mut ids = std::collections::HashMap::new();
    let mut created = Vec::new();
    for (name, input) in rows {
        let json = create(&app, &admin, input).await;
        assert!(json["errors"].is_null(), "{json}");
        let c = &json["data"]["createContact"];
        assert_eq!(c["fullName"], name);
        ids.insert(name, c["id"].as_str().expect("id").to_owned());
        created.push(c["createdAt"].as_str().expect("createdAt").to_owned());
    }
    Catalog {
        app,
        admin,
        r1: r1.id,
        acme,
        gamma,
        ids,
        created,
    }
}

#[tokio::test]
async fn every_filter_operator_and_search_narrow_the_list() {
    let c = catalog().await;
    let ann = &c.ids["Ann Able"];
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({"firstName": {"eq": "Ann"}}), vec!["Ann Able"]),
        (json!({"firstName": {"isNull": true}}), vec!["Cole"]),
        (
            json!({"firstName": {"gte": "Bob"}}),
            vec!["Bob", "Dan Dale"],
        ),
        (
            json!({"lastName": {"in": ["Able", "Dale"]}}),
            vec!["Ann Able", "Dan Dale"],
        ),
        (json!({"lastName": {"lt": "Cole"}}), vec!["Ann Able"]),
        (
            json!({"fullName": {"contains": "AN"}}),
            vec!["Ann Able", "Dan Dale"],
        ),
        (json!({"fullName": {"startsWith": "bo"}}), vec!["Bob"]),
        (
            json!({"fullName": {"gt": "Bob", "lte": "Cole"}}),
            vec!["Cole"],
        ),
        (json!({"email": {"eq": "bob@example.com"}}), vec!["Bob"]),
        (json!({"email": {"isNull": true}}), vec!["Dan Dale"]),
        (
            json!({"email": {"contains": "@acme."}}),
            vec!["Ann Able", "Cole"],
        ),
        (
            json!({"title": {"ne": "CEO"}}),
            vec!["Bob", "Cole", "Dan Dale"],
        ),
        (
            json!({"title": {"notIn": ["CEO", "CTO"]}}),
            vec!["Bob", "Dan Dale"],
        ),
        (json!({"department": {"eq": "SALES"}}), vec!["Ann Able"]),
        (
            json!({"department": {"in": ["HR", "ENGINEERING"]}}),
            vec!["Bob", "Cole"],
        ),
        (
            json!({"department": {"notIn": ["SALES"]}}),
            vec!["Bob", "Cole", "Dan Dale"],
        ),
        (
            json!({"department": {"ne": "HR", "isNull": false}}),
            vec!["Ann Able", "Bob"],
        ),
        (json!({"department": {"isNull": true}}), vec!["Dan Dale"]),
        (json!({"isPrimary": {"eq": true}}), vec!["Ann Able"]),
        (
            json!({"isPrimary": {"ne": true}}),
            vec!["Bob", "Cole", "Dan Dale"],
        ),
        (
            json!({"isPrimary": {"isNull": false}}),
            vec!["Ann Able", "Bob", "Cole", "Dan Dale"],
        ),
        (
            json!({"companyId": {"eq": c.acme}}),
            vec!["Ann Able", "Cole"],
        ),
        (json!({"companyId": {"in": [c.gamma]}}), vec!["Dan Dale"]),
        (json!({"companyId": {"isNull": true}}), vec!["Bob"]),
        (
            json!({"companyId": {"ne": c.acme}}),
            vec!["Bob", "Dan Dale"],
        ),
        (
            json!({"ownerId": {"eq": c.r1.to_string()}}),
            vec!["Ann Able"],
        ),
        (
            json!({"id": {"notIn": [ann]}, "ownerId": {"ne": c.r1.to_string()}}),
            vec!["Bob", "Cole", "Dan Dale"],
        ),
        (
            json!({"createdAt": {"gt": c.created[1]}}),
            vec!["Cole", "Dan Dale"],
        ),
        (
            json!({"createdAt": {"lte": c.created[0]}}),
            vec!["Ann Able"],
        ),
        (
            json!({"or": [{"department": {"eq": "SALES"}}, {"companyId": {"isNull": true}}]}),
            vec!["Ann Able", "Bob"],
        ),
        (
            json!({"and": [{"companyId": {"eq": c.acme}}, {"title": {"eq": "CTO"}}]}),
            vec!["Cole"],
        ),
        (
            json!({"not": {"fullName": {"contains": "a"}}}),
            vec!["Bob", "Cole"],
        ),
    ];
    for (filter, want) in cases {
        let got = list(&c.app, &c.admin, json!({ "f": filter })).await;
        assert_eq!(names(&got), want, "{filter}");
        assert_eq!(got["totalCount"], want.len(), "{filter}");
    }
    let json = update(&c.app, &c.admin, ann, json!({"title": "Chair"})).await;
    let updated = json["data"]["updateContact"]["updatedAt"].clone();
    let got = list(
        &c.app,
        &c.admin,
        json!({"f": {"updatedAt": {"gte": updated}}}),
    )
    .await;
    assert_eq!(names(&got), ["Ann Able"]);

    // Search: full name or email, ignoring case.
    for (text, want) in [
        ("able", vec!["Ann Able"]),
        ("EXAMPLE.COM", vec!["Bob"]),
        ("acme", vec!["Ann Able", "Cole"]),
        ("n d", vec!["Dan Dale"]),
        ("nobody", vec![]),
    ] {
        let got = list(&c.app, &c.admin, json!({"s": text})).await;
        assert_eq!(names(&got), want, "{text}");
    }
    let (_, json) = c
        .app
        .gql(
            Some(&c.admin),
            &list_query(),
            json!({"f": {"companyId": {"eq": "nope"}}}),
        )
        .await;
    assert_eq!(bad_fields(&json), ["filter.companyId"]);
}

#[tokio::test]
async fn every_order_sorts_and_pages_with_ties_broken_by_id() {
    let c = catalog().await;
    let by =
        |field: &str, direction: &str| json!({"o": [{"field": field, "direction": direction}]});
    let got = list(&c.app, &c.admin, json!({})).await;
    assert_eq!(
        names(&got),
        ["Ann Able", "Bob", "Cole", "Dan Dale"],
        "default: full name"
    );
    for (field, direction, want) in [
        ("FULL_NAME", "DESC", ["Dan Dale", "Cole", "Bob", "Ann Able"]),
        ("NAME", "ASC", ["Ann Able", "Cole", "Dan Dale", "Bob"]),
        ("NAME", "DESC", ["Bob", "Dan Dale", "Cole", "Ann Able"]),
        ("FIRST_NAME", "ASC", ["Ann Able", "Bob", "Dan Dale", "Cole"]),
        ("LAST_NAME", "DESC", ["Bob", "Dan Dale", "Cole", "Ann Able"]),
        ("EMAIL", "ASC", ["Ann Able", "Bob", "Cole", "Dan Dale"]),
        (
            "CREATED_AT",
            "DESC",
            ["Dan Dale", "Cole", "Bob", "Ann Able"],
        ),
    ] {
        let got = list(&c.app, &c.admin, by(field, direction)).await;
        assert_eq!(names(&got), want, "{field} {direction}");
    }
    let json = update(
        &c.app,
        &c.admin,
        &c.ids["Ann Able"],
        json!({"isPrimary": false}),
    )
    .await;
    assert!(json["errors"].is_null(), "{json}");
    let got = list(&c.app, &c.admin, by("UPDATED_AT", "ASC")).await;
    assert_eq!(names(&got), ["Bob", "Cole", "Dan Dale", "Ann Able"]);

    // Page by one through the two-column NAME order (with an empty last name), both ways.
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = list(
            &c.app,
            &c.admin,
            json!({"o": [{"field": "NAME"}], "first": 1, "after": after}),
        )
        .await;
        seen.extend(names(&page));
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, ["Ann Able", "Cole", "Dan Dale", "Bob"]);
    let last = list(
        &c.app,
        &c.admin,
        json!({"o": [{"field": "NAME"}], "last": 2}),
    )
    .await;
    assert_eq!(names(&last), ["Dan Dale", "Bob"]);
    let before = list(
        &c.app,
        &c.admin,
        json!({"o": [{"field": "NAME"}], "last": 5, "before": last["pageInfo"]["startCursor"]}),
    )
    .await;
    assert_eq!(names(&before), ["Ann Able", "Cole"]);
    assert_eq!(before["pageInfo"]["hasPreviousPage"], false);
    // Equal full names: by id.
    let (a, b) = (
        create(&c.app, &c.admin, json!({"firstName": "Zed"})).await,
        create(&c.app, &c.admin, json!({"firstName": "Zed"})).await,
    );
    let mut ids = vec![
        a["data"]["createContact"]["id"]
            .as_str()
            .expect("id")
            .to_owned(),
        b["data"]["createContact"]["id"]
            .as_str()
            .expect("id")
            .to_owned(),
    ];
    ids.sort_by_key(|id| Uuid::parse_str(id).expect("uuid"));
    let got = list(&c.app, &c.admin, json!({"s": "zed"})).await;
    let got_ids: Vec<&str> = got["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].as_str().expect("id"))
        .collect();
    assert_eq!(got_ids, ids);
    for bad in [json!({"first": 101}), json!({"after": "zzz"})] {
        let (_, json) = c.app.gql(Some(&c.admin), &list_query(), bad).await;
        assert_eq!(error_code(&json), Some("BAD_USER_INPUT"));
    }
}

#[tokio::test]
async fn create_derives_the_full_name_validates_and_writes_nothing_on_failure() {
    let o = org().await;
    let json = create(
        &o.app,
        &o.rep,
        json!({
            "firstName": " Eve ", "lastName": "Evans", "email": " Eve@Acme.COM ",
            "phone": "+1 415 555 0100", "mobile": "+447700900123", "title": "VP Sales",
            "department": "SALES", "linkedinUrl": "https://www.linkedin.com/in/eve",
            "notes": "met at the fair", "companyId": o.acme.to_string()
        }),
    )
    .await;
    assert!(json["errors"].is_null(), "{json}");
    let c = &json["data"]["createContact"];
    assert_eq!(c["firstName"], "Eve");
    assert_eq!(c["fullName"], "Eve Evans");
    assert_eq!(c["email"], "eve@acme.com");
    assert_eq!(c["phone"], "+14155550100");
    assert_eq!(c["isPrimary"], false);
    assert_eq!(c["notes"], "met at the fair");
    assert_eq!(c["ownerId"], o.r1.to_string());
    assert_eq!(c["companyId"], o.acme.to_string());
    assert_eq!(c["version"], 1);
    assert_eq!(
        c["viewerCan"],
        json!({"update": true, "delete": false, "updateNotes": true})
    );
    let json = create(
        &o.app,
        &o.rep,
        json!({"lastName": "Solo", "firstName": "  "}),
    )
    .await;
    assert_eq!(json["data"]["createContact"]["fullName"], "Solo", "{json}");
    assert!(json["data"]["createContact"]["firstName"].is_null());

    let before = contact_count(&o.app).await;
    // Every failure at once; the unreadable company reads as missing.
    let json = create(
        &o.app,
        &o.rep,
        json!({"firstName": "", "email": "nope", "phone": "123", "mobile": "+1 abc", "linkedinUrl": "linkedin.com/in/x", "companyId": o.gamma.to_string()}),
    )
    .await;
    assert_eq!(
        bad_fields(&json),
        [
            "firstName",
            "email",
            "phone",
            "mobile",
            "linkedinUrl",
            "companyId"
        ]
    );
    let messages = json["errors"][0]["message"].as_str().expect("message");
    assert!(
        messages.contains("companyId: no such company"),
        "{messages}"
    );
    for (input, field) in [
        (json!({}), "firstName"),
        (json!({"firstName": "x".repeat(101)}), "firstName"),
        (json!({"lastName": "x".repeat(101)}), "lastName"),
        (json!({"firstName": "A", "email": "a@b"}), "email"),
        (json!({"firstName": "A", "phone": "+0100"}), "phone"),
        (json!({"firstName": "A", "mobile": "0044 7700"}), "mobile"),
        (
            json!({"firstName": "A", "linkedinUrl": "mailto:a@b.co"}),
            "linkedinUrl",
        ),
        (json!({"firstName": "A", "title": "t".repeat(201)}), "title"),
        (
            json!({"firstName": "A", "companyId": Uuid::new_v4().to_string()}),
            "companyId",
        ),
        (json!({"firstName": "A", "companyId": "bad"}), "companyId"),
        (
            json!({"firstName": "A", "ownerId": Uuid::new_v4().to_string()}),
            "ownerId",
        ),
    ] {
        let json = create(&o.app, &o.rep, input.clone()).await;
        assert_eq!(bad_fields(&json), [field], "{input}");
    }
    // Unique email, ignoring case.
    let json = create(
        &o.app,
        &o.rep,
        json!({"firstName": "Ann2", "email": "ANN@example.com"}),
    )
    .await;
    assert_eq!(error_code(&json), Some("CONFLICT"));
    assert_eq!(json["errors"][0]["extensions"]["field"], "email");
    assert_eq!(contact_count(&o.app).await, before);
}

#[tokio::test]
async fn create_for_another_owner_and_notes_follow_the_policy() {
    let o = org().await;
    let before = contact_count(&o.app).await;
    let json = create(
        &o.app,
        &o.rep,
        json!({"firstName": "X", "ownerId": o.r2.to_string()}),
    )
    .await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"), "{json}");
    // A manager creates for a team member, but the notes are the owner's to write.
    let json = create(
        &o.app,
        &o.manager,
        json!({"firstName": "Y", "ownerId": o.r1.to_string(), "notes": "mine"}),
    )
    .await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"), "{json}");
    assert_eq!(json["errors"][0]["extensions"]["field"], "notes");
    let json = create(
        &o.app,
        &o.manager,
        json!({"firstName": "Z", "lastName": "Team", "ownerId": o.r1.to_string()}),
    )
    .await;
    assert_eq!(
        json["data"]["createContact"]["ownerId"],
        o.r1.to_string(),
        "{json}"
    );
    let json = create(
        &o.app,
        &o.manager,
        json!({"firstName": "W", "ownerId": o.r3.to_string()}),
    )
    .await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"), "{json}");
    let json = create(
        &o.app,
        &o.admin,
        json!({"firstName": "V", "ownerId": o.r3.to_string(), "notes": "admin may"}),
    )
    .await;
    assert_eq!(
        json["data"]["createContact"]["notes"], "admin may",
        "{json}"
    );
    assert_eq!(contact_count(&o.app).await, before + 2);
}

#[tokio::test]
async fn update_rederives_the_name_and_guards_notes_version_and_policy() {
    let o = org().await;
    let json = update(&o.app, &o.rep, o.ann, json!({"firstName": "Anna", "email": "ANNA@ACME.COM", "companyId": null, "notes": "likes tea", "expectedVersion": 1})).await;
    assert!(json["errors"].is_null(), "{json}");
    let c = &json["data"]["updateContact"];
    assert_eq!(c["fullName"], "Anna Able");
    assert_eq!(c["email"], "anna@acme.com");
    assert!(c["companyId"].is_null());
    assert_eq!(c["notes"], "likes tea");
    assert_eq!(c["version"], 2);
    let json = update(
        &o.app,
        &o.rep,
        o.ann,
        json!({"firstName": null, "companyId": o.acme.to_string()}),
    )
    .await;
    assert_eq!(json["data"]["updateContact"]["fullName"], "Able", "{json}");
    assert_eq!(
        json["data"]["updateContact"]["companyId"],
        o.acme.to_string()
    );
    // Clearing the last remaining name is refused, with everything else wrong at once.
    let json = update(&o.app, &o.rep, o.ann, json!({"lastName": " ", "email": "x", "phone": "0", "linkedinUrl": "x", "companyId": o.gamma.to_string()})).await;
    assert_eq!(
        bad_fields(&json),
        ["firstName", "email", "phone", "linkedinUrl", "companyId"]
    );
    // Unique email.
    let json = update(&o.app, &o.rep, o.ann, json!({"email": "Bob@Example.com"})).await;
    assert_eq!(error_code(&json), Some("CONFLICT"));
    assert_eq!(json["errors"][0]["extensions"]["field"], "email");
    // A stale version.
    let json = update(
        &o.app,
        &o.rep,
        o.ann,
        json!({"title": "Boss", "expectedVersion": 1}),
    )
    .await;
    assert_eq!(error_code(&json), Some("CONFLICT"));
    assert_eq!(json["errors"][0]["extensions"]["field"], "expectedVersion");
    let ann = stored(&o.app, o.ann).await;
    assert_eq!(
        (ann.version, ann.title, ann.full_name.as_str()),
        (3, None, "Able")
    );

    // The manager may update the team's contact, but not its notes: nothing is written.
    let json = update(
        &o.app,
        &o.manager,
        o.ann,
        json!({"title": "Boss", "notes": "manager's view"}),
    )
    .await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"), "{json}");
    assert_eq!(json["errors"][0]["extensions"]["field"], "notes");
    let json = update(&o.app, &o.manager, o.ann, json!({"notes": null})).await;
    assert_eq!(
        json["errors"][0]["extensions"]["field"], "notes",
        "clearing is writing"
    );
    let ann = stored(&o.app, o.ann).await;
    assert_eq!(
        (ann.version, ann.title, ann.notes.as_deref()),
        (3, None, Some("likes tea"))
    );
    // Sending the stored notes back unchanged (a whole form) is not a write.
    let json = update(
        &o.app,
        &o.manager,
        o.ann,
        json!({"title": "Boss", "notes": "likes tea"}),
    )
    .await;
    assert_eq!(json["data"]["updateContact"]["title"], "Boss", "{json}");
    let json = update(&o.app, &o.admin, o.ann, json!({"notes": "admin note"})).await;
    assert_eq!(
        json["data"]["updateContact"]["notes"], "admin note",
        "{json}"
    );

    // Readable but not allowed: FORBIDDEN; unreadable: NOT_FOUND.
    let json = update(&o.app, &o.rep, o.bob, json!({"title": "x"})).await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"));
    let json = update(&o.app, &o.rep, o.dan, json!({"title": "x"})).await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"));
    let json = update(&o.app, &o.rep, o.cat, json!({"title": "x"})).await;
    assert_eq!(error_code(&json), Some("NOT_FOUND"));

    // Owner changes: update now, create for the new owner.
    let json = update(
        &o.app,
        &o.manager,
        o.ann,
        json!({"ownerId": o.r3.to_string()}),
    )
    .await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"), "{json}");
    assert_eq!(json["errors"][0]["extensions"]["field"], "ownerId");
    let json = update(
        &o.app,
        &o.manager,
        o.ann,
        json!({"ownerId": o.r2.to_string()}),
    )
    .await;
    assert_eq!(
        json["data"]["updateContact"]["ownerId"],
        o.r2.to_string(),
        "{json}"
    );
    let json = update(&o.app, &o.rep, o.bob, json!({"ownerId": o.r1.to_string()})).await;
    assert_eq!(
        error_code(&json),
        Some("FORBIDDEN"),
        "a rep cannot take a teammate's contact"
    );
}

#[tokio::test]
async fn concurrent_updates_of_one_version_let_exactly_one_win() {
    let o = org().await;
    let (a, b, c) = tokio::join!(
        update(
            &o.app,
            &o.rep,
            o.ann,
            json!({"title": "A", "expectedVersion": 1})
        ),
        update(
            &o.app,
            &o.manager,
            o.ann,
            json!({"title": "B", "expectedVersion": 1})
        ),
        update(
            &o.app,
            &o.admin,
            o.ann,
            json!({"title": "C", "expectedVersion": 1})
        ),
    );
    let results = [a, b, c];
    let ok = results.iter().filter(|j| j["errors"].is_null()).count();
    assert_eq!(ok, 1, "{results:?}");
    for loser in results.iter().filter(|j| !j["errors"].is_null()) {
        assert_eq!(error_code(loser), Some("CONFLICT"), "{loser}");
    }
    assert_eq!(stored(&o.app, o.ann).await.version, 2);
}

#[tokio::test]
async fn delete_follows_the_policy_and_clears_references() {
    let o = org().await;
    let json = delete(&o.app, &o.rep, o.ann).await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"));
    let json = delete(&o.app, &o.rep, o.cat).await;
    assert_eq!(error_code(&json), Some("NOT_FOUND"));
    let json = delete(&o.app, &o.manager, o.dan).await;
    assert_eq!(
        error_code(&json),
        Some("FORBIDDEN"),
        "readable through the deal, not the team's"
    );
    assert_eq!(contact_count(&o.app).await, 4);
    let json = delete(&o.app, &o.admin, o.dan).await;
    assert_eq!(json["data"]["deleteContact"], o.dan.to_string(), "{json}");
    let deal = entity::deal::Entity::find_by_id(o.deal)
        .one(&o.app.db)
        .await
        .expect("load")
        .expect("deal kept");
    assert_eq!(deal.contact_id, None);
    let json = delete(&o.app, &o.manager, o.bob).await;
    assert_eq!(json["data"]["deleteContact"], o.bob.to_string(), "{json}");
    let (_, json) = o.app.gql(Some(&o.admin), GET, json!({"id": o.bob})).await;
    assert!(json["data"]["contact"].is_null());
    assert_eq!(contact_count(&o.app).await, 2);
}
