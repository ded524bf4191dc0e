//! User changes and their inputs.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};

use crate::graphql::enums::Role;
use entity::enums::Role as DbRole;

use crate::graphql::{actor, deps, gql, parse_id, parse_opt_id};
use crate::service;

#[allow(unused_imports)]
use super::*;

/// Input of `createUser`.
#[derive(InputObject)]
pub struct CreateUserInput {
    /// Login email; unique, case-insensitive.
    email: String,
    /// Display name.
    name: String,
    /// Initial password: at least 12 characters, not the email.
    #[graphql(secret)]
    password: String,
    /// Role.
    role: Role,
    /// Team to join.
    team_id: Option<ID>,
}

/// Input of `updateUser`; omitted fields are left unchanged.
#[derive(InputObject)]
pub struct UpdateUserInput {
    /// New display name.
    name: Option<String>,
    /// New role; takes effect on the user's next request.
    role: Option<Role>,
    /// New team; `null` removes the user from their team.
    team_id: MaybeUndefined<ID>,
    /// False deactivates the user: their tokens stop working at once.
    active: Option<bool>,
}

/// Result of `resetUserPassword`.
#[derive(SimpleObject)]
pub struct ResetPasswordPayload {
    /// The user, now signed out everywhere.
    user: User,
    /// A one-time password to hand over; the user must change it at next sign-in.
    temporary_password: String,
}

/// Account administration (administrators only, per the policy).
#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Creates a user.
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new user.")] input: CreateUserInput,
    ) -> Result<User> {
        let actor = actor(ctx)?;
        let team_id = parse_opt_id(input.team_id.as_ref(), "teamId").map_err(gql)?;
        let new = service::user::NewUser {
            email: input.email,
            name: input.name,
            password: input.password,
            role: input.role.into(),
            team_id,
        };
        service::user::create(deps(ctx), actor, new)
            .await
            .map(User)
            .map_err(gql)
    }

    /// Changes a user's name, role, team or active flag.
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user to change.")] id: ID,
        #[graphql(desc = "The changes.")] input: UpdateUserInput,
    ) -> Result<User> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        let team_id = match input.team_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(t) => Some(Some(parse_id(&t, "teamId").map_err(gql)?)),
        };
        let changes = service::user::UserChanges {
            name: input.name,
            role: input.role.map(DbRole::from),
            team_id,
            active: input.active,
        };
        service::user::update(deps(ctx), actor, id, changes)
            .await
            .map(User)
            .map_err(gql)
    }

    /// Replaces a user's password with a one-time temporary password and signs them out.
    async fn reset_user_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user.")] id: ID,
    ) -> Result<ResetPasswordPayload> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        let (user, temporary_password) = service::user::reset_password(deps(ctx), actor, id)
            .await
            .map_err(gql)?;
        Ok(ResetPasswordPayload {
            user: User(user),
            temporary_password,
        })
    }
}
