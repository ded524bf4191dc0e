//! Workflow automations: set up by admins, checked in full when saved, fired by the writes
//! that record their trigger's event (in its transaction), run as jobs by the instance's
//! worker with retries, against a real SMTP server and a real HTTP receiver started here;
//! every action decided by the policy for the people it involves.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use crm_testkit::Org;
use entity::enums::Role;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, error_code};

// ---------------------------------------------------------------------------------------
// A local SMTP server and a webhook receiver
// ---------------------------------------------------------------------------------------

/// One message the SMTP server accepted.
#[derive(Clone, Debug)]
struct Mail {
    to: Vec<String>,
    data: String,
}

/// A minimal SMTP server (enough for lettre: EHLO, MAIL, RCPT, DATA, QUIT) on loopback;
/// stops with the test's runtime.
async fn smtp_server() -> (u16, Arc<Mutex<Vec<Mail>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
    let store = mails.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 localhost ESMTP test\r\n").await;
                let mut to = Vec::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250-localhost\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("MAIL FROM") {
                        to.clear();
                        b"250 OK\r\n"
                    } else if upper.starts_with("RCPT TO") {
                        to.push(line[8..].trim().trim_matches(['<', '>']).to_owned());
                        b"250 OK\r\n"
                    } else if upper.starts_with("DATA") {
                        let _ = write.write_all(b"354 go on\r\n").await;
                        let mut data = String::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push_str(&l);
                            data.push('\n');
                        }
                        store.lock().unwrap().push(Mail {
                            to: to.clone(),
                            data,
                        });
                        b"250 queued\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"250 OK\r\n"
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, mails)
}

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Hook {
    headers: HeaderMap,
    body: Vec<u8>,
}

/// An HTTP receiver on loopback: `/hook` answers `status` and records every request;
/// `/moved` redirects to `/hook` (307).
async fn receiver(status: u16) -> (String, Arc<Mutex<Vec<Hook>>>) {
    let hooks: Arc<Mutex<Vec<Hook>>> = Arc::default();
    let store = hooks.clone();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let store = store.clone();
                async move {
                    store.lock().unwrap().push(Hook {
                        headers,
                        body: body.to_vec(),
                    });
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            }),
        )
        .route(
            "/moved",
            axum::routing::post(|| async { axum::response::Redirect::temporary("/hook") }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), hooks)
}

