//! Offline sync: `syncCursor`, `changes`, idempotent creates with client ids.
//!
//! The convergence test is differential: random creates, updates, deletes, reassignments,
//! shares, unshares, role and team changes by several users; after every step each user's
//! client applies `changes(since)` to what it listed and must then hold exactly what a fresh
//! listing returns (same ids, same readable field values) — no record missing, none left
//! behind, no hidden value.

use std::collections::BTreeMap;

use crm_testkit::Org;
use entity::enums::Role;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::hardening_ws::{Socket, connect, init, next, send, serve};
use crate::helpers::{PASSWORD, TestApp, error_code};

/// The fields compared, per kind (guarded ones included: a client must hold a hidden
/// value as null, and a value that became readable as the value).
const KINDS: [(&str, &str, &str); 4] = [
    ("COMPANY", "companies", "id version name domain ownerId"),
    (
        "CONTACT",
        "contacts",
        "id version firstName lastName email notes ownerId companyId",
    ),
    (
        "DEAL",
        "deals",
        "id version title amount stage notes ownerId companyId contactId",
    ),
    (
        "ACTIVITY",
        "activities",
        "id version subject completed dealId companyId contactId assignedToId",
    ),
];

/// A client's copy: kind → id → fields.
type Copy = BTreeMap<&'static str, BTreeMap<String, Value>>;

async fn ok(app: &TestApp, token: &str, query: &str, vars: Value) -> Value {
    let (_, json) = app.gql(Some(token), query, vars).await;
    assert!(json["errors"].is_null(), "{query}: {json}");
    json["data"].clone()
}

/// Everything `token` may read, as a fresh listing shows it.
async fn listing(app: &TestApp, token: &str) -> Copy {
    let mut copy = Copy::new();
    for (kind, list, fields) in KINDS {
        let q = format!("{{ {list}(first: 100) {{ totalCount nodes {{ {fields} }} }} }}");
        let data = ok(app, token, &q, json!({})).await;
        let total = data[list]["totalCount"].as_u64().unwrap();
        assert!(total <= 100, "the test keeps every list on one page");
        let nodes = data[list]["nodes"].as_array().unwrap();
        copy.insert(
            kind,
            nodes
                .iter()
                .map(|n| (n["id"].as_str().unwrap().to_owned(), n.clone()))
                .collect(),
        );
    }
    copy
}

fn changes_query(first: usize) -> String {
    let parts: Vec<String> = KINDS
        .iter()
        .map(|(kind, _, fields)| format!("{} {{ {fields} }}", kind.to_lowercase()))
        .collect();
    format!(
        "query($since: String!) {{ changes(since: $since, first: {first}) {{ cursor hasMore changes {{ op kind id at cursor {} }} }} }}",
        parts.join(" ")
    )
}

/// Applies `changes` pages to `copy` until none is left; returns the new cursor and how
/// many changes arrived.
async fn catch_up(app: &TestApp, token: &str, cursor: &str, copy: &mut Copy) -> (String, usize) {
    let query = changes_query(7);
    let mut cursor = cursor.to_owned();
    let mut count = 0;
    loop {
        let data = ok(app, token, &query, json!({ "since": cursor })).await;
        let page = &data["changes"];
        for change in page["changes"].as_array().unwrap() {
            count += 1;
            apply(copy, change);
        }
        cursor = page["cursor"].as_str().unwrap().to_owned();
        if !page["hasMore"].as_bool().unwrap() {
            return (cursor, count);
        }
    }
}

fn apply(copy: &mut Copy, change: &Value) {
    let kind = KINDS
        .iter()
        .map(|(k, _, _)| *k)
        .find(|k| *k == change["kind"])
        .expect("a synced kind");
    let id = change["id"].as_str().unwrap().to_owned();
    let records = copy.entry(kind).or_default();
    match change["op"].as_str().unwrap() {
        "UPSERT" => {
            let node = &change[kind.to_lowercase()];
            assert_eq!(node["id"], change["id"], "{change}");
            records.insert(id, node.clone());
        }
        "DELETE" => {
            assert!(
                records.remove(&id).is_some(),
                "a tombstone names a record the client holds: {change}"
            );
            for k in KINDS.iter().map(|(k, _, _)| k.to_lowercase()) {
                assert!(change[k].is_null());
            }
        }
        op => panic!("unknown op {op}"),
    }
}

