//! Changes as events: every committed mutation writes exactly one event (plus one per
//! record it changed through a foreign key) in its transaction, with the changed fields;
//! a failed one writes none. The audit log is for administrators; every record has a
//! history, redacted by the policy for its reader. Readers paging by cursor never skip an
//! event that commits late; old events are purged after the retention period.

use chrono::{Duration, Utc};
use crm_testkit::Org;
use entity::enums::Role;
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, Statement, TransactionTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, error_code};

struct Fixture {
    app: TestApp,
    company: Uuid,
    r1: Uuid,
    r2: Uuid,
    m1: Uuid,
    admin_id: Uuid,
    rep: String,
    teammate: String,
    manager: String,
    admin: String,
}

async fn fixture_with(app: TestApp) -> Fixture {
    let mut org = Org::new();
    let m1 = org
        .user()
        .email("m1@example.com")
        .role(Role::Manager)
        .insert(&app.db)
        .await;
    let east = org.team().name("East").manager(m1.id).insert(&app.db).await;
    let r1 = org
        .user()
        .email("r1@example.com")
        .name("Rae")
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
    let admin = org
        .user()
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
        manager: app.login("m1@example.com", PASSWORD).await.0,
        admin: app.login("admin@example.com", PASSWORD).await.0,
        company: company.id,
        r1: r1.id,
        r2: r2.id,
        m1: m1.id,
        admin_id: admin.id,
        app,
    }
}

async fn fixture() -> Fixture {
    fixture_with(TestApp::new().await).await
}

async fn event_count(app: &TestApp) -> u64 {
    entity::event::Entity::find().count(&app.db).await.unwrap()
}

/// Runs a mutation as `token`, asserting it succeeded, and returns its data.
async fn ok(app: &TestApp, token: &str, query: &str, vars: Value) -> Value {
    let (_, json) = app.gql(Some(token), query, vars).await;
    assert!(json["errors"].is_null(), "{json}");
    json["data"].clone()
}

const ENTRY: &str = "id at actor { id name } action kind recordId changes { field from to redacted } ipAddress requestId";

/// The audit log as the admin reads it, filtered by record.
async fn entries_of(o: &Fixture, record: Uuid) -> Vec<Value> {
    let q = format!(
        "query($r: ID) {{ auditLog(first: 100, filter: {{recordId: $r}}) {{ totalCount nodes {{ {ENTRY} }} }} }}"
    );
    let data = ok(&o.app, &o.admin, &q, json!({ "r": record })).await;
    let log = &data["auditLog"];
    let nodes = log["nodes"].as_array().unwrap().clone();
    assert_eq!(log["totalCount"], nodes.len(), "{log}");
    nodes
}

/// The change of `field` in an entry.
fn change<'a>(entry: &'a Value, field: &str) -> &'a Value {
    entry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == field)
        .unwrap_or_else(|| panic!("no change of {field} in {entry}"))
}

fn fields(entry: &Value) -> Vec<String> {
    let mut f: Vec<String> = entry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap().to_owned())
        .collect();
    f.sort();
    f
}

/// Runs `query` and checks it wrote exactly `n` events.
async fn writes(o: &Fixture, n: u64, token: &str, query: &str, vars: Value) -> Value {
    let before = event_count(&o.app).await;
    let data = ok(&o.app, token, query, vars).await;
    assert_eq!(event_count(&o.app).await, before + n, "{query}");
    data
}

