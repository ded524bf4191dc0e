//! Notifications: a deal assigned, shared or moved by someone else, an activity assigned,
//! each stored with the change; never about what you did yourself, never about a record
//! the recipient cannot read (the policy decides); read, counted and marked read by their
//! recipient only.

use crm_testkit::Org;
use entity::enums::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, error_code};

struct Fixture {
    app: TestApp,
    company: Uuid,
    r1: Uuid,
    r2: Uuid,
    r3: Uuid,
    rep: String,
    teammate: String,
    west_rep: String,
    manager: String,
}

async fn fixture_with(app: TestApp) -> Fixture {
    let mut org = Org::new();
    let m1 = org
        .user()
        .email("m1@example.com")
        .name("Mia")
        .role(Role::Manager)
        .insert(&app.db)
        .await;
    let east = org.team().name("East").manager(m1.id).insert(&app.db).await;
    let west = org.team().name("West").insert(&app.db).await;
    let mut reps = Vec::new();
    for (email, team) in [
        ("r1@example.com", east.id),
        ("r2@example.com", east.id),
        ("r3@example.com", west.id),
    ] {
        let rep = org.user().email(email).role(Role::SalesRep).team(team);
        reps.push(rep.insert(&app.db).await);
    }
    let (r1, r2, r3) = (reps[0].clone(), reps[1].clone(), reps[2].clone());
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
        company: company.id,
        r1: r1.id,
        r2: r2.id,
        r3: r3.id,
        app,
    }
}

async fn ok(app: &TestApp, token: &str, query: &str, vars: Value) -> Value {
    let (_, json) = app.gql(Some(token), query, vars).await;
    assert!(json["errors"].is_null(), "{json}");
    json["data"].clone()
}

const MINE: &str = "query($unread: Boolean) { unreadNotificationCount notifications(first: 50, unreadOnly: $unread) { totalCount nodes { id kind title body createdAt readAt deal { id title } activity { id subject } } } }";

async fn mine(o: &Fixture, token: &str) -> (u64, Vec<Value>) {
    let data = ok(&o.app, token, MINE, json!({})).await;
    let nodes = data["notifications"]["nodes"].as_array().unwrap().clone();
    (data["unreadNotificationCount"].as_u64().unwrap(), nodes)
}

async fn create_deal(o: &Fixture, token: &str, owner: Uuid) -> String {
    ok(
        &o.app,
        token,
        "mutation($c: ID!, $o: ID!) { createDeal(input: {companyId: $c, title: \"Big\", ownerId: $o}) { id } }",
        json!({ "c": o.company, "o": owner }),
    )
    .await["createDeal"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn deals_assigned_shared_and_moved_by_others_notify_their_users() {
    let o = fixture_with(TestApp::new().await).await;
    // A rep's own deal: nobody is told.
    let own = create_deal(&o, &o.rep, o.r1).await;
    assert!(mine(&o, &o.rep).await.1.is_empty());
    // The manager creates one for r1: r1 is told, the manager is not.
    let given = create_deal(&o, &o.manager, o.r1).await;
    let (unread, list) = mine(&o, &o.rep).await;
    assert_eq!(unread, 1);
    assert_eq!(list[0]["kind"], "DEAL_ASSIGNED");
    assert_eq!(list[0]["deal"]["id"], given);
    assert_eq!(list[0]["body"], "Mia assigned you \u{201c}Big\u{201d}.");
    assert!(list[0]["readAt"].is_null());
    assert!(mine(&o, &o.manager).await.1.is_empty());

    // Moving your own deal tells nobody; the manager moving it tells the owner.
    let mv = "mutation($id: ID!, $s: DealStage!) { moveDeal(id: $id, stage: $s) { id } }";
    ok(
        &o.app,
        &o.rep,
        mv,
        json!({ "id": own, "s": "QUALIFICATION" }),
    )
    .await;
    ok(
        &o.app,
        &o.manager,
        mv,
        json!({ "id": own, "s": "CLOSED_WON" }),
    )
    .await;
    let (unread, list) = mine(&o, &o.rep).await;
    assert_eq!(unread, 2);
    assert_eq!(list[0]["kind"], "DEAL_STAGE_CHANGED", "newest first");
    assert_eq!(list[0]["title"], "Deal moved to Closed won");
    assert_eq!(
        list[0]["body"],
        "Mia moved \u{201c}Big\u{201d} from Qualification to Closed won."
    );

    // Sharing tells the user it is shared with (also outside the team).
    ok(
        &o.app,
        &o.rep,
        "mutation($id: ID!, $u: ID!) { shareDeal(id: $id, userId: $u, permission: EDIT) { id } }",
        json!({ "id": own, "u": o.r3 }),
    )
    .await;
    let (_, list) = mine(&o, &o.west_rep).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["kind"], "DEAL_SHARED");
    assert_eq!(list[0]["deal"]["id"], own);
    assert!(list[0]["body"].as_str().unwrap().contains("edit access"));

    // A reassignment tells the new owner; once the deal is gone, the notification stays
    // and its deal reads as null.
    let reassign = "mutation($id: ID!, $u: ID!) { reassignDeal(id: $id, ownerId: $u) { id } }";
    ok(
        &o.app,
        &o.manager,
        reassign,
        json!({ "id": given, "u": o.r2 }),
    )
    .await;
    let (_, list) = mine(&o, &o.teammate).await;
    assert_eq!(list[0]["kind"], "DEAL_ASSIGNED");
    assert_eq!(list[0]["deal"]["id"], given);
    let delete = "mutation($id: ID!) { deleteDeal(id: $id) }";
    ok(&o.app, &o.manager, delete, json!({ "id": given })).await;
    let (_, list) = mine(&o, &o.teammate).await;
    assert_eq!(list.len(), 1);
    assert!(list[0]["deal"].is_null());
}

#[tokio::test]
async fn activities_assigned_by_others_notify_the_assignee() {
    let o = fixture_with(TestApp::new().await).await;
    let create = "mutation($u: ID!) { createActivity(input: {type: TASK, subject: \"Call Ann\", assignedToId: $u}) { id } }";
    ok(&o.app, &o.rep, create, json!({ "u": o.r1 })).await;
    assert!(mine(&o, &o.rep).await.1.is_empty(), "your own task");
    let id = ok(&o.app, &o.rep, create, json!({ "u": o.r2 })).await["createActivity"]["id"].clone();
    let (_, list) = mine(&o, &o.teammate).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["kind"], "ACTIVITY_ASSIGNED");
    assert_eq!(list[0]["activity"]["id"], id);
    assert_eq!(list[0]["activity"]["subject"], "Call Ann");
    // Handing it on tells the next assignee.
    ok(
        &o.app,
        &o.rep,
        "mutation($id: ID!, $u: ID!) { updateActivity(id: $id, input: {assignedToId: $u}) { id } }",
        json!({ "id": id, "u": o.r3 }),
    )
    .await;
    assert_eq!(mine(&o, &o.west_rep).await.1.len(), 1);
}

