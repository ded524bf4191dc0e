//! Users: the directory (readable by every signed-in user) and admin-managed accounts.

use chrono::Utc;
use entity::enums::Role;
use entity::{team, user};
use rand::Rng;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use crate::auth::Actor;
use crate::auth::password::{hash_password, validate_password};
use crate::authz::{Kind, UserAction, Viewer};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::service::events::{self, AuditAction, Event, RecordKind};
use crate::service::filter::{Env, Scalar};
use crate::service::record::{Record, SortSpec, sort_enum};
use crate::service::{Deps, auth, begin_write, require_role_permission, unique_violation};
use sea_orm::Select;

/// `createUser` input.
pub struct NewUser {
    /// Login email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Initial password.
    pub password: String,
    /// Role.
    pub role: Role,
    /// Team, if any.
    pub team_id: Option<Uuid>,
}

/// `updateUser` input; `None` leaves a field unchanged.
#[derive(Default)]
pub struct UserChanges {
    /// New display name.
    pub name: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// New team (`Some(None)` removes the user from their team).
    pub team_id: Option<Option<Uuid>>,
    /// Activate or deactivate.
    pub active: Option<bool>,
}

/// Whether `email` looks like an address: one `@`, something on both sides, a dot in the
/// domain, no spaces.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !email.contains(char::is_whitespace)
        && email.len() <= 254
}

async fn check_team(
    db: &impl ConnectionTrait,
    team_id: Option<Uuid>,
    errors: &mut Vec<FieldError>,
) -> ApiResult<()> {
    if let Some(id) = team_id
        && team::Entity::find_by_id(id).one(db).await?.is_none()
    {
        errors.push(FieldError::new("teamId", "no such team"));
    }
    Ok(())
}

/// The keys a user list can be ordered by, named once: [`UserSort`] here and the GraphQL
/// order field are both declared from this list (`user_sort_keys!(declare)`).
macro_rules! user_sort_keys {
    ($declare:ident) => {
        $declare! {
            /// Fields the directory can be ordered by.
            UserSort as UserOrderField {
                /// Display name.
                Name,
                /// Email.
                Email,
                /// Creation time.
                CreatedAt,
            }
        }
    };
}

pub(crate) use user_sort_keys;

user_sort_keys!(sort_enum);

/// Users as the directory reads them: every column but the password hash, which only
/// signing in needs (it reads as an empty string here, so it never leaves the database for
/// a name or an email).
pub fn directory() -> Select<user::Entity> {
    let mut select = user::Entity::find().select_only();
    for column in <user::Column as sea_orm::Iterable>::iter() {
        if !matches!(column, user::Column::PasswordHash) {
            select = select.column(column);
        }
    }
    select.column_as(sea_orm::sea_query::Expr::val(""), "password_hash")
}

impl Record for user::Entity {
    const KIND: Kind = Kind::User;
    type Action = UserAction;
    const READ: UserAction = UserAction::Read;
    const ID: user::Column = user::Column::Id;
    const SEARCH: &'static [user::Column] = &[user::Column::Name, user::Column::Email];
    const DEFAULT_ORDER: (UserSort, bool) = (UserSort::Name, false);
    type Row = user::Model;
    type Sort = UserSort;

    /// The directory entries the viewer may read.
    fn readable(deps: &Deps, viewer: &Viewer) -> Select<Self> {
        directory().filter(deps.authz.scope(viewer, UserAction::Read))
    }

    fn counted(deps: &Deps, viewer: &Viewer) -> Vec<Select<Self>> {
        vec![Self::readable(deps, viewer)]
    }

    const PLANS_FEW: bool = false;

