//! Teams: readable by every signed-in user, managed by admins.

use chrono::Utc;
use entity::enums::Role;
use entity::{team, user};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use uuid::Uuid;

use crate::auth::Actor;
use crate::authz::{TeamAction, Viewer};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::service::list::{CursorValue, Page, PageArgs, SortKey, fetch_page};
use crate::service::{Deps, require_role_permission};
use sea_orm::{Condition, PaginatorTrait, QueryFilter, Select};

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

/// What teams can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamSort {
    /// Name.
    Name,
    /// Creation time.
    CreatedAt,
}

/// The teams condition the viewer's role allows (teams are role-only in the policy).
fn readable(deps: &Deps, viewer: &Viewer) -> Select<team::Entity> {
    team::Entity::find().filter(deps.authz.scope(viewer, TeamAction::Read))
}

/// One page of the teams the viewer may read, matching `filter`.
pub async fn list(
    deps: &Deps,
    viewer: &Viewer,
    filter: Condition,
    order: &[(TeamSort, bool)],
    page: &PageArgs,
) -> ApiResult<Page<team::Model>> {
    let order: Vec<(TeamSort, bool)> = if order.is_empty() {
        vec![(TeamSort::Name, false)]
    } else {
        order.to_vec()
    };
    let mut keys: Vec<SortKey> = order
        .iter()
        .map(|(f, desc)| {
            let c = match f {
                TeamSort::Name => team::Column::Name,
                TeamSort::CreatedAt => team::Column::CreatedAt,
            };
            SortKey::column(c, *desc)
        })
        .collect();
    keys.push(SortKey::column(team::Column::Id, false));
    fetch_page(
        &deps.db,
        readable(deps, viewer).filter(filter),
        &keys,
        page,
        |m: &team::Model| {
            let mut v: Vec<CursorValue> = order
                .iter()
                .map(|(f, _)| match f {
                    TeamSort::Name => CursorValue::Str(m.name.clone()),
                    TeamSort::CreatedAt => CursorValue::Ts(m.created_at),
                })
                .collect();
            v.push(CursorValue::Uuid(m.id));
            v
        },
    )
    .await
}

/// How many teams the viewer may read match `filter`.
pub async fn count(deps: &Deps, viewer: &Viewer, filter: Condition) -> ApiResult<u64> {
    Ok(readable(deps, viewer)
        .filter(filter)
        .count(&deps.db)
        .await?)
}

/// A team the actor may read, or `NOT_FOUND`.
pub async fn get(deps: &Deps, actor: &Actor, id: Uuid) -> ApiResult<team::Model> {
    require_role_permission(deps, actor, TeamAction::Read)
        .map_err(|_| ApiError::NotFound { entity: "Team" })?;
    team::Entity::find_by_id(id)
        .one(&deps.db)
        .await?
        .ok_or(ApiError::NotFound { entity: "Team" })
}

/// `createTeam` (admin).
pub async fn create(deps: &Deps, actor: &Actor, input: TeamInput) -> ApiResult<team::Model> {
    require_role_permission(deps, actor, TeamAction::Create)?;
    let name = validate(&deps.db, &input, true).await?.unwrap_or_default();
    let now = Utc::now();
    let team = team::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(name),
        manager_id: Set(input.manager_id.flatten()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&deps.db)
    .await?;
    tracing::info!(target: "audit", event = "team.created", actor_id = %actor.id, team_id = %team.id, "team created");
    Ok(team)
}

/// `updateTeam` (admin).
pub async fn update(
    deps: &Deps,
    actor: &Actor,
    id: Uuid,
    input: TeamInput,
) -> ApiResult<team::Model> {
    require_role_permission(deps, actor, TeamAction::Update)?;
    let team = team::Entity::find_by_id(id)
        .one(&deps.db)
        .await?
        .ok_or(ApiError::NotFound { entity: "Team" })?;
    let name = validate(&deps.db, &input, false).await?;
    let mut am: team::ActiveModel = team.into();
    if let Some(n) = name {
        am.name = Set(n);
    }
    if let Some(m) = input.manager_id {
        am.manager_id = Set(m);
    }
    am.updated_at = Set(Utc::now());
    let team = am.update(&deps.db).await?;
    tracing::info!(target: "audit", event = "team.updated", actor_id = %actor.id, team_id = %team.id, "team updated");
    Ok(team)
}
