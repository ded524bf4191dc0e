//! The migrations against a real database: SQLite in memory, and PostgreSQL as well when
//! `TEST_DATABASE_URL` is set (each test then creates and drops its own database).
//!
//! Checks that the entities round-trip through the schema (every enum value passes its CHECK),
//! that constraint violations carry the constraint's name, the foreign-key actions and defaults,
//! that the amount limit spares rows written before it, the events index layout of each
//! backend, and that `down` undoes `up`.

use std::future::Future;

use chrono::{SubsecRound, Utc};
use entity::enums::{
    ActivityStatus, ActivityType, CompanySize, DealSource, DealStage, Department, Industry,
    Priority, Role, SharePermission,
};
use entity::{activity, company, contact, deal, deal_share, team, user};
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ConnectionTrait, Database, DatabaseConnection, DbErr,
    EntityTrait, Iterable, ModelTrait, Set, Statement,
};
use uuid::Uuid;

/// `sea_orm` through the migration crate, so the test needs no extra dependency.
use migration::sea_orm;

/// Runs `test` on a fresh, migrated SQLite database, then on PostgreSQL when configured.
async fn on_each_backend<F, Fut>(test: F)
where
    F: Fn(DatabaseConnection) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = Database::connect("sqlite::memory:").await.expect("sqlite");
    Migrator::up(&db, None).await.expect("migrate sqlite");
    test(db).await;

    if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
        let admin = Database::connect(&url).await.expect("postgres");
        let name = format!("crm_migration_test_{}", Uuid::new_v4().simple());
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
        let db = Database::connect(format!("{base}/{name}"))
            .await
            .expect("connect to test database");
        Migrator::up(&db, None).await.expect("migrate postgres");
        test(db.clone()).await;
        db.close().await.expect("close");
        admin
            .execute_unprepared(&format!("DROP DATABASE {name}"))
            .await
            .expect("drop database");
    }
}

/// The largest amount `ck_deals_amount_max` lets through (999,999,999,999.99).
const MAX_AMOUNT_CENTS: i64 = 99_999_999_999_999;

fn now() -> chrono::DateTime<Utc> {
    // PostgreSQL keeps microseconds; truncate so round-trips compare equal.
    Utc::now().trunc_subsecs(6)
}

async fn insert_user(db: &DatabaseConnection, email: &str, role: Role) -> user::Model {
    user::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.to_owned()),
        name: Set("Test User".to_owned()),
        password_hash: Set("$argon2id$v=19$m=19456,t=2,p=1$x$y".to_owned()),
        role: Set(role),
        team_id: Set(None),
        active: Set(true),
        must_change_password: Set(false),
        created_at: Set(now()),
        updated_at: Set(now()),
    }
    .insert(db)
    .await
    .expect("insert user")
}

fn company_model(owner: Uuid, name: &str) -> company::ActiveModel {
    company::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name.to_owned()),
        domain: Set(None),
        industry: Set(None),
        size: Set(None),
        address: Set(None),
        city: Set(None),
        state: Set(None),
        country: Set(None),
        phone: Set(None),
        website: Set(None),
        owner_id: Set(owner),
        version: Set(1),
        created_at: Set(now()),
        updated_at: Set(now()),
    }
}

fn contact_model(owner: Uuid, company: Option<Uuid>) -> contact::ActiveModel {
    contact::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(company),
        first_name: Set(Some("Ada".to_owned())),
        last_name: Set(None),
        full_name: Set("Ada".to_owned()),
        email: Set(None),
        phone: Set(None),
        mobile: Set(None),
        title: Set(None),
        department: Set(None),
        is_primary: Set(false),
        linkedin_url: Set(None),
        notes: Set(None),
        owner_id: Set(owner),
        version: Set(1),
        created_at: Set(now()),
        updated_at: Set(now()),
    }
}

fn deal_model(owner: Uuid, company: Uuid) -> deal::ActiveModel {
    deal::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(company),
        contact_id: Set(None),
        title: Set("Deal".to_owned()),
        amount_cents: Set(100_000),
        currency: Set("USD".to_owned()),
        stage: Set(DealStage::Prospecting),
        probability: Set(DealStage::Prospecting.probability()),
        expected_close_date: Set(None),
        actual_close_date: Set(None),
        source: Set(None),
        priority: Set(Priority::Medium),
        notes: Set(None),
        owner_id: Set(owner),
        version: Set(1),
        created_at: Set(now()),
        updated_at: Set(now()),
    }
}

