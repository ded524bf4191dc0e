//! The viewer: who is asking, as the fact expressions need it (id, role, teams).

use entity::enums::{Role, SharePermission};
use entity::team;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::model::{Fact, FactMask, Kind};

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

    /// Facts of a deal owned by `owner_id` (a member of `owner_team_id`), shared with the
    /// viewer with `share` (if at all). Use it for a deal about to be created or reassigned
    /// (pass the deal as it would be).
    pub fn facts_of_deal(
        &self,
        owner_id: Uuid,
        owner_team_id: Option<Uuid>,
        share: Option<SharePermission>,
    ) -> FactMask {
        const K: Kind = Kind::Deal;
        FactMask::NONE
            .with(K, Fact::OwnedBy, owner_id == self.user_id)
            .with(K, Fact::InTeamOf, self.has_team(owner_team_id))
            .with(K, Fact::SharedView, share == Some(SharePermission::View))
            .with(K, Fact::SharedEdit, share == Some(SharePermission::Edit))
    }

    /// Facts of a company owned by `owner_id`; `linked_to_readable_deal` is whether one of
    /// its deals is readable by the viewer (false for a company being created).
    pub fn facts_of_company(
        &self,
        owner_id: Uuid,
        owner_team_id: Option<Uuid>,
        linked_to_readable_deal: bool,
    ) -> FactMask {
        self.facts_of_owned(
            Kind::Company,
            owner_id,
            owner_team_id,
            linked_to_readable_deal,
        )
    }

    /// Facts of a contact; see [`Viewer::facts_of_company`].
    pub fn facts_of_contact(
        &self,
        owner_id: Uuid,
        owner_team_id: Option<Uuid>,
        linked_to_readable_deal: bool,
    ) -> FactMask {
        self.facts_of_owned(
            Kind::Contact,
            owner_id,
            owner_team_id,
            linked_to_readable_deal,
        )
    }

    fn facts_of_owned(
        &self,
        kind: Kind,
        owner_id: Uuid,
        owner_team_id: Option<Uuid>,
        linked_to_readable_deal: bool,
    ) -> FactMask {
        FactMask::NONE
            .with(kind, Fact::OwnedBy, owner_id == self.user_id)
            .with(kind, Fact::InTeamOf, self.has_team(owner_team_id))
            .with(kind, Fact::LinkedToReadableDeal, linked_to_readable_deal)
    }

    /// Facts of an activity; `on_readable_record` is whether its deal, company or contact is
    /// readable by the viewer.
    pub fn facts_of_activity(
        &self,
        created_by: Uuid,
        creator_team_id: Option<Uuid>,
        assigned_to: Option<Uuid>,
        assignee_team_id: Option<Uuid>,
        on_readable_record: bool,
    ) -> FactMask {
        const K: Kind = Kind::Activity;
        let in_team = self.has_team(creator_team_id)
            || (assigned_to.is_some() && self.has_team(assignee_team_id));
        FactMask::NONE
            .with(K, Fact::CreatedBy, created_by == self.user_id)
            .with(K, Fact::AssignedTo, assigned_to == Some(self.user_id))
            .with(K, Fact::InTeamOf, in_team)
            .with(K, Fact::OnReadableRecord, on_readable_record)
    }

    /// Facts of the directory record of user `user_id`.
    pub fn facts_of_user(&self, user_id: Uuid, team_id: Option<Uuid>, active: bool) -> FactMask {
        const K: Kind = Kind::User;
        FactMask::NONE
            .with(K, Fact::IsSelf, user_id == self.user_id)
            .with(K, Fact::Active, active)
            .with(K, Fact::InTeamOf, self.has_team(team_id))
    }
}
