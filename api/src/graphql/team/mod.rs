//! Teams.

mod filter;
mod mutation;

use async_graphql::{Context, ID, Object, Result};

use chrono::{DateTime, Utc};
use entity::team;

use crate::graphql::{User, actor, deps, gql, or_none, parse_id};
use crate::service;

pub use crate::graphql::lists::TeamListQuery;
pub use filter::{TeamFilter, TeamOrder};
pub use mutation::*;

/// A team of sales reps, led by a manager.
pub struct Team(pub team::Model);

/// A team of sales reps, led by a manager.
#[Object]
impl Team {
    /// Stable identifier.
    pub(crate) async fn id(&self) -> ID {
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
        Ok(or_none(service::team::get(deps(ctx), actor, id).await)?.map(Team))
    }
}