fn activity_model(creator: Uuid) -> activity::ActiveModel {
    activity::ActiveModel {
        id: Set(Uuid::now_v7()),
        kind: Set(ActivityType::Call),
        subject: Set("Call".to_owned()),
        description: Set(None),
        due_at: Set(None),
        completed: Set(false),
        completed_at: Set(None),
        priority: Set(Priority::Medium),
        status: Set(ActivityStatus::Pending),
        company_id: Set(None),
        contact_id: Set(None),
        deal_id: Set(None),
        created_by: Set(creator),
        assigned_to: Set(None),
        version: Set(1),
        created_at: Set(now()),
        updated_at: Set(now()),
    }
}

/// The error must name the constraint, so the API can map it to a field.
fn assert_violates<T: std::fmt::Debug>(result: Result<T, DbErr>, constraint: &str) {
    match result {
        Ok(value) => panic!("expected a violation of {constraint}, got {value:?}"),
        Err(err) => assert!(
            err.to_string().contains(constraint),
            "expected a violation of {constraint}, got: {err}"
        ),
    }
}

#[tokio::test]
async fn every_entity_and_enum_value_round_trips() {
    on_each_backend(|db| async move {
        let admin = insert_user(&db, "admin@example.com", Role::Admin).await;
        let team = team::ActiveModel {
            id: Set(Uuid::now_v7()),
            name: Set("East".to_owned()),
            manager_id: Set(Some(admin.id)),
            created_at: Set(now()),
            updated_at: Set(now()),
        }
        .insert(&db)
        .await
        .expect("insert team");
        for (i, role) in Role::iter().enumerate() {
            let mut user: user::ActiveModel = insert_user(&db, &format!("u{i}@example.com"), role)
                .await
                .into();
            user.team_id = Set(Some(team.id));
            let user = user.update(&db).await.expect("update user");
            let found = user::Entity::find_by_id(user.id).one(&db).await.unwrap();
            assert_eq!(found.as_ref(), Some(&user));
            let found_team = user.find_related(team::Entity).one(&db).await.unwrap();
            assert_eq!(found_team.as_ref(), Some(&team));
        }

        let mut companies = Vec::new();
        for (i, industry) in Industry::iter().enumerate() {
            let size = CompanySize::iter().nth(i % 5);
            let mut model = company_model(admin.id, &format!("Company {i}"));
            model.domain = Set(Some(format!("c{i}.example.com")));
            model.industry = Set(Some(industry));
            model.size = Set(size);
            model.phone = Set(Some("+14155550100".to_owned()));
            let inserted = model.insert(&db).await.expect("insert company");
            let found = company::Entity::find_by_id(inserted.id).one(&db).await;
            assert_eq!(found.unwrap().as_ref(), Some(&inserted));
            companies.push(inserted);
        }

        let mut contacts = Vec::new();
        for (i, department) in Department::iter().enumerate() {
            let mut model = contact_model(admin.id, Some(companies[0].id));
            model.email = Set(Some(format!("contact{i}@example.com")));
            model.department = Set(Some(department));
            model.is_primary = Set(i == 0);
            let inserted = model.insert(&db).await.expect("insert contact");
            let found = contact::Entity::find_by_id(inserted.id).one(&db).await;
            assert_eq!(found.unwrap().as_ref(), Some(&inserted));
            contacts.push(inserted);
        }

        let date = chrono::NaiveDate::from_ymd_opt(2030, 1, 31).unwrap();
        for (i, stage) in DealStage::iter().enumerate() {
            let mut model = deal_model(admin.id, companies[0].id);
            model.contact_id = Set(Some(contacts[0].id));
            model.stage = Set(stage);
            model.probability = Set(stage.probability());
            model.amount_cents = Set(MAX_AMOUNT_CENTS);
            model.source = Set(DealSource::iter().nth(i % 5));
            model.priority = Set(Priority::iter().nth(i % 3).unwrap());
            model.expected_close_date = Set(Some(date));
            model.actual_close_date = Set(stage.is_closed().then_some(date));
            let inserted = model.insert(&db).await.expect("insert deal");
            let found = deal::Entity::find_by_id(inserted.id)
                .one(&db)
                .await
                .unwrap();
            assert_eq!(found.as_ref(), Some(&inserted));
            let company = inserted
                .find_related(company::Entity)
                .one(&db)
                .await
                .unwrap();
            assert_eq!(company.map(|c| c.id), Some(companies[0].id));

            let share = deal_share::ActiveModel {
                id: Set(Uuid::now_v7()),
                deal_id: Set(inserted.id),
                user_id: Set(admin.id),
                permission: Set(SharePermission::iter().nth(i % 2).unwrap()),
                created_at: Set(now()),
            }
            .insert(&db)
            .await
            .expect("insert share");
            let shares = inserted
                .find_related(deal_share::Entity)
                .all(&db)
                .await
                .unwrap();
            assert_eq!(shares, vec![share]);
        }

        for kind in ActivityType::iter() {
            let mut model = activity_model(admin.id);
            model.kind = Set(kind);
            model.due_at = Set(Some(now()));
            model.completed = Set(true);
            model.completed_at = Set(Some(now()));
            model.company_id = Set(Some(companies[0].id));
            model.contact_id = Set(Some(contacts[0].id));
            model.assigned_to = Set(Some(admin.id));
            let inserted = model.insert(&db).await.expect("insert activity");
            let found = activity::Entity::find_by_id(inserted.id).one(&db).await;
            assert_eq!(found.unwrap().as_ref(), Some(&inserted));
        }
    })
    .await;
}

