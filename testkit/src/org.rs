//! [`Org`]: the rows a test built, where they came from, and how to write them.

use std::collections::HashSet;

use api::authz::Viewer;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use entity::enums::Role;
use entity::{activity, company, contact, deal, deal_share, team, user};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, Iterable};
use uuid::Uuid;

/// An organisation: every row built through it (written or not), the counters behind its
/// default names and its clock.
///
/// The row lists are public: a test may read them, or change rows that are not written
/// yet (e.g. a random organisation's deals) before [`Org::insert`].
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
    /// Goes into default names and email domains, so that several organisations can share
    /// a database.
    pub(crate) tag: Option<String>,
    pub(crate) seq: Seq,
    clock: Clock,
    /// Ids of the rows already in the database.
    written: HashSet<Uuid>,
    /// Written teams whose manager changed since.
    stale_teams: Vec<Uuid>,
}

/// How many rows of each table have been started, for default names.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Seq {
    pub team: usize,
    pub user: usize,
    pub company: usize,
    pub contact: usize,
    pub deal: usize,
    pub activity: usize,
}

/// Where row timestamps come from.
#[derive(Clone, Copy, Debug)]
enum Clock {
    /// The current time in whole microseconds (every backend stores those exactly), and
    /// always later than the previous row's: rows sort by creation in the order they
    /// were built.
    Now { last: Option<DateTime<Utc>> },
    /// Always this instant.
    Fixed(DateTime<Utc>),
}

impl Default for Clock {
    fn default() -> Self {
        Clock::Now { last: None }
    }
}

/// Bound parameters per `INSERT` statement when writing many rows (SQLite allows 32,766,
/// PostgreSQL 65,535).
const PARAMETERS_PER_STATEMENT: usize = 10_000;

impl Org {
    /// An empty organisation: default names `User 1`, `Company 1`, …, emails
    /// `user1@example.test`, …; timestamps from the clock.
    pub fn new() -> Org {
        Org::default()
    }

    /// An empty organisation whose default names and email domains carry `tag` (`Team
    /// t-1`, `user1@t.test`), so that it can share a database with others.
    pub fn tagged(tag: impl Into<String>) -> Org {
        Org {
            tag: Some(tag.into()),
            ..Org::default()
        }
    }

    /// The same organisation with every default timestamp at `now` (for data that must
    /// be the same on every run).
    pub fn fixed_time(mut self, now: DateTime<Utc>) -> Org {
        self.clock = Clock::Fixed(now);
        self
    }

    /// The timestamp of the next row built.
    pub(crate) fn tick(&mut self) -> DateTime<Utc> {
        match &mut self.clock {
            Clock::Fixed(at) => *at,
            Clock::Now { last } => {
                let mut at = Utc::now().trunc_subsecs(6);
                if let Some(previous) = *last
                    && at <= previous
                {
                    at = previous + Duration::microseconds(1);
                }
                *last = Some(at);
                at
            }
        }
    }

    /// `base` with this organisation's tag: `Team 3` or `Team t-3`.
    pub(crate) fn default_name(&self, base: &str, n: usize) -> String {
        match &self.tag {
            Some(tag) => format!("{base} {tag}-{n}"),
            None => format!("{base} {n}"),
        }
    }

    /// The domain of default email addresses: `example.test` or `<tag>.test`.
    pub(crate) fn email_domain(&self) -> String {
        match &self.tag {
            Some(tag) => format!("{tag}.test"),
            None => "example.test".to_owned(),
        }
    }

    /// Records a row written by a builder.
    pub(crate) fn mark_written(&mut self, id: Uuid) {
        self.written.insert(id);
    }

    /// Whether the row with this id is in the database (as far as this organisation
    /// knows).
    pub fn is_written(&self, id: Uuid) -> bool {
        self.written.contains(&id)
    }

    /// Makes `manager` the manager of `team`. A team already written is updated by the
    /// next [`Org::insert`].
    pub fn set_manager(&mut self, team: Uuid, manager: Uuid) {
        if let Some(t) = self.teams.iter_mut().find(|t| t.id == team) {
            t.manager_id = Some(manager);
            if self.written.contains(&team) && !self.stale_teams.contains(&team) {
                self.stale_teams.push(team);
            }
        }
    }

