//! The actor: who is making this request, established once per request from the bearer
//! token and the database (so deactivation, revocation and role changes apply at once).

use axum::http::HeaderMap;
use chrono::Utc;
use entity::enums::Role;
use entity::{session, team, user};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, FromQueryResult, JoinType, QueryFilter,
    QuerySelect, RelationTrait,
};
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
            let rows = SessionRow::find(session_id)
                .all(db)
                .await
                .map_err(|e| db_failure(e, "loading the session"))?;
            let first = rows.first().ok_or(AuthFailure::Session)?;
            let live = first.revoked_at.is_none() && first.expires_at > Utc::now();
            if !live || first.user_id != user_id || !first.active {
                return Err(AuthFailure::Session);
            }
            Ok(Some(SessionRow::actor(rows, session_id)))
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

/// One row of the session check: the session, its user and one team the user manages (none:
/// one row with `managed_team` null). One statement per request instead of three (session,
/// user, managed teams); the password hash is not read.
#[derive(Debug, FromQueryResult)]
struct SessionRow {
    revoked_at: Option<chrono::DateTime<Utc>>,
    expires_at: chrono::DateTime<Utc>,
    user_id: Uuid,
    email: String,
    name: String,
    role: Role,
    team_id: Option<Uuid>,
    active: bool,
    must_change_password: bool,
    managed_team: Option<Uuid>,
}

impl SessionRow {
    /// `sessions ⋈ users ⟕ teams (managed by the user)` for one session id.
    fn find(session_id: Uuid) -> sea_orm::Selector<sea_orm::SelectModel<Self>> {
        session::Entity::find_by_id(session_id)
            .select_only()
            .columns([
                session::Column::RevokedAt,
                session::Column::ExpiresAt,
                session::Column::UserId,
            ])
            .column(user::Column::Email)
            .column(user::Column::Name)
            .column(user::Column::Role)
            .column(user::Column::TeamId)
            .column(user::Column::Active)
            .column(user::Column::MustChangePassword)
            .column_as(team::Column::Id, "managed_team")
            .join(JoinType::InnerJoin, session::Relation::User.def())
            .join(JoinType::LeftJoin, user::Relation::ManagedTeams.def())
            .into_model::<Self>()
    }

    /// The actor of a live session's rows (at least one).
    fn actor(rows: Vec<Self>, session_id: Uuid) -> Actor {
        let managed: Vec<Uuid> = rows.iter().filter_map(|r| r.managed_team).collect();
        let first = rows.into_iter().next().expect("at least one row");
        let viewer = Viewer::new(
            first.user_id,
            first.role,
            first.team_id.into_iter().chain(managed),
        );
        Actor {
            id: first.user_id,
            email: first.email,
            name: first.name,
            role: first.role,
            team_id: first.team_id,
            session_id: Some(session_id),
            must_change_password: first.must_change_password,
            viewer,
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
