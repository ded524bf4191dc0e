//! Team changes and their inputs.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result};

use crate::graphql::{actor, deps, gql, parse_id, parse_opt_id};
use crate::service;

#[allow(unused_imports)]
use super::*;

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
        let manager_id = parse_opt_id(input.manager_id.as_ref(), "managerId").map_err(gql)?;
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
