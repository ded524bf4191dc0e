//! Races and small holes an attacker found, each reproduced with real concurrency (spawned
//! tasks against one app and its pool; on SQLite the pool has 5 connections): none may end
//! in `INTERNAL`, and the app must still answer afterwards. Runs on SQLite and PostgreSQL.

use crm_testkit::Org;
use std::sync::Arc;

use entity::enums::{DealStage, Role};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, error_code};

const SHARE: &str = "mutation($id: ID!, $u: ID!, $p: SharePermission!) { shareDeal(id: $id, userId: $u, permission: $p) { id } }";
const DELETE_DEAL: &str = "mutation($id: ID!) { deleteDeal(id: $id) }";
const CREATE_ACTIVITY: &str =
    "mutation($input: CreateActivityInput!) { createActivity(input: $input) { id } }";
const CREATE_CONTACT: &str =
    "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }";
const CREATE_DEAL: &str = "mutation($input: CreateDealInput!) { createDeal(input: $input) { id } }";
const CREATE_COMPANY: &str =
    "mutation($input: CreateCompanyInput!) { createCompany(input: $input) { id } }";
const UPDATE_USER: &str =
    "mutation($id: ID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { id } }";

/// Runs every request at once, each on its own task; answers in the order given.
async fn all_at_once(
    app: &Arc<TestApp>,
    requests: Vec<(String, &'static str, Value)>,
) -> Vec<Value> {
    let barrier = Arc::new(tokio::sync::Barrier::new(requests.len()));
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(token, query, vars)| {
            let app = app.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                app.gql(Some(&token), query, vars).await.1
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("request task"));
    }
    out
}

/// Fails on an `INTERNAL` error (or an answer that is not GraphQL at all).
fn assert_not_internal(json: &Value, what: &str) {
    assert!(json.is_object(), "{what}: no GraphQL answer: {json}");
    for e in json["errors"].as_array().into_iter().flatten() {
        assert_ne!(e["extensions"]["code"], "INTERNAL", "{what}: {json}");
        assert!(
            e["extensions"]["code"].is_string(),
            "{what}: no code: {json}"
        );
    }
}

