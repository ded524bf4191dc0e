//! The database itself refuses rows that break the data model, whatever writes them.
//! Every insert here goes below the ORM, as raw SQL.

use chrono::Utc;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::helpers::TestApp;

async fn insert_user(app: &TestApp, email: &str, role: &str) -> Result<Uuid, sea_orm::DbErr> {
    let id = Uuid::new_v4();
    app.raw(
        "INSERT INTO users (id, email, name, password_hash, role, team_id, active, must_change_password, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $8, $9)",
        vec![
            id.into(),
            email.into(),
            "Test User".into(),
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            role.into(),
            true.into(),
            false.into(),
            Utc::now().into(),
            Utc::now().into(),
        ],
    )
    .await
    .map(|_| id)
}

async fn insert_company(
    app: &TestApp,
    name: &str,
    domain: Option<&str>,
    owner: Uuid,
) -> Result<Uuid, sea_orm::DbErr> {
    let id = Uuid::new_v4();
    app.raw(
        "INSERT INTO companies (id, name, domain, owner_id, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 1, $5, $6)",
        vec![
            id.into(),
            name.into(),
            domain.map(str::to_owned).into(),
            owner.into(),
            Utc::now().into(),
            Utc::now().into(),
        ],
    )
    .await
    .map(|_| id)
}

#[expect(
    clippy::too_many_arguments,
    reason = "one raw row, every column spelled out"
)]
async fn insert_deal(
    app: &TestApp,
    company: Uuid,
    owner: Uuid,
    title: &str,
    amount_cents: i64,
    currency: &str,
    stage: &str,
    probability: i16,
) -> Result<Uuid, sea_orm::DbErr> {
    let id = Uuid::new_v4();
    app.raw(
        "INSERT INTO deals (id, company_id, title, amount_cents, currency, stage, probability, priority, owner_id, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'medium', $8, 1, $9, $10)",
        vec![
            id.into(),
            company.into(),
            title.into(),
            amount_cents.into(),
            currency.into(),
            stage.into(),
            probability.into(),
            owner.into(),
            Utc::now().into(),
            Utc::now().into(),
        ],
    )
    .await
    .map(|_| id)
}

async fn insert_contact(
    app: &TestApp,
    company: Option<Uuid>,
    first: Option<&str>,
    last: Option<&str>,
    email: Option<&str>,
    owner: Uuid,
) -> Result<Uuid, sea_orm::DbErr> {
    let id = Uuid::new_v4();
    app.raw(
        "INSERT INTO contacts (id, company_id, first_name, last_name, full_name, email, is_primary, owner_id, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10)",
        vec![
            id.into(),
            company.into(),
            first.map(str::to_owned).into(),
            last.map(str::to_owned).into(),
            format!("{} {}", first.unwrap_or(""), last.unwrap_or(""))
                .trim()
                .to_owned()
                .into(),
            email.map(str::to_owned).into(),
            false.into(),
            owner.into(),
            Utc::now().into(),
            Utc::now().into(),
        ],
    )
    .await
    .map(|_| id)
}

