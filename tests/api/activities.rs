//! `activities` / `activity` and the activity mutations: the policy scopes rows in SQL (so
//! `totalCount` and pages are exact) and fills `viewerCan`; filters, ordering and keyset
//! pagination work over the scoped rows only; mutations validate every field at once, never
//! reveal records the actor cannot read, and write nothing when they fail.

use chrono::{DateTime, Duration, DurationRound, Utc};
use crm_testkit::Org;
use entity::activity;
use entity::enums::{ActivityType, DealStage, Role};
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, error_code};

/// Whole seconds, so values survive every backend's timestamp precision.
fn base_time() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(Duration::seconds(1))
        .expect("truncate")
}

struct Fixture {
    app: TestApp,
    /// The rows built so far (tests add more).
    org: Org,
    /// r1, sales rep in East (managed by m1), with r2; r3 is in West.
    rep: String,
    manager: String,
    admin: String,
    r1: Uuid,
    r2: Uuid,
    r3: Uuid,
    /// r1's company, deal and contact (readable by r1).
    r1_company: Uuid,
    r1_deal: Uuid,
    r1_contact: Uuid,
    /// r3's company, deal and contact (not readable by r1).
    r3_company: Uuid,
    r3_deal: Uuid,
    r3_contact: Uuid,
    /// Created by and assigned to r1; due in 2 days.
    own: Uuid,
    /// Created by r3, assigned to r1; due in 1 day.
    assigned: Uuid,
    /// Created by r2 on r1's deal; no due time.
    on_deal: Uuid,
    /// Created by r2, no links; due in 3 days.
    teammate: Uuid,
    /// Created by r3 on r3's deal; due in 4 days.
    west: Uuid,
    base: DateTime<Utc>,
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
    let r1_company = org
        .company()
        .name("Acme")
        .owner(r1.id)
        .insert(&app.db)
        .await
        .id;
    let r3_company = org
        .company()
        .name("Westco")
        .owner(r3.id)
        .insert(&app.db)
        .await
        .id;
    let r1_deal = org
        .deal()
        .company(r1_company)
        .owner(r1.id)
        .title("Acme deal")
        .amount_cents(100_000)
        .stage(DealStage::Proposal)
        .insert(&app.db)
        .await
        .id;
    let r3_deal = org
        .deal()
        .company(r3_company)
        .owner(r3.id)
        .title("West deal")
        .amount_cents(100_000)
        .stage(DealStage::Proposal)
        .insert(&app.db)
        .await
        .id;
    let r1_contact = org
        .contact()
        .first("Ann")
        .owner(r1.id)
        .company(r1_company)
        .insert(&app.db)
        .await
        .id;
    let r3_contact = org
        .contact()
        .first("Wes")
        .owner(r3.id)
        .company(r3_company)
        .insert(&app.db)
        .await
        .id;
    let base = base_time();
    let day = Duration::days(1);

    let own = org
        .activity()
        .subject("Call Ann about renewal")
        .created_by(r1.id)
        .kind(ActivityType::Call)
        .due_at(base + day * 2)
        .description("Discuss renewal")
        .insert(&app.db)
        .await
        .id;
    let assigned = org
        .activity()
        .subject("Send the West pricing sheet")
        .created_by(r3.id)
        .kind(ActivityType::Task)
        .due_at(base + day)
        .assigned_to(r1.id)
        .insert(&app.db)
        .await
        .id;
    let on_deal = org
        .activity()
        .subject("Kick-off meeting")
        .created_by(r2.id)
        .kind(ActivityType::Meeting)
        .deal(r1_deal)
        .completed_at(base)
        .insert(&app.db)
        .await
        .id;
    let teammate = org
        .activity()
        .subject("Email the board")
        .created_by(r2.id)
        .kind(ActivityType::Email)
        .due_at(base + day * 3)
        .unassigned()
        .insert(&app.db)
        .await
        .id;
    let west_activity = org
        .activity()
        .subject("West note")
        .created_by(r3.id)
        .kind(ActivityType::Note)
        .due_at(base + day * 4)
        .deal(r3_deal)
        .insert(&app.db)
        .await
        .id;

    let rep = app.login("r1@example.com", PASSWORD).await.0;
    let manager = app.login("m1@example.com", PASSWORD).await.0;
    let admin = app.login("admin@example.com", PASSWORD).await.0;
    Fixture {
        app,
        org,
        rep,
        manager,
        admin,
        r1: r1.id,
        r2: r2.id,
        r3: r3.id,
        r1_company,
        r1_deal,
        r1_contact,
        r3_company,
        r3_deal,
        r3_contact,
        own,
        assigned,
        on_deal,
        teammate,
        west: west_activity,
        base,
    }
}

const LIST: &str = "query($f: ActivityFilter, $o: [ActivityOrder!], $first: Int, $after: String, $last: Int, $before: String) {
  activities(filter: $f, orderBy: $o, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id type subject description dueAt completed completedAt priority status companyId contactId dealId
      createdById assignedToId version createdAt updatedAt viewerCan { update delete complete } } }
    nodes { id }
  }
}";

const FIELDS: &str = "id type subject description dueAt completed completedAt priority status companyId contactId dealId createdById assignedToId version createdAt updatedAt viewerCan { update delete complete }";

async fn list(app: &TestApp, token: &str, vars: Value) -> Value {
    let (_, json) = app.gql(Some(token), LIST, vars).await;
    assert!(json["errors"].is_null(), "{json}");
    json["data"]["activities"].clone()
}

fn ids(page: &Value) -> Vec<String> {
    page["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn strs(ids: &[Uuid]) -> Vec<String> {
    ids.iter().map(Uuid::to_string).collect()
}

fn node(page: &Value, id: Uuid) -> &Value {
    page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["id"] == id.to_string())
        .unwrap_or_else(|| panic!("{id} not listed"))
}