/// Runs a create mutation that writes one event; returns the new record's id.
async fn create(o: &Fixture, token: &str, query: &str, vars: Value) -> Uuid {
    let data = writes(o, 1, token, query, vars).await;
    let (_, record) = data.as_object().unwrap().iter().next().unwrap();
    record["id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn every_deal_mutation_writes_one_event_with_its_diff() {
    let o = fixture().await;
    let id = create(
        &o,
        &o.rep,
        "mutation($c: ID!) { createDeal(input: {companyId: $c, title: \"Big\", amount: \"1234.5\"}) { id } }",
        json!({ "c": o.company }),
    )
    .await;
    let log = entries_of(&o, id).await;
    assert_eq!(log.len(), 1);
    let e = &log[0];
    assert_eq!(e["action"], "RECORD_CREATED");
    assert_eq!(e["kind"], "DEAL");
    assert_eq!(e["recordId"], id.to_string());
    assert_eq!(e["actor"]["id"], o.r1.to_string());
    assert_eq!(e["actor"]["name"], "Rae");
    assert!(
        e["requestId"].as_str().is_some_and(|r| !r.is_empty()),
        "{e}"
    );
    assert_eq!(change(e, "title")["to"], "Big");
    assert!(change(e, "title")["from"].is_null());
    assert_eq!(change(e, "amount")["to"], "1234.50", "money is exact");
    assert_eq!(
        change(e, "stage")["to"],
        "PROSPECTING",
        "enums by their names"
    );
    assert_eq!(change(e, "ownerId")["to"], o.r1.to_string());

    // An update: only what changed.
    writes(
        &o,
        1,
        &o.rep,
        "mutation($id: ID!) { updateDeal(id: $id, input: {title: \"Bigger\", amount: \"99.99\", notes: \"n\"}) { id } }",
        json!({ "id": id }),
    )
    .await;
    // A move: the stage and what follows it.
    writes(
        &o,
        1,
        &o.rep,
        "mutation($id: ID!) { moveDeal(id: $id, stage: CLOSED_WON) { id } }",
        json!({ "id": id }),
    )
    .await;
    // A share, a change of its permission, an unshare.
    let share = "mutation($id: ID!, $u: ID!, $p: SharePermission!) { shareDeal(id: $id, userId: $u, permission: $p) { id } }";
    writes(
        &o,
        1,
        &o.rep,
        share,
        json!({ "id": id, "u": o.m1, "p": "VIEW" }),
    )
    .await;
    writes(
        &o,
        1,
        &o.rep,
        share,
        json!({ "id": id, "u": o.m1, "p": "EDIT" }),
    )
    .await;
    writes(
        &o,
        1,
        &o.rep,
        "mutation($id: ID!, $u: ID!) { unshareDeal(id: $id, userId: $u) { id } }",
        json!({ "id": id, "u": o.m1 }),
    )
    .await;
    // A reassignment by the manager, to a teammate who had a share: the share goes too.
    writes(
        &o,
        1,
        &o.rep,
        share,
        json!({ "id": id, "u": o.r2, "p": "VIEW" }),
    )
    .await;
    writes(
        &o,
        1,
        &o.manager,
        "mutation($id: ID!, $u: ID!) { reassignDeal(id: $id, ownerId: $u) { id } }",
        json!({ "id": id, "u": o.r2 }),
    )
    .await;

    let log = entries_of(&o, id).await;
    let actions: Vec<&str> = log.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions[0], "RECORD_CREATED");
    assert!(
        actions[1..].iter().all(|a| *a == "RECORD_UPDATED"),
        "{actions:?}"
    );
    assert_eq!(log.len(), 8);

    let update = &log[1];
    assert_eq!(fields(update), ["amount", "notes", "title"]);
    assert_eq!(change(update, "title")["from"], "Big");
    assert_eq!(change(update, "title")["to"], "Bigger");
    assert_eq!(change(update, "amount")["from"], "1234.50");
    assert_eq!(change(update, "amount")["to"], "99.99");
    assert!(change(update, "notes")["from"].is_null());

    let moved = &log[2];
    assert_eq!(change(moved, "stage")["from"], "PROSPECTING");
    assert_eq!(change(moved, "stage")["to"], "CLOSED_WON");
    assert_eq!(change(moved, "probability")["to"], 100);
    assert_eq!(
        change(moved, "actualCloseDate")["to"],
        Utc::now().format("%Y-%m-%d").to_string()
    );

    let user = |u: Uuid, p: &str| json!({"userId": u.to_string(), "permission": p});
    assert_eq!(fields(&log[3]), ["share"]);
    assert!(change(&log[3], "share")["from"].is_null());
    assert_eq!(change(&log[3], "share")["to"], user(o.m1, "VIEW"));
    assert_eq!(change(&log[4], "share")["from"], user(o.m1, "VIEW"));
    assert_eq!(change(&log[4], "share")["to"], user(o.m1, "EDIT"));
    assert_eq!(change(&log[5], "share")["from"], user(o.m1, "EDIT"));
    assert!(change(&log[5], "share")["to"].is_null());

    let reassigned = &log[7];
    assert_eq!(reassigned["actor"]["id"], o.m1.to_string());
    assert_eq!(fields(reassigned), ["ownerId", "share"]);
    assert_eq!(change(reassigned, "ownerId")["from"], o.r1.to_string());
    assert_eq!(change(reassigned, "ownerId")["to"], o.r2.to_string());
    assert_eq!(change(reassigned, "share")["from"], user(o.r2, "VIEW"));

    // Deleting the deal records its end, with its last values, and the end of its
    // activities.
    let activity = ok(
        &o.app,
        &o.admin,
        "mutation($d: ID!) { createActivity(input: {type: CALL, subject: \"Call\", dealId: $d}) { id } }",
        json!({ "d": id }),
    )
    .await["createActivity"]["id"]
        .as_str()
        .unwrap()
        .parse::<Uuid>()
        .unwrap();
    writes(
        &o,
        2,
        &o.manager,
        "mutation($id: ID!) { deleteDeal(id: $id) }",
        json!({ "id": id }),
    )
    .await;
    let log = entries_of(&o, id).await;
    let deleted = log.last().unwrap();
    assert_eq!(deleted["action"], "RECORD_DELETED");
    assert_eq!(change(deleted, "title")["from"], "Bigger");
    assert!(change(deleted, "title")["to"].is_null());
    let log = entries_of(&o, activity).await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[1]["action"], "RECORD_DELETED");
    assert_eq!(log[1]["actor"]["id"], o.m1.to_string());
    assert_eq!(change(&log[1], "subject")["from"], "Call");
}