/// HMAC-SHA256 (RFC 2104), written out here so the test does not trust the server's own.
fn hmac_sha256(key: &[u8], message: &[u8]) -> String {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------
// The organisation
// ---------------------------------------------------------------------------------------

struct Fixture {
    app: TestApp,
    admin: String,
    rep: String,
    west_rep: String,
    r1: Uuid,
    r2: Uuid,
    r3: Uuid,
    /// r1's company (state CA) and deal.
    company: Uuid,
    deal: Uuid,
}

async fn fixture(adjust: impl FnOnce(&mut api::config::Config)) -> Fixture {
    let app = TestApp::with_config(|c| {
        c.webhook_allowed_hosts = vec!["127.0.0.1".into()];
        c.job_retry_base_ms = 20;
        adjust(c);
    })
    .await;
    let mut org = Org::new();
    org.user()
        .email("admin@example.com")
        .name("Ada Admin")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    let m1 = org
        .user()
        .email("m1@example.com")
        .name("Mia Manager")
        .role(Role::Manager)
        .insert(&app.db)
        .await;
    let east = org.team().name("East").manager(m1.id).insert(&app.db).await;
    let west = org.team().name("West").insert(&app.db).await;
    let mut reps = Vec::new();
    for (email, name, team) in [
        ("r1@example.com", "Rita Rep", east.id),
        ("r2@example.com", "Rob Rep", east.id),
        ("r3@example.com", "Wes West", west.id),
    ] {
        let rep = org
            .user()
            .email(email)
            .name(name)
            .role(Role::SalesRep)
            .team(team);
        reps.push(rep.insert(&app.db).await);
    }
    let admin = app.login("admin@example.com", PASSWORD).await.0;
    let rep = app.login("r1@example.com", PASSWORD).await.0;
    let west_rep = app.login("r3@example.com", PASSWORD).await.0;
    let company = ok(
        &app,
        &rep,
        "mutation { createCompany(input: {name: \"Acme\", state: \"CA\", country: \"US\"}) { id } }",
        json!({}),
    )
    .await["createCompany"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let deal = ok(
        &app,
        &rep,
        "mutation($c: ID!) { createDeal(input: {companyId: $c, title: \"Acme renewal\", amount: \"12000\"}) { id } }",
        json!({ "c": company }),
    )
    .await["createDeal"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    Fixture {
        admin,
        rep,
        west_rep,
        r1: reps[0].id,
        r2: reps[1].id,
        r3: reps[2].id,
        company,
        deal,
        app,
    }
}

async fn ok(app: &TestApp, token: &str, query: &str, vars: Value) -> Value {
    let (_, json) = app.gql(Some(token), query, vars).await;
    assert!(json["errors"].is_null(), "{json}");
    json["data"].clone()
}

const CREATE: &str = "mutation($i: AutomationInput!) { createAutomation(input: $i) { id name enabled trigger dealCondition schedule version actions { createActivity { type subject description } notify { recipients title body } email { recipients subject body } webhook { url hasSecret format } assignOwner { rules { field value ownerId } defaultOwnerId } } } }";

async fn create(o: &Fixture, input: Value) -> String {
    ok(&o.app, &o.admin, CREATE, json!({ "i": input })).await["createAutomation"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

const RUNS: &str = "query($a: ID!, $after: ID) { automationRuns(automationId: $a, first: 100, after: $after) { hasNextPage endCursor nodes { id jobId attempt status message startedAt finishedAt } } }";

/// The automation's runs, oldest first, once `done(runs)` holds (at most 15 s).
async fn runs_until(o: &Fixture, automation: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let data = ok(&o.app, &o.admin, RUNS, json!({ "a": automation })).await;
        let mut runs = data["automationRuns"]["nodes"].as_array().unwrap().clone();
        runs.reverse();
        if done(&runs) {
            return runs;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "runs never got there: {runs:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn statuses(runs: &[Value]) -> Vec<&str> {
    runs.iter().map(|r| r["status"].as_str().unwrap()).collect()
}

const MOVE: &str =
    "mutation($id: ID!, $s: DealStage!) { moveDeal(id: $id, stage: $s) { id stage } }";

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_stage_change_logs_a_note_notifies_emails_and_calls_a_signed_webhook() {
    let (smtp, mails) = smtp_server().await;
    let o = fixture(|c| c.smtp_url = Some(format!("smtp://127.0.0.1:{smtp}"))).await;
    let (url, hooks) = receiver(200).await;
    let created = ok(
        &o.app,
        &o.admin,
        CREATE,
        json!({ "i": {
            "name": "Stage change",
            "trigger": "DEAL_STAGE_CHANGED",
            "dealCondition": { "stage": { "in": ["NEGOTIATION", "CLOSED_WON"] } },
            "actions": [
                { "createActivity": { "type": "NOTE", "subject": "Moved to {{ deal.stage }}",
                    "description": "From {{ previous.stage }} by {{ actor.name }}" } },
                { "notify": { "recipients": ["OWNER"], "title": "{{ deal.title }} moved",
                    "body": "{{ deal.title }} is now {{ deal.stage }} ({{ deal.amount }})" } },
                { "email": { "recipients": ["OWNER", "TEAM_MANAGER"],
                    "subject": "{{ deal.title }}: {{ deal.stage }}",
                    "body": "Hello {{ recipient.name }}, {{ actor.name }} moved {{ deal.title }} ({{ company.name }}) to {{ deal.stage }}. {{ deal.url }}" } },
                { "webhook": { "url": url, "secret": "s3cret", "format": "SLACK" } }
            ]
        }}),
    )
    .await["createAutomation"]
        .clone();
    assert_eq!(created["trigger"], "DEAL_STAGE_CHANGED");
    assert_eq!(created["dealCondition"]["stage"]["in"][1], "CLOSED_WON");
    assert_eq!(
        created["actions"][3]["webhook"]["hasSecret"], true,
        "{created}"
    );
    assert!(created["actions"][3]["webhook"]["secret"].is_null());
    let automation = created["id"].as_str().unwrap().to_owned();

    // A move the condition does not cover fires nothing.
    ok(
        &o.app,
        &o.rep,
        MOVE,
        json!({"id": o.deal, "s": "QUALIFICATION"}),
    )
    .await;
    // The rep moves their deal to negotiation: every action runs once.
    ok(
        &o.app,
        &o.rep,
        MOVE,
        json!({"id": o.deal, "s": "NEGOTIATION"}),
    )
    .await;
    let runs = runs_until(&o, &automation, |r| r.len() >= 4).await;
    assert_eq!(statuses(&runs), ["SUCCEEDED"; 4], "{runs:#?}");
    assert!(runs.iter().all(|r| r["attempt"] == 1));

    // The note, on the deal, for its owner; written as the automation's.
    let notes = ok(
        &o.app,
        &o.rep,
        "query($d: ID!) { activities(filter: {dealId: {eq: $d}}) { nodes { id type subject description assignedToId } } }",
        json!({"d": o.deal}),
    )
    .await["activities"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["type"], "NOTE");
    assert_eq!(notes[0]["subject"], "Moved to Negotiation");
    assert_eq!(notes[0]["description"], "From Qualification by Rita Rep");
    assert_eq!(notes[0]["assignedToId"], o.r1.to_string());
    let note_id: Uuid = notes[0]["id"].as_str().unwrap().parse().unwrap();
    let event = entity::event::Entity::find()
        .filter(entity::event::Column::RecordId.eq(note_id))
        .one(&o.app.db)
        .await
        .unwrap()
        .expect("the note's event");
    assert_eq!(event.actor_id, None);
    assert_eq!(event.automation_id, Some(automation.parse().unwrap()));

    // The owner's notification.
    let notes = ok(
        &o.app,
        &o.rep,
        "{ notifications(first: 20) { nodes { kind title body deal { id } } } }",
        json!({}),
    )
    .await["notifications"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    let mine: Vec<&Value> = notes.iter().filter(|n| n["kind"] == "AUTOMATION").collect();
    assert_eq!(mine.len(), 1, "{notes:?}");
    assert_eq!(mine[0]["title"], "Acme renewal moved");
    assert_eq!(
        mine[0]["body"],
        "Acme renewal is now Negotiation (12000.00)"
    );
    assert_eq!(mine[0]["deal"]["id"], o.deal.to_string());

    // Two emails: the owner and the team's manager, each addressed by name.
    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 2, "{mails:?}");
    let mut to: Vec<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(to, ["m1@example.com", "r1@example.com"]);
    let rita = mails.iter().find(|m| m.to == ["r1@example.com"]).unwrap();
    assert!(
        rita.data.contains("Subject: Acme renewal: Negotiation"),
        "{}",
        rita.data
    );
    assert!(
        rita.data
            .contains("Hello Rita Rep, Rita Rep moved Acme renewal (Acme) to Negotiation."),
        "{}",
        rita.data
    );
    assert!(
        rita.data.contains(&format!("/deals/{}", o.deal)),
        "{}",
        rita.data
    );

    // The webhook: Slack-shaped, signed with the secret.
    let hooks = hooks.lock().unwrap().clone();
    assert_eq!(hooks.len(), 1);
    let body: Value = serde_json::from_slice(&hooks[0].body).unwrap();
    assert_eq!(
        body["text"],
        "\u{201c}Acme renewal\u{201d} moved from Qualification to Negotiation by Rita Rep"
    );
    let signature = hooks[0].headers["x-crm-signature"].to_str().unwrap();
    assert_eq!(
        signature,
        format!("sha256={}", hmac_sha256(b"s3cret", &hooks[0].body))
    );
    assert_eq!(hooks[0].headers["content-type"], "application/json");

    // Disabled, it fires no more.
    ok(
        &o.app,
        &o.admin,
        "mutation($id: ID!) { updateAutomation(id: $id, input: {enabled: false}) { enabled version } }",
        json!({"id": automation}),
    )
    .await;
    ok(
        &o.app,
        &o.rep,
        MOVE,
        json!({"id": o.deal, "s": "CLOSED_WON"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let runs = runs_until(&o, &automation, |_| true).await;
    assert_eq!(runs.len(), 4);
}

#[tokio::test]
async fn a_failing_webhook_is_retried_with_backoff_then_marked_failed() {
    let o = fixture(|_| {}).await;
    let (url, hooks) = receiver(500).await;
    let automation = create(
        &o,
        json!({
            "name": "Post updates",
            "trigger": "DEAL_UPDATED",
            "actions": [{ "webhook": { "url": url } }]
        }),
    )
    .await;
    ok(
        &o.app,
        &o.rep,
        "mutation($id: ID!) { updateDeal(id: $id, input: {notes: \"call back\"}) { id } }",
        json!({"id": o.deal}),
    )
    .await;
    let runs = runs_until(&o, &automation, |r| r.len() >= 5).await;
    assert_eq!(
        statuses(&runs),
        ["RETRYING", "RETRYING", "RETRYING", "RETRYING", "FAILED"],
        "{runs:#?}"
    );
    let attempts: Vec<i64> = runs
        .iter()
        .map(|r| r["attempt"].as_i64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2, 3, 4, 5]);
    assert!(runs.iter().all(|r| r["jobId"] == runs[0]["jobId"]));
    assert!(
        runs[4]["message"].as_str().unwrap().contains("500"),
        "{runs:#?}"
    );
    // Each retry waited longer than the one before (20, 40, 80, 160 ms at least).
    let at = |i: usize| {
        chrono::DateTime::parse_from_rfc3339(runs[i]["startedAt"].as_str().unwrap()).unwrap()
    };
    for (i, min_ms) in [(1, 20), (2, 40), (3, 80), (4, 160)] {
        let gap = (at(i) - at(i - 1)).num_milliseconds();
        assert!(gap >= min_ms, "retry {i} came after {gap} ms");
    }
    assert_eq!(hooks.lock().unwrap().len(), 5);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(hooks.lock().unwrap().len(), 5, "no attempt after the last");
    // Pages of runs: newest first, `after` continues.
    let page = ok(
        &o.app,
        &o.admin,
        "query($a: ID!) { automationRuns(automationId: $a, first: 2) { hasNextPage endCursor nodes { attempt } } }",
        json!({"a": automation}),
    )
    .await["automationRuns"]
        .clone();
    assert_eq!(page["hasNextPage"], true);
    assert_eq!(page["nodes"][0]["attempt"], 5);
    let next = ok(
        &o.app,
        &o.admin,
        RUNS,
        json!({"a": automation, "after": page["endCursor"]}),
    )
    .await;
    let rest: Vec<i64> = next["automationRuns"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["attempt"].as_i64().unwrap())
        .collect();
    assert_eq!(rest, [3, 2, 1]);
    // Finished jobs and their runs go with the retention purge, not before.
    use api::service::automation::queue::purge;
    let (deps, now) = (&o.app.state.deps, chrono::Utc::now());
    assert_eq!(purge(deps, now).await.unwrap(), 0);
    let later = now + chrono::Duration::days(366);
    assert_eq!(purge(deps, later).await.unwrap(), 1);
    let runs = ok(&o.app, &o.admin, RUNS, json!({"a": automation})).await;
    assert_eq!(runs["automationRuns"]["nodes"], json!([]));
}

#[tokio::test]
async fn webhooks_follow_no_redirect() {
    let o = fixture(|c| c.job_retry_base_ms = 60_000).await;
    let (url, hooks) = receiver(200).await;
    let automation = create(
        &o,
        json!({
            "name": "Redirected",
            "trigger": "DEAL_UPDATED",
            "actions": [{ "webhook": { "url": url.replace("/hook", "/moved") } }]
        }),
    )
    .await;
    ok(
        &o.app,
        &o.rep,
        "mutation($id: ID!) { updateDeal(id: $id, input: {notes: \"x\"}) { id } }",
        json!({"id": o.deal}),
    )
    .await;
    let runs = runs_until(&o, &automation, |r| !r.is_empty()).await;
    assert_eq!(statuses(&runs), ["RETRYING"], "{runs:#?}");
    assert!(
        runs[0]["message"].as_str().unwrap().contains("307"),
        "{runs:#?}"
    );
    assert!(
        hooks.lock().unwrap().is_empty(),
        "the redirect was followed"
    );
}

#[tokio::test]
async fn new_deals_get_an_owner_by_territory() {
    let o = fixture(|_| {}).await;
    let automation = create(
        &o,
        json!({
            "name": "West coast to Rob",
            "trigger": "DEAL_CREATED",
            "actions": [{ "assignOwner": {
                "rules": [
                    { "field": "COMPANY_COUNTRY", "value": "DE", "ownerId": o.r3 },
                    { "field": "COMPANY_STATE", "value": "ca", "ownerId": o.r2 }
                ]
            }}]
        }),
    )
    .await;
    let ny = ok(
        &o.app,
        &o.rep,
        "mutation { createCompany(input: {name: \"Big Apple\", state: \"NY\", country: \"US\"}) { id } }",
        json!({}),
    )
    .await["createCompany"]["id"]
        .clone();
    let new_deal = |company: Value, title: &'static str| {
        let (app, rep) = (&o.app, &o.rep);
        async move {
            ok(
                app,
                rep,
                "mutation($c: ID!, $t: String!) { createDeal(input: {companyId: $c, title: $t}) { id } }",
                json!({"c": company, "t": title}),
            )
            .await["createDeal"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let in_ca = new_deal(json!(o.company), "CA deal").await;
    let in_ny = new_deal(ny, "NY deal").await;
    let runs = runs_until(&o, &automation, |r| r.len() >= 2).await;
    let mut s = statuses(&runs);
    s.sort();
    assert_eq!(s, ["SKIPPED", "SUCCEEDED"], "{runs:#?}");
    let owner = |id: String| {
        let (app, admin) = (&o.app, &o.admin);
        async move {
            ok(
                app,
                admin,
                "query($id: ID!) { deal(id: $id) { ownerId } }",
                json!({"id": id}),
            )
            .await["deal"]["ownerId"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(owner(in_ca.clone()).await, o.r2.to_string());
    assert_eq!(owner(in_ny).await, o.r1.to_string());
    // The reassignment is the automation's in the audit trail.
    let entries = ok(
        &o.app,
        &o.admin,
        "query($id: ID!) { deal(id: $id) { history(first: 10) { nodes { actor { id } changes { field to } } } } }",
        json!({"id": in_ca}),
    )
    .await["deal"]["history"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    let moved = entries
        .iter()
        .find(|e| {
            e["changes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["field"] == "ownerId" && c["to"] == o.r2.to_string())
        })
        .expect("the reassignment");
    assert!(moved["actor"].is_null(), "{moved}");
    let log = ok(
        &o.app,
        &o.admin,
        "query($r: ID!) { auditLog(first: 10, filter: {recordId: $r}) { nodes { actor { id } automationId changes { field } } } }",
        json!({"r": in_ca}),
    )
    .await["auditLog"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        log.iter()
            .any(|e| e["automationId"] == automation.as_str() && e["actor"].is_null()),
        "{log:#?}"
    );
}

#[tokio::test]
async fn a_recipient_who_cannot_read_the_record_gets_nothing() {
    let (smtp, mails) = smtp_server().await;
    let o = fixture(|c| c.smtp_url = Some(format!("smtp://127.0.0.1:{smtp}"))).await;
    let automation = create(
        &o,
        json!({
            "name": "Tell the assignee",
            "trigger": "ACTIVITY_CREATED",
            "actions": [
                { "notify": { "recipients": ["ASSIGNEE"], "title": "{{ activity.subject }}", "body": "On {{ deal.title }} ({{ deal.amount }})" } },
                { "email": { "recipients": ["ASSIGNEE"], "subject": "{{ activity.subject }}", "body": "On {{ deal.title }} ({{ deal.amount }})" } }
            ]
        }),
    )
    .await;
    // r1 logs a task on their deal for r3, of another team: r3 may read the task (it is
    // theirs) but not the deal, so the automation tells them nothing.
    ok(
        &o.app,
        &o.rep,
        "mutation($d: ID!, $a: ID!) { createActivity(input: {type: TASK, subject: \"Send the contract\", dealId: $d, assignedToId: $a}) { id } }",
        json!({"d": o.deal, "a": o.r3}),
    )
    .await;
    let runs = runs_until(&o, &automation, |r| r.len() >= 2).await;
    assert_eq!(statuses(&runs), ["SKIPPED", "SKIPPED"], "{runs:#?}");
    assert!(
        runs[0]["message"]
            .as_str()
            .unwrap()
            .contains("may not read"),
        "{runs:#?}"
    );
    let theirs = ok(
        &o.app,
        &o.west_rep,
        "{ notifications(first: 20) { nodes { kind body } } }",
        json!({}),
    )
    .await;
    assert!(
        !theirs["notifications"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "AUTOMATION"),
        "{theirs}"
    );
    assert!(mails.lock().unwrap().is_empty());
    // For their own deal's task, the owner is told.
    ok(
        &o.app,
        &o.rep,
        "mutation($d: ID!) { createActivity(input: {type: TASK, subject: \"Prepare demo\", dealId: $d}) { id } }",
        json!({"d": o.deal}),
    )
    .await;
    let runs = runs_until(&o, &automation, |r| r.len() >= 4).await;
    assert_eq!(
        statuses(&runs[2..]),
        ["SUCCEEDED", "SUCCEEDED"],
        "{runs:#?}"
    );
    assert_eq!(mails.lock().unwrap().len(), 1);
    assert_eq!(mails.lock().unwrap()[0].to, ["r1@example.com"]);
    let own = ok(
        &o.app,
        &o.rep,
        "{ notifications(first: 20) { nodes { kind body } } }",
        json!({}),
    )
    .await;
    assert!(
        own["notifications"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "AUTOMATION" && n["body"] == "On Acme renewal (12000.00)"),
        "{own}"
    );
    // A teammate may read the deal but not its amount: told, without the amount.
    ok(
        &o.app,
        &o.rep,
        "mutation($d: ID!, $a: ID!) { createActivity(input: {type: TASK, subject: \"Review terms\", dealId: $d, assignedToId: $a}) { id } }",
        json!({"d": o.deal, "a": o.r2}),
    )
    .await;
    let runs = runs_until(&o, &automation, |r| r.len() >= 6).await;
    assert_eq!(
        statuses(&runs[4..]),
        ["SUCCEEDED", "SUCCEEDED"],
        "{runs:#?}"
    );
    let rob = o.app.login("r2@example.com", PASSWORD).await.0;
    let theirs = ok(
        &o.app,
        &rob,
        "{ notifications(first: 20) { nodes { kind body } } }",
        json!({}),
    )
    .await;
    let bodies: Vec<&Value> = theirs["notifications"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "AUTOMATION")
        .map(|n| &n["body"])
        .collect();
    assert_eq!(bodies, [&json!("On Acme renewal (hidden)")], "{theirs}");
    let mails = mails.lock().unwrap().clone();
    let to_rob = mails
        .iter()
        .find(|m| m.to == ["r2@example.com"])
        .expect("mail to r2");
    assert!(
        to_rob.data.contains("On Acme renewal (hidden)"),
        "{}",
        to_rob.data
    );
    assert!(!to_rob.data.contains("12000"), "{}", to_rob.data);
}

#[tokio::test]
async fn without_a_mail_server_emails_are_recorded_as_skipped() {
    let o = fixture(|_| {}).await;
    let automation = create(
        &o,
        json!({
            "name": "Mail the owner",
            "trigger": "DEAL_UPDATED",
            "dealCondition": { "amount": { "gte": "10000" } },
            "actions": [{ "email": { "recipients": ["OWNER"], "subject": "{{ deal.title }}", "body": "changed" } }]
        }),
    )
    .await;
    ok(
        &o.app,
        &o.rep,
        "mutation($id: ID!) { updateDeal(id: $id, input: {notes: \"x\"}) { id } }",
        json!({"id": o.deal}),
    )
    .await;
    let runs = runs_until(&o, &automation, |r| !r.is_empty()).await;
    assert_eq!(statuses(&runs), ["SKIPPED"]);
    assert!(
        runs[0]["message"]
            .as_str()
            .unwrap()
            .contains("CRM_SMTP_URL")
    );
    // Below the condition's amount nothing is queued.
    ok(
        &o.app,
        &o.rep,
        "mutation($id: ID!) { updateDeal(id: $id, input: {amount: \"50\"}) { id } }",
        json!({"id": o.deal}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let jobs = entity::job::Entity::find().all(&o.app.db).await.unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
}

#[tokio::test]
async fn bad_automations_are_refused_naming_every_field_and_only_admins_manage_them() {
    let o = fixture(|_| {}).await;
    let (_, json) = o
        .app
        .gql(
            Some(&o.admin),
            CREATE,
            json!({ "i": {
                "name": " ",
                "trigger": "SCHEDULE",
                "schedule": "every monday",
                "actions": [
                    { "notify": { "recipients": ["OWNER"], "title": "{{ deal.titel }}", "body": "{{ deal.title" } },
                    { "webhook": { "url": "http://10.0.0.7/hook" } },
                    { "webhook": { "url": "file:///etc/passwd" } },
                    { "assignOwner": { "rules": [{ "field": "COMPANY_STATE", "value": "CA", "ownerId": Uuid::new_v4() }] } }
                ]
            }}),
        )
        .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"), "{json}");
    let mut fields: Vec<&str> = json["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "actions[0].notify.body",
            "actions[0].notify.title",
            "actions[1].webhook.url",
            "actions[2].webhook.url",
            "actions[3].assignOwner",
            "actions[3].assignOwner.rules[0].ownerId",
            "name",
            "schedule",
        ],
        "{json}"
    );
    let message = |field: &str| {
        json["errors"][0]["extensions"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == field)
            .unwrap()["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(message("actions[0].notify.title").contains("deal.titel"));
    assert!(message("actions[1].webhook.url").contains("not allowed"));
    assert!(message("schedule").contains("cron"));
    // A condition on a field deals do not have is refused before anything runs, naming it.
    let (_, json) = o
        .app
        .gql(
            Some(&o.admin),
            CREATE,
            json!({ "i": {
                "name": "x", "trigger": "DEAL_CREATED",
                "dealCondition": { "colour": { "eq": "red" } },
                "actions": [{ "notify": { "recipients": ["OWNER"], "title": "t", "body": "b" } }]
            }}),
        )
        .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"), "{json}");
    assert_eq!(
        json["errors"][0]["extensions"]["field"], "input.dealCondition.colour",
        "{json}"
    );
    assert!(
        json["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("colour"),
        "{json}"
    );
    // A schedule on an event trigger, a missing trigger and actions.
    let (_, json) = o
        .app
        .gql(
            Some(&o.admin),
            CREATE,
            json!({ "i": { "name": "x", "schedule": "0 8 * * MON" } }),
        )
        .await;
    assert_eq!(error_code(&json), Some("BAD_USER_INPUT"), "{json}");
    let (_, json) = o
        .app
        .gql(
            Some(&o.admin),
            CREATE,
            json!({ "i": { "name": "x", "trigger": "DEAL_CREATED", "schedule": "0 8 * * MON",
                "actions": [{ "notify": { "recipients": [], "title": "t", "body": "b" } }] } }),
        )
        .await;
    let mut fields: Vec<&str> = json["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        ["actions[0].notify.recipients", "schedule"],
        "{json}"
    );
    // Nothing was saved.
    let all = ok(&o.app, &o.admin, "{ automations { id } }", json!({})).await;
    assert_eq!(all["automations"], json!([]));
    // A valid scheduled one is accepted (five-field cron).
    let id = create(
        &o,
        json!({ "name": "Weekly", "trigger": "SCHEDULE", "schedule": "0 8 * * MON",
            "actions": [{ "notify": { "recipients": ["ADMINS"], "title": "Monday", "body": "Week starts" } }] }),
    )
    .await;
    // Reps and managers may not see or manage automations.
    for token in [&o.rep, &o.west_rep] {
        for (q, v) in [
            ("{ automations { id } }", json!({})),
            (
                "query($id: ID!) { automation(id: $id) { id } }",
                json!({"id": id}),
            ),
            (
                "mutation($id: ID!) { deleteAutomation(id: $id) }",
                json!({"id": id}),
            ),
        ] {
            let (_, json) = o.app.gql(Some(token), q, v).await;
            assert_eq!(error_code(&json), Some("FORBIDDEN"), "{q}: {json}");
        }
    }
    // Stale versions conflict; delete removes it.
    let (_, json) = o
        .app
        .gql(
            Some(&o.admin),
            "mutation($id: ID!) { updateAutomation(id: $id, input: {name: \"y\"}, expectedVersion: 7) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(error_code(&json), Some("CONFLICT"), "{json}");
    ok(
        &o.app,
        &o.admin,
        "mutation($id: ID!) { deleteAutomation(id: $id) }",
        json!({"id": id}),
    )
    .await;
    let gone = ok(
        &o.app,
        &o.admin,
        "query($id: ID!) { automation(id: $id) { id } }",
        json!({"id": id}),
    )
    .await;
    assert!(gone["automation"].is_null());
}

#[tokio::test]
async fn the_defaults_are_installed_once_and_their_schedules_fire_what_they_are_for() {
    let (smtp, mails) = smtp_server().await;
    let o = fixture(|c| c.smtp_url = Some(format!("smtp://127.0.0.1:{smtp}"))).await;
    let deps = &o.app.state.deps;
    use api::service::automation::schedule::install_defaults;
    assert!(install_defaults(deps).await.unwrap());
    assert!(!install_defaults(deps).await.unwrap(), "only once");
    let all = ok(
        &o.app,
        &o.admin,
        "{ automations { id name enabled trigger schedule } }",
        json!({}),
    )
    .await["automations"]
        .as_array()
        .unwrap()
        .clone();
    let mut triggers: Vec<(String, Value)> = all
        .iter()
        .map(|a| {
            (
                a["trigger"].as_str().unwrap().to_owned(),
                a["schedule"].clone(),
            )
        })
        .collect();
    triggers.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.to_string().cmp(&b.1.to_string())));
    assert_eq!(
        triggers,
        [
            ("DEAL_STAGE_CHANGED".to_owned(), Value::Null),
            ("SCHEDULE".to_owned(), json!("0 7 * * *")),
            ("SCHEDULE".to_owned(), json!("0 7 * * MON")),
            ("SCHEDULE".to_owned(), json!("0 8 * * *")),
        ]
    );
    let id_of = |schedule: &str| {
        all.iter().find(|a| a["schedule"] == schedule).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // The deal closes in 3 days; r1 has an overdue task and r3 one due next month.
    let soon = (chrono::Utc::now() + chrono::Duration::days(3)).date_naive();
    ok(
        &o.app,
        &o.rep,
        "mutation($id: ID!, $d: Date!) { updateDeal(id: $id, input: {expectedCloseDate: $d}) { id } }",
        json!({"id": o.deal, "d": soon.to_string()}),
    )
    .await;
    let yesterday = chrono::Utc::now() - chrono::Duration::days(1);
    ok(
        &o.app,
        &o.rep,
        "mutation($d: ID!, $at: DateTime!) { createActivity(input: {type: CALL, subject: \"Call Acme back\", dealId: $d, dueAt: $at}) { id } }",
        json!({"d": o.deal, "at": yesterday.to_rfc3339()}),
    )
    .await;
    ok(
        &o.app,
        &o.west_rep,
        "mutation($at: DateTime!) { createActivity(input: {type: TASK, subject: \"Later\", dueAt: $at}) { id } }",
        json!({"at": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339()}),
    )
    .await;
    // Fire the three schedules every second (an admin may edit the defaults).
    let every_second = "mutation($id: ID!) { updateAutomation(id: $id, input: {schedule: \"* * * * * *\"}) { id } }";
    for schedule in ["0 8 * * *", "0 7 * * *", "0 7 * * MON"] {
        ok(
            &o.app,
            &o.admin,
            every_second,
            json!({"id": id_of(schedule)}),
        )
        .await;
    }
    deps.jobs.start(deps);
    let closing = runs_until(&o, &id_of("0 8 * * *"), |r| !r.is_empty()).await;
    assert_eq!(closing[0]["status"], "SUCCEEDED", "{closing:#?}");
    let due = runs_until(&o, &id_of("0 7 * * *"), |r| !r.is_empty()).await;
    assert_eq!(due[0]["status"], "SUCCEEDED", "{due:#?}");
    // The digest: r1, r2, r3 and the manager each get theirs (notify and email).
    runs_until(&o, &id_of("0 7 * * MON"), |r| r.len() >= 8).await;
    // Stop them before counting.
    for schedule in ["0 8 * * *", "0 7 * * *", "0 7 * * MON"] {
        ok(
            &o.app,
            &o.admin,
            "mutation($id: ID!) { updateAutomation(id: $id, input: {enabled: false}) { id } }",
            json!({"id": id_of(schedule)}),
        )
        .await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let notes = |token: String| {
        let app = &o.app;
        async move {
            ok(
                app,
                &token,
                "{ notifications(first: 100) { nodes { kind title body } } }",
                json!({}),
            )
            .await["notifications"]["nodes"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    let rita = notes(o.rep.clone()).await;
    let of = |list: &[Value], kind: &str| -> Vec<Value> {
        list.iter().filter(|n| n["kind"] == kind).cloned().collect()
    };
    let closing = of(&rita, "DEAL_CLOSING_SOON");
    assert!(!closing.is_empty(), "{rita:#?}");
    assert_eq!(closing[0]["title"], "Acme renewal closes soon");
    assert!(
        closing[0]["body"]
            .as_str()
            .unwrap()
            .contains(&soon.to_string())
    );
    let due = of(&rita, "ACTIVITY_DUE");
    assert!(!due.is_empty(), "{rita:#?}");
    assert_eq!(due[0]["title"], "Due: Call Acme back");
    let digest = of(&rita, "WEEKLY_DIGEST");
    assert!(!digest.is_empty(), "{rita:#?}");
    assert_eq!(
        digest[0]["body"],
        "1 open deals (12000.00), 1 closing this week, 1 activities due."
    );
    // r3: no reminder about r1's deal or a task due next month; their own digest only.
    let wes = notes(o.west_rep.clone()).await;
    assert!(
        of(&wes, "DEAL_CLOSING_SOON").is_empty() && of(&wes, "ACTIVITY_DUE").is_empty(),
        "{wes:#?}"
    );
    assert_eq!(
        of(&wes, "WEEKLY_DIGEST")[0]["body"],
        "0 open deals (0.00), 0 closing this week, 0 activities due."
    );
    let mails = mails.lock().unwrap().clone();
    assert!(
        mails
            .iter()
            .any(|m| m.to == ["r3@example.com"] && m.data.contains("Hello Wes West"))
    );
    // The stage-change default: a note on the deal.
    ok(&o.app, &o.rep, MOVE, json!({"id": o.deal, "s": "PROPOSAL"})).await;
    let stage = all
        .iter()
        .find(|a| a["trigger"] == "DEAL_STAGE_CHANGED")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let runs = runs_until(&o, &stage, |r| r.len() >= 2).await;
    assert_eq!(statuses(&runs), ["SUCCEEDED", "SUCCEEDED"], "{runs:#?}");
    let _ = (o.r1, o.r2, o.r3, o.company);
}

#[tokio::test]
async fn an_unreadable_automation_never_stops_a_write() {
    let o = fixture(|_| {}).await;
    let id = create(
        &o,
        json!({
            "name": "Soon broken",
            "trigger": "DEAL_UPDATED",
            "dealCondition": { "stage": { "eq": "PROSPECTING" } },
            "actions": [{ "notify": { "recipients": ["OWNER"], "title": "t", "body": "b" } }]
        }),
    )
    .await;
    // As if the schema had lost the field the stored condition names.
    use sea_orm::{ActiveModelTrait, Set};
    entity::automation::ActiveModel {
        id: sea_orm::Unchanged(id.parse().unwrap()),
        deal_condition: Set(Some(r#"{"colour":{"eq":"red"}}"#.into())),
        ..Default::default()
    }
    .update(&o.app.db)
    .await
    .unwrap();
    ok(
        &o.app,
        &o.rep,
        "mutation($id: ID!) { updateDeal(id: $id, input: {notes: \"still works\"}) { id } }",
        json!({"id": o.deal}),
    )
    .await;
    let jobs = entity::job::Entity::find().all(&o.app.db).await.unwrap();
    assert!(jobs.is_empty(), "{jobs:?}");
}