#[tokio::test]
async fn violations_name_their_constraint() {
    on_each_backend(|db| async move {
        let owner = insert_user(&db, "Owner@Example.com", Role::SalesRep).await;
        assert_violates(
            user::ActiveModel {
                id: Set(Uuid::now_v7()),
                ..user::ActiveModel::from(owner.clone())
            }
            .insert(&db)
            .await
            .map(|_| ()),
            "ux_users_email_lower",
        );
        let mut upper = user::ActiveModel::from(owner.clone());
        upper.id = Set(Uuid::now_v7());
        upper.email = Set("OWNER@EXAMPLE.COM".to_owned());
        assert_violates(upper.insert(&db).await, "ux_users_email_lower");

        // Companies.
        let mut acme = company_model(owner.id, "Acme");
        acme.domain = Set(Some("acme.com".to_owned()));
        let acme = acme.insert(&db).await.expect("insert company");
        assert_violates(
            company_model(owner.id, "ACME").insert(&db).await,
            "ux_companies_name_lower",
        );
        assert_violates(
            company_model(owner.id, " ").insert(&db).await,
            "ck_companies_name_nonempty",
        );
        assert_violates(
            company_model(owner.id, &"x".repeat(201)).insert(&db).await,
            "ck_companies_name_length",
        );
        company_model(owner.id, &"y".repeat(200))
            .insert(&db)
            .await
            .expect("200 characters");
        for (domain, constraint) in [
            ("Acme.org", "ck_companies_domain_lower"),
            ("ac me.org", "ck_companies_domain_no_spaces"),
            ("", "ck_companies_domain_nonempty"),
            ("acme.com", "ux_companies_domain_lower"),
        ] {
            let mut model = company_model(owner.id, "Other");
            model.domain = Set(Some(domain.to_owned()));
            assert_violates(model.insert(&db).await, constraint);
        }
        let mut model = company_model(owner.id, "Versioned");
        model.version = Set(0);
        assert_violates(model.insert(&db).await, "ck_companies_version_positive");

        // Contacts.
        let mut nameless = contact_model(owner.id, None);
        nameless.first_name = Set(None);
        assert_violates(nameless.insert(&db).await, "ck_contacts_name_present");
        let mut first = contact_model(owner.id, None);
        first.email = Set(Some("ada@example.com".to_owned()));
        first.insert(&db).await.expect("insert contact");
        let mut second = contact_model(owner.id, None);
        second.email = Set(Some("ADA@example.com".to_owned()));
        assert_violates(second.insert(&db).await, "ux_contacts_email_lower");
        // Several contacts without an email are fine.
        contact_model(owner.id, None)
            .insert(&db)
            .await
            .expect("no email");
        contact_model(owner.id, None)
            .insert(&db)
            .await
            .expect("no email");

        // Deals.
        for (edit, constraint) in [
            (
                (|m: &mut deal::ActiveModel| m.amount_cents = Set(-1))
                    as fn(&mut deal::ActiveModel),
                "ck_deals_amount_nonneg",
            ),
            (|m| m.currency = Set("usd".to_owned()), "ck_deals_currency"),
            (|m| m.currency = Set("USDX".to_owned()), "ck_deals_currency"),
            (|m| m.probability = Set(101), "ck_deals_probability_range"),
            (|m| m.probability = Set(-1), "ck_deals_probability_range"),
            (|m| m.title = Set(String::new()), "ck_deals_title_nonempty"),
            (|m| m.version = Set(0), "ck_deals_version_positive"),
            (
                |m| m.amount_cents = Set(MAX_AMOUNT_CENTS + 1),
                "ck_deals_amount_max",
            ),
            (|m| m.amount_cents = Set(i64::MAX), "ck_deals_amount_max"),
        ] {
            let mut model = deal_model(owner.id, acme.id);
            edit(&mut model);
            assert_violates(model.insert(&db).await, constraint);
        }
        let deal = deal_model(owner.id, acme.id)
            .insert(&db)
            .await
            .expect("insert deal");
        let mut at_max: deal::ActiveModel = deal.clone().into();
        at_max.amount_cents = Set(MAX_AMOUNT_CENTS);
        at_max
            .update(&db)
            .await
            .expect("the maximum itself is allowed");

        // Enum columns reject strings outside the enum (written behind the entity's back).
        let backend = db.get_database_backend();
        for (sql, constraint) in [
            ("UPDATE users SET role = 'root'", "ck_users_role"),
            (
                "UPDATE companies SET industry = 'Mining'",
                "ck_companies_industry",
            ),
            ("UPDATE companies SET size = '5000+'", "ck_companies_size"),
            (
                "UPDATE contacts SET department = 'Legal'",
                "ck_contacts_department",
            ),
            ("UPDATE deals SET stage = 'won'", "ck_deals_stage"),
            ("UPDATE deals SET source = 'ads'", "ck_deals_source"),
            ("UPDATE deals SET priority = 'urgent'", "ck_deals_priority"),
            (
                "UPDATE deals SET amount_cents = 100000000000000",
                "ck_deals_amount_max",
            ),
            (
                "UPDATE deals SET amount_cents = amount_cents + 1",
                "ck_deals_amount_max",
            ),
        ] {
            assert_violates(
                db.execute_raw(Statement::from_string(backend, sql)).await,
                constraint,
            );
        }

        let share = |permission| deal_share::ActiveModel {
            id: Set(Uuid::now_v7()),
            deal_id: Set(deal.id),
            user_id: Set(owner.id),
            permission: Set(permission),
            created_at: Set(now()),
        };
        share(SharePermission::View)
            .insert(&db)
            .await
            .expect("insert share");
        // SQLite names the columns of a plain unique index, PostgreSQL the index.
        let duplicate = share(SharePermission::Edit).insert(&db).await;
        let expected = match backend {
            sea_orm::DbBackend::Sqlite => "deal_shares.deal_id, deal_shares.user_id",
            _ => "ux_deal_shares_deal_id_user_id",
        };
        assert_violates(duplicate, expected);
        assert_violates(
            db.execute_raw(Statement::from_string(
                backend,
                "UPDATE deal_shares SET permission = 'admin'",
            ))
            .await,
            "ck_deal_shares_permission",
        );

        // Activities.
        let mut model = activity_model(owner.id);
        model.subject = Set("  ".to_owned());
        assert_violates(model.insert(&db).await, "ck_activities_subject_nonempty");
        activity_model(owner.id)
            .insert(&db)
            .await
            .expect("insert activity");
        assert_violates(
            db.execute_raw(Statement::from_string(
                backend,
                "UPDATE activities SET \"type\" = 'sms'",
            ))
            .await,
            "ck_activities_type",
        );
    })
    .await;
}

