//! The demo organisation: three teams, a manager each, reps, an admin, and a realistic
//! spread of companies, contacts, deals (every stage) and activities. Deterministic, so
//! demo screenshots and docs stay true.

use chrono::{Duration, Utc};
use entity::enums::{
    ActivityStatus, ActivityType, CompanySize, DealSource, DealStage, Department, Industry,
    Priority, Role, SharePermission,
};
use entity::{activity, company, contact, deal, deal_share, team, user};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, Set,
    TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use crate::auth::password::hash_password;
use crate::error::ApiResult;

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "demo-password-2026";

/// One demo login, printed at start.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    /// Login email.
    pub email: String,
    /// Role name as stored.
    pub role: Role,
    /// Team name, if any.
    pub team: Option<String>,
}

/// Whether the database has no users yet (a fresh install).
pub async fn is_empty(db: &impl ConnectionTrait) -> ApiResult<bool> {
    Ok(user::Entity::find().count(db).await? == 0)
}

const TEAMS: [(&str, &str); 3] = [
    ("East Coast", "east"),
    ("West Coast", "west"),
    ("Enterprise", "enterprise"),
];

const PEOPLE: [&str; 13] = [
    "Avery Admin",
    "Morgan Reyes",
    "Priya Natarajan",
    "Daniel Okafor",
    "Sofia Lindqvist",
    "Marcus Chen",
    "Hannah Kowalski",
    "Diego Alvarez",
    "Grace Mensah",
    "Tom Becker",
    "Leila Haddad",
    "Oliver Grant",
    "Yuki Tanaka",
];

const COMPANIES: [&str; 36] = [
    "Acme Analytics",
    "Bluewave Health",
    "Cobalt Finance",
    "Driftwood Retail",
    "Everforge Manufacturing",
    "Fernhill Labs",
    "Granite Capital",
    "Harbor Medical",
    "Ironclad Tools",
    "Juniper Software",
    "Keystone Foods",
    "Lumen Robotics",
    "Meridian Insurance",
    "Northwind Traders",
    "Orchid Biotech",
    "Pinecrest Logistics",
    "Quartz Payments",
    "Redwood Outfitters",
    "Summit Dental",
    "Tidal Energy",
    "Umbra Security",
    "Vantage Cloud",
    "Willow Pharmacy",
    "Xenon Motors",
    "Yellowstone Apparel",
    "Zephyr Aerospace",
    "Alder Credit Union",
    "Birch Hospitality",
    "Cedar Construction",
    "Delta Diagnostics",
    "Elm Street Grocers",
    "Falcon Freight",
    "Garnet Textiles",
    "Helix Genomics",
    "Indigo Media",
    "Jade Wealth Partners",
];

const CITIES: [(&str, &str, &str); 6] = [
    ("Boston", "MA", "US"),
    ("New York", "NY", "US"),
    ("San Francisco", "CA", "US"),
    ("Seattle", "WA", "US"),
    ("Austin", "TX", "US"),
    ("Chicago", "IL", "US"),
];

const FIRST_NAMES: [&str; 16] = [
    "James", "Maria", "Wei", "Fatima", "Liam", "Aisha", "Noah", "Elena", "Raj", "Chloe", "Mateo",
    "Ingrid", "Kwame", "Sara", "Hiro", "Nadia",
];
const LAST_NAMES: [&str; 16] = [
    "Smith", "Garcia", "Wang", "Khan", "Murphy", "Bello", "Johnson", "Rossi", "Patel", "Dubois",
    "Silva", "Berg", "Asante", "Cohen", "Sato", "Petrova",
];
const TITLES: [(&str, Department); 6] = [
    ("VP of Sales", Department::Sales),
    ("Head of Marketing", Department::Marketing),
    ("CTO", Department::Engineering),
    ("HR Director", Department::Hr),
    ("Procurement Lead", Department::Other),
    ("Engineering Manager", Department::Engineering),
];
const DEAL_KINDS: [&str; 6] = [
    "Annual platform license",
    "Pilot program",
    "Enterprise expansion",
    "Support renewal",
    "Data migration project",
    "Team onboarding package",
];

