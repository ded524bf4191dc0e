//! Users: the directory and admin-managed accounts.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use sea_orm::sea_query::{Alias, Expr, SimpleExpr};
use sea_orm::{Condition, Value};

use crate::error::ApiResult;
use crate::graphql::connection::{connection, list_page};
use crate::graphql::filter::{BooleanFilter, EnumFilter, IdFilter, OrderDirection, StringFilter};
use crate::service::list::PageArgs;
use crate::service::user::UserSort;
use chrono::{DateTime, Utc};
use entity::enums::Role as DbRole;
use entity::user;

use crate::graphql::{Team, actor, deps, gql, parse_id};
use crate::service;

/// A user's role; what each role may do is decided by the policy files.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::Role")]
pub enum Role {
    /// Works their own accounts and deals.
    SalesRep,
    /// Manages one or more teams of sales reps.
    Manager,
    /// Administers users, teams and everything else.
    Admin,
}

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

/// Conditions on directory entries; every field given must hold.
#[derive(InputObject, Default, Clone)]
pub struct UserFilter {
    /// The user's ID.
    pub id: Option<IdFilter>,
    /// Email.
    pub email: Option<StringFilter>,
    /// Display name.
    pub name: Option<StringFilter>,
    /// Role.
    pub role: Option<EnumFilter<Role>>,
    /// Team.
    pub team_id: Option<IdFilter>,
    /// Whether the user may sign in.
    pub active: Option<BooleanFilter>,
    /// All of these.
    pub and: Option<Vec<UserFilter>>,
    /// Any of these.
    pub or: Option<Vec<UserFilter>>,
    /// Not this.
    pub not: Option<Box<UserFilter>>,
}

fn ucol(c: user::Column) -> SimpleExpr {
    Expr::col((Alias::new("users"), c))
}

impl UserFilter {
    fn to_condition(&self) -> ApiResult<Condition> {
        let mut all = Condition::all();
        let mut conds = Vec::new();
        if let Some(f) = &self.id {
            conds.extend(f.conditions(&ucol(user::Column::Id), "filter.id")?);
        }
        if let Some(f) = &self.email {
            conds.extend(f.conditions(&ucol(user::Column::Email)));
        }
        if let Some(f) = &self.name {
            conds.extend(f.conditions(&ucol(user::Column::Name)));
        }
        if let Some(f) = &self.role {
            conds.extend(f.conditions(&ucol(user::Column::Role), |r| {
                Value::from(sea_orm::ActiveEnum::to_value(&DbRole::from(r)))
            }));
        }
        if let Some(f) = &self.team_id {
            conds.extend(f.conditions(&ucol(user::Column::TeamId), "filter.teamId")?);
        }
        if let Some(f) = &self.active {
            conds.extend(f.conditions(&ucol(user::Column::Active)));
        }
        for f in self.and.iter().flatten() {
            conds.push(f.to_condition()?);
        }
        if let Some(list) = &self.or {
            let mut any = Condition::any();
            for f in list {
                any = any.add(f.to_condition()?);
            }
            conds.push(any);
        }
        if let Some(f) = &self.not {
            conds.push(f.to_condition()?.not());
        }
        for c in conds {
            all = all.add(c);
        }
        Ok(all)
    }
}

/// Fields the directory can be ordered by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum UserOrderField {
    /// Display name.
    Name,
    /// Email.
    Email,
    /// Creation time.
    CreatedAt,
}

/// One ordering key; ties are broken by the next key, finally by ID.
#[derive(InputObject, Clone, Copy)]
pub struct UserOrder {
    /// What to order by.
    pub field: UserOrderField,
    /// Which way.
    #[graphql(default)]
    pub direction: OrderDirection,
}

connection!(
    UserConnection,
    UserEdge,
    User,
    "A page of the user directory, with the total over all pages.",
    "A user in a page, with its cursor."
);

/// Directory queries.
#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The user directory as the viewer may see it (per the policy: active users for sales
    /// reps), a page at a time (25 by default, at most 100); by name by default.
    #[expect(clippy::too_many_arguments, reason = "the Relay connection arguments")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Rows after this cursor.")] after: Option<String>,
        #[graphql(desc = "Rows before this cursor.")] before: Option<String>,
        #[graphql(desc = "How many rows from the start (default 25, at most 100).")] first: Option<
            i32,
        >,
        #[graphql(desc = "How many rows from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Conditions the users must meet.")] filter: Option<UserFilter>,
        #[graphql(desc = "Text to look for in the name or email (case-insensitive).")]
        search: Option<String>,
        #[graphql(desc = "Ordering keys (default: name); ties break by ID.")] order_by: Option<
            Vec<UserOrder>,
        >,
    ) -> Result<UserConnection> {
        let actor = actor(ctx)?;
        let deps = deps(ctx);
        let viewer = &actor.viewer;
        let mut condition = match &filter {
            Some(f) => f.to_condition().map_err(gql)?,
            None => Condition::all(),
        };
        if let Some(s) = search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let f = StringFilter {
                contains: Some(s.to_owned()),
                ..Default::default()
            };
            let mut any = Condition::any();
            for c in f
                .conditions(&ucol(user::Column::Name))
                .into_iter()
                .chain(f.conditions(&ucol(user::Column::Email)))
            {
                any = any.add(c);
            }
            condition = condition.add(any);
        }
        let order: Vec<(UserSort, bool)> = order_by
            .unwrap_or_default()
            .iter()
            .map(|o| {
                let f = match o.field {
                    UserOrderField::Name => UserSort::Name,
                    UserOrderField::Email => UserSort::Email,
                    UserOrderField::CreatedAt => UserSort::CreatedAt,
                };
                (f, o.direction == OrderDirection::Desc)
            })
            .collect();
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let (page, total) = list_page(deps, viewer, condition, order, args).await?;
        Ok(UserConnection::from_page(page, total, User))
    }

    /// A user by id; `null` if it does not exist or is not visible to the viewer.
    async fn user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's ID.")] id: ID,
    ) -> Result<Option<User>> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        match service::user::get(deps(ctx), actor, id).await {
            Ok(u) => Ok(Some(User(u))),
            Err(crate::error::ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(gql(e)),
        }
    }
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
        let team_id = input
            .team_id
            .as_ref()
            .map(|t| parse_id(t, "teamId"))
            .transpose()
            .map_err(gql)?;
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