#[tokio::test]
async fn users_need_a_known_role_and_a_case_insensitively_unique_email() {
    let app = TestApp::new().await;
    insert_user(&app, "rep@example.com", "sales_rep")
        .await
        .unwrap();
    assert!(
        insert_user(&app, "boss@example.com", "superuser")
            .await
            .is_err()
    );
    assert!(
        insert_user(&app, "REP@Example.com", "manager")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn company_name_and_domain_rules_are_enforced() {
    let app = TestApp::new().await;
    let owner = insert_user(&app, "o@example.com", "sales_rep")
        .await
        .unwrap();
    insert_company(&app, "Acme", Some("acme.com"), owner)
        .await
        .unwrap();
    // name unique regardless of case
    assert!(insert_company(&app, "ACME", None, owner).await.is_err());
    // domain unique, lowercase, no spaces
    assert!(
        insert_company(&app, "Other", Some("acme.com"), owner)
            .await
            .is_err()
    );
    assert!(
        insert_company(&app, "Upper", Some("Upper.com"), owner)
            .await
            .is_err()
    );
    assert!(
        insert_company(&app, "Spaced", Some("spa ced.com"), owner)
            .await
            .is_err()
    );
    // name required, at most 200 characters
    assert!(insert_company(&app, "", None, owner).await.is_err());
    assert!(
        insert_company(&app, &"x".repeat(201), None, owner)
            .await
            .is_err()
    );
    insert_company(&app, &"y".repeat(200), None, owner)
        .await
        .unwrap();
    // owner must exist
    assert!(
        insert_company(&app, "Ghost", None, Uuid::new_v4())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn deals_refuse_bad_amounts_stages_currencies_and_orphans() {
    let app = TestApp::new().await;
    let owner = insert_user(&app, "o@example.com", "sales_rep")
        .await
        .unwrap();
    let company = insert_company(&app, "Acme", None, owner).await.unwrap();
    insert_deal(&app, company, owner, "Good", 100, "USD", "prospecting", 10)
        .await
        .unwrap();
    assert!(
        insert_deal(&app, company, owner, "Neg", -1, "USD", "prospecting", 10)
            .await
            .is_err()
    );
    assert!(
        insert_deal(&app, company, owner, "Stage", 1, "USD", "won", 10)
            .await
            .is_err()
    );
    assert!(
        insert_deal(&app, company, owner, "Cur", 1, "usd", "prospecting", 10)
            .await
            .is_err()
    );
    assert!(
        insert_deal(&app, company, owner, "Cur", 1, "USDX", "prospecting", 10)
            .await
            .is_err()
    );
    assert!(
        insert_deal(&app, company, owner, "Prob", 1, "USD", "prospecting", 101)
            .await
            .is_err()
    );
    assert!(
        insert_deal(&app, company, owner, "", 1, "USD", "prospecting", 10)
            .await
            .is_err()
    );
    assert!(
        insert_deal(
            &app,
            Uuid::new_v4(),
            owner,
            "Orphan",
            1,
            "USD",
            "prospecting",
            10
        )
        .await
        .is_err()
    );
}

#[tokio::test]
async fn contacts_need_a_name_and_a_unique_email() {
    let app = TestApp::new().await;
    let owner = insert_user(&app, "o@example.com", "sales_rep")
        .await
        .unwrap();
    insert_contact(
        &app,
        None,
        Some("Ada"),
        None,
        Some("ada@example.com"),
        owner,
    )
    .await
    .unwrap();
    insert_contact(&app, None, None, Some("Lovelace"), None, owner)
        .await
        .unwrap();
    assert!(
        insert_contact(&app, None, None, None, None, owner)
            .await
            .is_err()
    );
    assert!(
        insert_contact(
            &app,
            None,
            Some("Eve"),
            None,
            Some("ADA@example.com"),
            owner
        )
        .await
        .is_err()
    );
}

#[tokio::test]
async fn deleting_a_company_keeps_contacts_and_is_blocked_by_deals() {
    let app = TestApp::new().await;
    let owner = insert_user(&app, "o@example.com", "sales_rep")
        .await
        .unwrap();
    let with_contact = insert_company(&app, "Contacted", None, owner)
        .await
        .unwrap();
    let contact = insert_contact(&app, Some(with_contact), Some("Ada"), None, None, owner)
        .await
        .unwrap();
    app.raw(
        "DELETE FROM companies WHERE id = $1",
        vec![with_contact.into()],
    )
    .await
    .unwrap();
    let rows = app
        .db
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            app.backend(),
            if app.backend() == sea_orm::DbBackend::Sqlite {
                "SELECT company_id FROM contacts WHERE id = ?1"
            } else {
                "SELECT company_id FROM contacts WHERE id = $1"
            },
            vec![contact.into()],
        ))
        .await
        .unwrap()
        .expect("contact survives");
    let company_id: Option<Uuid> = rows.try_get("", "company_id").unwrap();
    assert_eq!(company_id, None, "contact.company_id set to null");

    let with_deal = insert_company(&app, "Dealt", None, owner).await.unwrap();
    insert_deal(&app, with_deal, owner, "Big", 1, "USD", "proposal", 50)
        .await
        .unwrap();
    assert!(
        app.raw(
            "DELETE FROM companies WHERE id = $1",
            vec![with_deal.into()]
        )
        .await
        .is_err()
    );
}

#[tokio::test]
async fn a_deal_is_shared_with_a_user_at_most_once_with_a_known_permission() {
    let app = TestApp::new().await;
    let owner = insert_user(&app, "o@example.com", "sales_rep")
        .await
        .unwrap();
    let other = insert_user(&app, "p@example.com", "sales_rep")
        .await
        .unwrap();
    let company = insert_company(&app, "Acme", None, owner).await.unwrap();
    let deal = insert_deal(&app, company, owner, "D", 1, "USD", "proposal", 50)
        .await
        .unwrap();
    let share = |permission: &'static str| {
        let app = &app;
        async move {
            app.raw(
                "INSERT INTO deal_shares (id, deal_id, user_id, permission, created_at) VALUES ($1, $2, $3, $4, $5)",
                vec![
                    Uuid::new_v4().into(),
                    deal.into(),
                    other.into(),
                    permission.into(),
                    Utc::now().into(),
                ],
            )
            .await
        }
    };
    assert!(share("admin").await.is_err());
    share("view").await.unwrap();
    assert!(
        share("edit").await.is_err(),
        "second share of the same pair"
    );
    // Deleting the deal removes its shares.
    app.raw("DELETE FROM deals WHERE id = $1", vec![deal.into()])
        .await
        .unwrap();
}

#[tokio::test]
async fn activities_need_a_subject_and_a_known_type() {
    let app = TestApp::new().await;
    let owner = insert_user(&app, "o@example.com", "sales_rep")
        .await
        .unwrap();
    let insert = |kind: &'static str, subject: &'static str| {
        let app = &app;
        async move {
            app.raw(
                "INSERT INTO activities (id, type, subject, completed, created_by, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 1, $6, $7)",
                vec![
                    Uuid::new_v4().into(),
                    kind.into(),
                    subject.into(),
                    false.into(),
                    owner.into(),
                    Utc::now().into(),
                    Utc::now().into(),
                ],
            )
            .await
        }
    };
    insert("call", "Intro call").await.unwrap();
    assert!(insert("fax", "Old school").await.is_err());
    assert!(insert("call", "").await.is_err());
}

#[tokio::test]
async fn values_are_stored_exactly() {
    let app = TestApp::new().await;
    let owner = insert_user(&app, "o@example.com", "sales_rep")
        .await
        .unwrap();
    let company = insert_company(&app, "Acme", None, owner).await.unwrap();
    // The largest amount allowed (999,999,999,999.99, `ck_deals_amount_max`) needs 47 bits:
    // an odd value a 32-bit integer or a `REAL` narrower than a double would not keep.
    let big: i64 = 99_999_999_999_999;
    let deal = insert_deal(&app, company, owner, "Huge", big, "USD", "proposal", 50)
        .await
        .unwrap();
    let sql = if app.backend() == sea_orm::DbBackend::Sqlite {
        "SELECT amount_cents FROM deals WHERE id = ?1"
    } else {
        "SELECT amount_cents FROM deals WHERE id = $1"
    };
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            app.backend(),
            sql,
            vec![deal.into()],
        ))
        .await
        .unwrap()
        .unwrap();
    let got: i64 = row.try_get("", "amount_cents").unwrap();
    assert_eq!(got, big);
}