#[tokio::test]
async fn companies_contacts_and_activities_write_one_event_per_mutation() {
    let o = fixture().await;
    // Company.
    let c = create(&o, &o.rep, "mutation { createCompany(input: {name: \"Globex\", industry: TECHNOLOGY, size: SIZE_1_10}) { id } }", json!({})).await;
    writes(
        &o,
        1,
        &o.rep,
        "mutation($id: ID!) { updateCompany(id: $id, input: {city: \"Oslo\", size: SIZE_1000_PLUS}) { id } }",
        json!({ "id": c }),
    )
    .await;
    // Contact at the company.
    let k = create(&o, &o.rep, "mutation($c: ID!) { createContact(input: {companyId: $c, firstName: \"Ann\", lastName: \"Lee\", department: HR}) { id } }", json!({ "c": c })).await;
    writes(
        &o,
        1,
        &o.rep,
        "mutation($id: ID!) { updateContact(id: $id, input: {title: \"CTO\"}) { id } }",
        json!({ "id": k }),
    )
    .await;
    // Activity on the contact.
    let a = create(&o, &o.rep, "mutation($k: ID!) { createActivity(input: {type: TASK, subject: \"Follow up\", contactId: $k}) { id } }", json!({ "k": k })).await;
    writes(
        &o,
        1,
        &o.rep,
        "mutation($id: ID!) { updateActivity(id: $id, input: {subject: \"Follow up soon\"}) { id } }",
        json!({ "id": a }),
    )
    .await;
    writes(
        &o,
        1,
        &o.rep,
        "mutation($id: ID!) { completeActivity(id: $id) { id } }",
        json!({ "id": a }),
    )
    .await;

    let company = entries_of(&o, c).await;
    assert_eq!(company.len(), 2);
    assert_eq!(change(&company[0], "industry")["to"], "TECHNOLOGY");
    assert_eq!(change(&company[1], "size")["from"], "SIZE_1_10");
    assert_eq!(change(&company[1], "size")["to"], "SIZE_1000_PLUS");
    assert_eq!(fields(&company[1]), ["city", "size"]);
    let contact = entries_of(&o, k).await;
    assert_eq!(change(&contact[0], "department")["to"], "HR");
    assert_eq!(change(&contact[0], "fullName")["to"], "Ann Lee");
    assert_eq!(fields(&contact[1]), ["title"]);
    let activity = entries_of(&o, a).await;
    assert_eq!(activity.len(), 3);
    assert_eq!(change(&activity[0], "type")["to"], "TASK");
    assert_eq!(fields(&activity[1]), ["subject"]);
    assert_eq!(fields(&activity[2]), ["completed", "completedAt", "status"]);
    assert_eq!(change(&activity[2], "completed")["to"], true);

    // Deleting the contact (a manager's right) clears it from the activity: two events.
    writes(
        &o,
        2,
        &o.manager,
        "mutation($id: ID!) { deleteContact(id: $id) }",
        json!({ "id": k }),
    )
    .await;
    let activity = entries_of(&o, a).await;
    let cleared = activity.last().unwrap();
    assert_eq!(cleared["action"], "RECORD_UPDATED");
    assert_eq!(change(cleared, "contactId")["from"], k.to_string());
    assert!(change(cleared, "contactId")["to"].is_null());
    // The activity, then the company.
    writes(
        &o,
        1,
        &o.manager,
        "mutation($id: ID!) { deleteActivity(id: $id) }",
        json!({ "id": a }),
    )
    .await;
    writes(
        &o,
        1,
        &o.manager,
        "mutation($id: ID!) { deleteCompany(id: $id) }",
        json!({ "id": c }),
    )
    .await;
    assert_eq!(
        entries_of(&o, c).await.last().unwrap()["action"],
        "RECORD_DELETED"
    );
}

