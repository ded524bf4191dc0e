//! Teams.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result};
use chrono::{DateTime, Utc};
use entity::team;

use crate::graphql::{User, actor, deps, gql, parse_id};
use crate::service;

/// A team of sales reps, led by a manager.
pub struct Team(pub team::Model);

/// A team of sales reps, led by a manager.
#[Object]
impl Team {
    /// Stable identifier.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Team name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The manager, if one is assigned and visible.
    async fn manager(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        match self.0.manager_id {
            Some(id) => crate::graphql::loaders::user(ctx, id).await,
            None => Ok(None),
        }
    }
    /// Members visible to the viewer, by name.
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        crate::graphql::loaders::members(ctx, self.0.id).await
    }
    /// When the team was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Input of `createTeam`.
#[derive(InputObject)]
pub struct CreateTeamInput {
    /// Team name.
    name: String,
    /// The managing user (role MANAGER).
    manager_id: Option<ID>,
}

/// Input of `updateTeam`; omitted fields are left unchanged.
#[derive(InputObject)]
pub struct UpdateTeamInput {
    /// New name.
    name: Option<String>,
    /// New manager; `null` removes the manager.
    manager_id: MaybeUndefined<ID>,
}

/// Team queries.
#[derive(Default)]
pub struct TeamQuery;

#[Object]
impl TeamQuery {
    /// A team by id; `null` if it does not exist.
    async fn team(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The team's ID.")] id: ID,
    ) -> Result<Option<Team>> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        match service::team::get(deps(ctx), actor, id).await {
            Ok(t) => Ok(Some(Team(t))),
            Err(crate::error::ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(gql(e)),
        }
    }
}

/// Team administration (administrators only, per the policy).
#[derive(Default)]
pub struct TeamMutation;

#[Object]
impl TeamMutation {
    /// Creates a team.
    async fn create_team(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new team.")] input: CreateTeamInput,
    ) -> Result<Team> {
        let actor = actor(ctx)?;
        let manager_id = input
            .manager_id
            .as_ref()
            .map(|m| parse_id(m, "managerId"))
            .transpose()
            .map_err(gql)?;
        let input = service::team::TeamInput {
            name: Some(input.name),
            manager_id: Some(manager_id),
        };
        service::team::create(deps(ctx), actor, input)
            .await
            .map(Team)
            .map_err(gql)
    }

    /// Renames a team or changes its manager.
    async fn update_team(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The team to change.")] id: ID,
        #[graphql(desc = "The changes.")] input: UpdateTeamInput,
    ) -> Result<Team> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        let manager_id = match input.manager_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(m) => Some(Some(parse_id(&m, "managerId").map_err(gql)?)),
        };
        let input = service::team::TeamInput {
            name: input.name,
            manager_id,
        };
        service::team::update(deps(ctx), actor, id, input)
            .await
            .map(Team)
            .map_err(gql)
    }
}