#[tokio::test]
async fn defaults_apply_when_columns_are_omitted() {
    on_each_backend(|db| async move {
        let owner = insert_user(&db, "owner@example.com", Role::SalesRep).await;
        let user = user::ActiveModel {
            id: Set(Uuid::now_v7()),
            email: Set("defaults@example.com".to_owned()),
            name: Set("Defaults".to_owned()),
            password_hash: Set("hash".to_owned()),
            role: Set(Role::SalesRep),
            team_id: NotSet,
            active: NotSet,
            must_change_password: NotSet,
            created_at: Set(now()),
            updated_at: Set(now()),
        }
        .insert(&db)
        .await
        .expect("insert user");
        assert!(user.active);
        assert!(!user.must_change_password);
        assert_eq!(user.team_id, None);

        let mut company = company_model(owner.id, "Defaults Inc");
        company.version = NotSet;
        let company = company.insert(&db).await.expect("insert company");
        assert_eq!(company.version, 1);

        let mut contact = contact_model(owner.id, None);
        contact.is_primary = NotSet;
        contact.version = NotSet;
        let contact = contact.insert(&db).await.expect("insert contact");
        assert!(!contact.is_primary);
        assert_eq!(contact.version, 1);

        let mut deal = deal_model(owner.id, company.id);
        deal.currency = NotSet;
        deal.priority = NotSet;
        deal.version = NotSet;
        let deal = deal.insert(&db).await.expect("insert deal");
        assert_eq!(deal.currency, "USD");
        assert_eq!(deal.priority, Priority::Medium);
        assert_eq!(deal.version, 1);

        let mut activity = activity_model(owner.id);
        activity.completed = NotSet;
        activity.version = NotSet;
        let activity = activity.insert(&db).await.expect("insert activity");
        assert!(!activity.completed);
        assert_eq!(activity.version, 1);
    })
    .await;
}