struct Client {
    name: &'static str,
    token: String,
    cursor: String,
    copy: Copy,
}

/// A client that applies `recordChanged` events instead of asking `changes`.
struct Subscriber {
    name: &'static str,
    token: String,
    socket: Socket,
    copy: Copy,
}

fn subscription() -> String {
    let parts: Vec<String> = KINDS
        .iter()
        .map(|(kind, _, fields)| format!("{} {{ {fields} }}", kind.to_lowercase()))
        .collect();
    format!(
        "subscription($since: String) {{ recordChanged(since: $since) {{ op kind id at cursor {} }} }}",
        parts.join(" ")
    )
}

impl Subscriber {
    /// Takes a cursor, lists, subscribes from the cursor.
    async fn start(
        app: &TestApp,
        addr: std::net::SocketAddr,
        name: &'static str,
        token: &str,
    ) -> Self {
        let since = ok(app, token, "{ syncCursor }", json!({})).await["syncCursor"].clone();
        let copy = listing(app, token).await;
        let mut socket = connect(addr).await;
        let ack = init(&mut socket, Some(token)).await.expect("ack");
        assert_eq!(ack["type"], "connection_ack");
        send(
            &mut socket,
            json!({"id": "live", "type": "subscribe", "payload": {"query": subscription(), "variables": {"since": since}}}),
        )
        .await;
        Self {
            name,
            token: token.to_owned(),
            socket,
            copy,
        }
    }

    /// Applies events until the copy equals a fresh listing (or fails after a while).
    async fn converge(&mut self, app: &TestApp, step: usize, log: &[String]) -> usize {
        let fresh = listing(app, &self.token).await;
        let mut applied = 0;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.copy != fresh {
            let wait = deadline.saturating_duration_since(tokio::time::Instant::now());
            let message = tokio::time::timeout(wait, next(&mut self.socket)).await;
            let Ok(Ok(m)) = message else {
                assert_eq!(
                    self.copy, fresh,
                    "step {step}, subscriber {}: no more events ({message:?}) after {log:#?}",
                    self.name
                );
                unreachable!();
            };
            assert_eq!(m["type"], "next", "{m}");
            assert!(m["payload"]["errors"].is_null(), "{m}");
            apply(&mut self.copy, &m["payload"]["data"]["recordChanged"]);
            applied += 1;
        }
        applied
    }
}

struct World {
    app: TestApp,
    admin: String,
    /// (name, user id, token).
    people: Vec<(&'static str, Uuid, String)>,
    teams: Vec<Uuid>,
    rng: StdRng,
}

impl World {
    fn pick(&mut self) -> (&'static str, Uuid, String) {
        let i = self.rng.gen_range(0..self.people.len());
        self.people[i].clone()
    }