#[tokio::test]
async fn nobody_is_notified_about_a_record_they_cannot_read() {
    // An edited policy: a "view" share no longer lets anyone read the deal.
    let dir = tempfile::tempdir().unwrap();
    let policies = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    for entry in std::fs::read_dir(policies).unwrap() {
        let path = entry.unwrap().path();
        let mut text = std::fs::read_to_string(&path).unwrap();
        if path.file_name().unwrap() == "deal.polar" {
            let rule = "has_role(user: User, \"viewer\", deal: Deal) if\n    deal.shared_with(user, \"view\");\n";
            assert!(text.contains(rule));
            text = text.replace(rule, "");
        }
        std::fs::write(dir.path().join(path.file_name().unwrap()), text).unwrap();
    }
    let path = dir.path().to_owned();
    let o = fixture_with(TestApp::with_config(|c| c.policy_dir = path).await).await;
    let deal = create_deal(&o, &o.rep, o.r1).await;
    let share = "mutation($id: ID!, $u: ID!, $p: SharePermission!) { shareDeal(id: $id, userId: $u, permission: $p) { id } }";
    ok(
        &o.app,
        &o.rep,
        share,
        json!({ "id": deal, "u": o.r3, "p": "VIEW" }),
    )
    .await;
    assert!(
        mine(&o, &o.west_rep).await.1.is_empty(),
        "a share that grants no read tells nothing"
    );
    // An edit share still grants it.
    ok(
        &o.app,
        &o.rep,
        share,
        json!({ "id": deal, "u": o.r3, "p": "EDIT" }),
    )
    .await;
    assert_eq!(mine(&o, &o.west_rep).await.1.len(), 1);
}

#[tokio::test]
async fn notifications_are_read_and_marked_by_their_recipient_only() {
    let o = fixture_with(TestApp::new().await).await;
    for _ in 0..3 {
        create_deal(&o, &o.manager, o.r1).await;
    }
    create_deal(&o, &o.manager, o.r2).await;
    let (unread, list) = mine(&o, &o.rep).await;
    assert_eq!(unread, 3);
    let theirs = mine(&o, &o.teammate).await.1[0]["id"].clone();

    // Marking one of mine and one of theirs: only mine changes.
    let mark = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) }";
    let data = ok(
        &o.app,
        &o.rep,
        mark,
        json!({ "ids": [list[0]["id"], theirs] }),
    )
    .await;
    assert_eq!(data["markNotificationsRead"], 1);
    let data = ok(&o.app, &o.rep, mark, json!({ "ids": [list[0]["id"]] })).await;
    assert_eq!(data["markNotificationsRead"], 0, "already read");
    assert_eq!(mine(&o, &o.teammate).await.0, 1, "theirs stays unread");
    let data = ok(&o.app, &o.rep, MINE, json!({ "unread": true })).await;
    assert_eq!(data["notifications"]["totalCount"], 2);
    assert_eq!(data["unreadNotificationCount"], 2);
    let (_, list) = mine(&o, &o.rep).await;
    assert!(list[0]["readAt"].is_string());

    let data = ok(
        &o.app,
        &o.rep,
        "mutation { markAllNotificationsRead }",
        json!({}),
    )
    .await;
    assert_eq!(data["markAllNotificationsRead"], 2);
    assert_eq!(mine(&o, &o.rep).await.0, 0);

    // Paging newest first.
    let page = ok(
        &o.app,
        &o.rep,
        "{ notifications(first: 2) { pageInfo { hasNextPage endCursor } nodes { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(page["notifications"]["pageInfo"]["hasNextPage"], true);
    let rest = ok(
        &o.app,
        &o.rep,
        "query($a: String) { notifications(first: 2, after: $a) { pageInfo { hasNextPage } nodes { id } } }",
        json!({ "a": page["notifications"]["pageInfo"]["endCursor"] }),
    )
    .await;
    assert_eq!(rest["notifications"]["nodes"].as_array().unwrap().len(), 1);

    // Bad ids name the field; anonymous callers are refused.
    let (_, json) = o
        .app
        .gql(Some(&o.rep), mark, json!({ "ids": ["nope"] }))
        .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"), "{json}");
    let (_, json) = o
        .app
        .gql(None, "{ unreadNotificationCount }", json!({}))
        .await;
    assert_eq!(error_code(&json), Some("UNAUTHENTICATED"), "{json}");
}