#[tokio::test]
async fn a_failed_mutation_writes_no_event() {
    let o = fixture().await;
    let id = ok(
        &o.app,
        &o.rep,
        "mutation($c: ID!) { createDeal(input: {companyId: $c, title: \"D\"}) { id } }",
        json!({ "c": o.company }),
    )
    .await["createDeal"]["id"]
        .clone();
    let before = event_count(&o.app).await;
    let failing = [
        // Bad input.
        (
            &o.rep,
            "mutation($c: ID!) { createDeal(input: {companyId: $c, title: \"\"}) { id } }",
            json!({ "c": o.company }),
            "BAD_USER_INPUT",
        ),
        // A stale version.
        (
            &o.rep,
            "mutation($id: ID!) { updateDeal(id: $id, input: {title: \"x\", expectedVersion: 7}) { id } }",
            json!({ "id": id }),
            "CONFLICT",
        ),
        // Forbidden: a teammate may read but not change it; reps never delete.
        (
            &o.teammate,
            "mutation($id: ID!) { updateDeal(id: $id, input: {title: \"x\"}) { id } }",
            json!({ "id": id }),
            "FORBIDDEN",
        ),
        (
            &o.rep,
            "mutation($id: ID!) { deleteDeal(id: $id) }",
            json!({ "id": id }),
            "FORBIDDEN",
        ),
        // Not found.
        (
            &o.rep,
            "mutation($id: ID!) { moveDeal(id: $id, stage: PROPOSAL) { id } }",
            json!({ "id": Uuid::new_v4() }),
            "NOT_FOUND",
        ),
        // A company whose name is taken.
        (
            &o.rep,
            "mutation { createCompany(input: {name: \"Acme\"}) { id } }",
            json!({}),
            "CONFLICT",
        ),
        // An admin change that would be invalid.
        (
            &o.admin,
            "mutation($id: ID!) { updateUser(id: $id, input: {name: \"\"}) { id } }",
            json!({ "id": o.r1 }),
            "BAD_USER_INPUT",
        ),
    ];
    for (token, query, vars, code) in failing {
        let (_, json) = o.app.gql(Some(token), query, vars).await;
        assert_eq!(error_code(&json), Some(code), "{query}: {json}");
    }
    assert_eq!(event_count(&o.app).await, before);
}

#[tokio::test]
async fn only_administrators_read_the_audit_log() {
    let o = fixture().await;
    let q = "{ auditLog { totalCount nodes { id } } }";
    for token in [&o.rep, &o.manager] {
        let (_, json) = o.app.gql(Some(token), q, json!({})).await;
        assert_eq!(error_code(&json), Some("FORBIDDEN"), "{json}");
        assert!(json["data"].is_null(), "{json}");
    }
    let (_, json) = o.app.gql(None, q, json!({})).await;
    assert_eq!(error_code(&json), Some("UNAUTHENTICATED"), "{json}");
    let data = ok(&o.app, &o.admin, q, json!({})).await;
    // The four sign-ins of the fixture.
    assert_eq!(data["auditLog"]["totalCount"], 4, "{data}");
}