    fn sort<'a>(sort: UserSort, _: &Env<'a>) -> Vec<SortSpec<'a, user::Model>> {
        use user::Column as C;
        vec![match sort {
            UserSort::Name => {
                SortSpec::column(C::Name, |m: &user::Model| Scalar::Str(m.name.clone()))
            }
            UserSort::Email => {
                SortSpec::column(C::Email, |m: &user::Model| Scalar::Str(m.email.clone()))
            }
            UserSort::CreatedAt => {
                SortSpec::column(C::CreatedAt, |m: &user::Model| Scalar::Ts(m.created_at))
            }
        }]
    }
}

crate::service::record::plain_fields!(user::Column);

impl crate::service::record::Identified for user::Model {
    fn id(&self) -> Uuid {
        self.id
    }
}

/// A directory entry the actor may read, or `NOT_FOUND`.
pub async fn get(deps: &Deps, actor: &Actor, id: Uuid) -> ApiResult<user::Model> {
    let found = user::Entity::find_by_id(id).one(&deps.db).await?;
    match found {
        Some(u) if deps.authz.decide_user(&actor.viewer, UserAction::Read, &u) => Ok(u),
        _ => Err(ApiError::NotFound { entity: "User" }),
    }
}

/// `createUser` (admin).
pub async fn create(deps: &Deps, actor: &Actor, input: NewUser) -> ApiResult<user::Model> {
    // Authorize.
    require_role_permission(deps, &actor.viewer, UserAction::Create)?;
    // Validate: every problem at once.
    let email = input.email.trim().to_lowercase();
    let name = input.name.trim().to_owned();
    let mut errors = Vec::new();
    if !is_valid_email(&email) {
        errors.push(FieldError::new("email", "is not a valid email address"));
    }
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(FieldError::new(
            "name",
            "is required (at most 200 characters)",
        ));
    }
    if let Err(ApiError::BadUserInput(mut e)) = validate_password(&input.password, &email) {
        errors.append(&mut e);
    }
    check_team(&deps.db, input.team_id, &mut errors).await?;
    if !errors.is_empty() {
        return Err(ApiError::BadUserInput(errors));
    }
    // Act.
    let hash = hash_password(input.password).await?;
    let now = Utc::now();
    let txn = begin_write(deps).await?;
    let user = user::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(email),
        name: Set(name),
        password_hash: Set(hash),
        role: Set(input.role),
        team_id: Set(input.team_id),
        active: Set(true),
        must_change_password: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| unique_violation(e, "email", "a user with this email"))?;
    let event = Event::on(
        AuditAction::RecordCreated,
        RecordKind::User,
        user.id,
        events::created(&user),
    );
    events::append_by(deps, &txn, &actor.viewer, event).await?;
    txn.commit().await?;
    Ok(user)
}

/// `updateUser` (admin): name, role, team, active. Deactivation signs the user out
/// everywhere at once.
pub async fn update(
    deps: &Deps,
    actor: &Actor,
    id: Uuid,
    changes: UserChanges,
) -> ApiResult<user::Model> {
    // Authorize first: non-admins learn nothing about the target.
    require_role_permission(deps, &actor.viewer, UserAction::Update)?;
    let txn = begin_write(deps).await?;
    // Lock: a change of role or activity may take the last admin away, and two admins
    // demoting each other at once must not both see the other one still active.
    let admins = if changes.role.is_some() || changes.active == Some(false) {
        lock_active_admins(&txn).await?
    } else {
        Vec::new()
    };
    // Load.
    let user = user::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound { entity: "User" })?;
    // Validate.
    let mut errors = Vec::new();
    let name = changes.name.map(|n| n.trim().to_owned());
    if let Some(n) = &name
        && (n.is_empty() || n.chars().count() > 200)
    {
        errors.push(FieldError::new(
            "name",
            "is required (at most 200 characters)",
        ));
    }
    if let Some(team_id) = changes.team_id {
        check_team(&txn, team_id, &mut errors).await?;
    }
    let loses_admin = user.role == Role::Admin
        && (changes.role.is_some_and(|r| r != Role::Admin) || changes.active == Some(false));
    // Counted among the admins locked above, as they are now.
    if loses_admin && !admins.iter().any(|a| *a != user.id) {
        let field = if changes.active == Some(false) {
            "active"
        } else {
            "role"
        };
        errors.push(FieldError::new(
            field,
            "would leave no active administrator",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::BadUserInput(errors));
    }
    // Act.
    let deactivated = changes.active == Some(false) && user.active;
    let before = user.clone();
    let mut am: user::ActiveModel = user.into();
    if let Some(n) = name {
        am.name = Set(n);
    }
    if let Some(r) = changes.role {
        am.role = Set(r);
    }
    if let Some(t) = changes.team_id {
        am.team_id = Set(t);
    }
    if let Some(a) = changes.active {
        am.active = Set(a);
    }
    am.updated_at = Set(Utc::now());
    let user = am.update(&txn).await?;
    if deactivated {
        auth::revoke_user_sessions(&txn, user.id, None, "user deactivated").await?;
    }
    let changes = events::diff(&before, &user);
    let action = events::update_action(&changes, &events::USER_PERMISSION_FIELDS);
    let event = Event::on(action, RecordKind::User, user.id, changes);
    events::append_by(deps, &txn, &actor.viewer, event).await?;
    txn.commit().await?;
    Ok(user)
}

