//! The actor: who is making this request, established once per request from the bearer
//! token and the database (so deactivation, revocation and role changes apply at once).

use axum::http::HeaderMap;
use chrono::Utc;
use entity::enums::Role;
use entity::{session, team, user};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, FromQueryResult, JoinType, QueryFilter,
    QuerySelect, RelationTrait, Select,
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
            if !live || first.user.user_id != user_id || !first.user.active {
                return Err(AuthFailure::Session);
            }
            let rows = rows.into_iter().map(|r| r.user).collect();
            Ok(ActorRow::actor(rows, Some(session_id)))
        }
        TokenSubject::External { email } => {
            let rows = ActorRow::columns(user::Entity::find())
                .filter(user::Column::Email.eq(email))
                .filter(user::Column::Active.eq(true))
                .into_model::<ActorRow>()
                .all(db)
                .await
                .map_err(|e| db_failure(e, "loading the SSO user"))?;
            ActorRow::actor(rows, None)
                .map(Some)
                .ok_or(AuthFailure::Session)
        }
    }
}

/// What an actor is made of: the user's columns and one team they manage (one row per
/// managed team; none: one row with `managed_team` null). The password hash is not read.
#[derive(Debug, FromQueryResult)]
struct ActorRow {
    user_id: Uuid,
    email: String,
    name: String,
    role: Role,
    team_id: Option<Uuid>,
    active: bool,
    must_change_password: bool,
    managed_team: Option<Uuid>,
}

impl ActorRow {
    /// Selects an [`ActorRow`]'s columns from `select`, which reads or joins `users`.
    fn columns<E: EntityTrait>(select: Select<E>) -> Select<E> {
        select
            .select_only()
            .column_as(user::Column::Id, "user_id")
            .column(user::Column::Email)
            .column(user::Column::Name)
            .column(user::Column::Role)
            .column(user::Column::TeamId)
            .column(user::Column::Active)
            .column(user::Column::MustChangePassword)
            .column_as(team::Column::Id, "managed_team")
            .join(JoinType::LeftJoin, user::Relation::ManagedTeams.def())
    }

    /// The actor of one user's rows (`None` when there are none).
    fn actor(rows: Vec<Self>, session_id: Option<Uuid>) -> Option<Actor> {
        let managed: Vec<Uuid> = rows.iter().filter_map(|r| r.managed_team).collect();
        let first = rows.into_iter().next()?;
        let viewer = Viewer::new(
            first.user_id,
            first.role,
            first.team_id.into_iter().chain(managed),
        );
        Some(Actor {
            id: first.user_id,
            email: first.email,
            name: first.name,
            role: first.role,
            team_id: first.team_id,
            session_id,
            must_change_password: first.must_change_password,
            viewer,
        })
    }
}

/// One row of the session check: the session and an [`ActorRow`] of its user. One statement
/// per request (`sessions ⋈ users ⟕ teams managed by the user`).
#[derive(Debug, FromQueryResult)]
struct SessionRow {
    revoked_at: Option<chrono::DateTime<Utc>>,
    expires_at: chrono::DateTime<Utc>,
    #[sea_orm(nested)]
    user: ActorRow,
}

impl SessionRow {
    fn find(session_id: Uuid) -> sea_orm::Selector<sea_orm::SelectModel<Self>> {
        let session = session::Entity::find_by_id(session_id)
            .join(JoinType::InnerJoin, session::Relation::User.def());
        ActorRow::columns(session)
            .column(session::Column::RevokedAt)
            .column(session::Column::ExpiresAt)
            .into_model::<Self>()
    }
}

impl Actor {
    /// The actor of user `user_id` as of now (`None`: no such user).
    pub async fn load(
        db: &DatabaseConnection,
        user_id: Uuid,
        session_id: Option<Uuid>,
    ) -> Result<Option<Self>, AuthFailure> {
        let rows = ActorRow::columns(user::Entity::find_by_id(user_id))
            .into_model::<ActorRow>()
            .all(db)
            .await
            .map_err(|e| db_failure(e, "loading the actor"))?;
        Ok(ActorRow::actor(rows, session_id))
    }
}