#[tokio::test]
async fn foreign_keys_act_on_delete() {
    on_each_backend(|db| async move {
        let manager = insert_user(&db, "manager@example.com", Role::Manager).await;
        let rep = insert_user(&db, "rep@example.com", Role::SalesRep).await;
        let helper = insert_user(&db, "helper@example.com", Role::SalesRep).await;
        let team = team::ActiveModel {
            id: Set(Uuid::now_v7()),
            name: Set("West".to_owned()),
            manager_id: Set(Some(manager.id)),
            created_at: Set(now()),
            updated_at: Set(now()),
        }
        .insert(&db)
        .await
        .expect("insert team");
        let mut member: user::ActiveModel = rep.clone().into();
        member.team_id = Set(Some(team.id));
        member.update(&db).await.expect("join team");

        let company = company_model(rep.id, "Globex").insert(&db).await.unwrap();
        let contact = contact_model(rep.id, Some(company.id))
            .insert(&db)
            .await
            .unwrap();
        let mut deal = deal_model(rep.id, company.id);
        deal.contact_id = Set(Some(contact.id));
        let deal = deal.insert(&db).await.unwrap();
        let share = deal_share::ActiveModel {
            id: Set(Uuid::now_v7()),
            deal_id: Set(deal.id),
            user_id: Set(helper.id),
            permission: Set(SharePermission::Edit),
            created_at: Set(now()),
        }
        .insert(&db)
        .await
        .unwrap();
        let mut on_everything = activity_model(rep.id);
        on_everything.company_id = Set(Some(company.id));
        on_everything.contact_id = Set(Some(contact.id));
        on_everything.assigned_to = Set(Some(helper.id));
        let on_everything = on_everything.insert(&db).await.unwrap();
        let mut on_deal = activity_model(rep.id);
        on_deal.deal_id = Set(Some(deal.id));
        let on_deal = on_deal.insert(&db).await.unwrap();

        // Owners and creators cannot be deleted while they own records.
        assert!(rep.clone().delete(&db).await.is_err());
        // A company with deals cannot be deleted.
        assert!(company.clone().delete(&db).await.is_err());

        // Deleting a user the deal is shared with drops the share and unassigns activities.
        helper.delete(&db).await.expect("delete helper");
        assert_eq!(
            deal_share::Entity::find_by_id(share.id)
                .one(&db)
                .await
                .unwrap(),
            None
        );
        let reloaded = activity::Entity::find_by_id(on_everything.id)
            .one(&db)
            .await
            .unwrap();
        assert_eq!(reloaded.unwrap().assigned_to, None);

        // Deleting the contact unlinks deals and activities.
        contact.delete(&db).await.expect("delete contact");
        let reloaded = deal::Entity::find_by_id(deal.id)
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reloaded.contact_id, None);
        let reloaded = activity::Entity::find_by_id(on_everything.id)
            .one(&db)
            .await
            .unwrap();
        assert_eq!(reloaded.unwrap().contact_id, None);

        // Deleting a deal deletes its shares and activities.
        let share = deal_share::ActiveModel {
            id: Set(Uuid::now_v7()),
            deal_id: Set(deal.id),
            user_id: Set(manager.id),
            permission: Set(SharePermission::View),
            created_at: Set(now()),
        }
        .insert(&db)
        .await
        .unwrap();
        deal::Entity::delete_by_id(deal.id)
            .exec(&db)
            .await
            .expect("delete deal");
        assert_eq!(
            activity::Entity::find_by_id(on_deal.id)
                .one(&db)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            deal_share::Entity::find_by_id(share.id)
                .one(&db)
                .await
                .unwrap(),
            None
        );

        // Now the company has no deals: deleting it unlinks contacts and activities.
        let other_contact = contact_model(rep.id, Some(company.id))
            .insert(&db)
            .await
            .unwrap();
        let mut on_company = activity_model(rep.id);
        on_company.company_id = Set(Some(company.id));
        let on_company = on_company.insert(&db).await.unwrap();
        company.delete(&db).await.expect("delete company");
        let reloaded = contact::Entity::find_by_id(other_contact.id)
            .one(&db)
            .await
            .unwrap();
        assert_eq!(reloaded.unwrap().company_id, None);
        let reloaded = activity::Entity::find_by_id(on_company.id)
            .one(&db)
            .await
            .unwrap();
        assert_eq!(reloaded.unwrap().company_id, None);

        // Deleting a team's manager leaves the team without one; deleting the team leaves its
        // members without a team.
        manager.delete(&db).await.expect("delete manager");
        let reloaded = team::Entity::find_by_id(team.id)
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reloaded.manager_id, None);
        team::Entity::delete_by_id(team.id)
            .exec(&db)
            .await
            .expect("delete team");
        let reloaded = user::Entity::find_by_id(rep.id)
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reloaded.team_id, None);
    })
    .await;
}

