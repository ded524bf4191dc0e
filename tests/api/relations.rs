//! Relations both ways, each scoped by the policy; the user directory and team lists.

use crm_testkit::Org;
use entity::enums::{DealStage, Role, SharePermission};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, error_code};

#[tokio::test]
async fn relations_resolve_both_ways_and_hide_what_the_viewer_cannot_read() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let manager = org
        .user()
        .email("m@example.com")
        .role(Role::Manager)
        .insert(&app.db)
        .await;
    let east = org
        .team()
        .name("East")
        .manager(manager.id)
        .insert(&app.db)
        .await;
    let west = org.team().name("West").insert(&app.db).await;
    let rep = org
        .user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .team(east.id)
        .insert(&app.db)
        .await;
    let other = org
        .user()
        .email("other@example.com")
        .role(Role::SalesRep)
        .team(west.id)
        .insert(&app.db)
        .await;
    let acme = org
        .company()
        .name("Acme")
        .owner(rep.id)
        .insert(&app.db)
        .await;
    let ada = org
        .contact()
        .first("Ada")
        .last("Lovelace")
        .owner(rep.id)
        .company(acme.id)
        .insert(&app.db)
        .await;
    let hidden_contact = org
        .contact()
        .first("Hidden")
        .last("Person")
        .owner(other.id)
        .company(acme.id)
        .insert(&app.db)
        .await;
    let mine = org
        .deal()
        .company(acme.id)
        .owner(rep.id)
        .title("Mine")
        .contact(ada.id)
        .amount_cents(1_000)
        .stage(DealStage::Proposal)
        .insert(&app.db)
        .await;
    let theirs = org
        .deal()
        .company(acme.id)
        .owner(other.id)
        .title("Theirs")
        .amount_cents(2_000)
        .stage(DealStage::Proposal)
        .insert(&app.db)
        .await;
    let shared = org
        .deal()
        .company(acme.id)
        .owner(other.id)
        .title("Shared")
        .amount_cents(3_000)
        .stage(DealStage::Proposal)
        .insert(&app.db)
        .await;
    org.share(shared.id, rep.id)
        .permission(SharePermission::View)
        .insert(&app.db)
        .await;
    let call = org
        .activity()
        .subject("Call Ada")
        .created_by(rep.id)
        .deal(mine.id)
        .company(acme.id)
        .contact(ada.id)
        .due_at(chrono::Utc::now() + chrono::Duration::days(1))
        .insert(&app.db)
        .await;
    org.activity()
        .subject("Their note")
        .created_by(other.id)
        .deal(theirs.id)
        .due_at(chrono::Utc::now() + chrono::Duration::days(1))
        .insert(&app.db)
        .await;
    let token = app.login("rep@example.com", PASSWORD).await.0;

    let (_, json) = app
        .gql(
            Some(&token),
            "query($id: ID!) { company(id: $id) {
                name owner { email team { name manager { email } members { email } } }
                contacts { totalCount nodes { fullName company { name } deals { totalCount nodes { title } } activities { nodes { subject } } } }
                deals(first: 10) { totalCount pageInfo { hasNextPage endCursor } nodes { title contact { fullName } owner { email } company { name } } }
                activities { totalCount nodes { subject deal { title } company { name } contact { fullName } creator { email } assignee { email } } }
            } }",
            json!({"id": acme.id}),
        )
        .await;
    assert!(json["errors"].is_null(), "{json}");
    let c = &json["data"]["company"];
    assert_eq!(c["owner"]["team"]["name"], "East");
    assert_eq!(c["owner"]["team"]["manager"]["email"], "m@example.com");
    assert_eq!(
        c["owner"]["team"]["members"],
        json!([{"email": "rep@example.com"}])
    );
    // The other team's contact is not listed; Ada is, with her company and deal.
    assert_eq!(c["contacts"]["totalCount"], 1);
    let ada_json = &c["contacts"]["nodes"][0];
    assert_eq!(ada_json["fullName"], "Ada Lovelace");
    assert_eq!(ada_json["company"]["name"], "Acme");
    assert_eq!(ada_json["deals"]["nodes"], json!([{"title": "Mine"}]));
    assert_eq!(
        ada_json["activities"]["nodes"],
        json!([{"subject": "Call Ada"}])
    );
    // Deals: own and shared, not the other team's.
    assert_eq!(c["deals"]["totalCount"], 2);
    let titles: Vec<&str> = c["deals"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap())
        .collect();
    assert!(
        titles.contains(&"Mine") && titles.contains(&"Shared"),
        "{titles:?}"
    );
    let mine_json = c["deals"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["title"] == "Mine")
        .unwrap();
    assert_eq!(mine_json["contact"]["fullName"], "Ada Lovelace");
    assert_eq!(mine_json["company"]["name"], "Acme");
    let shared_json = c["deals"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["title"] == "Shared")
        .unwrap();
    assert_eq!(shared_json["owner"]["email"], "other@example.com");
    // Activities: the rep's own, not the other team's note.
    assert_eq!(c["activities"]["totalCount"], 1);
    let a = &c["activities"]["nodes"][0];
    assert_eq!(a["deal"]["title"], "Mine");
    assert_eq!(a["contact"]["fullName"], "Ada Lovelace");
    assert_eq!(a["creator"]["email"], "rep@example.com");
    assert_eq!(a["assignee"]["email"], "rep@example.com");

    // From the deal side.
    let (_, json) = app
        .gql(
            Some(&token),
            "query($id: ID!) { deal(id: $id) { company { name } contact { fullName } activities { nodes { id } } shares { userId } } }",
            json!({"id": mine.id}),
        )
        .await;
    assert_eq!(
        json["data"]["deal"]["activities"]["nodes"],
        json!([{"id": call.id.to_string()}])
    );
    // A hidden record behind a relation is null, not an error.
    let (_, json) = app
        .gql(
            Some(&token),
            "query($id: ID!) { contact(id: $id) { id } }",
            json!({"id": hidden_contact.id}),
        )
        .await;
    assert!(json["data"]["contact"].is_null());

    // Nested pages continue in the top-level list with the same cursor.
    let (_, json) = app
        .gql(
            Some(&token),
            "query($id: ID!) { company(id: $id) { deals(first: 1) { pageInfo { hasNextPage endCursor } nodes { title } } } }",
            json!({"id": acme.id}),
        )
        .await;
    let nested = &json["data"]["company"]["deals"];
    assert_eq!(nested["pageInfo"]["hasNextPage"], true);
    let (_, json) = app
        .gql(
            Some(&token),
            "query($c: ID!, $after: String) { deals(filter: {companyId: {eq: $c}}, after: $after) { nodes { title } } }",
            json!({"c": acme.id, "after": nested["pageInfo"]["endCursor"]}),
        )
        .await;
    let rest: Vec<&str> = json["data"]["deals"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap())
        .collect();
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0], nested["nodes"][0]["title"].as_str().unwrap());
    let (_, json) = app
        .gql(
            Some(&token),
            "query($id: ID!) { company(id: $id) { deals(first: 101) { totalCount } } }",
            json!({"id": acme.id}),
        )
        .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"));
}

