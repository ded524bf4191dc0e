//! Teams: readable by every signed-in user, managed by admins.

use chrono::Utc;
use entity::enums::Role;
use entity::{team, user};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use uuid::Uuid;

use crate::auth::Actor;
use crate::authz::{Kind, TeamAction, Viewer};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::service::begin_write;
use crate::service::events::{self, AuditAction, Event, RecordKind};
use crate::service::filter::{Env, Scalar};
use crate::service::record::{Record, SortSpec, sort_enum};
use crate::service::{Deps, require_role_permission};
use sea_orm::{QueryFilter, Select};

/// `createTeam` / `updateTeam` input; on update `None` leaves a field unchanged.
#[derive(Default)]
pub struct TeamInput {
    /// Team name.
    pub name: Option<String>,
    /// The managing user (`Some(None)` removes the manager).
    pub manager_id: Option<Option<Uuid>>,
}

async fn validate(
    db: &impl ConnectionTrait,
    input: &TeamInput,
    creating: bool,
) -> ApiResult<Option<String>> {
    let mut errors = Vec::new();
    let name = input.name.as_ref().map(|n| n.trim().to_owned());
    match &name {
        Some(n) if n.is_empty() || n.chars().count() > 200 => {
            errors.push(FieldError::new(
                "name",
                "is required (at most 200 characters)",
            ));
        }
        None if creating => errors.push(FieldError::new("name", "is required")),
        _ => {}
    }
    if let Some(Some(manager_id)) = input.manager_id {
        match user::Entity::find_by_id(manager_id).one(db).await? {
            Some(u) if u.role == Role::Manager && u.active => {}
            Some(_) => errors.push(FieldError::new(
                "managerId",
                "must be an active user with the manager role",
            )),
            None => errors.push(FieldError::new("managerId", "no such user")),
        }
    }
    if errors.is_empty() {
        Ok(name)
    } else {
        Err(ApiError::BadUserInput(errors))
    }
}

/// The keys a team list can be ordered by, named once: [`TeamSort`] here and the GraphQL
/// order field are both declared from this list (`team_sort_keys!(declare)`).
macro_rules! team_sort_keys {
    ($declare:ident) => {
        $declare! {
            /// Fields teams can be ordered by.
            TeamSort as TeamOrderField {
                /// Name.
                Name,
                /// Creation time.
                CreatedAt,
            }
        }
    };
}

pub(crate) use team_sort_keys;

team_sort_keys!(sort_enum);

impl Record for team::Entity {
    const KIND: Kind = Kind::Team;
    type Action = TeamAction;
    const READ: TeamAction = TeamAction::Read;
    const ID: team::Column = team::Column::Id;
    const SEARCH: &'static [team::Column] = &[team::Column::Name];
    const DEFAULT_ORDER: (TeamSort, bool) = (TeamSort::Name, false);
    type Row = team::Model;
    type Sort = TeamSort;

    /// The teams the viewer's role may read (teams are role-only in the policy).
    fn readable(deps: &Deps, viewer: &Viewer) -> Select<Self> {
        team::Entity::find().filter(deps.authz.scope(viewer, TeamAction::Read))
    }

    fn counted(deps: &Deps, viewer: &Viewer) -> Vec<Select<Self>> {
        vec![Self::readable(deps, viewer)]
    }

    const PLANS_FEW: bool = false;

    fn sort<'a>(sort: TeamSort, _: &Env<'a>) -> Vec<SortSpec<'a, team::Model>> {
        vec![match sort {
            TeamSort::Name => SortSpec::column(team::Column::Name, |m: &team::Model| {
                Scalar::Str(m.name.clone())
            }),
            TeamSort::CreatedAt => SortSpec::column(team::Column::CreatedAt, |m: &team::Model| {
                Scalar::Ts(m.created_at)
            }),
        }]
    }
}

crate::service::record::plain_fields!(team::Column);

impl crate::service::record::Identified for team::Model {
    fn id(&self) -> Uuid {
        self.id
    }
}

/// A team the actor may read, or `NOT_FOUND`.
pub async fn get(deps: &Deps, actor: &Actor, id: Uuid) -> ApiResult<team::Model> {
    require_role_permission(deps, &actor.viewer, TeamAction::Read)
        .map_err(|_| ApiError::NotFound { entity: "Team" })?;
    team::Entity::find_by_id(id)
        .one(&deps.db)
        .await?
        .ok_or(ApiError::NotFound { entity: "Team" })
}

/// `createTeam` (admin).
pub async fn create(deps: &Deps, actor: &Actor, input: TeamInput) -> ApiResult<team::Model> {
    require_role_permission(deps, &actor.viewer, TeamAction::Create)?;
    let name = validate(&deps.db, &input, true).await?.unwrap_or_default();
    let now = Utc::now();
    let txn = begin_write(deps).await?;
    let team = team::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(name),
        manager_id: Set(input.manager_id.flatten()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let changes = events::created(&team);
    let event = Event::on(
        AuditAction::RecordCreated,
        RecordKind::Team,
        team.id,
        changes,
    );
    events::append_by(deps, &txn, &actor.viewer, event).await?;
    txn.commit().await?;
    Ok(team)
}

/// `updateTeam` (admin).
pub async fn update(
    deps: &Deps,
    actor: &Actor,
    id: Uuid,
    input: TeamInput,
) -> ApiResult<team::Model> {
    require_role_permission(deps, &actor.viewer, TeamAction::Update)?;
    let txn = begin_write(deps).await?;
    let team = team::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound { entity: "Team" })?;
    let name = validate(&deps.db, &input, false).await?;
    let before = team.clone();
    let mut am: team::ActiveModel = team.into();
    if let Some(n) = name {
        am.name = Set(n);
    }
    if let Some(m) = input.manager_id {
        am.manager_id = Set(m);
    }
    am.updated_at = Set(Utc::now());
    let team = am.update(&txn).await?;
    // The manager decides who sees the team's records.
    let changes = events::diff(&before, &team);
    let action = events::update_action(&changes, &["managerId"]);
    let event = Event::on(action, RecordKind::Team, team.id, changes);
    events::append_by(deps, &txn, &actor.viewer, event).await?;
    txn.commit().await?;
    Ok(team)
}