#[tokio::test]
async fn sign_ins_sign_outs_and_permission_changes_are_recorded() {
    // A used refresh token presented again is reuse at once (no grace for a racing tab).
    let o = fixture_with(TestApp::with_config(|c| c.refresh_reuse_grace_secs = 0).await).await;
    // A failed sign-in for an account and for an unknown email.
    for email in ["r1@example.com", "nobody@example.com"] {
        let (_, json) = o
            .app
            .gql(
                None,
                "mutation($e: String!) { login(email: $e, password: \"wrong-password\") { accessToken } }",
                json!({ "e": email }),
            )
            .await;
        assert_eq!(error_code(&json), Some("UNAUTHENTICATED"), "{json}");
    }
    // Refresh reuse: the second use of a refresh token revokes the session.
    let (_, refresh) = o.app.login("r2@example.com", PASSWORD).await;
    let q = "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }";
    ok(&o.app, &o.teammate, q, json!({ "t": refresh })).await;
    let (_, json) = o.app.gql(None, q, json!({ "t": refresh })).await;
    assert_eq!(error_code(&json), Some("UNAUTHENTICATED"), "{json}");
    // Admin changes: role (a permission change), name (not one), password reset, team
    // manager.
    ok(
        &o.app,
        &o.admin,
        "mutation($id: ID!) { updateUser(id: $id, input: {role: MANAGER}) { id } }",
        json!({ "id": o.r2 }),
    )
    .await;
    ok(
        &o.app,
        &o.admin,
        "mutation($id: ID!) { updateUser(id: $id, input: {name: \"Ray\"}) { id } }",
        json!({ "id": o.r2 }),
    )
    .await;
    ok(
        &o.app,
        &o.admin,
        "mutation($id: ID!) { resetUserPassword(id: $id) { temporaryPassword } }",
        json!({ "id": o.r2 }),
    )
    .await;
    ok(&o.app, &o.rep, "mutation { logout }", json!({})).await;
    let created = create(
        &o,
        &o.admin,
        "mutation { createUser(input: {email: \"new@example.com\", name: \"New\", password: \"a-long-password-1\", role: SALES_REP}) { id } }",
        json!({}),
    )
    .await;
    let (manager_token, _) = o.app.login("m1@example.com", PASSWORD).await;
    ok(
        &o.app,
        &manager_token,
        "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
        json!({ "c": PASSWORD, "n": "another-long-password-2" }),
    )
    .await;

    let q = format!(
        "query($a: AuditAction) {{ auditLog(last: 100, filter: {{action: $a}}) {{ nodes {{ {ENTRY} }} }} }}"
    );
    let of = |action: &'static str| {
        let q = q.clone();
        let app = &o.app;
        let admin = o.admin.clone();
        async move {
            ok(app, &admin, &q, json!({ "a": action })).await["auditLog"]["nodes"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    let failed = of("USER_LOGIN_FAILED").await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(failed[0]["actor"].is_null());
    assert_eq!(failed[0]["recordId"], o.r1.to_string(), "the account tried");
    assert_eq!(change(&failed[0], "email")["to"], "r1@example.com");
    assert_eq!(change(&failed[0], "reason")["to"], "INVALID_CREDENTIALS");
    assert!(failed[1]["recordId"].is_null(), "no such account");

    let logins = of("USER_LOGIN").await;
    assert_eq!(logins.len(), 6, "the fixture's four, r2 and m1 again");
    assert_eq!(logins[0]["actor"]["id"], o.r1.to_string());
    assert_eq!(logins[0]["recordId"], o.r1.to_string());

    let revoked = of("SESSION_REVOKED").await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["recordId"], o.r2.to_string());
    assert_eq!(change(&revoked[0], "reason")["to"], "REFRESH_TOKEN_REUSED");

    let new_user = entries_of(&o, created).await;
    assert_eq!(new_user[0]["action"], "RECORD_CREATED");
    assert_eq!(new_user[0]["kind"], "USER");
    assert_eq!(change(&new_user[0], "role")["to"], "SALES_REP");
    assert!(
        !serde_json::to_string(&new_user)
            .unwrap()
            .contains("a-long-password"),
        "never a password"
    );

    let perms = of("PERMISSION_CHANGED").await;
    assert_eq!(perms.len(), 3, "{perms:?}");
    assert_eq!(
        perms[2]["actor"]["id"],
        o.m1.to_string(),
        "their own password"
    );
    assert_eq!(fields(&perms[2]), ["password"]);
    assert_eq!(perms[0]["actor"]["id"], o.admin_id.to_string());
    assert_eq!(change(&perms[0], "role")["from"], "SALES_REP");
    assert_eq!(change(&perms[0], "role")["to"], "MANAGER");
    assert_eq!(fields(&perms[1]), ["mustChangePassword", "password"]);
    assert!(
        change(&perms[1], "password")["to"].is_null(),
        "never a password"
    );

    let renamed = entries_of(&o, o.r2).await;
    assert!(
        renamed
            .iter()
            .any(|e| e["action"] == "RECORD_UPDATED" && fields(e) == ["name"]),
        "{renamed:?}"
    );
    let logouts = of("USER_LOGOUT").await;
    assert_eq!(logouts.len(), 1);
    assert_eq!(logouts[0]["actor"]["id"], o.r1.to_string());

    // A team's manager decides who sees its records.
    let team = ok(
        &o.app,
        &o.admin,
        "mutation { createTeam(input: {name: \"North\"}) { id } }",
        json!({}),
    )
    .await["createTeam"]["id"]
        .clone();
    ok(
        &o.app,
        &o.admin,
        "mutation($id: ID!, $m: ID!) { updateTeam(id: $id, input: {managerId: $m}) { id } }",
        json!({ "id": team, "m": o.m1 }),
    )
    .await;
    let perms = of("PERMISSION_CHANGED").await;
    let last = perms.last().unwrap();
    assert_eq!(last["kind"], "TEAM");
    assert_eq!(change(last, "managerId")["to"], o.m1.to_string());
}

#[tokio::test]
async fn the_audit_log_filters_and_pages_without_gaps() {
    let o = fixture().await;
    let mut deals = Vec::new();
    for i in 0..7 {
        let token = if i % 2 == 0 { &o.rep } else { &o.admin };
        let id = ok(
            &o.app,
            token,
            "mutation($c: ID!, $t: String!) { createDeal(input: {companyId: $c, title: $t}) { id } }",
            json!({ "c": o.company, "t": format!("D{i}") }),
        )
        .await["createDeal"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        deals.push(id);
    }
    ok(
        &o.app,
        &o.rep,
        "mutation($id: ID!) { moveDeal(id: $id, stage: PROPOSAL) { id } }",
        json!({ "id": deals[0] }),
    )
    .await;
    let q = "query($f: AuditLogFilter, $after: String) { auditLog(first: 3, after: $after, filter: $f) { totalCount pageInfo { hasNextPage endCursor } nodes { id action kind recordId actor { id } at } } }";
    let all = |filter: Value| {
        let o = &o;
        async move {
            let mut seen: Vec<Value> = Vec::new();
            let mut after = Value::Null;
            loop {
                let data = ok(&o.app, &o.admin, q, json!({ "f": filter, "after": after })).await;
                let log = &data["auditLog"];
                seen.extend(log["nodes"].as_array().unwrap().iter().cloned());
                if log["pageInfo"]["hasNextPage"] != true {
                    assert_eq!(log["totalCount"], seen.len());
                    return seen;
                }
                after = log["pageInfo"]["endCursor"].clone();
            }
        }
    };
    let by_rep = all(json!({"actorId": o.r1, "kind": "DEAL"})).await;
    assert_eq!(by_rep.len(), 5, "4 creates and a move");
    assert!(by_rep.iter().all(|e| e["actor"]["id"] == o.r1.to_string()));
    let mut ids: Vec<u64> = by_rep
        .iter()
        .map(|e| e["id"].as_str().unwrap().parse().unwrap())
        .collect();
    let sorted = {
        let mut s = ids.clone();
        s.sort();
        s
    };
    assert_eq!(ids, sorted, "oldest first");
    ids.dedup();
    assert_eq!(ids.len(), 5, "no entry twice");

    let created = all(json!({"action": "RECORD_CREATED"})).await;
    assert_eq!(created.len(), 7);
    let updated = all(json!({"action": "RECORD_UPDATED", "recordId": deals[0]})).await;
    assert_eq!(updated.len(), 1);
    let users = all(json!({"kind": "USER"})).await;
    assert_eq!(users.len(), 4, "the sign-ins");

    // Time ranges: everything is recent; nothing before an hour ago or from tomorrow.
    let now = Utc::now();
    let recent = all(json!({"at": {"gte": (now - Duration::hours(1)).to_rfc3339()}})).await;
    assert_eq!(recent.len(), 4 + 7 + 1);
    let none = all(json!({"at": {"lt": (now - Duration::hours(1)).to_rfc3339()}})).await;
    assert!(none.is_empty());
    let split = recent[5]["at"].as_str().unwrap().to_owned();
    let before = all(json!({"at": {"lt": split}})).await;
    let after = all(json!({"at": {"gte": split}})).await;
    assert_eq!(before.len() + after.len(), recent.len());

    // The latest entries with `last`.
    let data = ok(
        &o.app,
        &o.admin,
        "{ auditLog(last: 1) { nodes { action recordId } } }",
        json!({}),
    )
    .await;
    assert_eq!(data["auditLog"]["nodes"][0]["action"], "RECORD_UPDATED");
    assert_eq!(data["auditLog"]["nodes"][0]["recordId"], deals[0]);

    // Bad filters name the field.
    let (_, json) = o
        .app
        .gql(
            Some(&o.admin),
            "{ auditLog(filter: {actorId: \"nope\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"), "{json}");
    assert_eq!(json["errors"][0]["extensions"]["field"], "filter.actorId");
}

const HISTORY: &str = "query($id: ID!) { deal(id: $id) { history(first: 50) { totalCount nodes { action ipAddress requestId actor { id } changes { field from to redacted } } } } }";

/// A deal of r1 whose amount and shares changed.
async fn deal_with_history(o: &Fixture) -> String {
    let id = ok(
        &o.app,
        &o.rep,
        "mutation($c: ID!) { createDeal(input: {companyId: $c, title: \"T\", amount: \"10\"}) { id } }",
        json!({ "c": o.company }),
    )
    .await["createDeal"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &o.app,
        &o.rep,
        "mutation($id: ID!) { updateDeal(id: $id, input: {amount: \"20\", title: \"T2\"}) { id } }",
        json!({ "id": id }),
    )
    .await;
    ok(
        &o.app,
        &o.rep,
        "mutation($id: ID!, $u: ID!) { shareDeal(id: $id, userId: $u, permission: VIEW) { id } }",
        json!({ "id": id, "u": o.admin_id }),
    )
    .await;
    id
}

fn history_of(data: &Value) -> Vec<Value> {
    data["deal"]["history"]["nodes"].as_array().unwrap().clone()
}

#[tokio::test]
async fn history_redacts_the_fields_the_reader_may_not_read() {
    let o = fixture().await;
    let id = deal_with_history(&o).await;
    // The owner sees everything of their deal but the request details.
    let mine = history_of(&ok(&o.app, &o.rep, HISTORY, json!({ "id": id })).await);
    assert_eq!(mine.len(), 3);
    assert_eq!(change(&mine[1], "amount")["from"], "10.00");
    assert_eq!(change(&mine[1], "amount")["to"], "20.00");
    assert_eq!(change(&mine[1], "amount")["redacted"], false);
    assert_eq!(
        change(&mine[2], "share")["to"]["userId"],
        o.admin_id.to_string()
    );
    assert!(mine[0]["ipAddress"].is_null() && mine[0]["requestId"].is_null());

    // A teammate reads the deal but not its amount, nor its shares.
    let theirs = history_of(&ok(&o.app, &o.teammate, HISTORY, json!({ "id": id })).await);
    assert_eq!(theirs.len(), 3);
    for entry in &theirs {
        for c in entry["changes"].as_array().unwrap() {
            let hidden = c["field"] == "amount" || c["field"] == "share";
            assert_eq!(c["redacted"], hidden, "{c}");
            if hidden {
                assert!(c["from"].is_null() && c["to"].is_null(), "{c}");
            }
        }
    }
    assert_eq!(change(&theirs[1], "title")["to"], "T2");
    assert!(
        !serde_json::to_string(&theirs).unwrap().contains("20.00"),
        "the amount never shows"
    );

    // The manager and the admin read it all; the admin also sees request details.
    let managers = history_of(&ok(&o.app, &o.manager, HISTORY, json!({ "id": id })).await);
    assert_eq!(change(&managers[1], "amount")["to"], "20.00");
    let admins = history_of(&ok(&o.app, &o.admin, HISTORY, json!({ "id": id })).await);
    assert_eq!(change(&admins[1], "amount")["to"], "20.00");
    assert!(admins[0]["requestId"].is_string(), "{:?}", admins[0]);

    // Someone who cannot read the deal gets no history at all.
    let mut org = Org::new();
    org.user()
        .email("w@example.com")
        .role(Role::SalesRep)
        .insert(&o.app.db)
        .await;
    let (w, _) = o.app.login("w@example.com", PASSWORD).await;
    let data = ok(&o.app, &w, HISTORY, json!({ "id": id })).await;
    assert!(data["deal"].is_null());
}

#[tokio::test]
async fn history_follows_an_edited_policy() {
    // Reps may read their teammates' amounts: their history shows them.
    let dir = crate::authz_support::policy_dir_with(&[(
        "deal.polar",
        "\nhas_permission(user: User, \"read:amount\", deal: Deal) if\n    user.role = \"sales_rep\" and deal.in_team_of(user);\n",
    )]);
    let path = dir.path().to_owned();
    let app = TestApp::with_config(|c| c.policy_dir = path).await;
    let o = fixture_with(app).await;
    let id = deal_with_history(&o).await;
    let theirs = history_of(&ok(&o.app, &o.teammate, HISTORY, json!({ "id": id })).await);
    assert_eq!(change(&theirs[1], "amount")["to"], "20.00");
    assert_eq!(change(&theirs[1], "amount")["redacted"], false);
    assert_eq!(
        change(&theirs[2], "share")["redacted"],
        true,
        "still not a sharer"
    );
}

#[tokio::test]
async fn every_record_type_has_a_history() {
    let o = fixture().await;
    let k = ok(
        &o.app,
        &o.rep,
        "mutation($c: ID!) { createContact(input: {companyId: $c, firstName: \"A\"}) { id } }",
        json!({ "c": o.company }),
    )
    .await["createContact"]["id"]
        .clone();
    let a = ok(
        &o.app,
        &o.rep,
        "mutation($k: ID!) { createActivity(input: {type: NOTE, subject: \"S\", contactId: $k}) { id } }",
        json!({ "k": k }),
    )
    .await["createActivity"]["id"]
        .clone();
    ok(
        &o.app,
        &o.rep,
        "mutation($id: ID!) { updateCompany(id: $id, input: {city: \"Rome\"}) { id } }",
        json!({ "id": o.company }),
    )
    .await;
    let data = ok(
        &o.app,
        &o.teammate,
        "query($c: ID!, $k: ID!, $a: ID!) {
           company(id: $c) { history { totalCount nodes { action changes { field to } } } }
           contact(id: $k) { history { totalCount nodes { action } } }
           activity(id: $a) { history { totalCount nodes { action } } }
         }",
        json!({ "c": o.company, "k": k, "a": a }),
    )
    .await;
    // The company was built directly (no event), then changed once.
    assert_eq!(data["company"]["history"]["totalCount"], 1, "{data}");
    assert_eq!(
        data["company"]["history"]["nodes"][0]["changes"][0]["to"],
        "Rome"
    );
    assert_eq!(data["contact"]["history"]["totalCount"], 1);
    // The activity is the rep's own; the teammate reads it through the contact.
    assert_eq!(
        data["activity"]["history"]["nodes"][0]["action"],
        "RECORD_CREATED"
    );
}