#[tokio::test]
async fn the_directory_and_teams_are_lists_too() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let manager = org
        .user()
        .email("m@example.com")
        .role(Role::Manager)
        .insert(&app.db)
        .await;
    let east = org
        .team()
        .name("East")
        .manager(manager.id)
        .insert(&app.db)
        .await;
    org.team().name("West").insert(&app.db).await;
    org.user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .team(east.id)
        .insert(&app.db)
        .await;
    org.user()
        .email("gone@example.com")
        .role(Role::SalesRep)
        .team(east.id)
        .inactive()
        .insert(&app.db)
        .await;
    org.user()
        .email("admin@example.com")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    let rep = app.login("rep@example.com", PASSWORD).await.0;
    let admin = app.login("admin@example.com", PASSWORD).await.0;
    let q = "query($f: UserFilter, $s: String, $o: [UserOrder!]) { users(filter: $f, search: $s, orderBy: $o) { totalCount nodes { email role active team { name } } } }";
    let (_, json) = app.gql(Some(&rep), q, json!({})).await;
    assert_eq!(
        json["data"]["users"]["totalCount"], 3,
        "reps see active users: {json}"
    );
    let (_, json) = app.gql(Some(&admin), q, json!({})).await;
    assert_eq!(json["data"]["users"]["totalCount"], 4);
    let (_, json) = app
        .gql(
            Some(&admin),
            q,
            json!({"f": {"role": {"eq": "SALES_REP"}, "active": {"eq": true}}}),
        )
        .await;
    assert_eq!(
        json["data"]["users"]["nodes"],
        json!([{"email": "rep@example.com", "role": "SALES_REP", "active": true, "team": {"name": "East"}}])
    );
    let (_, json) = app
        .gql(
            Some(&admin),
            q,
            json!({"s": "ADMIN@", "o": [{"field": "EMAIL", "direction": "DESC"}]}),
        )
        .await;
    assert_eq!(json["data"]["users"]["totalCount"], 1);
    let (_, json) = app
        .gql(
            Some(&admin),
            q,
            json!({"f": {"teamId": {"eq": east.id}}, "o": [{"field": "EMAIL"}]}),
        )
        .await;
    let emails: Vec<&str> = json["data"]["users"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["gone@example.com", "rep@example.com"]);

    let (_, json) = app
        .gql(
            Some(&rep),
            "{ teams { totalCount nodes { name manager { email } } } }",
            json!({}),
        )
        .await;
    assert_eq!(json["data"]["teams"]["totalCount"], 2);
    assert_eq!(
        json["data"]["teams"]["nodes"][0],
        json!({"name": "East", "manager": {"email": "m@example.com"}})
    );
    let (_, json) = app
        .gql(Some(&rep), "query($m: ID!) { teams(filter: {managerId: {eq: $m}}, orderBy: [{field: NAME, direction: DESC}]) { nodes { name } } }", json!({"m": manager.id}))
        .await;
    assert_eq!(json["data"]["teams"]["nodes"], json!([{"name": "East"}]));
}

