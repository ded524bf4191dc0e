//! Synthetic organisations for the differential test and the benchmark: teams, users of
//! every role (including managers of several teams and deactivated users), companies,
//! contacts, deals, shares and activities, generated from a seed.
//!
//! Pure data: [`Org::insert`] writes it through SeaORM; [`super::direct::Oracle`] answers
//! policy questions about it with direct Oso queries.

use chrono::{Duration, TimeZone, Utc};
use entity::enums::{ActivityType, DealStage, Priority, Role, SharePermission};
use entity::{activity, company, contact, deal, deal_share, team, user};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel};
use uuid::Uuid;

use super::viewer::Viewer;

/// How big an organisation to generate.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Teams.
    pub teams: usize,
    /// Admins.
    pub admins: usize,
    /// Managers (each manages zero to two teams).
    pub managers: usize,
    /// Sales reps.
    pub reps: usize,
    /// Companies.
    pub companies: usize,
    /// Contacts.
    pub contacts: usize,
    /// Deals.
    pub deals: usize,
    /// Deal shares (at most one per deal and user).
    pub shares: usize,
    /// Activities.
    pub activities: usize,
}

impl Shape {
    /// Small enough to check every user × record × action against Oso.
    pub const DIFFERENTIAL: Shape = Shape {
        teams: 3,
        admins: 1,
        managers: 3,
        reps: 7,
        companies: 14,
        contacts: 18,
        deals: 30,
        shares: 12,
        activities: 30,
    };
}

