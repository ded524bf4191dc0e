//! The actor: who is making this request, established once per request from the bearer
//! token and the database (so deactivation, revocation and role changes apply at once).

use axum::http::HeaderMap;
use chrono::Utc;
use entity::enums::Role;
use entity::{session, user};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::auth::token::{TokenService, TokenSubject};
use crate::authz::Viewer;

/// An authenticated user, as of this request.
#[derive(Debug, Clone)]
pub struct Actor {
    /// User id.
    pub id: Uuid,
    /// Login email (lowercase).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Current role (read from the database on every request).
    pub role: Role,
    /// The user's own team.
    pub team_id: Option<Uuid>,
    /// The session of the token; `None` for SSO tokens.
    pub session_id: Option<Uuid>,
    /// After an admin reset, only `changePassword`, `me` and `logout` are allowed.
    pub must_change_password: bool,
    /// What the policy's facts are relative to: id, role, and the teams (own and managed).
    pub viewer: Viewer,
}

/// The client's network address, when known.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientAddr(pub Option<std::net::IpAddr>);

/// Why a request's credentials were refused (HTTP 401).
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    /// The `Authorization` header is not `Bearer <token>`.
    #[error("malformed Authorization header")]
    Header,
    /// The token failed verification.
    #[error("{0}")]
    Token(#[from] crate::auth::token::TokenError),
    /// The session is revoked or expired, or the user is gone or deactivated.
    #[error("session no longer valid")]
    Session,
    /// The database could not be asked.
    #[error("database unavailable")]
    Database,
    /// No database connection became free in time: the server is saturated.
    #[error("server busy")]
    Busy,
}

/// A database error while authenticating: saturation (retry soon) or an outage.
fn db_failure(e: sea_orm::DbErr, what: &str) -> AuthFailure {
    if matches!(
        e,
        sea_orm::DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout)
    ) {
        tracing::warn!("{what}: no database connection became free in time");
        return AuthFailure::Busy;
    }
    tracing::error!(error = %e, "{what} failed");
    AuthFailure::Database
}

/// Reads the bearer token, if any. No header is the anonymous actor (`Ok(None)`); a header
/// that does not check out is an error, never silently anonymous.
pub async fn authenticate(
    db: &DatabaseConnection,
    tokens: &TokenService,
    headers: &HeaderMap,
) -> Result<Option<Actor>, AuthFailure> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| AuthFailure::Header)?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AuthFailure::Header)?;
    match tokens.verify(token)? {
        TokenSubject::Session {
            user_id,
            session_id,
        } => {
            let (session, user) = session::Entity::find_by_id(session_id)
                .find_also_related(user::Entity)
                .one(db)
                .await
                .map_err(|e| db_failure(e, "loading the session"))?
                .ok_or(AuthFailure::Session)?;
            let user = user.ok_or(AuthFailure::Session)?;
            let live = session.revoked_at.is_none() && session.expires_at > Utc::now();
            if !live || session.user_id != user_id || !user.active {
                return Err(AuthFailure::Session);
            }
            Actor::load(db, user, Some(session_id)).await.map(Some)
        }
        TokenSubject::External { email } => {
            let user = user::Entity::find()
                .filter(user::Column::Email.eq(email))
                .filter(user::Column::Active.eq(true))
                .one(db)
                .await
                .map_err(|e| db_failure(e, "loading the SSO user"))?
                .ok_or(AuthFailure::Session)?;
            Actor::load(db, user, None).await.map(Some)
        }
    }
}

impl Actor {
    /// The actor for a user row: loads the teams the user manages.
    pub async fn load(
        db: &DatabaseConnection,
        user: user::Model,
        session_id: Option<Uuid>,
    ) -> Result<Self, AuthFailure> {
        let viewer = Viewer::load(db, user.id, user.role, user.team_id)
            .await
            .map_err(|e| db_failure(e, "loading the actor's teams"))?;
        Ok(Self {
            id: user.id,
            email: user.email,
            name: user.name,
            role: user.role,
            team_id: user.team_id,
            session_id,
            must_change_password: user.must_change_password,
            viewer,
        })
    }
}