/// Per list: the list field, the single-record field, and a selection of the nodes'
/// to-one relations (with facts-dependent fields).
const JOINED: [(&str, &str, &str); 3] = [
    (
        "deals",
        "deal",
        "id company { id name viewerCan { update delete } }
         contact { id fullName viewerCan { update updateNotes } }
         owner { id name email }",
    ),
    (
        "contacts",
        "contact",
        "id company { id name viewerCan { update delete } } owner { id name email }",
    ),
    ("companies", "company", "id owner { id name email }"),
];

/// A page asking for its nodes' to-one relations (a deal's company, contact and owner; a
/// contact's company and owner; a company's owner) reads them in the page's own statement
/// (`service::related`). On a random organisation, for every user who can sign in, each
/// node's relations equal what the loaders answer for the record read alone — the same
/// records, `null` where those are (no contact, an owner the directory hides, a company
/// the viewer may not read), the same facts — and the relations cost no statement of their
/// own.
#[tokio::test]
async fn relations_read_with_the_page_equal_the_loaders_answers() {
    use crm_testkit::Shape;
    use std::sync::atomic::Ordering;

    let (app, counter) = TestApp::with_statement_counter().await;
    let mut org = Org::random(17, Shape::DIFFERENTIAL);
    org.insert(&app.db).await.expect("insert the organisation");
    let (mut compared, mut nulls) = (0, 0);
    for user in org.users.iter().filter(|u| u.active) {
        let token = app.login(&user.email, PASSWORD).await.0;
        for (list, one, selection) in JOINED {
            let ids = format!("{{ {list}(first: 100) {{ nodes {{ id }} }} }}");
            // The first page of a viewer also decides the plan of their pages.
            app.gql(Some(&token), &ids, json!({})).await;
            counter.store(0, Ordering::SeqCst);
            let (_, plain) = app.gql(Some(&token), &ids, json!({})).await;
            let plain_statements = counter.swap(0, Ordering::SeqCst);
            let joined = format!("{{ {list}(first: 100) {{ nodes {{ {selection} }} }} }}");
            let (_, page) = app.gql(Some(&token), &joined, json!({})).await;
            let joined_statements = counter.load(Ordering::SeqCst);
            assert!(page["errors"].is_null(), "{} {list}: {page}", user.email);
            assert_eq!(
                joined_statements, plain_statements,
                "{} {list}: the relations ran statements of their own",
                user.email
            );
            let nodes = page["data"][list]["nodes"].as_array().unwrap();
            assert_eq!(
                nodes.len(),
                plain["data"][list]["nodes"].as_array().unwrap().len()
            );
            let single = format!("query($id: ID!) {{ {one}(id: $id) {{ {selection} }} }}");
            for node in nodes {
                let (_, alone) = app
                    .gql(Some(&token), &single, json!({ "id": node["id"] }))
                    .await;
                assert_eq!(node, &alone["data"][one], "{} {list}", user.email);
                compared += 1;
                nulls += node
                    .as_object()
                    .unwrap()
                    .values()
                    .filter(|v| v.is_null())
                    .count();
            }
        }
    }
    assert!(compared > 300, "{compared} records compared");
    assert!(nulls > 0, "no relation was null");
}

