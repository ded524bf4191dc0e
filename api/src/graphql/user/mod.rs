//! Users: the directory and admin-managed accounts.

mod filter;
mod mutation;

use async_graphql::{Context, ID, Object, Result};

use crate::graphql::enums::Role;
use chrono::{DateTime, Utc};
use entity::user;

use crate::graphql::{Team, actor, deps, gql, or_none, parse_id};
use crate::service;

pub use crate::graphql::lists::UserListQuery;
pub use filter::{UserFilter, UserOrder};
pub use mutation::*;

/// A person who signs in. Only directory fields are exposed.
pub struct User(pub user::Model);

/// A person who signs in. Only directory fields are exposed.
#[Object]
impl User {
    /// Stable identifier.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Login email (lowercase).
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Role.
    async fn role(&self) -> Role {
        self.0.role.into()
    }
    /// The user's team, if any.
    async fn team(&self, ctx: &Context<'_>) -> Result<Option<Team>> {
        match self.0.team_id {
            Some(id) => crate::graphql::loaders::team(ctx, id).await,
            None => Ok(None),
        }
    }
    /// Whether the user may sign in.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// When the account was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Directory queries.
#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// A user by id; `null` if it does not exist or is not visible to the viewer.
    async fn user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's ID.")] id: ID,
    ) -> Result<Option<User>> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        Ok(or_none(service::user::get(deps(ctx), actor, id).await)?.map(User))
    }
}