fn ts(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}")))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// Runs a mutation (or query) and returns the JSON.
async fn run(app: &TestApp, token: &str, doc: &str, vars: Value) -> Value {
    app.gql(Some(token), doc, vars).await.1
}

fn create_doc() -> String {
    format!("mutation($i: CreateActivityInput!) {{ createActivity(input: $i) {{ {FIELDS} }} }}")
}

fn update_doc() -> String {
    format!(
        "mutation($id: ID!, $i: UpdateActivityInput!) {{ updateActivity(id: $id, input: $i) {{ {FIELDS} }} }}"
    )
}

fn complete_doc() -> String {
    format!(
        "mutation($id: ID!, $v: Int) {{ completeActivity(id: $id, expectedVersion: $v) {{ {FIELDS} }} }}"
    )
}

const DELETE: &str = "mutation($id: ID!) { deleteActivity(id: $id) }";

/// The `(field, message)` pairs of a `BAD_USER_INPUT` error.
fn fields(json: &Value) -> Vec<(String, String)> {
    assert_eq!(error_code(json), Some("BAD_USER_INPUT"), "{json}");
    json["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no fields: {json}"))
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().to_owned(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn field_names(json: &Value) -> Vec<String> {
    let mut names: Vec<String> = fields(json).into_iter().map(|(f, _)| f).collect();
    names.sort();
    names
}

async fn stored(app: &TestApp, id: Uuid) -> Option<activity::Model> {
    activity::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .expect("load")
}

async fn row_count(app: &TestApp) -> u64 {
    activity::Entity::find()
        .count(&app.db)
        .await
        .expect("count")
}

#[tokio::test]
async fn read_rule_a_rep_sees_created_assigned_and_on_readable_records_only() {
    let o = org().await;
    let page = list(&o.app, &o.rep, json!({})).await;
    assert_eq!(page["totalCount"], 3);
    assert_eq!(
        sorted(ids(&page)),
        sorted(strs(&[o.own, o.assigned, o.on_deal]))
    );

    // Participant (creator or assignee): update and complete, never delete.
    for id in [o.own, o.assigned] {
        assert_eq!(
            node(&page, id)["viewerCan"],
            json!({"update": true, "delete": false, "complete": true})
        );
    }
    // Only a reader through the deal.
    assert_eq!(
        node(&page, o.on_deal)["viewerCan"],
        json!({"update": false, "delete": false, "complete": false})
    );

    // Every field of the type.
    let own = node(&page, o.own);
    assert_eq!(own["type"], "CALL");
    assert_eq!(own["subject"], "Call Ann about renewal");
    assert_eq!(own["description"], "Discuss renewal");
    assert_eq!(ts(&own["dueAt"]), o.base + Duration::days(2));
    assert_eq!(own["completed"], false);
    assert!(own["completedAt"].is_null());
    assert_eq!(own["createdById"], o.r1.to_string());
    assert_eq!(own["assignedToId"], o.r1.to_string());
    assert_eq!(own["version"], 1);
    assert!(own["companyId"].is_null() && own["contactId"].is_null() && own["dealId"].is_null());
    let on_deal = node(&page, o.on_deal);
    assert_eq!(on_deal["dealId"], o.r1_deal.to_string());
    assert_eq!(on_deal["completed"], true);
    assert_eq!(ts(&on_deal["completedAt"]), o.base);
    ts(&on_deal["createdAt"]);
    ts(&on_deal["updatedAt"]);

    // A teammate's unlinked activity and another team's are invisible, by id too.
    for id in [o.teammate, o.west] {
        let json = run(
            &o.app,
            &o.rep,
            "query($id: ID!) { activity(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
        assert!(json["errors"].is_null(), "{json}");
        assert!(json["data"]["activity"].is_null());
    }
    let json = run(
        &o.app,
        &o.rep,
        "query($id: ID!) { activity(id: $id) { id subject } }",
        json!({"id": o.own}),
    )
    .await;
    assert_eq!(
        json["data"]["activity"]["subject"],
        "Call Ann about renewal"
    );
    let json = run(
        &o.app,
        &o.rep,
        "query { activity(id: \"nope\") { id } }",
        json!({}),
    )
    .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"));
}

#[tokio::test]
async fn read_rule_on_a_readable_company_or_contact() {
    let mut o = org().await;
    // Created by r3 (other team) but on r1's company / contact: r1 reads them.
    let on_company = o
        .org
        .activity()
        .subject("On Acme")
        .created_by(o.r3)
        .company(o.r1_company)
        .insert(&o.app.db)
        .await
        .id;
    let on_contact = o
        .org
        .activity()
        .subject("On Ann")
        .created_by(o.r3)
        .contact(o.r1_contact)
        .insert(&o.app.db)
        .await
        .id;
    let hidden = o
        .org
        .activity()
        .subject("On Westco")
        .created_by(o.r3)
        .company(o.r3_company)
        .contact(o.r3_contact)
        .insert(&o.app.db)
        .await
        .id;
    let page = list(&o.app, &o.rep, json!({"f": {"createdBy": {"eq": o.r3}}})).await;
    assert_eq!(
        sorted(ids(&page)),
        sorted(strs(&[o.assigned, on_company, on_contact]))
    );
    assert!(!ids(&page).contains(&hidden.to_string()));
}

#[tokio::test]
async fn read_rule_a_manager_sees_the_team_and_an_admin_everything() {
    let o = org().await;
    let page = list(&o.app, &o.manager, json!({})).await;
    // Created by or assigned to East members (r1, r2).
    assert_eq!(page["totalCount"], 4);
    assert_eq!(
        sorted(ids(&page)),
        sorted(strs(&[o.own, o.assigned, o.on_deal, o.teammate]))
    );
    assert_eq!(
        node(&page, o.teammate)["viewerCan"],
        json!({"update": true, "delete": true, "complete": true})
    );

    // As a rep too: their own activity, even without a team of their own.
    let created = run(
        &o.app,
        &o.manager,
        &create_doc(),
        json!({"i": {"type": "NOTE", "subject": "Manager note"}}),
    )
    .await;
    assert!(created["errors"].is_null(), "{created}");
    assert_eq!(list(&o.app, &o.manager, json!({})).await["totalCount"], 5);

    let page = list(&o.app, &o.admin, json!({})).await;
    assert_eq!(page["totalCount"], 6);
    assert_eq!(
        node(&page, o.west)["viewerCan"],
        json!({"update": true, "delete": true, "complete": true})
    );

    let (_, json) = o.app.gql(None, LIST, json!({})).await;
    assert_eq!(error_code(&json), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn filters_use_every_operator_kind_and_combine() {
    let o = org().await;
    let count = |f: Value| {
        let app = &o.app;
        let token = o.admin.clone();
        async move {
            list(app, &token, json!({"f": f})).await["totalCount"]
                .as_u64()
                .unwrap()
        }
    };
    let day = Duration::days(1);
    let at = |d: i64| (o.base + day * d as i32).to_rfc3339();

    // Enum.
    assert_eq!(count(json!({"type": {"eq": "TASK"}})).await, 1);
    assert_eq!(count(json!({"type": {"in": ["CALL", "EMAIL"]}})).await, 2);
    assert_eq!(
        count(json!({"type": {"ne": "NOTE"}, "and": [{"type": {"notIn": ["CALL"]}}]})).await,
        3
    );
    // Strings: exact, case-insensitive contains / startsWith, ranges.
    assert_eq!(count(json!({"subject": {"eq": "West note"}})).await, 1);
    assert_eq!(count(json!({"subject": {"contains": "WEST"}})).await, 2);
    assert_eq!(count(json!({"subject": {"startsWith": "kick"}})).await, 1);
    assert_eq!(
        count(json!({"subject": {"in": ["West note", "Email the board"]}})).await,
        2
    );
    assert_eq!(count(json!({"subject": {"gte": "E", "lt": "S"}})).await, 2);
    // Timestamps.
    assert_eq!(count(json!({"dueAt": {"lt": at(3)}})).await, 2);
    assert_eq!(count(json!({"dueAt": {"gte": at(3)}})).await, 2);
    assert_eq!(
        count(json!({"dueAt": {"gt": at(1), "lte": at(3)}})).await,
        2
    );
    assert_eq!(count(json!({"dueAt": {"eq": at(4)}})).await, 1);
    assert_eq!(count(json!({"dueAt": {"isNull": true}})).await, 1);
    assert_eq!(count(json!({"completedAt": {"isNull": false}})).await, 1);
    assert_eq!(
        count(json!({"createdAt": {"lte": Utc::now().to_rfc3339()}})).await,
        5
    );
    assert_eq!(
        count(json!({"updatedAt": {"gt": Utc::now().to_rfc3339()}})).await,
        0
    );
    // Boolean.
    assert_eq!(count(json!({"completed": {"eq": true}})).await, 1);
    assert_eq!(count(json!({"completed": {"ne": true}})).await, 4);
    assert_eq!(count(json!({"completed": {"isNull": true}})).await, 0);
    // References.
    assert_eq!(
        count(json!({"dealId": {"in": [o.r1_deal, o.r3_deal]}})).await,
        2
    );
    assert_eq!(count(json!({"dealId": {"isNull": true}})).await, 3);
    assert_eq!(count(json!({"dealId": {"ne": o.r1_deal}})).await, 4);
    assert_eq!(count(json!({"companyId": {"eq": o.r1_company}})).await, 0);
    assert_eq!(count(json!({"contactId": {"isNull": false}})).await, 0);
    assert_eq!(count(json!({"createdBy": {"eq": o.r2}})).await, 2);
    assert_eq!(count(json!({"assignedTo": {"isNull": true}})).await, 1);
    assert_eq!(count(json!({"assignedTo": {"notIn": [o.r1]}})).await, 3);
    assert_eq!(count(json!({"id": {"eq": o.own}})).await, 1);
    // Combinators.
    assert_eq!(
        count(json!({"or": [{"type": {"eq": "CALL"}}, {"type": {"eq": "NOTE"}}]})).await,
        2
    );
    assert_eq!(count(json!({"not": {"createdBy": {"eq": o.r3}}})).await, 3);
    assert_eq!(
        count(json!({"or": [{"dueAt": {"isNull": true}}, {"and": [{"dueAt": {"lt": at(2)}}, {"not": {"completed": {"eq": true}}}]}]}))
            .await,
        2
    );

    // "My open tasks": the example of the ActivityFilter doc, for r1.
    let mine = list(
        &o.app,
        &o.rep,
        json!({"f": {"assignedTo": {"eq": o.r1}, "completed": {"eq": false}, "type": {"eq": "TASK"}}, "o": [{"field": "DUE_AT"}]}),
    )
    .await;
    assert_eq!(ids(&mine), strs(&[o.assigned]));
    // Filters never widen the scope.
    let west = list(&o.app, &o.rep, json!({"f": {"dealId": {"eq": o.r3_deal}}})).await;
    assert_eq!(west["totalCount"], 0);

    let (_, json) = o
        .app
        .gql(
            Some(&o.rep),
            LIST,
            json!({"f": {"createdBy": {"eq": "not-a-uuid"}}}),
        )
        .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"));
    assert_eq!(json["errors"][0]["extensions"]["field"], "filter.createdBy");
}

#[tokio::test]
async fn orders_default_to_due_time_with_empty_due_times_last() {
    let o = org().await;
    let order = |o_: Value| {
        let app = &o.app;
        let token = o.admin.clone();
        async move { ids(&list(app, &token, json!({"o": o_})).await) }
    };
    let by_due = strs(&[o.assigned, o.own, o.teammate, o.west, o.on_deal]);
    assert_eq!(order(Value::Null).await, by_due);
    assert_eq!(order(json!([{"field": "DUE_AT"}])).await, by_due);
    // Descending: empty first.
    let mut desc = by_due.clone();
    desc.reverse();
    assert_eq!(
        order(json!([{"field": "DUE_AT", "direction": "DESC"}])).await,
        desc
    );
    // Subject.
    assert_eq!(
        order(json!([{"field": "SUBJECT"}])).await,
        strs(&[o.own, o.teammate, o.on_deal, o.assigned, o.west])
    );

    // Created/updated time: set distinct times below the API.
    for (i, id) in [o.west, o.own, o.teammate, o.assigned, o.on_deal]
        .into_iter()
        .enumerate()
    {
        let mut am = activity::ActiveModel {
            id: sea_orm::Unchanged(id),
            ..Default::default()
        };
        am.created_at = Set(o.base - Duration::hours(10 - i as i64));
        am.updated_at = Set(o.base - Duration::hours(i as i64));
        am.update(&o.app.db).await.expect("set times");
    }
    assert_eq!(
        order(json!([{"field": "CREATED_AT"}])).await,
        strs(&[o.west, o.own, o.teammate, o.assigned, o.on_deal])
    );
    assert_eq!(
        order(json!([{"field": "UPDATED_AT", "direction": "DESC"}])).await,
        strs(&[o.west, o.own, o.teammate, o.assigned, o.on_deal])
    );
    // Several keys: completed ones have no due time, so the second key decides among them.
    assert_eq!(
        order(json!([{"field": "DUE_AT", "direction": "DESC"}, {"field": "SUBJECT"}])).await[0],
        o.on_deal.to_string()
    );
}

#[tokio::test]
async fn keyset_pages_stay_exact_with_ties_and_inserts_between_pages() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let rep = org
        .user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let due = base_time() + Duration::days(1);
    // 8 with the same due time (ties broken by id), 6 later, 4 without.
    for i in 0..18 {
        let due_at = match i {
            0..8 => Some(due),
            8..14 => Some(due + Duration::hours(i)),
            _ => None,
        };
        org.activity()
            .subject(format!("A{i:02}"))
            .created_by(rep.id)
            .due_at(due_at)
            .insert(&app.db)
            .await;
    }
    let token = app.login("rep@example.com", PASSWORD).await.0;
    let all = list(&app, &token, json!({"first": 100})).await;
    let want = ids(&all);
    assert_eq!(want.len(), 18);
    assert_eq!(all["pageInfo"]["hasNextPage"], false);

    let p1 = list(&app, &token, json!({"first": 5})).await;
    assert_eq!(p1["totalCount"], 18);
    assert_eq!(p1["pageInfo"]["hasNextPage"], true);
    assert_eq!(p1["pageInfo"]["hasPreviousPage"], false);
    // A row sorting before the cursor arrives: later pages neither repeat nor skip.
    org.activity()
        .subject("Early")
        .created_by(rep.id)
        .due_at(due - Duration::hours(1))
        .insert(&app.db)
        .await;
    let mut got = ids(&p1);
    let mut after = p1["pageInfo"]["endCursor"].clone();
    loop {
        let p = list(&app, &token, json!({"first": 5, "after": after})).await;
        assert_eq!(p["pageInfo"]["hasPreviousPage"], true);
        got.extend(ids(&p));
        if p["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = p["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(got, want);

    // Backwards from the end.
    let last = list(&app, &token, json!({"last": 4})).await;
    assert_eq!(ids(&last), want[14..]);
    assert_eq!(last["pageInfo"]["hasPreviousPage"], true);
    let before = list(
        &app,
        &token,
        json!({"last": 6, "before": last["pageInfo"]["startCursor"]}),
    )
    .await;
    assert_eq!(ids(&before), want[8..14]);
    // Edge cursors continue the list.
    let cursor = &before["edges"][0]["cursor"];
    let next = list(&app, &token, json!({"first": 2, "after": cursor})).await;
    assert_eq!(ids(&next), want[9..11]);

    for bad in [
        json!({"first": 101}),
        json!({"first": 1, "last": 1}),
        json!({"after": "garbage"}),
    ] {
        let (_, json) = app.gql(Some(&token), LIST, bad.clone()).await;
        assert_eq!(error_code(&json), Some("BAD_USER_INPUT"), "{bad}");
    }
    // A cursor of another order is refused, not misread.
    let (_, json) = app
        .gql(Some(&token), LIST, json!({"o": [{"field": "SUBJECT"}, {"field": "CREATED_AT"}], "after": p1["pageInfo"]["endCursor"]}))
        .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"));
}

#[tokio::test]
async fn create_rule_a_participant_logs_activities_on_readable_records() {
    let o = org().await;
    // Minimal: created by and assigned to the actor, subject trimmed.
    let json = run(
        &o.app,
        &o.rep,
        &create_doc(),
        json!({"i": {"type": "TASK", "subject": "  Follow up  "}}),
    )
    .await;
    let a = &json["data"]["createActivity"];
    assert!(json["errors"].is_null(), "{json}");
    assert_eq!(a["subject"], "Follow up");
    assert_eq!(a["type"], "TASK");
    assert_eq!(a["createdById"], o.r1.to_string());
    assert_eq!(a["assignedToId"], o.r1.to_string());
    assert_eq!(a["version"], 1);
    assert_eq!(a["completed"], false);
    assert!(a["completedAt"].is_null() && a["dueAt"].is_null() && a["description"].is_null());
    assert_eq!(
        a["viewerCan"],
        json!({"update": true, "delete": false, "complete": true})
    );

    // Everything: readable links, a teammate as assignee, already completed.
    let due = (o.base + Duration::days(5)).to_rfc3339();
    let json = run(
        &o.app,
        &o.rep,
        &create_doc(),
        json!({"i": {"type": "CALL", "subject": "Logged call", "description": "Went well", "dueAt": due,
            "completed": true, "dealId": o.r1_deal, "companyId": o.r1_company, "contactId": o.r1_contact,
            "assignedToId": o.r2}}),
    )
    .await;
    assert!(json["errors"].is_null(), "{json}");
    let a = &json["data"]["createActivity"];
    assert_eq!(a["dealId"], o.r1_deal.to_string());
    assert_eq!(a["companyId"], o.r1_company.to_string());
    assert_eq!(a["contactId"], o.r1_contact.to_string());
    assert_eq!(a["assignedToId"], o.r2.to_string());
    assert_eq!(a["description"], "Went well");
    assert_eq!(ts(&a["dueAt"]), o.base + Duration::days(5));
    assert_eq!(a["completed"], true);
    assert!(ts(&a["completedAt"]) <= Utc::now());
    let id: Uuid = a["id"].as_str().unwrap().parse().unwrap();
    let row = stored(&o.app, id).await.expect("stored");
    assert_eq!(row.created_by, o.r1);
    assert_eq!(list(&o.app, &o.rep, json!({})).await["totalCount"], 5);

    let json = run(
        &o.app,
        &o.rep,
        &create_doc(),
        json!({"i": {"type": "NOTE", "subject": "x"}}),
    )
    .await;
    assert!(json["errors"].is_null());
    let (_, json) = o
        .app
        .gql(
            None,
            &create_doc(),
            json!({"i": {"type": "NOTE", "subject": "x"}}),
        )
        .await;
    assert_eq!(error_code(&json), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn create_refuses_links_to_unreadable_records_like_missing_ones() {
    let o = org().await;
    let before = row_count(&o.app).await;
    let unreadable = run(
        &o.app,
        &o.rep,
        &create_doc(),
        json!({"i": {"type": "TASK", "subject": "Sneak", "dealId": o.r3_deal, "companyId": o.r3_company, "contactId": o.r3_contact}}),
    )
    .await;
    let missing = run(
        &o.app,
        &o.rep,
        &create_doc(),
        json!({"i": {"type": "TASK", "subject": "Sneak", "dealId": Uuid::new_v4(), "companyId": Uuid::new_v4(), "contactId": Uuid::new_v4()}}),
    )
    .await;
    let mut want = vec![
        ("companyId".to_owned(), "no such company".to_owned()),
        ("contactId".to_owned(), "no such contact".to_owned()),
        ("dealId".to_owned(), "no such deal".to_owned()),
    ];
    want.sort();
    let mut got = fields(&unreadable);
    got.sort();
    assert_eq!(got, want);
    // Indistinguishable from records that do not exist.
    assert_eq!(
        unreadable["errors"][0]["message"],
        missing["errors"][0]["message"]
    );
    assert_eq!(row_count(&o.app).await, before);

    // The same records are fine for someone who can read them.
    let json = run(
        &o.app,
        &o.admin,
        &create_doc(),
        json!({"i": {"type": "TASK", "subject": "Ok", "dealId": o.r3_deal}}),
    )
    .await;
    assert!(json["errors"].is_null(), "{json}");
}

#[tokio::test]
async fn create_validates_every_field_and_reports_all_problems_together() {
    let mut o = org().await;
    let inactive = o
        .org
        .user()
        .email("gone@example.com")
        .role(Role::SalesRep)
        .inactive()
        .insert(&o.app.db)
        .await;
    let before = row_count(&o.app).await;
    let check = |input: Value, want: &'static [&'static str]| {
        let app = &o.app;
        let token = o.rep.clone();
        async move {
            let json = run(app, &token, &create_doc(), json!({"i": input})).await;
            assert_eq!(field_names(&json), want, "{json}");
            assert!(json["data"].is_null() || json["data"]["createActivity"].is_null());
        }
    };
    // One rule at a time.
    check(json!({"subject": "No type"}), &["type"]).await;
    check(json!({"type": "TASK"}), &["subject"]).await;
    check(json!({"type": "TASK", "subject": "   "}), &["subject"]).await;
    check(
        json!({"type": "TASK", "subject": "x".repeat(201)}),
        &["subject"],
    )
    .await;
    check(
        json!({"type": "TASK", "subject": "ok", "description": "d".repeat(10_001)}),
        &["description"],
    )
    .await;
    check(
        json!({"type": "TASK", "subject": "ok", "assignedToId": inactive.id}),
        &["assignedToId"],
    )
    .await;
    check(
        json!({"type": "TASK", "subject": "ok", "assignedToId": Uuid::new_v4()}),
        &["assignedToId"],
    )
    .await;
    // All at once.
    check(
        json!({"subject": " ", "description": "d".repeat(10_001), "assignedToId": inactive.id, "dealId": o.r3_deal}),
        &["assignedToId", "dealId", "description", "subject", "type"],
    )
    .await;
    // Malformed ids, all reported.
    check(
        json!({"type": "TASK", "subject": "ok", "dealId": "x", "assignedToId": "y"}),
        &["assignedToId", "dealId"],
    )
    .await;
    assert_eq!(
        row_count(&o.app).await,
        before,
        "a failed create writes nothing"
    );

    // The limits themselves are fine.
    let json = run(
        &o.app,
        &o.rep,
        &create_doc(),
        json!({"i": {"type": "TASK", "subject": "s".repeat(200), "description": "d".repeat(10_000)}}),
    )
    .await;
    assert!(json["errors"].is_null(), "{json}");
}

#[tokio::test]
async fn update_rule_participants_edit_and_versions_guard_every_write() {
    let o = org().await;
    let due = (o.base + Duration::days(9)).to_rfc3339();
    let json = run(
        &o.app,
        &o.rep,
        &update_doc(),
        json!({"id": o.own, "i": {"subject": " Call Ann again ", "type": "MEETING", "dueAt": due, "description": null,
            "dealId": o.r1_deal, "companyId": o.r1_company, "contactId": o.r1_contact, "assignedToId": o.r2, "expectedVersion": 1}}),
    )
    .await;
    assert!(json["errors"].is_null(), "{json}");
    let a = &json["data"]["updateActivity"];
    assert_eq!(a["subject"], "Call Ann again");
    assert_eq!(a["type"], "MEETING");
    assert!(a["description"].is_null());
    assert_eq!(ts(&a["dueAt"]), o.base + Duration::days(9));
    assert_eq!(a["dealId"], o.r1_deal.to_string());
    assert_eq!(a["companyId"], o.r1_company.to_string());
    assert_eq!(a["contactId"], o.r1_contact.to_string());
    assert_eq!(a["assignedToId"], o.r2.to_string());
    assert_eq!(a["version"], 2);
    assert!(ts(&a["updatedAt"]) > ts(&a["createdAt"]));
    // Still the creator: still a participant.
    assert_eq!(a["viewerCan"]["update"], true);

    // Omitted fields stay; null clears optional ones.
    let json = run(
        &o.app,
        &o.rep,
        &update_doc(),
        json!({"id": o.own, "i": {"dueAt": null, "dealId": null, "assignedToId": null}}),
    )
    .await;
    let a = &json["data"]["updateActivity"];
    assert!(json["errors"].is_null(), "{json}");
    assert!(a["dueAt"].is_null() && a["dealId"].is_null() && a["assignedToId"].is_null());
    assert_eq!(a["companyId"], o.r1_company.to_string());
    assert_eq!(a["subject"], "Call Ann again");
    assert_eq!(a["version"], 3);

    // The assignee (not creator) may update too.
    let json = run(
        &o.app,
        &o.rep,
        &update_doc(),
        json!({"id": o.assigned, "i": {"subject": "Sent?"}}),
    )
    .await;
    assert!(json["errors"].is_null(), "{json}");

    // A stale version: CONFLICT on expectedVersion, nothing written.
    let before = stored(&o.app, o.own).await.unwrap();
    let json = run(
        &o.app,
        &o.rep,
        &update_doc(),
        json!({"id": o.own, "i": {"subject": "Lost update", "expectedVersion": 2}}),
    )
    .await;
    assert_eq!(error_code(&json), Some("CONFLICT"));
    assert_eq!(json["errors"][0]["extensions"]["field"], "expectedVersion");
    assert_eq!(stored(&o.app, o.own).await.unwrap(), before);
}

#[tokio::test]
async fn update_and_delete_refuse_unreadable_as_missing_and_unallowed_as_forbidden() {
    let o = org().await;
    let before_deal = stored(&o.app, o.on_deal).await.unwrap();
    // Readable through the deal, but not a participant.
    let json = run(
        &o.app,
        &o.rep,
        &update_doc(),
        json!({"id": o.on_deal, "i": {"subject": "Mine now"}}),
    )
    .await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"));
    assert_eq!(stored(&o.app, o.on_deal).await.unwrap(), before_deal);
    // Not readable at all: indistinguishable from missing.
    for id in [o.west, o.teammate, Uuid::new_v4()] {
        let json = run(
            &o.app,
            &o.rep,
            &update_doc(),
            json!({"id": id, "i": {"subject": "Mine now"}}),
        )
        .await;
        assert_eq!(error_code(&json), Some("NOT_FOUND"), "{json}");
        let json = run(&o.app, &o.rep, DELETE, json!({"id": id})).await;
        assert_eq!(error_code(&json), Some("NOT_FOUND"), "{json}");
    }

    // delete rule: reps never delete, even their own.
    let json = run(&o.app, &o.rep, DELETE, json!({"id": o.own})).await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"));
    assert!(stored(&o.app, o.own).await.is_some());
    // Managers delete their team's; not other teams'.
    let json = run(&o.app, &o.manager, DELETE, json!({"id": o.teammate})).await;
    assert_eq!(
        json["data"]["deleteActivity"],
        o.teammate.to_string(),
        "{json}"
    );
    assert!(stored(&o.app, o.teammate).await.is_none());
    let json = run(&o.app, &o.manager, DELETE, json!({"id": o.west})).await;
    assert_eq!(error_code(&json), Some("NOT_FOUND"));
    // Managers update their team's.
    let json = run(
        &o.app,
        &o.manager,
        &update_doc(),
        json!({"id": o.on_deal, "i": {"subject": "Kick-off (moved)"}}),
    )
    .await;
    assert!(json["errors"].is_null(), "{json}");
    // Admins delete anything.
    let json = run(&o.app, &o.admin, DELETE, json!({"id": o.west})).await;
    assert_eq!(json["data"]["deleteActivity"], o.west.to_string());
    let json = run(
        &o.app,
        &o.admin,
        "query($id: ID!) { activity(id: $id) { id } }",
        json!({"id": o.west}),
    )
    .await;
    assert!(json["data"]["activity"].is_null());
}

#[tokio::test]
async fn update_validates_everything_at_once_and_writes_nothing_on_failure() {
    let o = org().await;
    let before = stored(&o.app, o.own).await.unwrap();
    let json = run(
        &o.app,
        &o.rep,
        &update_doc(),
        json!({"id": o.own, "i": {"subject": "", "description": "d".repeat(10_001), "dealId": o.r3_deal,
            "companyId": o.r3_company, "contactId": Uuid::new_v4(), "assignedToId": Uuid::new_v4(), "type": "NOTE",
            "completed": true, "expectedVersion": 1}}),
    )
    .await;
    assert_eq!(
        field_names(&json),
        [
            "assignedToId",
            "companyId",
            "contactId",
            "dealId",
            "description",
            "subject"
        ]
    );
    let f = fields(&json);
    assert!(f.contains(&("dealId".to_owned(), "no such deal".to_owned())));
    assert_eq!(
        stored(&o.app, o.own).await.unwrap(),
        before,
        "nothing written"
    );
    let json = run(
        &o.app,
        &o.rep,
        &update_doc(),
        json!({"id": o.own, "i": {"subject": "x".repeat(201)}}),
    )
    .await;
    assert_eq!(field_names(&json), ["subject"]);
    let json = run(
        &o.app,
        &o.rep,
        &update_doc(),
        json!({"id": o.own, "i": {"dealId": "nope"}}),
    )
    .await;
    assert_eq!(field_names(&json), ["dealId"]);
    let json = run(
        &o.app,
        &o.rep,
        &update_doc(),
        json!({"id": "nope", "i": {}}),
    )
    .await;
    assert_eq!(field_names(&json), ["id"]);
    assert_eq!(stored(&o.app, o.own).await.unwrap(), before);
}

#[tokio::test]
async fn complete_rule_completing_and_reopening_maintain_completed_at() {
    let o = org().await;
    // Stale version first: nothing written.
    let json = run(
        &o.app,
        &o.rep,
        &complete_doc(),
        json!({"id": o.own, "v": 7}),
    )
    .await;
    assert_eq!(error_code(&json), Some("CONFLICT"));
    assert_eq!(json["errors"][0]["extensions"]["field"], "expectedVersion");
    assert!(!stored(&o.app, o.own).await.unwrap().completed);

    let json = run(
        &o.app,
        &o.rep,
        &complete_doc(),
        json!({"id": o.own, "v": 1}),
    )
    .await;
    assert!(json["errors"].is_null(), "{json}");
    let a = &json["data"]["completeActivity"];
    assert_eq!(a["completed"], true);
    assert_eq!(a["version"], 2);
    let completed_at = ts(&a["completedAt"]);
    assert!(completed_at >= o.base && completed_at <= Utc::now());
    // Completing again changes nothing.
    let json = run(&o.app, &o.rep, &complete_doc(), json!({"id": o.own})).await;
    assert_eq!(json["data"]["completeActivity"]["version"], 2);
    assert_eq!(
        ts(&json["data"]["completeActivity"]["completedAt"]),
        completed_at
    );

    // Reopen through updateActivity: completedAt cleared.
    let json = run(
        &o.app,
        &o.rep,
        &update_doc(),
        json!({"id": o.own, "i": {"completed": false, "expectedVersion": 2}}),
    )
    .await;
    let a = &json["data"]["updateActivity"];
    assert!(json["errors"].is_null(), "{json}");
    assert_eq!(a["completed"], false);
    assert!(a["completedAt"].is_null());
    assert_eq!(a["version"], 3);
    // And complete through updateActivity: completedAt set again.
    let json = run(
        &o.app,
        &o.rep,
        &update_doc(),
        json!({"id": o.own, "i": {"completed": true}}),
    )
    .await;
    assert!(
        json["data"]["updateActivity"]["completedAt"].is_string(),
        "{json}"
    );

    // The assignee completes too; a mere reader may not; others do not see it.
    let json = run(&o.app, &o.rep, &complete_doc(), json!({"id": o.assigned})).await;
    assert_eq!(
        json["data"]["completeActivity"]["completed"], true,
        "{json}"
    );
    let json = run(
        &o.app,
        &o.rep,
        &update_doc(),
        json!({"id": o.on_deal, "i": {"completed": false}}),
    )
    .await;
    assert_eq!(error_code(&json), Some("FORBIDDEN"));
    assert!(stored(&o.app, o.on_deal).await.unwrap().completed);
    let json = run(&o.app, &o.rep, &complete_doc(), json!({"id": o.teammate})).await;
    assert_eq!(error_code(&json), Some("NOT_FOUND"));
    // The team's manager completes it.
    let json = run(
        &o.app,
        &o.manager,
        &complete_doc(),
        json!({"id": o.teammate}),
    )
    .await;
    assert_eq!(
        json["data"]["completeActivity"]["completed"], true,
        "{json}"
    );
    assert!(
        stored(&o.app, o.teammate)
            .await
            .unwrap()
            .completed_at
            .is_some()
    );
}

#[tokio::test]
async fn concurrent_updates_of_one_version_let_exactly_one_through() {
    let o = org().await;
    let doc = update_doc();
    let go = |subject: &'static str| {
        run(
            &o.app,
            &o.rep,
            &doc,
            json!({"id": o.own, "i": {"subject": subject, "expectedVersion": 1}}),
        )
    };
    let (a, b, c, d) = tokio::join!(go("A"), go("B"), go("C"), go("D"));
    let results = [a, b, c, d];
    let ok = results.iter().filter(|j| j["errors"].is_null()).count();
    let conflicts = results
        .iter()
        .filter(|j| error_code(j) == Some("CONFLICT"))
        .count();
    assert_eq!((ok, conflicts), (1, 3), "{results:?}");
    assert_eq!(stored(&o.app, o.own).await.unwrap().version, 2);
}

#[tokio::test]
async fn priority_and_status_are_stored_filtered_ordered_and_agree_with_completion() {
    let o = org().await;
    let (app, rep) = (&o.app, &o.rep);
    // Defaults: medium, pending; or completed when created completed.
    let plain = run(
        app,
        rep,
        &create_doc(),
        json!({"i": {"type": "TASK", "subject": "Plain"}}),
    )
    .await;
    let plain = &plain["data"]["createActivity"];
    assert_eq!(
        (&plain["priority"], &plain["status"]),
        (&json!("MEDIUM"), &json!("PENDING"))
    );
    let logged = run(
        app,
        rep,
        &create_doc(),
        json!({"i": {"type": "CALL", "subject": "Logged", "completed": true, "priority": "LOW"}}),
    )
    .await;
    let logged = &logged["data"]["createActivity"];
    assert_eq!(
        (&logged["priority"], &logged["status"]),
        (&json!("LOW"), &json!("COMPLETED"))
    );
    // A completed status completes; in progress stays open.
    let done = run(
        app,
        rep,
        &create_doc(),
        json!({"i": {"type": "TASK", "subject": "Done", "status": "COMPLETED", "priority": "HIGH"}}),
    )
    .await;
    let done = &done["data"]["createActivity"];
    assert_eq!(done["completed"], true, "{done}");
    assert!(done["completedAt"].is_string());
    let busy = run(
        app,
        rep,
        &create_doc(),
        json!({"i": {"type": "TASK", "subject": "Busy", "status": "IN_PROGRESS", "priority": "HIGH"}}),
    )
    .await;
    let busy = &busy["data"]["createActivity"];
    assert_eq!(
        (&busy["completed"], &busy["status"]),
        (&json!(false), &json!("IN_PROGRESS"))
    );

    // A status contradicting `completed` is refused, naming the field; nothing written.
    let before = row_count(app).await;
    let bad = run(
        app,
        rep,
        &create_doc(),
        json!({"i": {"type": "TASK", "subject": "Bad", "completed": true, "status": "PENDING"}}),
    )
    .await;
    assert_eq!(field_names(&bad), ["status"]);
    assert_eq!(row_count(app).await, before);
    let busy_id = busy["id"].as_str().unwrap();
    let bad = run(
        app,
        rep,
        &update_doc(),
        json!({"id": busy_id, "i": {"completed": false, "status": "COMPLETED"}}),
    )
    .await;
    assert_eq!(field_names(&bad), ["status"]);
    assert_eq!(
        stored(app, busy_id.parse().unwrap()).await.unwrap().version,
        1
    );

    // Updates: status COMPLETED completes, `completed: false` reopens as pending,
    // `completed: false` with IN_PROGRESS reopens in progress; the flag and status agree.
    let step = |vars: Value| async move {
        let json = run(app, rep, &update_doc(), vars).await;
        assert!(json["errors"].is_null(), "{json}");
        json["data"]["updateActivity"].clone()
    };
    let a = step(json!({"id": busy_id, "i": {"status": "COMPLETED"}})).await;
    assert_eq!(
        (&a["completed"], &a["status"]),
        (&json!(true), &json!("COMPLETED"))
    );
    assert!(a["completedAt"].is_string());
    let a = step(json!({"id": busy_id, "i": {"completed": false}})).await;
    assert_eq!(
        (&a["completed"], &a["status"]),
        (&json!(false), &json!("PENDING"))
    );
    assert!(a["completedAt"].is_null());
    let a = step(json!({"id": busy_id, "i": {"status": "IN_PROGRESS", "priority": "LOW"}})).await;
    assert_eq!(
        (&a["status"], &a["priority"]),
        (&json!("IN_PROGRESS"), &json!("LOW"))
    );
    let a = step(json!({"id": busy_id, "i": {"completed": true}})).await;
    assert_eq!(a["status"], "COMPLETED");
    let a = step(json!({"id": busy_id, "i": {"completed": false, "status": "IN_PROGRESS"}})).await;
    assert_eq!(
        (&a["completed"], &a["status"]),
        (&json!(false), &json!("IN_PROGRESS"))
    );
    // completeActivity sets the status too; the history records both fields.
    let c = run(app, rep, &complete_doc(), json!({"id": busy_id})).await;
    assert_eq!(c["data"]["completeActivity"]["status"], "COMPLETED", "{c}");
    let history = run(
        app,
        &o.admin,
        "query($id: ID!) { activity(id: $id) { history(first: 20) { nodes { changes { field from to } } } } }",
        json!({"id": busy_id}),
    )
    .await;
    let changed: Vec<&str> = history["data"]["activity"]["history"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|n| n["changes"].as_array().unwrap())
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert!(
        changed.contains(&"status") && changed.contains(&"priority"),
        "{history}"
    );

    // Filters and order: the new ones among the rep's activities.
    let mine = json!({"subject": {"in": ["Plain", "Logged", "Done", "Busy"]}});
    let open = list(
        app,
        rep,
        json!({"f": {"and": [mine.clone(), {"status": {"in": ["PENDING", "IN_PROGRESS"]}}]}}),
    )
    .await;
    assert_eq!(
        sorted(ids(&open)),
        sorted(vec![plain["id"].as_str().unwrap().to_owned()])
    );
    let high = list(
        app,
        rep,
        json!({"f": {"and": [mine.clone(), {"priority": {"eq": "HIGH"}}]}}),
    )
    .await;
    assert_eq!(high["totalCount"], 1, "{high}");
    // By priority (urgency, not the alphabet), then subject.
    let ordered = list(
        app,
        rep,
        json!({"f": mine.clone(), "o": [{"field": "PRIORITY", "direction": "DESC"}, {"field": "SUBJECT"}]}),
    )
    .await;
    let subjects: Vec<&str> = ordered["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["Done", "Plain", "Busy", "Logged"], "{ordered}");
    // By status, pages of one: keyset cursors over the ranked column.
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = list(
            app,
            rep,
            json!({"f": mine.clone(), "o": [{"field": "STATUS"}], "first": 1, "after": after}),
        )
        .await;
        seen.extend(
            page["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["status"].as_str().unwrap().to_owned()),
        );
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, ["PENDING", "COMPLETED", "COMPLETED", "COMPLETED"]);
}