/// The leaf selection of field `field` of an introspected type: the field itself when it
/// is a scalar or an enum, else its object's own leaf fields (`totalCount` of a
/// connection, the flags of `viewerCan`). `None` for a field that takes a required
/// argument.
fn leaf_selection(types: &serde_json::Value, field: &serde_json::Value) -> Option<String> {
    let required = field["args"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["type"]["kind"] == "NON_NULL");
    if required {
        return None;
    }
    let mut ty = &field["type"];
    while ty["kind"] == "NON_NULL" || ty["kind"] == "LIST" {
        ty = &ty["ofType"];
    }
    let name = field["name"].as_str().unwrap();
    if ty["kind"] != "OBJECT" {
        return Some(name.to_owned());
    }
    let object = types
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == ty["name"])
        .unwrap();
    let leaves: Vec<&str> = object["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            let mut t = &f["type"];
            while t["kind"] == "NON_NULL" || t["kind"] == "LIST" {
                t = &t["ofType"];
            }
            t["kind"] == "SCALAR" || t["kind"] == "ENUM"
        })
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    Some(format!("{name} {{ __typename {} }}", leaves.join(" ")))
}

/// A page reading its deals' company, contact and owner in its own statement selects only
/// the columns the document's fields read (never the password hash): asked for names
/// only, the statement carries no company domain or owner email. And every field of those
/// types, asked for alone, answers what it answers when all are asked for — on records
/// whose every column holds a value no left-out column would read as (`""`, `null`,
/// zero, `false`, the epoch, an enum's first value).
#[tokio::test]
async fn joined_relations_read_only_the_columns_the_document_asks_for() {
    use entity::enums::{CompanySize, Department, Industry};

    let (app, log) = TestApp::with_statement_log().await;
    let mut org = Org::new();
    org.user()
        .email("admin@example.com")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    let team = org.team().name("North").insert(&app.db).await;
    let owner = org
        .user()
        .email("owner@example.com")
        .name("Olive Owner")
        .role(Role::Manager)
        .team(team.id)
        .must_change_password(true)
        .insert(&app.db)
        .await;
    let acme = org
        .company()
        .name("Acme")
        .owner(owner.id)
        .domain("acme.example")
        .industry(Industry::Finance)
        .size(CompanySize::S51To200)
        .city("Lyon")
        .country("FR")
        .phone("+33 1 23")
        .website("https://acme.example")
        .version(3)
        .insert(&app.db)
        .await;
    let ada = org
        .contact()
        .first("Ada")
        .last("Lovelace")
        .owner(owner.id)
        .company(acme.id)
        .email("ada@acme.example")
        .phone("+33 4 56")
        .title("CTO")
        .department(Department::Engineering)
        .notes("met at the fair")
        .primary(true)
        .version(2)
        .insert(&app.db)
        .await;
    org.deal()
        .title("Big one")
        .owner(owner.id)
        .company(acme.id)
        .contact(ada.id)
        .amount("1200.00")
        .insert(&app.db)
        .await;
    for fill in [
        "UPDATE companies SET address = '1 Rue', state = 'Rhône'",
        "UPDATE contacts SET mobile = '+33 6 78', linkedin_url = 'https://in.example/ada'",
    ] {
        app.raw(fill, vec![]).await.expect("fill");
    }
    let token = app.login("admin@example.com", PASSWORD).await.0;

    // Names only: the statement reads no other column of the company or the owner.
    log.lock().unwrap().clear();
    let (_, page) = app
        .gql(
            Some(&token),
            "{ deals(first: 10) { nodes { id company { name } owner { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        page["data"]["deals"]["nodes"][0]["owner"]["name"],
        "Olive Owner"
    );
    let page_sql = log
        .lock()
        .unwrap()
        .iter()
        .find(|sql| sql.contains("related0"))
        .cloned()
        .expect("the page's statement joins its relations");
    for read in ["related0_name", "related1_name"] {
        assert!(page_sql.contains(read), "{read} missing: {page_sql}");
    }
    for left_out in [
        "related0_domain",
        "related0_address",
        "related1_email",
        "related1_created_at",
        "password_hash",
    ] {
        assert!(!page_sql.contains(left_out), "{left_out} read: {page_sql}");
    }

    // Each field alone equals the field among all.
    let (_, schema) = app
        .gql(
            Some(&token),
            "{ __schema { types { name fields { name
                args { type { kind } }
                type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }
            } } } }",
            json!({}),
        )
        .await;
    let types = &schema["data"]["__schema"]["types"];
    let mut compared = 0;
    for (relation, type_name) in [
        ("company", "Company"),
        ("contact", "Contact"),
        ("owner", "User"),
    ] {
        let fields = types
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == type_name)
            .unwrap()["fields"]
            .as_array()
            .unwrap()
            .clone();
        let selections: Vec<(String, String)> = fields
            .iter()
            .filter_map(|f| Some((f["name"].as_str()?.to_owned(), leaf_selection(types, f)?)))
            .collect();
        let all: Vec<&str> = selections.iter().map(|(_, s)| s.as_str()).collect();
        let query = |selection: &str| {
            format!("{{ deals(first: 10) {{ nodes {{ id {relation} {{ {selection} }} }} }} }}")
        };
        let (_, full) = app
            .gql(Some(&token), &query(&all.join(" ")), json!({}))
            .await;
        assert!(full["errors"].is_null(), "{type_name}: {full}");
        let full = &full["data"]["deals"]["nodes"][0][relation];
        for (name, selection) in &selections {
            let value = &full[name];
            let placeholder = value.is_null()
                || value == ""
                || value == 0
                || value == false
                || value.as_str().is_some_and(|s| s.starts_with("1970-01-01"))
                || ["SALES_REP", "TECHNOLOGY", "S1_TO10", "SALES"]
                    .contains(&value.as_str().unwrap_or(""));
            assert!(
                !placeholder || value.is_object(),
                "{type_name}.{name} is {value}: the data must tell a left-out column apart"
            );
            let (_, alone) = app.gql(Some(&token), &query(selection), json!({})).await;
            assert!(alone["errors"].is_null(), "{type_name}.{name}: {alone}");
            assert_eq!(
                &alone["data"]["deals"]["nodes"][0][relation][name], value,
                "{type_name}.{name} read alone"
            );
            compared += 1;
        }
    }
    assert!(compared > 30, "{compared} fields compared");
}
