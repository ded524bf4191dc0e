//! Random organisations for the differential test, the reports tests and benchmarks:
//! teams, users of every role (including managers of several teams and deactivated users),
//! companies, contacts, deals, shares and activities, generated from a seed through the
//! row factory.

use chrono::{DateTime, Duration, TimeZone, Utc};
use entity::enums::{ActivityType, DealStage, Priority, Role, SharePermission};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use crate::org::Org;

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

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

fn uuid(rng: &mut StdRng) -> Uuid {
    Uuid::from_u128(rng.r#gen())
}

/// The instant every random organisation is generated at.
fn generated_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0)
        .single()
        .unwrap_or_else(Utc::now)
}

impl Org {
    /// A random organisation of `shape`, the same for the same `seed` (ids, names,
    /// timestamps and all). Nothing is written: see [`Org::insert`]. Names and emails
    /// carry the seed, so organisations of different seeds can share a database.
    pub fn random(seed: u64, shape: Shape) -> Org {
        let mut rng = StdRng::seed_from_u64(seed);
        let now = generated_at();
        let tag = seed;
        let mut org = Org::tagged(format!("org{tag}")).fixed_time(now);

        let team_ids: Vec<Uuid> = (0..shape.teams)
            .map(|i| {
                org.team()
                    .id(uuid(&mut rng))
                    .name(format!("Team {tag}-{i}"))
                    .add()
                    .id
            })
            .collect();
        let random_team = |rng: &mut StdRng| -> Option<Uuid> {
            if team_ids.is_empty() || rng.gen_bool(0.1) {
                None
            } else {
                Some(*pick(rng, &team_ids))
            }
        };

        let new_user = |org: &mut Org, rng: &mut StdRng, role: Role, team: Option<Uuid>| {
            let i = org.users.len();
            org.user()
                .id(uuid(rng))
                .active(!rng.gen_bool(0.15))
                .email(format!("user{i}@org{tag}.test"))
                .name(format!("User {i}"))
                .role(role)
                .team(team)
                .add();
        };
        for _ in 0..shape.admins {
            let team = if rng.gen_bool(0.7) {
                None
            } else {
                random_team(&mut rng)
            };
            new_user(&mut org, &mut rng, Role::Admin, team);
        }
        for _ in 0..shape.managers {
            let team = random_team(&mut rng);
            new_user(&mut org, &mut rng, Role::Manager, team);
        }
        for _ in 0..shape.reps {
            let team = random_team(&mut rng);
            new_user(&mut org, &mut rng, Role::SalesRep, team);
        }
        // Each team gets a manager (usually): some managers manage several teams, some none.
        let managers: Vec<Uuid> = org
            .users
            .iter()
            .filter(|u| u.role == Role::Manager)
            .map(|u| u.id)
            .collect();
        for team in &team_ids {
            if !managers.is_empty() && rng.gen_bool(0.9) {
                let manager = *pick(&mut rng, &managers);
                org.set_manager(*team, manager);
            }
        }

        let user_ids: Vec<Uuid> = org.users.iter().map(|u| u.id).collect();
        let sellers: Vec<Uuid> = org
            .users
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

        let company_ids: Vec<Uuid> = (0..shape.companies)
            .map(|i| {
                org.company()
                    .id(uuid(&mut rng))
                    .name(format!("Company {tag}-{i}"))
                    .domain(format!("c{i}.org{tag}.example"))
                    .owner(owner(&mut rng))
                    .created_at(now - Duration::minutes(i as i64))
                    .add()
                    .id
            })
            .collect();

        let contact_ids: Vec<Uuid> = (0..shape.contacts)
            .map(|i| {
                let company = if company_ids.is_empty() || rng.gen_bool(0.15) {
                    None
                } else {
                    Some(*pick(&mut rng, &company_ids))
                };
                org.contact()
                    .company(company)
                    .id(uuid(&mut rng))
                    .first(format!("First{i}"))
                    .last("Person")
                    .email(format!("contact{i}@org{tag}.example"))
                    .notes(format!("notes {i}"))
                    .owner(owner(&mut rng))
                    .created_at(now - Duration::minutes(i as i64))
                    .add()
                    .id
            })
            .collect();

        if !company_ids.is_empty() {
            for i in 0..shape.deals {
                let stage = *pick(&mut rng, &DealStage::ALL);
                let contact = if contact_ids.is_empty() || rng.gen_bool(0.3) {
                    None
                } else {
                    Some(*pick(&mut rng, &contact_ids))
                };
                org.deal()
                    .stage(stage)
                    .closed_on(None)
                    .contact(contact)
                    .id(uuid(&mut rng))
                    .company(*pick(&mut rng, &company_ids))
                    .title(format!("Deal {i}"))
                    .amount_cents(rng.gen_range(0..10_000_000))
                    .priority(*pick(
                        &mut rng,
                        &[Priority::Low, Priority::Medium, Priority::High],
                    ))
                    .owner(owner(&mut rng))
                    .created_at(now - Duration::minutes(i as i64))
                    .add();
            }
        }

        let mut pairs = std::collections::HashSet::new();
        if !org.deals.is_empty() {
            for _ in 0..shape.shares * 3 {
                if org.shares.len() >= shape.shares {
                    break;
                }
                let d = pick(&mut rng, &org.deals);
                let (deal, deal_owner) = (d.id, d.owner_id);
                let user = *pick(&mut rng, &user_ids);
                if user == deal_owner || !pairs.insert((deal, user)) {
                    continue;
                }
                org.share(deal, user)
                    .id(uuid(&mut rng))
                    .permission(if rng.gen_bool(0.5) {
                        SharePermission::View
                    } else {
                        SharePermission::Edit
                    })
                    .add();
            }
        }

        let kinds = [
            ActivityType::Call,
            ActivityType::Email,
            ActivityType::Meeting,
            ActivityType::Note,
            ActivityType::Task,
        ];
        let deals: Vec<(Uuid, Uuid, Option<Uuid>)> = org
            .deals
            .iter()
            .map(|d| (d.id, d.company_id, d.contact_id))
            .collect();
        for i in 0..shape.activities {
            // Attach to a deal (with its company), a company, a contact, or nothing.
            let (deal, company, contact) = match rng.gen_range(0..5) {
                0 if !deals.is_empty() => {
                    let (deal, company, contact) = *pick(&mut rng, &deals);
                    (Some(deal), Some(company), contact)
                }
                1 if !company_ids.is_empty() => (None, Some(*pick(&mut rng, &company_ids)), None),
                2 if !contact_ids.is_empty() => (None, None, Some(*pick(&mut rng, &contact_ids))),
                3 if !deals.is_empty() => (Some(pick(&mut rng, &deals).0), None, None),
                _ => (None, None, None),
            };
            let assigned_to = if rng.gen_bool(0.7) {
                Some(*pick(&mut rng, &user_ids))
            } else {
                None
            };
            org.activity()
                .deal(deal)
                .company(company)
                .contact(contact)
                .assigned_to(assigned_to)
                .completed(rng.gen_bool(0.3))
                .id(uuid(&mut rng))
                .kind(*pick(&mut rng, &kinds))
                .subject(format!("Activity {i}"))
                .due_at(now + Duration::hours(rng.gen_range(-100..100)))
                .created_by(*pick(&mut rng, &user_ids))
                .created_at(now - Duration::minutes(i as i64))
                .add();
        }
        org
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_organisation() {
        let a = Org::random(7, Shape::DIFFERENTIAL);
        let b = Org::random(7, Shape::DIFFERENTIAL);
        assert_eq!(a.users, b.users);
        assert_eq!(a.teams, b.teams);
        assert_eq!(a.deals, b.deals);
        assert_eq!(a.shares, b.shares);
        assert_eq!(a.activities, b.activities);
        let c = Org::random(8, Shape::DIFFERENTIAL);
        assert_ne!(a.deals, c.deals);
    }

    #[test]
    fn a_random_organisation_has_its_shape() {
        let org = Org::random(20_261_121, Shape::DIFFERENTIAL);
        let shape = Shape::DIFFERENTIAL;
        assert_eq!(org.teams.len(), shape.teams);
        assert_eq!(org.users.len(), shape.admins + shape.managers + shape.reps);
        assert_eq!(org.companies.len(), shape.companies);
        assert_eq!(org.contacts.len(), shape.contacts);
        assert_eq!(org.deals.len(), shape.deals);
        assert!(org.shares.len() <= shape.shares);
        assert_eq!(org.activities.len(), shape.activities);
        // Every reference points inside the organisation.
        let users: Vec<Uuid> = org.users.iter().map(|u| u.id).collect();
        assert!(org.deals.iter().all(|d| users.contains(&d.owner_id)));
        assert!(
            org.deals
                .iter()
                .all(|d| org.companies.iter().any(|c| c.id == d.company_id))
        );
        assert!(org.shares.iter().all(|s| {
            s.user_id
                != org
                    .deals
                    .iter()
                    .find(|d| d.id == s.deal_id)
                    .unwrap()
                    .owner_id
        }));
    }
}