/// Inserts an event in `txn` as the API would (the database fills in the transaction id).
async fn insert_event(txn: &impl ConnectionTrait, record: Uuid) {
    let backend = txn.get_database_backend();
    let sql = "INSERT INTO events (at, action, kind, record_id, changes) VALUES ($1, 'RECORD_UPDATED', 'DEAL', $2, '[]')";
    let sql = if backend == sea_orm::DbBackend::Sqlite {
        sql.replace('$', "?")
    } else {
        sql.to_owned()
    };
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [Utc::now().into(), record.into()],
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn a_reader_paging_by_cursor_never_skips_an_event_that_commits_late() {
    let o = fixture().await;
    let page = "query($after: String) { auditLog(first: 100, after: $after) { pageInfo { endCursor } nodes { recordId } } }";
    let read = |after: Value| {
        let o = &o;
        async move {
            let data = ok(&o.app, &o.admin, page, json!({ "after": after })).await;
            let log = &data["auditLog"];
            let ids: Vec<String> = log["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["recordId"].as_str().unwrap_or_default().to_owned())
                .collect();
            (ids, log["pageInfo"]["endCursor"].clone())
        }
    };
    let (_, mut cursor) = read(Value::Null).await;
    let (early, late) = (Uuid::new_v4(), Uuid::new_v4());
    if o.app.backend() == sea_orm::DbBackend::Postgres {
        // `early` draws its position first, `late` after it but commits first.
        let t1 = o.app.db.begin().await.unwrap();
        insert_event(&t1, early).await;
        let t2 = o.app.db.begin().await.unwrap();
        insert_event(&t2, late).await;
        t2.commit().await.unwrap();
        let (seen, next) = read(cursor.clone()).await;
        assert!(
            seen.is_empty(),
            "nothing past a transaction still in progress: {seen:?}"
        );
        if !next.is_null() {
            cursor = next;
        }
        t1.commit().await.unwrap();
        let (seen, next) = read(cursor.clone()).await;
        assert_eq!(seen, [early.to_string(), late.to_string()]);
        cursor = next;

        // The other way round: the writer that starts first writes its event last.
        let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
        let t1 = o.app.db.begin().await.unwrap();
        t1.execute_unprepared("SELECT pg_current_xact_id()")
            .await
            .unwrap();
        let t2 = o.app.db.begin().await.unwrap();
        insert_event(&t2, second).await;
        t2.commit().await.unwrap();
        insert_event(&t1, first).await;
        let (seen, _) = read(cursor.clone()).await;
        assert!(seen.is_empty(), "{seen:?}");
        t1.commit().await.unwrap();
        let (seen, _) = read(cursor.clone()).await;
        assert_eq!(seen, [first.to_string(), second.to_string()]);
    } else {
        // SQLite: writers take the write lock at BEGIN, so positions are commit order.
        let t1 = o.app.db.begin().await.unwrap();
        insert_event(&t1, early).await;
        t1.commit().await.unwrap();
        let t2 = o.app.db.begin().await.unwrap();
        insert_event(&t2, late).await;
        t2.commit().await.unwrap();
        let (seen, _) = read(cursor).await;
        assert_eq!(seen, [early.to_string(), late.to_string()]);
    }
}

#[tokio::test]
async fn the_purge_deletes_events_past_the_retention_in_batches() {
    let o = fixture().await;
    for _ in 0..3 {
        ok(
            &o.app,
            &o.rep,
            "mutation($c: ID!) { createDeal(input: {companyId: $c, title: \"D\"}) { id } }",
            json!({ "c": o.company }),
        )
        .await;
    }
    let total = event_count(&o.app).await;
    // Age 2,500 events (more than two batches) past the 365 days, plus one deal's event.
    let old = Utc::now() - Duration::days(400);
    let backend = o.app.backend();
    let txn = o.app.db.begin().await.unwrap();
    let sql = if backend == sea_orm::DbBackend::Sqlite {
        "INSERT INTO events (at, action, changes) VALUES (?1, 'USER_LOGIN', '[]')"
    } else {
        "INSERT INTO events (at, action, changes) VALUES ($1, 'USER_LOGIN', '[]')"
    };
    for _ in 0..2500 {
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, [old.into()]))
            .await
            .unwrap();
    }
    txn.commit().await.unwrap();
    o.app
        .raw(
            "UPDATE events SET at = $1 WHERE position = (SELECT min(position) FROM events WHERE action = 'RECORD_CREATED')",
            vec![old.into()],
        )
        .await
        .unwrap();
    let deps = &o.app.state.deps;
    let purged = api::service::audit::purge(deps, Utc::now()).await.unwrap();
    assert_eq!(purged, 2501);
    assert_eq!(event_count(&o.app).await, total - 1);
    assert_eq!(
        api::service::audit::purge(deps, Utc::now()).await.unwrap(),
        0
    );

    // One run a day, whichever instance asks first.
    let now = Utc::now();
    let claim =
        |at| api::service::audit::claim_run(&o.app.db, "audit_purge", Duration::days(1), at);
    assert!(claim(now).await.unwrap());
    assert!(!claim(now).await.unwrap());
    assert!(!claim(now + Duration::hours(23)).await.unwrap());
    assert!(claim(now + Duration::hours(25)).await.unwrap());
}