/// The limit is `NOT VALID` on PostgreSQL and a pair of triggers on SQLite: a deal stored
/// above it before the migration does not stop the migration, and stays readable; new
/// oversized writes are refused, and `down` lifts the limit again.
#[tokio::test]
async fn amount_limit_spares_existing_rows() {
    on_each_backend(|db| async move {
        let backend = db.get_database_backend();
        let owner = insert_user(&db, "owner@example.com", Role::SalesRep).await;
        let company = company_model(owner.id, "Legacy").insert(&db).await.unwrap();
        // Down past the migrations after the limit, and the limit.
        Migrator::down(&db, Some(limit_and_after()))
            .await
            .expect("down to before the limit");
        let mut legacy = deal_model(owner.id, company.id);
        legacy.amount_cents = Set(i64::MAX);
        let legacy = legacy.insert(&db).await.expect("no limit yet");

        Migrator::up(&db, None)
            .await
            .expect("an oversized row does not block the migration");
        let found = deal::Entity::find_by_id(legacy.id).one(&db).await.unwrap();
        assert_eq!(found.map(|d| d.amount_cents), Some(i64::MAX));
        let mut oversized = deal_model(owner.id, company.id);
        oversized.amount_cents = Set(MAX_AMOUNT_CENTS + 1);
        assert_violates(oversized.insert(&db).await, "ck_deals_amount_max");
        // The old row can be brought under the limit.
        assert!(
            db.execute_raw(Statement::from_string(
                backend,
                format!("UPDATE deals SET amount_cents = {MAX_AMOUNT_CENTS}"),
            ))
            .await
            .is_ok()
        );

        Migrator::down(&db, Some(limit_and_after()))
            .await
            .expect("down lifts the limit");
        let mut oversized = deal_model(owner.id, company.id);
        oversized.amount_cents = Set(MAX_AMOUNT_CENTS + 1);
        oversized.insert(&db).await.expect("no limit after down");
    })
    .await;
}