    /// Ids of `kind` readable by `token` (to pick targets a user can at least see).
    async fn ids(&self, token: &str, list: &str) -> Vec<String> {
        let data = ok(
            &self.app,
            token,
            &format!("{{ {list}(first: 100) {{ nodes {{ id }} }} }}"),
            json!({}),
        )
        .await;
        data[list]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// One random operation; refusals by the policy or validation are part of the game,
    /// an internal error is not. Returns a description.
    async fn step(&mut self) -> String {
        let (name, _, token) = self.pick();
        let other = self.pick().1;
        let op = self.rng.gen_range(0..14);
        let (query, vars, what) = match op {
            0 => {
                let n: u32 = self.rng.r#gen();
                (
                    "mutation($n: String!) { createCompany(input: {name: $n}) { id } }",
                    json!({ "n": format!("Co {n}") }),
                    "create company",
                )
            }
            1 | 2 => {
                let companies = self.ids(&token, "companies").await;
                let Some(c) = companies.choose(&mut self.rng).cloned() else {
                    return format!("{name}: no company");
                };
                let amount = self.rng.gen_range(0..100_000);
                (
                    "mutation($c: ID!, $o: ID!, $a: Decimal) { createDeal(input: {companyId: $c, title: \"D\", ownerId: $o, amount: $a}) { id } }",
                    json!({ "c": c, "o": if op == 1 { other.to_string() } else { self.people.iter().find(|p| p.0 == name).unwrap().1.to_string() }, "a": format!("{amount}.50") }),
                    "create deal",
                )
            }
            3 => {
                let companies = self.ids(&token, "companies").await;
                let company = companies.choose(&mut self.rng).cloned();
                let n: u32 = self.rng.r#gen();
                (
                    "mutation($c: ID, $n: String!) { createContact(input: {companyId: $c, firstName: $n, notes: \"secret\"}) { id } }",
                    json!({ "c": company, "n": format!("P{n}") }),
                    "create contact",
                )
            }
            4 => {
                let deals = self.ids(&token, "deals").await;
                let deal = deals.choose(&mut self.rng).cloned();
                (
                    "mutation($d: ID, $a: ID) { createActivity(input: {type: CALL, subject: \"Call\", dealId: $d, assignedToId: $a}) { id } }",
                    json!({ "d": deal, "a": other }),
                    "create activity",
                )
            }
            5 | 6 => {
                let deals = self.ids(&token, "deals").await;
                let Some(d) = deals.choose(&mut self.rng).cloned() else {
                    return format!("{name}: no deal");
                };
                let amount = self.rng.gen_range(0..100_000);
                (
                    "mutation($id: ID!, $a: Decimal) { updateDeal(id: $id, input: {title: \"Changed\", amount: $a, stage: NEGOTIATION}) { id } }",
                    json!({ "id": d, "a": format!("{amount}") }),
                    "update deal",
                )
            }
            7 => {
                let deals = self.ids(&token, "deals").await;
                let Some(d) = deals.choose(&mut self.rng).cloned() else {
                    return format!("{name}: no deal");
                };
                (
                    "mutation($id: ID!, $o: ID!) { reassignDeal(id: $id, ownerId: $o) { id } }",
                    json!({ "id": d, "o": other }),
                    "reassign deal",
                )
            }
            8 => {
                let deals = self.ids(&token, "deals").await;
                let Some(d) = deals.choose(&mut self.rng).cloned() else {
                    return format!("{name}: no deal");
                };
                let p = if self.rng.gen_bool(0.5) {
                    "VIEW"
                } else {
                    "EDIT"
                };
                (
                    "mutation($id: ID!, $u: ID!, $p: SharePermission!) { shareDeal(id: $id, userId: $u, permission: $p) { id } }",
                    json!({ "id": d, "u": other, "p": p }),
                    "share deal",
                )
            }
            9 => {
                let deals = self.ids(&token, "deals").await;
                let Some(d) = deals.choose(&mut self.rng).cloned() else {
                    return format!("{name}: no deal");
                };
                (
                    "mutation($id: ID!, $u: ID!) { unshareDeal(id: $id, userId: $u) { id } }",
                    json!({ "id": d, "u": other }),
                    "unshare deal",
                )
            }
            10 => {
                let (list, mutation) = *[
                    ("deals", "deleteDeal"),
                    ("activities", "deleteActivity"),
                    ("contacts", "deleteContact"),
                ]
                .choose(&mut self.rng)
                .unwrap();
                let ids = self.ids(&token, list).await;
                let Some(id) = ids.choose(&mut self.rng).cloned() else {
                    return format!("{name}: nothing to delete");
                };
                let q: &'static str = match mutation {
                    "deleteDeal" => "mutation($id: ID!) { deleteDeal(id: $id) }",
                    "deleteActivity" => "mutation($id: ID!) { deleteActivity(id: $id) }",
                    _ => "mutation($id: ID!) { deleteContact(id: $id) }",
                };
                (q, json!({ "id": id }), "delete")
            }
            11 => {
                let role = if self.rng.gen_bool(0.5) {
                    "MANAGER"
                } else {
                    "SALES_REP"
                };
                let target = self.pick().1;
                let token = self.admin.clone();
                return self
                    .admin_op(
                        "mutation($id: ID!, $r: Role!) { updateUser(id: $id, input: {role: $r}) { id } }",
                        json!({ "id": target, "r": role }),
                        &token,
                        "role change",
                    )
                    .await;
            }
            12 => {
                let team = *self.teams.choose(&mut self.rng).unwrap();
                let target = self.pick().1;
                let token = self.admin.clone();
                return self
                    .admin_op(
                        "mutation($id: ID!, $t: ID) { updateUser(id: $id, input: {teamId: $t}) { id } }",
                        json!({ "id": target, "t": team }),
                        &token,
                        "team change",
                    )
                    .await;
            }
            _ => {
                let companies = self.ids(&token, "companies").await;
                let Some(c) = companies.choose(&mut self.rng).cloned() else {
                    return format!("{name}: no company");
                };
                (
                    "mutation($id: ID!) { updateCompany(id: $id, input: {domain: null, city: \"Lyon\"}) { id } }",
                    json!({ "id": c }),
                    "update company",
                )
            }
        };
        let (_, res) = self.app.gql(Some(&token), query, vars).await;
        assert_ne!(error_code(&res), Some("INTERNAL"), "{what}: {res}");
        format!("{name}: {what} -> {}", error_code(&res).unwrap_or("ok"))
    }

