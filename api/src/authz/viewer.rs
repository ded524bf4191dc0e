//! The viewer: who is asking, as the fact expressions need it (id, role, teams).

use entity::enums::Role;
use entity::team;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::facts::RecordFacts;
use super::model::FactMask;

/// The user a decision is about, with what facts are relative to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Viewer {
    /// The user's id.
    pub user_id: Uuid,
    /// The user's role.
    pub role: Role,
    /// "Their teams": the user's own team plus every team they manage, sorted, no duplicates.
    pub team_ids: Vec<Uuid>,
}

impl Viewer {
    /// A viewer with these teams (sorted and deduplicated here).
    pub fn new(user_id: Uuid, role: Role, team_ids: impl IntoIterator<Item = Uuid>) -> Self {
        let mut team_ids: Vec<Uuid> = team_ids.into_iter().collect();
        team_ids.sort_unstable();
        team_ids.dedup();
        Self {
            user_id,
            role,
            team_ids,
        }
    }

    /// The viewer for a user whose own team is `team_id`: adds the teams they manage.
    pub async fn load(
        db: &impl ConnectionTrait,
        user_id: Uuid,
        role: Role,
        team_id: Option<Uuid>,
    ) -> Result<Self, DbErr> {
        let managed: Vec<Uuid> = team::Entity::find()
            .select_only()
            .column(team::Column::Id)
            .filter(team::Column::ManagerId.eq(user_id))
            .into_tuple()
            .all(db)
            .await?;
        Ok(Self::new(user_id, role, team_id.into_iter().chain(managed)))
    }

    /// Whether `team` is one of the viewer's teams (`None` never is).
    pub fn has_team(&self, team: Option<Uuid>) -> bool {
        team.is_some_and(|t| self.team_ids.binary_search(&t).is_ok())
    }

    /// The facts of `record` relative to this viewer, by the Rust checks of its kind's table:
    /// `viewer.facts(&DealFacts { owner_id, owner_team_id, share: None })`. Use it for a
    /// record about to be created or changed (pass it as it would be); rows read from the
    /// database get theirs from SQL ([`super::Authorizer::facts_expr`]).
    pub fn facts<R: RecordFacts>(&self, record: &R) -> FactMask {
        R::FACTS
            .iter()
            .enumerate()
            .filter(|(_, def)| (def.holds)(record, self))
            .fold(FactMask::NONE, |mask, (bit, _)| {
                FactMask::from_bits(mask.bits() | 1 << bit)
            })
    }
}