/// The ids of the active admins, locked until the transaction ends (`SELECT … FOR UPDATE`,
/// in id order so concurrent lockers cannot deadlock). A transaction that waited for the
/// lock sees the admins as the winner left them. On SQLite there are no row locks, and
/// none are needed: write transactions begin immediate, so they run one at a time.
async fn lock_active_admins(db: &impl ConnectionTrait) -> ApiResult<Vec<Uuid>> {
    user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Role.eq(Role::Admin))
        .filter(user::Column::Active.eq(true))
        .order_by_asc(user::Column::Id)
        .lock_exclusive()
        .into_tuple::<Uuid>()
        .all(db)
        .await
        .map_err(ApiError::from)
}

/// A readable temporary password: 20 characters from an alphabet without look-alikes.
fn temporary_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// `resetUserPassword` (admin): sets a one-time temporary password, signs the user out
/// everywhere and makes them choose a new password at next sign-in.
pub async fn reset_password(
    deps: &Deps,
    actor: &Actor,
    id: Uuid,
) -> ApiResult<(user::Model, String)> {
    require_role_permission(deps, &actor.viewer, UserAction::ResetPassword)?;
    let user = user::Entity::find_by_id(id)
        .one(&deps.db)
        .await?
        .ok_or(ApiError::NotFound { entity: "User" })?;
    let temporary = temporary_password();
    let hash = hash_password(temporary.clone()).await?;
    let txn = begin_write(deps).await?;
    let before = user.clone();
    let mut am: user::ActiveModel = user.into();
    am.password_hash = Set(hash);
    am.must_change_password = Set(true);
    am.updated_at = Set(Utc::now());
    let user = am.update(&txn).await?;
    auth::revoke_user_sessions(&txn, user.id, None, "password reset").await?;
    let mut changes = vec![events::password_changed()];
    changes.extend(events::diff(&before, &user));
    let event = Event::on(
        AuditAction::PermissionChanged,
        RecordKind::User,
        user.id,
        changes,
    );
    events::append_by(deps, &txn, &actor.viewer, event).await?;
    txn.commit().await?;
    Ok((user, temporary))
}

#[cfg(test)]
mod tests {
    use sea_orm::{DbBackend, QueryTrait};

    #[test]
    fn the_directory_never_reads_the_password_hash() {
        let sql = super::directory().build(DbBackend::Postgres).to_string();
        assert!(!sql.contains("\"users\".\"password_hash\""), "{sql}");
        assert!(sql.contains("'' AS \"password_hash\""), "{sql}");
        assert!(sql.contains("\"users\".\"email\""), "{sql}");
    }
}