/// How many steps down undo the amount-limit migration (it and the ones after it).
fn limit_and_after() -> u32 {
    let from_end = Migrator::migrations()
        .iter()
        .rev()
        .position(|m| m.name().contains("add_deal_amount_max"))
        .expect("the amount limit migration");
    u32::try_from(from_end + 1).unwrap()
}

#[tokio::test]
async fn down_undoes_up() {
    on_each_backend(|db| async move {
        let owner = insert_user(&db, "owner@example.com", Role::Admin).await;
        let company = company_model(owner.id, "Initech")
            .insert(&db)
            .await
            .unwrap();
        deal_model(owner.id, company.id).insert(&db).await.unwrap();

        for remaining in (0..Migrator::migrations().len()).rev() {
            Migrator::down(&db, Some(1)).await.expect("down one step");
            let applied = Migrator::get_applied_migrations(&db).await.unwrap();
            assert_eq!(applied.len(), remaining);
        }
        let manager = migration::SchemaManager::new(&db);
        for table in [
            "users",
            "teams",
            "companies",
            "contacts",
            "deals",
            "deal_shares",
            "activities",
            "events",
            "schedule_runs",
        ] {
            assert!(
                !manager.has_table(table).await.unwrap(),
                "{table} still exists"
            );
        }

        Migrator::up(&db, None).await.expect("up again");
        for table in [
            "users",
            "teams",
            "companies",
            "contacts",
            "deals",
            "deal_shares",
            "activities",
        ] {
            assert!(
                manager.has_table(table).await.unwrap(),
                "{table} is missing"
            );
        }
        assert!(
            Migrator::get_pending_migrations(&db)
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}

/// The columns of index `name`, in order (none when there is no such index).
async fn index_columns(db: &DatabaseConnection, name: &str) -> Vec<String> {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Sqlite => {
            format!("SELECT name FROM pragma_index_info('{name}') ORDER BY seqno")
        }
        _ => format!(
            "SELECT a.attname::text AS name
             FROM pg_index i
             JOIN pg_class c ON c.oid = i.indexrelid
             JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) ON true
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE c.relname = '{name}'
             ORDER BY k.n"
        ),
    };
    db.query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect()
}

/// The events indexes as (name, columns).
async fn events_indexes(db: &DatabaseConnection) -> Vec<(&'static str, Vec<String>)> {
    let mut out = Vec::new();
    for name in [
        "ix_events_order",
        "ix_events_actor",
        "ix_events_action",
        "ix_events_kind",
        "ix_events_record",
        "ix_events_at",
    ] {
        out.push((name, index_columns(db, name).await));
    }
    out
}

fn layout(order: &[&str], filters: &[&str]) -> Vec<(&'static str, Vec<String>)> {
    let owned = |cols: &[&str]| cols.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();
    let with = |first: &str| {
        let mut cols = vec![first.to_owned()];
        cols.extend(owned(filters));
        cols
    };
    vec![
        ("ix_events_order", owned(order)),
        ("ix_events_actor", with("actor_id")),
        ("ix_events_action", with("action")),
        ("ix_events_kind", with("kind")),
        ("ix_events_record", with("record_id")),
        ("ix_events_at", owned(&["at"])),
    ]
}

/// On SQLite the events index migration drops `ix_events_order` and leaves `txid` out of
/// the filter indexes (it is always 0 there); `down` restores the first layout, and on
/// PostgreSQL nothing changes either way.
#[tokio::test]
async fn events_indexes_change_on_sqlite_only_and_revert() {
    on_each_backend(|db| async move {
        let first = layout(&["txid", "position"], &["txid", "position"]);
        let current = if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
            layout(&[], &["position"])
        } else {
            first.clone()
        };
        assert_eq!(events_indexes(&db).await, current);

        let from_end = Migrator::migrations()
            .iter()
            .rev()
            .position(|m| m.name().contains("events_indexes"))
            .expect("the events index migration");
        let steps = u32::try_from(from_end + 1).unwrap();
        Migrator::down(&db, Some(steps)).await.expect("down");
        assert_eq!(events_indexes(&db).await, first);

        Migrator::up(&db, None).await.expect("up again");
        assert_eq!(events_indexes(&db).await, current);
    })
    .await;
}