    async fn admin_op(&self, query: &str, vars: Value, token: &str, what: &str) -> String {
        let (_, res) = self.app.gql(Some(token), query, vars).await;
        assert_ne!(error_code(&res), Some("INTERNAL"), "{what}: {res}");
        format!("admin: {what} -> {}", error_code(&res).unwrap_or("ok"))
    }
}

#[tokio::test]
async fn clients_applying_changes_hold_exactly_what_a_fresh_listing_shows() {
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
    org.user()
        .email("admin@example.com")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    let mut people = Vec::new();
    for (name, email, team) in [
        ("r1", "r1@example.com", east.id),
        ("r2", "r2@example.com", east.id),
        ("r3", "r3@example.com", west.id),
        ("r4", "r4@example.com", west.id),
    ] {
        let u = org
            .user()
            .email(email)
            .role(Role::SalesRep)
            .team(team)
            .insert(&app.db)
            .await;
        people.push((name, u.id, app.login(email, PASSWORD).await.0));
    }
    people.push(("m1", m1.id, app.login("m1@example.com", PASSWORD).await.0));
    people.push(("m2", m2.id, app.login("m2@example.com", PASSWORD).await.0));
    let admin = app.login("admin@example.com", PASSWORD).await.0;
    // Some records before the clients start.
    for (i, (_, owner, _)) in people.iter().enumerate() {
        let company = org
            .company()
            .name(format!("Start {i}"))
            .owner(*owner)
            .insert(&app.db)
            .await;
        org.deal()
            .company(company.id)
            .owner(*owner)
            .insert(&app.db)
            .await;
    }
    let mut world = World {
        app,
        admin: admin.clone(),
        people,
        teams: vec![east.id, west.id],
        rng: StdRng::seed_from_u64(
            std::env::var("SYNC_SEED")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(14),
        ),
    };
    let addr = serve(&world.app).await;
    let mut clients = Vec::new();
    let mut subscribers = Vec::new();
    let mut tokens: Vec<(&'static str, String)> = world
        .people
        .iter()
        .map(|(name, _, token)| (*name, token.clone()))
        .collect();
    tokens.push(("admin", admin));
    for (name, token) in tokens {
        let cursor = ok(&world.app, &token, "{ syncCursor }", json!({})).await["syncCursor"]
            .as_str()
            .unwrap()
            .to_owned();
        let copy = listing(&world.app, &token).await;
        subscribers.push(Subscriber::start(&world.app, addr, name, &token).await);
        clients.push(Client {
            name,
            token,
            cursor,
            copy,
        });
    }
    let mut log = Vec::new();
    let mut delivered = 0;
    let mut pushed = 0;
    for step in 0..60 {
        log.push(world.step().await);
        for client in &mut clients {
            let (cursor, n) =
                catch_up(&world.app, &client.token, &client.cursor, &mut client.copy).await;
            delivered += n;
            client.cursor = cursor;
            let fresh = listing(&world.app, &client.token).await;
            assert_eq!(
                client.copy, fresh,
                "step {step}, client {}: after {:#?}",
                client.name, log
            );
        }
        for subscriber in &mut subscribers {
            pushed += subscriber.converge(&world.app, step, &log).await;
        }
    }
    assert!(pushed > 50, "the subscribers were sent changes: {log:#?}");
    assert!(delivered > 50, "the random steps changed things: {log:#?}");
    let refused = log.iter().filter(|l| !l.ends_with("ok")).count();
    assert!(refused < log.len() / 2, "most steps succeed: {log:#?}");
}

/// Two reps of one team and one of another, a company of the first rep's.
struct Small {
    app: TestApp,
    r1: String,
    r2: String,
    west: String,
    admin: String,
    r3_id: Uuid,
    company: Uuid,
}

async fn small() -> Small {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let east = org.team().name("East").insert(&app.db).await;
    let west = org.team().name("West").insert(&app.db).await;
    let r1 = org
        .user()
        .email("r1@example.com")
        .role(Role::SalesRep)
        .team(east.id)
        .insert(&app.db)
        .await;
    org.user()
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
    Small {
        r1: app.login("r1@example.com", PASSWORD).await.0,
        r2: app.login("r2@example.com", PASSWORD).await.0,
        west: app.login("r3@example.com", PASSWORD).await.0,
        admin: app.login("admin@example.com", PASSWORD).await.0,
        r3_id: r3.id,
        company: company.id,
        app,
    }
}

async fn cursor(app: &TestApp, token: &str) -> String {
    ok(app, token, "{ syncCursor }", json!({})).await["syncCursor"]
        .as_str()
        .unwrap()
        .to_owned()
}

const CHANGES: &str = "query($since: String!, $kinds: [RecordKind!], $first: Int) { changes(since: $since, kinds: $kinds, first: $first) { cursor hasMore changes { op kind id cursor deal { id title amount } company { id name } activity { id } } } }";

async fn changes(app: &TestApp, token: &str, since: &str, first: i32) -> Value {
    ok(
        app,
        token,
        CHANGES,
        json!({ "since": since, "first": first }),
    )
    .await["changes"]
        .clone()
}

fn ids(page: &Value) -> Vec<(String, String)> {
    page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["op"].as_str().unwrap().to_owned(),
                c["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_replayed_create_with_a_client_id_returns_the_first_record_and_writes_nothing() {
    let s = small().await;
    let creates = [
        (
            "mutation($id: ID!) { createCompany(input: {id: $id, name: \"Offline Co\"}) { id version } }",
            "createCompany",
        ),
        (
            "mutation($id: ID!, $c: ID!) { createDeal(input: {id: $id, companyId: $c, title: \"Offline\"}) { id version } }",
            "createDeal",
        ),
        (
            "mutation($id: ID!, $c: ID!) { createContact(input: {id: $id, companyId: $c, firstName: \"Off\"}) { id version } }",
            "createContact",
        ),
        (
            "mutation($id: ID!, $c: ID!) { createActivity(input: {id: $id, companyId: $c, type: CALL, subject: \"Off\"}) { id version } }",
            "createActivity",
        ),
    ];
    for (mutation, field) in creates {
        let id = Uuid::new_v4();
        let vars = json!({ "id": id, "c": s.company });
        let first = ok(&s.app, &s.r1, mutation, vars.clone()).await;
        assert_eq!(first[field]["id"], id.to_string());
        let again = ok(&s.app, &s.r1, mutation, vars.clone()).await;
        assert_eq!(again[field], first[field], "{field}: the same record back");
        // One creation event, whoever replays.
        let events = ok(
            &s.app,
            &s.admin,
            "query($r: ID!) { auditLog(first: 10, filter: {recordId: $r}) { totalCount } }",
            json!({ "r": id }),
        )
        .await;
        assert_eq!(events["auditLog"]["totalCount"], 1, "{field}");
        // The id is taken: someone who cannot read the record is refused on `id`, the
        // same as for any taken id.
        let (_, res) = s.app.gql(Some(&s.west), mutation, vars).await;
        assert_eq!(error_code(&res), Some("BAD_USER_INPUT"), "{field}: {res}");
        assert_eq!(res["errors"][0]["extensions"]["field"], "id");
    }
    // Not a UUID.
    let (_, res) = s
        .app
        .gql(
            Some(&s.r1),
            "mutation { createCompany(input: {id: \"nope\", name: \"X\"}) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&res), Some("BAD_USER_INPUT"));
    assert_eq!(res["errors"][0]["extensions"]["field"], "id");
}

#[tokio::test]
async fn a_lost_or_half_applied_answer_is_sent_again() {
    let s = small().await;
    let start = cursor(&s.app, &s.r2).await;
    for title in ["A", "B", "C"] {
        ok(
            &s.app,
            &s.r1,
            "mutation($c: ID!, $t: String!) { createDeal(input: {companyId: $c, title: $t}) { id } }",
            json!({ "c": s.company, "t": title }),
        )
        .await;
    }
    let full = changes(&s.app, &s.r2, &start, 10).await;
    let all = ids(&full);
    // The three deals, and the company again (now linked to readable deals: its facts,
    // hence what the viewer may do with it, changed).
    assert_eq!(all.len(), 4, "{full}");
    assert_eq!(
        full["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["kind"] == "DEAL")
            .count(),
        3
    );
    // The answer was lost: the same cursor gets the same changes.
    let again = changes(&s.app, &s.r2, &start, 10).await;
    assert_eq!(ids(&again), all);
    // Only the first change was applied: the rest come again.
    let after_one = again["changes"][0]["cursor"].as_str().unwrap().to_owned();
    let rest = changes(&s.app, &s.r2, &after_one, 10).await;
    assert_eq!(ids(&rest), all[1..].to_vec());
    // All applied: nothing more; the superseded cursors are refused.
    let done = rest["cursor"].as_str().unwrap().to_owned();
    let empty = changes(&s.app, &s.r2, &done, 10).await;
    assert!(ids(&empty).is_empty());
    assert_eq!(empty["hasMore"], false);
    for stale in [&start, &after_one] {
        let (_, res) = s
            .app
            .gql(Some(&s.r2), CHANGES, json!({ "since": stale }))
            .await;
        assert_eq!(error_code(&res), Some("SYNC_CURSOR_EXPIRED"), "{res}");
    }
    // Pages: `first` bounds an answer, `hasMore` says to come back.
    let start = cursor(&s.app, &s.west).await;
    ok(
        &s.app,
        &s.r1,
        "mutation($c: ID!) { createDeal(input: {companyId: $c, title: \"Shared\"}) { id } }",
        json!({ "c": s.company }),
    )
    .await;
    let page = changes(&s.app, &s.west, &start, 1).await;
    assert!(ids(&page).is_empty(), "r3 is in another team: {page}");
}

#[tokio::test]
async fn tombstones_only_name_records_the_client_was_given() {
    let s = small().await;
    let deal = ok(
        &s.app,
        &s.r1,
        "mutation($c: ID!) { createDeal(input: {companyId: $c, title: \"Team deal\", amount: \"10.00\"}) { id } }",
        json!({ "c": s.company }),
    )
    .await["createDeal"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let teammate = cursor(&s.app, &s.r2).await;
    let outsider = cursor(&s.app, &s.west).await;
    // Reassigned to the other team: the teammate loses the deal (and the company, whose
    // only readable link it was, stays theirs: the company is r1's), the new owner gains it.
    ok(
        &s.app,
        &s.admin,
        "mutation($id: ID!, $o: ID!) { reassignDeal(id: $id, ownerId: $o) { id } }",
        json!({ "id": deal, "o": s.r3_id }),
    )
    .await;
    let lost = changes(&s.app, &s.r2, &teammate, 100).await;
    let lost_ids = ids(&lost);
    // The deal goes; the company stays (its facts changed: sent again).
    assert!(
        lost_ids.contains(&("DELETE".to_owned(), deal.clone())),
        "{lost}"
    );
    for (op, id) in &lost_ids {
        assert!(id == &deal || (op == "UPSERT" && id == &s.company.to_string()));
    }
    for c in lost["changes"].as_array().unwrap() {
        assert!(c["deal"].is_null(), "a tombstone carries no record: {c}");
    }
    let gained = changes(&s.app, &s.west, &outsider, 100).await;
    let gained_ids = ids(&gained);
    assert!(
        gained_ids.contains(&("UPSERT".to_owned(), deal.clone())),
        "{gained}"
    );
    // The owner reads the amount; the company came with the deal (linked to a readable deal).
    let d = gained["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "DEAL")
        .unwrap();
    assert_eq!(d["deal"]["amount"], "10.00");
    assert!(
        gained_ids.contains(&("UPSERT".to_owned(), s.company.to_string())),
        "{gained}"
    );
    // The deal is deleted: only clients that hold it hear of it.
    let teammate = lost["cursor"].as_str().unwrap().to_owned();
    let outsider = gained["cursor"].as_str().unwrap().to_owned();
    ok(
        &s.app,
        &s.admin,
        "mutation($id: ID!) { deleteDeal(id: $id) }",
        json!({ "id": deal }),
    )
    .await;
    assert!(ids(&changes(&s.app, &s.r2, &teammate, 100).await).is_empty());
    let west = ids(&changes(&s.app, &s.west, &outsider, 100).await);
    assert!(
        west.contains(&("DELETE".to_owned(), deal.clone())),
        "{west:?}"
    );
}

#[tokio::test]
async fn cursors_are_checked_and_expire() {
    let s = small().await;
    let mine = cursor(&s.app, &s.r1).await;
    // Not a cursor.
    let (_, res) = s
        .app
        .gql(Some(&s.r1), CHANGES, json!({ "since": "garbage" }))
        .await;
    assert_eq!(error_code(&res), Some("BAD_USER_INPUT"));
    assert_eq!(res["errors"][0]["extensions"]["field"], "since");
    // Someone else's cursor reads as expired (nothing about it is revealed).
    let (_, res) = s
        .app
        .gql(Some(&s.r2), CHANGES, json!({ "since": mine }))
        .await;
    assert_eq!(error_code(&res), Some("SYNC_CURSOR_EXPIRED"), "{res}");
    // Users and teams are not synced.
    let (_, res) = s
        .app
        .gql(
            Some(&s.r1),
            CHANGES,
            json!({ "since": mine, "kinds": ["USER"] }),
        )
        .await;
    assert_eq!(error_code(&res), Some("BAD_USER_INPUT"));
    assert_eq!(res["errors"][0]["extensions"]["field"], "kinds");
    let (_, res) = s
        .app
        .gql(Some(&s.r1), CHANGES, json!({ "since": mine, "first": 0 }))
        .await;
    assert_eq!(res["errors"][0]["extensions"]["field"], "first");
    // A client unused past the retention is purged: its cursor expired.
    let deps = &s.app.state.deps;
    let later = chrono::Utc::now()
        + chrono::Duration::days(i64::from(deps.config.audit_retention_days) + 1);
    assert_eq!(api::service::sync::purge(deps, later).await.unwrap(), 1);
    let (_, res) = s
        .app
        .gql(Some(&s.r1), CHANGES, json!({ "since": mine }))
        .await;
    assert_eq!(error_code(&res), Some("SYNC_CURSOR_EXPIRED"), "{res}");
    assert!(
        res["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("syncCursor")
    );
}

/// Subscribes over a fresh socket; returns it after the subscription is registered (the
/// server sends nothing until something changes).
async fn subscribe(addr: std::net::SocketAddr, token: &str, id: &str, query: &str) -> Socket {
    let mut socket = connect(addr).await;
    let ack = init(&mut socket, Some(token)).await.expect("ack");
    assert_eq!(ack["type"], "connection_ack");
    send(
        &mut socket,
        json!({"id": id, "type": "subscribe", "payload": {"query": query}}),
    )
    .await;
    socket
}

/// The next message within `secs`, if any.
async fn within(socket: &mut Socket, secs: u64) -> Option<Value> {
    tokio::time::timeout(std::time::Duration::from_secs(secs), next(socket))
        .await
        .ok()
        .and_then(Result::ok)
}

#[tokio::test]
async fn notifications_and_changes_arrive_live_and_only_for_readers() {
    let s = small().await;
    let addr = serve(&s.app).await;
    let mut notes = subscribe(
        addr,
        &s.r2,
        "n",
        "subscription { notificationAdded { kind title deal { id title } } }",
    )
    .await;
    let mut teammate = subscribe(
        addr,
        &s.r2,
        "c",
        "subscription { recordChanged(kinds: [DEAL]) { op kind id deal { id title amount } } }",
    )
    .await;
    let mut outsider = subscribe(
        addr,
        &s.west,
        "c",
        "subscription { recordChanged { op kind id } }",
    )
    .await;
    // Let the subscriptions register before the change.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let deal = ok(
        &s.app,
        &s.admin,
        "mutation($c: ID!, $o: ID!) { createDeal(input: {companyId: $c, title: \"For you\", ownerId: $o, amount: \"5.00\"}) { id } }",
        json!({ "c": s.company, "o": r2_id(&s).await }),
    )
    .await["createDeal"]["id"]
        .clone();
    let note = within(&mut notes, 10).await.expect("a notification");
    assert_eq!(
        note["payload"]["data"]["notificationAdded"]["kind"], "DEAL_ASSIGNED",
        "{note}"
    );
    assert_eq!(
        note["payload"]["data"]["notificationAdded"]["deal"]["id"],
        deal
    );
    let change = within(&mut teammate, 10).await.expect("a change");
    let change = &change["payload"]["data"]["recordChanged"];
    assert_eq!(change["op"], "UPSERT");
    assert_eq!(change["deal"]["id"], deal);
    assert_eq!(change["deal"]["amount"], "5.00");
    // The other team hears nothing of it.
    assert!(within(&mut outsider, 2).await.is_none());
}

async fn r2_id(s: &Small) -> Value {
    ok(&s.app, &s.r2, "{ me { id } }", json!({})).await["me"]["id"].clone()
}

#[tokio::test]
async fn a_copy_made_by_a_subscription_without_a_cursor_is_purged_a_day_after_its_last_use() {
    let s = small().await;
    let deps = &s.app.state.deps;
    let me = r2_id(&s).await;
    let viewer = api::authz::Viewer::new(
        Uuid::parse_str(me.as_str().unwrap()).unwrap(),
        Role::SalesRep,
        [],
    );
    let kept = api::service::sync::start(deps, &viewer, false)
        .await
        .unwrap();
    let passing = api::service::sync::start(deps, &viewer, true)
        .await
        .unwrap();
    assert_ne!(kept, passing);
    let tomorrow = chrono::Utc::now() + chrono::Duration::hours(25);
    assert_eq!(api::service::sync::purge(deps, tomorrow).await.unwrap(), 1);
    // The copy a client took with syncCursor stays; the other's cursor has expired.
    let (_, res) = s
        .app
        .gql(Some(&s.r2), CHANGES, json!({ "since": passing.encode() }))
        .await;
    assert_eq!(error_code(&res), Some("SYNC_CURSOR_EXPIRED"), "{res}");
    let (_, res) = s
        .app
        .gql(Some(&s.r2), CHANGES, json!({ "since": kept.encode() }))
        .await;
    assert!(res["errors"].is_null(), "{res}");
}