/// A generated organisation.
#[derive(Clone, Debug, Default)]
pub struct Org {
    /// Teams (with their managers).
    pub teams: Vec<team::Model>,
    /// Users.
    pub users: Vec<user::Model>,
    /// Companies.
    pub companies: Vec<company::Model>,
    /// Contacts.
    pub contacts: Vec<contact::Model>,
    /// Deals.
    pub deals: Vec<deal::Model>,
    /// Deal shares.
    pub shares: Vec<deal_share::Model>,
    /// Activities.
    pub activities: Vec<activity::Model>,
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

impl Org {
    /// A random organisation of `shape`, the same for the same `seed`.
    pub fn random(seed: u64, shape: Shape) -> Org {
        let mut rng = StdRng::seed_from_u64(seed);
        let uuid = |rng: &mut StdRng| Uuid::from_u128(rng.r#gen());
        let now = Utc
            .with_ymd_and_hms(2026, 1, 15, 12, 0, 0)
            .single()
            .unwrap_or_else(Utc::now);
        let tag = seed;

        let mut teams: Vec<team::Model> = (0..shape.teams)
            .map(|i| team::Model {
                id: uuid(&mut rng),
                name: format!("Team {tag}-{i}"),
                manager_id: None,
                created_at: now,
                updated_at: now,
            })
            .collect();
        let team_ids: Vec<Uuid> = teams.iter().map(|t| t.id).collect();
        let random_team = |rng: &mut StdRng| -> Option<Uuid> {
            if team_ids.is_empty() || rng.gen_bool(0.1) {
                None
            } else {
                Some(*pick(rng, &team_ids))
            }
        };

        let mut users = Vec::new();
        let mut new_user = |rng: &mut StdRng, role: Role, team_id: Option<Uuid>| {
            let i = users.len();
            users.push(user::Model {
                id: uuid(rng),
                email: format!("user{i}@org{tag}.test"),
                name: format!("User {i}"),
                password_hash: "not-a-hash".to_owned(),
                role,
                team_id,
                active: !rng.gen_bool(0.15),
                must_change_password: false,
                created_at: now,
                updated_at: now,
            });
        };
        for _ in 0..shape.admins {
            let team = if rng.gen_bool(0.7) {
                None
            } else {
                random_team(&mut rng)
            };
            new_user(&mut rng, Role::Admin, team);
        }
        for _ in 0..shape.managers {
            let team = random_team(&mut rng);
            new_user(&mut rng, Role::Manager, team);
        }
        for _ in 0..shape.reps {
            let team = random_team(&mut rng);
            new_user(&mut rng, Role::SalesRep, team);
        }
        // Each team gets a manager (usually): some managers manage several teams, some none.
        let managers: Vec<Uuid> = users
            .iter()
            .filter(|u| u.role == Role::Manager)
            .map(|u| u.id)
            .collect();
        for team in &mut teams {
            if !managers.is_empty() && rng.gen_bool(0.9) {
                team.manager_id = Some(*pick(&mut rng, &managers));
            }
        }

        let user_ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
        let sellers: Vec<Uuid> = users
            .iter()
            .filter(|u| u.role != Role::Admin || rng.gen_bool(0.3))
            .map(|u| u.id)
            .collect();
        let owner = |rng: &mut StdRng| {
            *pick(
                rng,
                if sellers.is_empty() {
                    &user_ids
                } else {
                    &sellers
                },
            )
        };

        let companies: Vec<company::Model> = (0..shape.companies)
            .map(|i| company::Model {
                id: uuid(&mut rng),
                name: format!("Company {tag}-{i}"),
                domain: Some(format!("c{i}.org{tag}.example")),
                industry: None,
                size: None,
                address: None,
                city: None,
                state: None,
                country: None,
                phone: None,
                website: None,
                owner_id: owner(&mut rng),
                version: 1,
                created_at: now - Duration::minutes(i as i64),
                updated_at: now,
            })
            .collect();
        let company_ids: Vec<Uuid> = companies.iter().map(|c| c.id).collect();

        let contacts: Vec<contact::Model> = (0..shape.contacts)
            .map(|i| {
                let company_id = if company_ids.is_empty() || rng.gen_bool(0.15) {
                    None
                } else {
                    Some(*pick(&mut rng, &company_ids))
                };
                contact::Model {
                    id: uuid(&mut rng),
                    company_id,
                    first_name: Some(format!("First{i}")),
                    last_name: Some("Person".to_owned()),
                    full_name: format!("First{i} Person"),
                    email: Some(format!("contact{i}@org{tag}.example")),
                    phone: None,
                    mobile: None,
                    title: None,
                    department: None,
                    is_primary: false,
                    linkedin_url: None,
                    notes: Some(format!("notes {i}")),
                    owner_id: owner(&mut rng),
                    version: 1,
                    created_at: now - Duration::minutes(i as i64),
                    updated_at: now,
                }
            })
            .collect();
        let contact_ids: Vec<Uuid> = contacts.iter().map(|c| c.id).collect();

        let deals: Vec<deal::Model> = if company_ids.is_empty() {
            Vec::new()
        } else {
            (0..shape.deals)
                .map(|i| {
                    let stage = *pick(&mut rng, &DealStage::ALL);
                    let contact_id = if contact_ids.is_empty() || rng.gen_bool(0.3) {
                        None
                    } else {
                        Some(*pick(&mut rng, &contact_ids))
                    };
                    deal::Model {
                        id: uuid(&mut rng),
                        company_id: *pick(&mut rng, &company_ids),
                        contact_id,
                        title: format!("Deal {i}"),
                        amount_cents: rng.gen_range(0..10_000_000),
                        currency: "USD".to_owned(),
                        stage,
                        probability: stage.probability(),
                        expected_close_date: None,
                        actual_close_date: None,
                        source: None,
                        priority: *pick(
                            &mut rng,
                            &[Priority::Low, Priority::Medium, Priority::High],
                        ),
                        notes: None,
                        owner_id: owner(&mut rng),
                        version: 1,
                        created_at: now - Duration::minutes(i as i64),
                        updated_at: now,
                    }
                })
                .collect()
        };

        let mut shares = Vec::new();
        let mut pairs = std::collections::HashSet::new();
        if !deals.is_empty() {
            for _ in 0..shape.shares * 3 {
                if shares.len() >= shape.shares {
                    break;
                }
                let d = pick(&mut rng, &deals);
                let u = *pick(&mut rng, &user_ids);
                if u == d.owner_id || !pairs.insert((d.id, u)) {
                    continue;
                }
                shares.push(deal_share::Model {
                    id: uuid(&mut rng),
                    deal_id: d.id,
                    user_id: u,
                    permission: if rng.gen_bool(0.5) {
                        SharePermission::View
                    } else {
                        SharePermission::Edit
                    },
                    created_at: now,
                });
            }
        }

        let kinds = [
            ActivityType::Call,
            ActivityType::Email,
            ActivityType::Meeting,
            ActivityType::Note,
            ActivityType::Task,
        ];
        let activities: Vec<activity::Model> = (0..shape.activities)
            .map(|i| {
                // Attach to a deal (with its company), a company, a contact, or nothing.
                let (deal_id, company_id, contact_id) = match rng.gen_range(0..5) {
                    0 if !deals.is_empty() => {
                        let d = pick(&mut rng, &deals);
                        (Some(d.id), Some(d.company_id), d.contact_id)
                    }
                    1 if !company_ids.is_empty() => {
                        (None, Some(*pick(&mut rng, &company_ids)), None)
                    }
                    2 if !contact_ids.is_empty() => {
                        (None, None, Some(*pick(&mut rng, &contact_ids)))
                    }
                    3 if !deals.is_empty() => (Some(pick(&mut rng, &deals).id), None, None),
                    _ => (None, None, None),
                };
                let assigned_to = if rng.gen_bool(0.7) {
                    Some(*pick(&mut rng, &user_ids))
                } else {
                    None
                };
                let completed = rng.gen_bool(0.3);
                activity::Model {
                    id: uuid(&mut rng),
                    kind: *pick(&mut rng, &kinds),
                    subject: format!("Activity {i}"),
                    description: None,
                    due_at: Some(now + Duration::hours(rng.gen_range(-100..100))),
                    completed,
                    completed_at: completed.then_some(now),
                    company_id,
                    contact_id,
                    deal_id,
                    created_by: *pick(&mut rng, &user_ids),
                    assigned_to,
                    version: 1,
                    created_at: now - Duration::minutes(i as i64),
                    updated_at: now,
                }
            })
            .collect();

        Org {
            teams,
            users,
            companies,
            contacts,
            deals,
            shares,
            activities,
        }
    }

    /// Adds a team (managed by `manager`, if any) and returns its id.
    pub fn add_team(&mut self, name: &str, manager: Option<Uuid>) -> Uuid {
        let now = Utc::now();
        let id = Uuid::new_v4();
        self.teams.push(team::Model {
            id,
            name: name.to_owned(),
            manager_id: manager,
            created_at: now,
            updated_at: now,
        });
        id
    }

    /// Makes `manager` the manager of `team`.
    pub fn set_manager(&mut self, team: Uuid, manager: Uuid) {
        if let Some(t) = self.teams.iter_mut().find(|t| t.id == team) {
            t.manager_id = Some(manager);
        }
    }

    /// Adds a user (named `name`, email `<name>@example.test`) and returns its id.
    pub fn add_user(&mut self, name: &str, role: Role, team: Option<Uuid>, active: bool) -> Uuid {
        let now = Utc::now();
        let id = Uuid::new_v4();
        self.users.push(user::Model {
            id,
            email: format!("{}@example.test", name.to_lowercase()),
            name: name.to_owned(),
            password_hash: "not-a-hash".to_owned(),
            role,
            team_id: team,
            active,
            must_change_password: false,
            created_at: now,
            updated_at: now,
        });
        id
    }

    /// Adds a company owned by `owner` and returns its id.
    pub fn add_company(&mut self, name: &str, owner: Uuid) -> Uuid {
        let now = Utc::now();
        let id = Uuid::new_v4();
        self.companies.push(company::Model {
            id,
            name: name.to_owned(),
            domain: None,
            industry: None,
            size: None,
            address: None,
            city: None,
            state: None,
            country: None,
            phone: None,
            website: None,
            owner_id: owner,
            version: 1,
            created_at: now,
            updated_at: now,
        });
        id
    }

    /// Adds a contact owned by `owner` at `company` and returns its id.
    pub fn add_contact(&mut self, name: &str, owner: Uuid, company: Option<Uuid>) -> Uuid {
        let now = Utc::now();
        let id = Uuid::new_v4();
        self.contacts.push(contact::Model {
            id,
            company_id: company,
            first_name: Some(name.to_owned()),
            last_name: None,
            full_name: name.to_owned(),
            email: None,
            phone: None,
            mobile: None,
            title: None,
            department: None,
            is_primary: false,
            linkedin_url: None,
            notes: Some(format!("Notes about {name}")),
            owner_id: owner,
            version: 1,
            created_at: now,
            updated_at: now,
        });
        id
    }

    /// Adds a deal and returns its id.
    pub fn add_deal(
        &mut self,
        title: &str,
        owner: Uuid,
        company: Uuid,
        contact: Option<Uuid>,
        amount_cents: i64,
    ) -> Uuid {
        let now = Utc::now();
        let id = Uuid::new_v4();
        let stage = DealStage::Prospecting;
        self.deals.push(deal::Model {
            id,
            company_id: company,
            contact_id: contact,
            title: title.to_owned(),
            amount_cents,
            currency: "USD".to_owned(),
            stage,
            probability: stage.probability(),
            expected_close_date: None,
            actual_close_date: None,
            source: None,
            priority: Priority::Medium,
            notes: None,
            owner_id: owner,
            version: 1,
            created_at: now,
            updated_at: now,
        });
        id
    }

    /// Shares `deal` with `user`.
    pub fn add_share(&mut self, deal: Uuid, user: Uuid, permission: SharePermission) -> Uuid {
        let id = Uuid::new_v4();
        self.shares.push(deal_share::Model {
            id,
            deal_id: deal,
            user_id: user,
            permission,
            created_at: Utc::now(),
        });
        id
    }

    /// Adds an activity (on the given records, if any) and returns its id.
    pub fn add_activity(
        &mut self,
        subject: &str,
        created_by: Uuid,
        assigned_to: Option<Uuid>,
        on: (Option<Uuid>, Option<Uuid>, Option<Uuid>),
    ) -> Uuid {
        let now = Utc::now();
        let id = Uuid::new_v4();
        let (deal_id, company_id, contact_id) = on;
        self.activities.push(activity::Model {
            id,
            kind: ActivityType::Task,
            subject: subject.to_owned(),
            description: None,
            due_at: None,
            completed: false,
            completed_at: None,
            company_id,
            contact_id,
            deal_id,
            created_by,
            assigned_to,
            version: 1,
            created_at: now,
            updated_at: now,
        });
        id
    }

    /// The user with this id.
    pub fn user(&self, id: Uuid) -> Option<&user::Model> {
        self.users.iter().find(|u| u.id == id)
    }

    /// The team of user `id`.
    pub fn team_of(&self, id: Uuid) -> Option<Uuid> {
        self.user(id).and_then(|u| u.team_id)
    }

    /// "Their teams": the user's own team and the teams they manage.
    pub fn teams_of(&self, id: Uuid) -> Vec<Uuid> {
        let mut teams: Vec<Uuid> = self.team_of(id).into_iter().collect();
        teams.extend(
            self.teams
                .iter()
                .filter(|t| t.manager_id == Some(id))
                .map(|t| t.id),
        );
        teams.sort_unstable();
        teams.dedup();
        teams
    }

    /// The viewer for user `id` (teams computed from this data, not the database).
    pub fn viewer(&self, id: Uuid) -> Viewer {
        let role = self.user(id).map_or(Role::SalesRep, |u| u.role);
        Viewer::new(id, role, self.teams_of(id))
    }

    /// Writes the organisation (teams, users, then records), in batches.
    pub async fn insert(&self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        const BATCH: usize = 200;
        // Teams point at users and users at teams: insert teams without managers first.
        for chunk in self.teams.chunks(BATCH) {
            team::Entity::insert_many(chunk.iter().map(|t| {
                team::Model {
                    manager_id: None,
                    ..t.clone()
                }
                .into_active_model()
            }))
            .exec(db)
            .await?;
        }
        for chunk in self.users.chunks(BATCH) {
            user::Entity::insert_many(
                chunk
                    .iter()
                    .cloned()
                    .map(IntoActiveModel::into_active_model),
            )
            .exec(db)
            .await?;
        }
        for t in self.teams.iter().filter(|t| t.manager_id.is_some()) {
            team::Entity::update(t.clone().into_active_model().reset_all())
                .exec(db)
                .await?;
        }
        macro_rules! insert_all {
            ($entity:path, $rows:expr) => {
                for chunk in $rows.chunks(BATCH) {
                    <$entity>::insert_many(
                        chunk
                            .iter()
                            .cloned()
                            .map(IntoActiveModel::into_active_model),
                    )
                    .exec(db)
                    .await?;
                }
            };
        }
        insert_all!(company::Entity, self.companies);
        insert_all!(contact::Entity, self.contacts);
        insert_all!(deal::Entity, self.deals);
        insert_all!(deal_share::Entity, self.shares);
        insert_all!(activity::Entity, self.activities);
        Ok(())
    }
}
