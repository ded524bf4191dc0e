//! Sign-in, sessions, `me`.

use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use crate::auth::Actor;
use crate::authz::Origin;
use crate::graphql::{SignedInSlots, User, actor_even_if_password_expired, deps, gql};
use crate::service;

/// Tokens for a signed-in user.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Short-lived JWT: send it as `Authorization: Bearer <accessToken>`.
    access_token: String,
    /// Single-use token for `refreshSession`; store it safely. Using one twice ends the
    /// session (it is treated as stolen).
    refresh_token: String,
    /// When the access token expires; refresh shortly before.
    expires_at: DateTime<Utc>,
    /// The signed-in user.
    user: User,
    /// True after an administrator reset the password: call `changePassword` first; every
    /// other operation is refused until then.
    must_change_password: bool,
}

impl From<service::auth::Session> for AuthPayload {
    fn from(s: service::auth::Session) -> Self {
        Self {
            access_token: s.access_token,
            refresh_token: s.refresh_token,
            expires_at: s.expires_at,
            must_change_password: s.user.must_change_password,
            user: User(s.user),
        }
    }
}

/// The payload of a sign-in, whose `user` (and everything reached from it) resolves as the
/// user just signed in, like a request carrying the new access token.
async fn signed_in(ctx: &Context<'_>, session: service::auth::Session) -> Result<AuthPayload> {
    if let Some(slots) = ctx.data_opt::<SignedInSlots>()
        && let Some(async_graphql::QueryPathSegment::Name(key)) =
            ctx.path_node.as_ref().map(|n| n.segment)
    {
        let deps = deps(ctx);
        let actor = Actor::load(&deps.db, session.user.id, Some(session.session_id))
            .await
            .ok()
            .flatten()
            .ok_or_else(|| gql(crate::error::ApiError::Internal))?;
        let loader = crate::graphql::loaders::for_viewer(deps.clone(), actor.viewer.clone());
        slots.record(key, actor, loader);
    }
    Ok(AuthPayload::from(session))
}

/// Queries about the signed-in user.
#[derive(Default)]
pub struct AuthQuery;

#[Object]
impl AuthQuery {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        let actor = actor_even_if_password_expired(ctx)?;
        service::user::get(deps(ctx), actor, actor.id)
            .await
            .map(User)
            .map_err(gql)
    }
}

/// Sign-in and session mutations.
#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Signs in with email (case-insensitive) and password. Wrong credentials are
    /// `UNAUTHENTICATED`; repeated failures are slowed down, then `RATE_LIMITED` for a while.
    async fn login(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Login email (case-insensitive).")] email: String,
        #[graphql(desc = "Password.", secret)] password: String,
    ) -> Result<AuthPayload> {
        let origin = ctx.data_opt::<Origin>().cloned().unwrap_or_default();
        let session = service::auth::login(deps(ctx), &email, password, &origin)
            .await
            .map_err(gql)?;
        signed_in(ctx, session).await
    }

    /// Exchanges a refresh token for a new access and refresh token. Each refresh token
    /// works once; presenting a used one revokes the whole session.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The refresh token from `login` or the previous refresh.",
            secret
        )]
        refresh_token: String,
    ) -> Result<AuthPayload> {
        let origin = ctx.data_opt::<Origin>().cloned().unwrap_or_default();
        let session = service::auth::refresh(deps(ctx), &refresh_token, &origin)
            .await
            .map_err(gql)?;
        signed_in(ctx, session).await
    }

    /// Ends the current session: its access and refresh tokens stop working at once.
    /// False for SSO tokens, which the identity provider ends.
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        let actor = actor_even_if_password_expired(ctx)?;
        service::auth::logout(deps(ctx), actor).await.map_err(gql)
    }

    /// Changes the signed-in user's password (at least 12 characters, not the email).
    /// Other sessions are signed out.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The password in use now.", secret)] current_password: String,
        #[graphql(desc = "The new password.", secret)] new_password: String,
    ) -> Result<bool> {
        let actor = actor_even_if_password_expired(ctx)?;
        service::auth::change_password(deps(ctx), actor, current_password, new_password)
            .await
            .map_err(gql)
    }
}