/// Seeds the demo organisation in one transaction and returns the logins.
pub async fn seed_demo<C: TransactionTrait>(db: &C) -> ApiResult<Vec<DemoLogin>> {
    let mut rng = StdRng::seed_from_u64(2026);
    let now = Utc::now();
    let today = now.date_naive();
    let password_hash = hash_password(DEMO_PASSWORD.to_owned()).await?;
    let txn = db.begin().await?;

    // Teams first (managers are set once the users exist: the two tables point at each other).
    let teams: Vec<team::Model> = TEAMS
        .iter()
        .map(|(name, _)| team::Model {
            id: Uuid::new_v4(),
            name: (*name).to_owned(),
            manager_id: None,
            created_at: now,
            updated_at: now,
        })
        .collect();
    team::Entity::insert_many(
        teams
            .iter()
            .cloned()
            .map(IntoActiveModel::into_active_model),
    )
    .exec(&txn)
    .await?;

    let mut logins = Vec::new();
    let mut users = Vec::new();
    let mut new_user = |email: String, name: &str, role: Role, team: Option<usize>| {
        let m = user::Model {
            id: Uuid::new_v4(),
            email: email.clone(),
            name: name.to_owned(),
            password_hash: password_hash.clone(),
            role,
            team_id: team.map(|t| teams[t].id),
            active: true,
            must_change_password: false,
            created_at: now,
            updated_at: now,
        };
        logins.push(DemoLogin {
            email,
            role,
            team: team.map(|t| TEAMS[t].0.to_owned()),
        });
        users.push(m);
    };
    let mut people = PEOPLE.iter();
    new_user(
        "admin@demo.crm".into(),
        people.next().expect("enough names"),
        Role::Admin,
        None,
    );
    for (t, (_, slug)) in TEAMS.iter().enumerate() {
        new_user(
            format!("{slug}.manager@demo.crm"),
            people.next().expect("enough names"),
            Role::Manager,
            Some(t),
        );
        for r in 1..=3 {
            new_user(
                format!("{slug}.rep{r}@demo.crm"),
                people.next().expect("enough names"),
                Role::SalesRep,
                Some(t),
            );
        }
    }
    user::Entity::insert_many(
        users
            .iter()
            .cloned()
            .map(IntoActiveModel::into_active_model),
    )
    .exec(&txn)
    .await?;
    for (t, team) in teams.iter().enumerate() {
        let manager = &users[1 + t * 4];
        let mut am = team.clone().into_active_model();
        am.manager_id = Set(Some(manager.id));
        am.update(&txn).await?;
    }

    // Sales people own the records: reps mostly, managers some.
    let owners: Vec<&user::Model> = users.iter().filter(|u| u.role != Role::Admin).collect();
    let industries = [
        Industry::Technology,
        Industry::Healthcare,
        Industry::Finance,
        Industry::Retail,
        Industry::Manufacturing,
        Industry::Other,
    ];
    let sizes = [
        CompanySize::S1To10,
        CompanySize::S11To50,
        CompanySize::S51To200,
        CompanySize::S201To1000,
        CompanySize::S1000Plus,
    ];
    let companies: Vec<company::Model> = COMPANIES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let slug: String = name
                .to_lowercase()
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect();
            let (city, state, country) = CITIES[i % CITIES.len()];
            company::Model {
                id: Uuid::new_v4(),
                name: (*name).to_owned(),
                domain: Some(format!("{slug}.example")),
                industry: Some(industries[i % industries.len()]),
                size: Some(sizes[rng.gen_range(0..sizes.len())]),
                address: Some(format!("{} Market Street", 100 + i * 7)),
                city: Some(city.to_owned()),
                state: Some(state.to_owned()),
                country: Some(country.to_owned()),
                phone: Some(format!("+1617555{:04}", 1000 + i)),
                website: Some(format!("https://www.{slug}.example")),
                owner_id: owners[i % owners.len()].id,
                version: 1,
                created_at: now - Duration::days(400 - i as i64 * 5),
                updated_at: now - Duration::days(30 - (i as i64 % 30)),
            }
        })
        .collect();
    company::Entity::insert_many(
        companies
            .iter()
            .cloned()
            .map(IntoActiveModel::into_active_model),
    )
    .exec(&txn)
    .await?;

    let mut contacts = Vec::new();
    for (i, c) in companies.iter().enumerate() {
        for k in 0..2 {
            let first = FIRST_NAMES[(i * 2 + k) % FIRST_NAMES.len()];
            let last = LAST_NAMES[(i * 3 + k * 5) % LAST_NAMES.len()];
            let (title, dept) = TITLES[(i + k) % TITLES.len()];
            let domain = c.domain.as_deref().unwrap_or("example.com");
            contacts.push(contact::Model {
                id: Uuid::new_v4(),
                company_id: Some(c.id),
                first_name: Some(first.to_owned()),
                last_name: Some(last.to_owned()),
                full_name: format!("{first} {last}"),
                email: Some(format!(
                    "{}.{}@{domain}",
                    first.to_lowercase(),
                    last.to_lowercase()
                )),
                phone: Some(format!("+1212555{:04}", 2000 + i * 2 + k)),
                mobile: (k == 0).then(|| format!("+1917555{:04}", 3000 + i)),
                title: Some(title.to_owned()),
                department: Some(dept),
                is_primary: k == 0,
                linkedin_url: Some(format!(
                    "https://www.linkedin.com/in/{}-{}",
                    first.to_lowercase(),
                    last.to_lowercase()
                )),
                notes: (k == 0).then(|| "Prefers email; decision maker.".to_owned()),
                owner_id: c.owner_id,
                version: 1,
                created_at: c.created_at,
                updated_at: c.updated_at,
            });
        }
    }
    contact::Entity::insert_many(
        contacts
            .iter()
            .cloned()
            .map(IntoActiveModel::into_active_model),
    )
    .exec(&txn)
    .await?;

    let sources = [
        DealSource::Website,
        DealSource::Referral,
        DealSource::ColdCall,
        DealSource::Event,
        DealSource::Other,
    ];
    let priorities = [Priority::Low, Priority::Medium, Priority::High];
    let mut deals = Vec::new();
    for i in 0..60 {
        let c = &companies[(i * 7) % companies.len()];
        let contact = &contacts[((i * 7) % companies.len()) * 2 + (i % 2)];
        let stage = DealStage::ALL[i % DealStage::ALL.len()];
        let dollars: i64 = rng.gen_range(50..2_500) * 100;
        let (expected, actual) = if stage.is_closed() {
            let closed = today - Duration::days(rng.gen_range(1..360));
            (Some(closed), Some(closed))
        } else {
            (Some(today + Duration::days(rng.gen_range(2..120))), None)
        };
        let created = now - Duration::days(rng.gen_range(30..400));
        deals.push(deal::Model {
            id: Uuid::new_v4(),
            company_id: c.id,
            contact_id: Some(contact.id),
            title: format!(
                "{} — {}",
                c.name,
                DEAL_KINDS[(i + i / 36) % DEAL_KINDS.len()]
            ),
            amount_cents: dollars * 100,
            currency: "USD".to_owned(),
            stage,
            probability: stage.probability(),
            expected_close_date: expected,
            actual_close_date: actual,
            source: Some(sources[i % sources.len()]),
            priority: priorities[rng.gen_range(0..priorities.len())],
            notes: (i % 3 == 0).then(|| "Budget confirmed for this fiscal year.".to_owned()),
            owner_id: c.owner_id,
            version: 1,
            created_at: created,
            updated_at: created,
        });
    }
    deal::Entity::insert_many(
        deals
            .iter()
            .cloned()
            .map(IntoActiveModel::into_active_model),
    )
    .exec(&txn)
    .await?;

    // A few cross-team shares so sharing is visible in the demo.
    let reps: Vec<&user::Model> = users.iter().filter(|u| u.role == Role::SalesRep).collect();
    let shares: Vec<deal_share::ActiveModel> = deals
        .iter()
        .step_by(10)
        .enumerate()
        .filter_map(|(k, d)| {
            let to = reps
                .iter()
                .find(|r| r.id != d.owner_id && r.team_id != owner_team(&users, d.owner_id))?;
            Some(
                deal_share::Model {
                    id: Uuid::new_v4(),
                    deal_id: d.id,
                    user_id: to.id,
                    permission: if k % 2 == 0 {
                        SharePermission::View
                    } else {
                        SharePermission::Edit
                    },
                    created_at: now,
                }
                .into_active_model(),
            )
        })
        .collect();
    if !shares.is_empty() {
        deal_share::Entity::insert_many(shares).exec(&txn).await?;
    }

    let kinds = [
        ActivityType::Call,
        ActivityType::Email,
        ActivityType::Meeting,
        ActivityType::Note,
        ActivityType::Task,
    ];
    let subjects = [
        "Discovery call",
        "Send proposal",
        "Quarterly review meeting",
        "Follow up on pricing questions",
        "Prepare contract draft",
    ];
    let mut activities = Vec::new();
    for i in 0..100 {
        let d = &deals[i % deals.len()];
        let due = now + Duration::hours(rng.gen_range(-24 * 30..24 * 30));
        let completed = due < now && i % 4 != 0;
        let kind = kinds[i % kinds.len()];
        activities.push(activity::Model {
            id: Uuid::new_v4(),
            kind,
            subject: subjects[i % subjects.len()].to_owned(),
            description: Some(format!("{} for {}", subjects[i % subjects.len()], d.title)),
            due_at: Some(due),
            completed,
            completed_at: completed.then_some(due),
            priority: [Priority::Medium, Priority::High, Priority::Low][i % 3],
            status: if completed {
                ActivityStatus::Completed
            } else if i % 5 == 0 {
                ActivityStatus::InProgress
            } else {
                ActivityStatus::Pending
            },
            company_id: Some(d.company_id),
            contact_id: d.contact_id,
            deal_id: Some(d.id),
            created_by: d.owner_id,
            assigned_to: Some(d.owner_id),
            version: 1,
            created_at: due - Duration::days(3),
            updated_at: due - Duration::days(3),
        });
    }
    activity::Entity::insert_many(
        activities
            .into_iter()
            .map(IntoActiveModel::into_active_model),
    )
    .exec(&txn)
    .await?;

    txn.commit().await?;
    tracing::info!(
        users = users.len(),
        companies = companies.len(),
        deals = deals.len(),
        "seeded the demo organisation"
    );
    Ok(logins)
}

fn owner_team(users: &[user::Model], owner: Uuid) -> Option<Uuid> {
    users.iter().find(|u| u.id == owner).and_then(|u| u.team_id)
}