    /// The user with this id.
    pub fn find_user(&self, id: Uuid) -> Option<&user::Model> {
        self.users.iter().find(|u| u.id == id)
    }

    /// The team of user `id`.
    pub fn team_of(&self, id: Uuid) -> Option<Uuid> {
        self.find_user(id).and_then(|u| u.team_id)
    }

    /// "Their teams": the user's own team and the teams they manage, sorted.
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
        let role = self.find_user(id).map_or(Role::SalesRep, |u| u.role);
        Viewer::new(id, role, self.teams_of(id))
    }

    /// Writes every row not written yet (teams, users, then the records that point at
    /// them), many rows a statement. Teams and users point at each other: teams go in
    /// without their managers, which are set once the users are in.
    pub async fn insert(&mut self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        let pending = |id: &Uuid| !self.written.contains(id);
        let teams: Vec<team::Model> = self
            .teams
            .iter()
            .filter(|t| pending(&t.id))
            .cloned()
            .collect();
        write_all::<team::Entity, _>(
            db,
            teams.iter().map(|t| team::Model {
                manager_id: None,
                ..t.clone()
            }),
        )
        .await?;
        write_all::<user::Entity, _>(db, self.users.iter().filter(|r| pending(&r.id)).cloned())
            .await?;
        let managed = teams
            .iter()
            .filter(|t| t.manager_id.is_some())
            .map(|t| t.id)
            .chain(self.stale_teams.iter().copied());
        for id in managed.collect::<Vec<_>>() {
            if let Some(t) = self.teams.iter().find(|t| t.id == id) {
                team::Entity::update(t.clone().into_active_model().reset_all())
                    .exec(db)
                    .await?;
            }
        }
        write_all::<company::Entity, _>(
            db,
            self.companies.iter().filter(|r| pending(&r.id)).cloned(),
        )
        .await?;
        write_all::<contact::Entity, _>(
            db,
            self.contacts.iter().filter(|r| pending(&r.id)).cloned(),
        )
        .await?;
        write_all::<deal::Entity, _>(db, self.deals.iter().filter(|r| pending(&r.id)).cloned())
            .await?;
        write_all::<deal_share::Entity, _>(
            db,
            self.shares.iter().filter(|r| pending(&r.id)).cloned(),
        )
        .await?;
        write_all::<activity::Entity, _>(
            db,
            self.activities.iter().filter(|r| pending(&r.id)).cloned(),
        )
        .await?;

        let ids: Vec<Uuid> = self
            .teams
            .iter()
            .map(|r| r.id)
            .chain(self.users.iter().map(|r| r.id))
            .chain(self.companies.iter().map(|r| r.id))
            .chain(self.contacts.iter().map(|r| r.id))
            .chain(self.deals.iter().map(|r| r.id))
            .chain(self.shares.iter().map(|r| r.id))
            .chain(self.activities.iter().map(|r| r.id))
            .collect();
        self.written.extend(ids);
        self.stale_teams.clear();
        Ok(())
    }
}

/// Inserts `rows`, as many a statement as [`PARAMETERS_PER_STATEMENT`] allows.
async fn write_all<E, M>(
    db: &impl ConnectionTrait,
    rows: impl Iterator<Item = M>,
) -> Result<(), DbErr>
where
    E: EntityTrait<Model = M>,
    M: IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: Clone + Send,
{
    let per_statement = (PARAMETERS_PER_STATEMENT / E::Column::iter().count().max(1)).max(1);
    let rows: Vec<E::ActiveModel> = rows.map(IntoActiveModel::into_active_model).collect();
    for chunk in rows.chunks(per_statement) {
        E::insert_many(chunk.iter().cloned()).exec(db).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_never_repeats_and_keeps_whole_microseconds() {
        let mut org = Org::new();
        let mut previous = org.tick();
        for _ in 0..1_000 {
            let next = org.tick();
            assert!(next > previous);
            assert_eq!(next, next.trunc_subsecs(6));
            previous = next;
        }
    }

    #[test]
    fn a_fixed_clock_stands_still() {
        let at = Utc::now().trunc_subsecs(0);
        let mut org = Org::new().fixed_time(at);
        assert_eq!(org.tick(), at);
        assert_eq!(org.tick(), at);
    }
}