/// The `(code, field)` of the first error, if any.
fn first_error(json: &Value) -> Option<(String, Option<String>)> {
    let e = json["errors"].as_array()?.first()?;
    Some((
        e["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        e["extensions"]["field"].as_str().map(str::to_owned),
    ))
}

/// The app still serves an ordinary query.
async fn assert_still_answers(app: &TestApp, token: &str) {
    let (status, json) = app.gql(Some(token), "{ me { id } }", json!({})).await;
    assert_eq!(status.as_u16(), 200, "{json}");
    assert!(json["data"]["me"]["id"].is_string(), "{json}");
}

fn future_date() -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(30)).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_shares_of_one_deal_with_one_user_are_idempotent() {
    let app = Arc::new(TestApp::new().await);
    let mut org = Org::new();
    let owner = org
        .user()
        .email("owner@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    org.user()
        .email("admin@example.com")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    let (admin, _) = app.login("admin@example.com", PASSWORD).await;
    let company = org
        .company()
        .name("Acme")
        .owner(owner.id)
        .insert(&app.db)
        .await;
    for round in 0..6 {
        let deal = org
            .deal()
            .company(company.id)
            .owner(owner.id)
            .title(format!("Deal {round}"))
            .amount_cents(100)
            .stage(DealStage::Proposal)
            .insert(&app.db)
            .await;
        let target = org
            .user()
            .email(format!("target{round}@example.com"))
            .role(Role::SalesRep)
            .insert(&app.db)
            .await;
        let requests = (0..8)
            .map(|i| {
                let p = if i % 2 == 0 { "VIEW" } else { "EDIT" };
                (
                    admin.clone(),
                    SHARE,
                    json!({"id": deal.id, "u": target.id, "p": p}),
                )
            })
            .collect();
        for json in all_at_once(&app, requests).await {
            assert_not_internal(&json, "shareDeal");
            assert!(json["errors"].is_null(), "sharing is idempotent: {json}");
            assert_eq!(json["data"]["shareDeal"]["id"], deal.id.to_string());
        }
        let shares = entity::deal_share::Entity::find()
            .filter(entity::deal_share::Column::DealId.eq(deal.id))
            .filter(entity::deal_share::Column::UserId.eq(target.id))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(shares, 1, "one share per deal and user");
    }
    assert_still_answers(&app, &admin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_a_deal_while_activities_and_shares_are_added_never_answers_internal() {
    let app = Arc::new(TestApp::new().await);
    let mut org = Org::new();
    let owner = org
        .user()
        .email("owner@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    org.user()
        .email("admin@example.com")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    let (admin, _) = app.login("admin@example.com", PASSWORD).await;
    let (rep, _) = app.login("owner@example.com", PASSWORD).await;
    let company = org
        .company()
        .name("Acme")
        .owner(owner.id)
        .insert(&app.db)
        .await;
    let mut others = Vec::new();
    for i in 0..2 {
        others.push(
            org.user()
                .email(format!("other{i}@example.com"))
                .role(Role::SalesRep)
                .insert(&app.db)
                .await
                .id,
        );
    }
    for round in 0..12 {
        let deal = org
            .deal()
            .company(company.id)
            .owner(owner.id)
            .title(format!("Deal {round}"))
            .amount_cents(100)
            .stage(DealStage::Proposal)
            .insert(&app.db)
            .await;
        let mut requests = vec![(admin.clone(), DELETE_DEAL, json!({"id": deal.id}))];
        for i in 0..3 {
            let input = json!({"type": "CALL", "subject": format!("call {i}"), "dealId": deal.id});
            requests.push((rep.clone(), CREATE_ACTIVITY, json!({"input": input})));
        }
        for u in &others {
            requests.push((
                admin.clone(),
                SHARE,
                json!({"id": deal.id, "u": u, "p": "VIEW"}),
            ));
        }
        // Spread the delete among the inserts.
        requests.swap(0, 2);
        let answers = all_at_once(&app, requests).await;
        assert_eq!(
            answers[2]["data"]["deleteDeal"],
            deal.id.to_string(),
            "{}",
            answers[2]
        );
        for (i, json) in answers.iter().enumerate() {
            assert_not_internal(json, "insert racing a delete");
            match (i, first_error(json)) {
                (_, None) => {}
                // An activity on a vanished deal: the same answer as after the delete.
                (0 | 1 | 3, Some((code, field))) => assert_eq!(
                    (code.as_str(), field.as_deref()),
                    ("BAD_USER_INPUT", Some("dealId")),
                    "{json}"
                ),
                // A share of a vanished deal: the deal is not found.
                (_, Some((code, _))) => assert_eq!(code, "NOT_FOUND", "{json}"),
            }
        }
        let left = entity::activity::Entity::find()
            .filter(entity::activity::Column::DealId.eq(deal.id))
            .count(&app.db)
            .await
            .unwrap()
            + entity::deal_share::Entity::find()
                .filter(entity::deal_share::Column::DealId.eq(deal.id))
                .count(&app.db)
                .await
                .unwrap();
        assert_eq!(left, 0, "nothing refers to the deleted deal");
    }
    assert_still_answers(&app, &admin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_companies_and_contacts_while_records_link_to_them_never_answers_internal() {
    let app = Arc::new(TestApp::new().await);
    let mut org = Org::new();
    let owner = org
        .user()
        .email("owner@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    org.user()
        .email("admin@example.com")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    let (admin, _) = app.login("admin@example.com", PASSWORD).await;
    let (rep, _) = app.login("owner@example.com", PASSWORD).await;
    for round in 0..12 {
        let company = org
            .company()
            .name(format!("Acme {round}"))
            .owner(owner.id)
            .insert(&app.db)
            .await;
        let contact = org
            .contact()
            .first("Race")
            .last(format!("Contact {round}"))
            .owner(owner.id)
            .company(company.id)
            .insert(&app.db)
            .await;
        let requests = vec![
            (
                rep.clone(),
                CREATE_CONTACT,
                json!({"input": {"companyId": company.id, "firstName": format!("New {round}")}}),
            ),
            (
                admin.clone(),
                "mutation($id: ID!) { deleteContact(id: $id) }",
                json!({"id": contact.id}),
            ),
            (
                rep.clone(),
                CREATE_DEAL,
                json!({"input": {"companyId": company.id, "contactId": contact.id, "title": "Race", "expectedCloseDate": future_date()}}),
            ),
            (
                admin.clone(),
                "mutation($id: ID!) { deleteCompany(id: $id) }",
                json!({"id": company.id}),
            ),
            (
                rep.clone(),
                CREATE_ACTIVITY,
                json!({"input": {"type": "NOTE", "subject": "race", "companyId": company.id, "contactId": contact.id}}),
            ),
        ];
        let answers = all_at_once(&app, requests).await;
        assert!(answers[1]["errors"].is_null(), "{}", answers[1]);
        for (i, json) in answers.iter().enumerate() {
            assert_not_internal(json, "insert racing a delete");
            let Some((code, field)) = first_error(json) else {
                continue;
            };
            let field = field.unwrap_or_default();
            if i == 3 {
                // The company delete lost to the deal that now references it.
                assert_eq!(
                    (code.as_str(), field.as_str()),
                    ("CONFLICT", "id"),
                    "{json}"
                );
            } else {
                assert_eq!(code, "BAD_USER_INPUT", "{json}");
                assert!(
                    field == "companyId" || field == "contactId",
                    "names the vanished link: {json}"
                );
            }
        }
    }
    assert_still_answers(&app, &admin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_user_updates_wait_for_each_other_instead_of_failing() {
    let app = Arc::new(TestApp::new().await);
    let mut org = Org::new();
    org.user()
        .email("admin@example.com")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    let (admin, _) = app.login("admin@example.com", PASSWORD).await;
    let team = org.team().name("East").insert(&app.db).await;
    let mut users = Vec::new();
    for i in 0..10 {
        users.push(
            org.user()
                .email(format!("u{i}@example.com"))
                .role(Role::SalesRep)
                .insert(&app.db)
                .await
                .id,
        );
    }
    for round in 0..4 {
        let requests = users
            .iter()
            .map(|u| {
                (
                    admin.clone(),
                    UPDATE_USER,
                    json!({"id": u, "input": {"name": format!("Renamed {round}"), "teamId": team.id}}),
                )
            })
            .collect();
        for json in all_at_once(&app, requests).await {
            assert_not_internal(&json, "updateUser");
            assert!(json["errors"].is_null(), "{json}");
        }
    }
    assert_still_answers(&app, &admin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_admins_demoting_each_other_at_once_leave_an_active_admin() {
    let app = Arc::new(TestApp::new().await);
    let mut org = Org::new();
    let mut last_token = String::new();
    for round in 0..20 {
        // Exactly two active admins.
        app.raw(
            "UPDATE users SET active = $1 WHERE role = 'admin'",
            vec![false.into()],
        )
        .await
        .unwrap();
        let a = org
            .user()
            .email(format!("a{round}@example.com"))
            .role(Role::Admin)
            .insert(&app.db)
            .await;
        let b = org
            .user()
            .email(format!("b{round}@example.com"))
            .role(Role::Admin)
            .insert(&app.db)
            .await;
        let (ta, _) = app.login(&a.email, PASSWORD).await;
        let (tb, _) = app.login(&b.email, PASSWORD).await;
        let demote = |id: Uuid| json!({"id": id, "input": {"role": "SALES_REP"}});
        let answers = all_at_once(
            &app,
            vec![
                (ta.clone(), UPDATE_USER, demote(b.id)),
                (tb.clone(), UPDATE_USER, demote(a.id)),
            ],
        )
        .await;
        let mut succeeded = 0;
        for json in &answers {
            assert_not_internal(json, "updateUser");
            match first_error(json) {
                None => succeeded += 1,
                // Refused as the last admin, or the actor was demoted first.
                Some((code, field)) => assert!(
                    (code == "BAD_USER_INPUT" && field.as_deref() == Some("role"))
                        || code == "FORBIDDEN",
                    "{json}"
                ),
            }
        }
        assert_eq!(succeeded, 1, "round {round}: {answers:?}");
        let admins = entity::user::Entity::find()
            .filter(entity::user::Column::Role.eq(Role::Admin))
            .filter(entity::user::Column::Active.eq(true))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(admins, 1, "round {round}: one active admin remains");
        last_token = if answers[0]["errors"].is_null() {
            ta
        } else {
            tb
        };
    }
    assert_still_answers(&app, &last_token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admin_deactivating_the_other_admin_while_being_demoted_keeps_an_admin() {
    let app = Arc::new(TestApp::new().await);
    let mut org = Org::new();
    for round in 0..10 {
        app.raw(
            "UPDATE users SET active = $1 WHERE role = 'admin'",
            vec![false.into()],
        )
        .await
        .unwrap();
        let a = org
            .user()
            .email(format!("a{round}@example.com"))
            .role(Role::Admin)
            .insert(&app.db)
            .await;
        let b = org
            .user()
            .email(format!("b{round}@example.com"))
            .role(Role::Admin)
            .insert(&app.db)
            .await;
        let (ta, _) = app.login(&a.email, PASSWORD).await;
        let (tb, _) = app.login(&b.email, PASSWORD).await;
        let answers = all_at_once(
            &app,
            vec![
                (
                    ta,
                    UPDATE_USER,
                    json!({"id": b.id, "input": {"active": false}}),
                ),
                (
                    tb,
                    UPDATE_USER,
                    json!({"id": a.id, "input": {"role": "MANAGER"}}),
                ),
            ],
        )
        .await;
        for json in &answers {
            assert_not_internal(json, "updateUser");
            if let Some((code, field)) = first_error(json) {
                assert!(
                    code == "UNAUTHENTICATED"
                        || code == "FORBIDDEN"
                        || (code == "BAD_USER_INPUT"
                            && matches!(field.as_deref(), Some("role" | "active"))),
                    "{json}"
                );
            }
        }
        let admins = entity::user::Entity::find()
            .filter(entity::user::Column::Role.eq(Role::Admin))
            .filter(entity::user::Column::Active.eq(true))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(admins, 1, "round {round}: one active admin remains");
    }
}

#[tokio::test]
async fn a_session_that_must_change_its_password_reads_only_its_own_basics() {
    let app = TestApp::new().await;
    let mut org = Org::new();
    let admin = org
        .user()
        .email("admin@example.com")
        .role(Role::Admin)
        .insert(&app.db)
        .await;
    let team = org
        .team()
        .name("East")
        .manager(admin.id)
        .insert(&app.db)
        .await;
    let rep = org
        .user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .team(team.id)
        .insert(&app.db)
        .await;
    org.user()
        .email("mate@example.com")
        .role(Role::SalesRep)
        .team(team.id)
        .insert(&app.db)
        .await;
    let (admin_token, _) = app.login("admin@example.com", PASSWORD).await;
    let (_, json) = app
        .gql(
            Some(&admin_token),
            "mutation($u: ID!) { resetUserPassword(id: $u) { temporaryPassword } }",
            json!({"u": rep.id}),
        )
        .await;
    let temporary = json["data"]["resetUserPassword"]["temporaryPassword"]
        .as_str()
        .expect("temporary password")
        .to_owned();

    // Signing in still tells who and what the user is.
    let (_, json) = app
        .gql(
            None,
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken mustChangePassword user { id role } } }",
            json!({"e": "rep@example.com", "p": temporary}),
        )
        .await;
    assert!(json["errors"].is_null(), "{json}");
    assert_eq!(json["data"]["login"]["user"]["id"], rep.id.to_string());
    assert_eq!(json["data"]["login"]["user"]["role"], "SALES_REP");
    assert_eq!(json["data"]["login"]["mustChangePassword"], true);
    let token = json["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();

    // Its own basics, yes; the team and its members, no.
    let (_, json) = app
        .gql(
            Some(&token),
            "{ me { id email name role team { id name members { id email } manager { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(json["data"]["me"]["id"], rep.id.to_string(), "{json}");
    assert_eq!(json["data"]["me"]["email"], "rep@example.com");
    assert!(json["data"]["me"]["team"].is_null(), "{json}");
    assert_eq!(error_code(&json), Some("FORBIDDEN"), "{json}");
    assert_eq!(
        json["errors"][0]["extensions"]["reason"],
        "PASSWORD_CHANGE_REQUIRED"
    );
    assert!(
        !json.to_string().contains("mate@example.com"),
        "no member leaks: {json}"
    );

    // Changing the password opens the rest.
    let (_, json) = app
        .gql(
            Some(&token),
            "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
            json!({"c": temporary, "n": "a brand new password"}),
        )
        .await;
    assert_eq!(json["data"]["changePassword"], true, "{json}");
    let (_, json) = app
        .gql(
            Some(&token),
            "{ me { team { id members { email } } } }",
            json!({}),
        )
        .await;
    assert!(json["errors"].is_null(), "{json}");
    assert_eq!(json["data"]["me"]["team"]["id"], team.id.to_string());
}

#[tokio::test]
async fn sso_tokens_are_refused_before_their_not_before_time() {
    use crate::sso::{AUDIENCE, ISSUER, identity_provider};
    use jsonwebtoken::{Algorithm, Header};
    let idp = identity_provider();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idp.pem");
    std::fs::write(&path, &idp.public_pem).unwrap();
    let app = TestApp::with_config(|c| {
        c.sso_public_key_file = Some(path.clone());
        c.sso_issuer = Some(ISSUER.into());
        c.sso_audience = Some(AUDIENCE.into());
    })
    .await;
    let mut org = Org::new();
    let rep = org
        .user()
        .email("sso.rep@example.com")
        .role(Role::SalesRep)
        .insert(&app.db)
        .await;
    let token = |nbf: i64| {
        let now = chrono::Utc::now().timestamp();
        jsonwebtoken::encode(
            &Header::new(Algorithm::ES256),
            &json!({ "sub": "idp-user-1", "email": "sso.rep@example.com", "iss": ISSUER,
                     "aud": AUDIENCE, "iat": now, "nbf": now + nbf, "exp": now + 900 }),
            &idp.encoding,
        )
        .unwrap()
    };
    for (why, nbf, expected) in [
        ("valid from an hour ago", -3600, 200),
        ("valid from a moment ago", -1, 200),
        ("valid in ten minutes", 600, 401),
        ("valid in a minute", 60, 401),
    ] {
        let (status, json) = app.gql(Some(&token(nbf)), "{ me { id } }", json!({})).await;
        assert_eq!(status.as_u16(), expected, "{why}: {json}");
        if expected == 200 {
            assert_eq!(json["data"]["me"]["id"], rep.id.to_string());
        }
    }
}

/// Every string in an error answer, for checking what it gives away.
fn error_text(json: &Value) -> String {
    json["errors"].to_string().to_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn taken_names_domains_and_emails_reveal_nothing_about_unreadable_records() {
    let app = Arc::new(TestApp::new().await);
    let mut org = Org::new();
    let east = org.team().name("East").insert(&app.db).await;
    let west = org.team().name("West").insert(&app.db).await;
    org.user()
        .email("rep@example.com")
        .role(Role::SalesRep)
        .team(east.id)
        .insert(&app.db)
        .await;
    let hidden_owner = org
        .user()
        .email("hidden.owner@example.com")
        .role(Role::SalesRep)
        .team(west.id)
        .insert(&app.db)
        .await;
    let (rep, _) = app.login("rep@example.com", PASSWORD).await;
    let (other, _) = app.login("hidden.owner@example.com", PASSWORD).await;
    let (_, json) = app
        .gql(
            Some(&other),
            CREATE_COMPANY,
            json!({"input": {"name": "Secretive Corp", "domain": "secretive.example", "city": "Zurich"}}),
        )
        .await;
    let hidden_company = json["data"]["createCompany"]["id"]
        .as_str()
        .expect("company")
        .to_owned();
    let (_, json) = app
        .gql(
            Some(&other),
            CREATE_CONTACT,
            json!({"input": {"firstName": "Hidden", "lastName": "Person", "email": "hidden.person@secretive.example", "companyId": hidden_company}}),
        )
        .await;
    let hidden_contact = json["data"]["createContact"]["id"]
        .as_str()
        .expect("contact")
        .to_owned();
    let (_, json) = app
        .gql(
            Some(&rep),
            "query($id: ID!) { company(id: $id) { id } }",
            json!({"id": hidden_company}),
        )
        .await;
    assert!(json["data"]["company"].is_null(), "the rep cannot read it");

    let secrets = [
        hidden_company.to_lowercase(),
        hidden_contact.to_lowercase(),
        hidden_owner.id.to_string(),
        "hidden.owner".to_owned(),
        "zurich".to_owned(),
        "hidden person".to_owned(),
        "west".to_owned(),
    ];
    let check = |json: &Value, field: &str, what: &str| {
        assert_eq!(error_code(json), Some("CONFLICT"), "{what}: {json}");
        assert_eq!(json["errors"][0]["extensions"]["field"], field, "{what}");
        let ext = json["errors"][0]["extensions"].as_object().unwrap();
        let mut keys: Vec<&str> = ext.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["code", "field"],
            "{what}: nothing but code and field"
        );
        let text = error_text(json);
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "{what} reveals {s}: {json}");
        }
        assert!(text.contains("already exists"), "{what}: says it is taken");
    };
    for (what, input, field) in [
        ("same name", json!({"name": "SECRETIVE corp"}), "name"),
        (
            "same domain",
            json!({"name": "Other", "domain": "Secretive.Example"}),
            "domain",
        ),
    ] {
        let (_, json) = app
            .gql(Some(&rep), CREATE_COMPANY, json!({"input": input}))
            .await;
        check(&json, field, what);
    }
    let (_, json) = app
        .gql(
            Some(&rep),
            CREATE_CONTACT,
            json!({"input": {"firstName": "Me", "email": "Hidden.Person@secretive.example"}}),
        )
        .await;
    check(&json, "email", "same contact email");

    // Renaming one's own company onto the hidden name says no more.
    let (_, json) = app
        .gql(
            Some(&rep),
            CREATE_COMPANY,
            json!({"input": {"name": "Mine"}}),
        )
        .await;
    let mine = json["data"]["createCompany"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, json) = app
        .gql(
            Some(&rep),
            "mutation($id: ID!) { updateCompany(id: $id, input: {name: \"secretive CORP\"}) { id } }",
            json!({"id": mine}),
        )
        .await;
    check(&json, "name", "rename onto a hidden name");

    // Two creators racing for one name: the loser hears the same, from the unique index.
    for round in 0..5 {
        let name = format!("Raced {round}");
        let answers = all_at_once(
            &app,
            vec![
                (
                    rep.clone(),
                    CREATE_COMPANY,
                    json!({"input": {"name": name}}),
                ),
                (
                    other.clone(),
                    CREATE_COMPANY,
                    json!({"input": {"name": name}}),
                ),
            ],
        )
        .await;
        let losers: Vec<&Value> = answers.iter().filter(|a| !a["errors"].is_null()).collect();
        assert_eq!(losers.len(), 1, "{answers:?}");
        check(losers[0], "name", "raced create");
    }
    assert_still_answers(&app, &rep).await;
}
