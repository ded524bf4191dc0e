//! Teams.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result};
use sea_orm::Condition;
use sea_orm::sea_query::{Alias, Expr, SimpleExpr};

use crate::error::ApiResult;
use crate::graphql::connection::{connection, list_page};
use crate::graphql::filter::{IdFilter, OrderDirection, StringFilter};
use crate::service::list::PageArgs;
use crate::service::team::TeamSort;
use chrono::{DateTime, Utc};
use entity::team;

use crate::graphql::{User, actor, deps, gql, parse_id};
use crate::service;

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

/// Conditions on teams; every field given must hold.
#[derive(InputObject, Default, Clone)]
pub struct TeamFilter {
    /// The team's ID.
    pub id: Option<IdFilter>,
    /// Name.
    pub name: Option<StringFilter>,
    /// Manager.
    pub manager_id: Option<IdFilter>,
    /// All of these.
    pub and: Option<Vec<TeamFilter>>,
    /// Any of these.
    pub or: Option<Vec<TeamFilter>>,
    /// Not this.
    pub not: Option<Box<TeamFilter>>,
}

fn tcol(c: team::Column) -> SimpleExpr {
    Expr::col((Alias::new("teams"), c))
}

impl TeamFilter {
    fn to_condition(&self) -> ApiResult<Condition> {
        let mut conds = Vec::new();
        if let Some(f) = &self.id {
            conds.extend(f.conditions(&tcol(team::Column::Id), "filter.id")?);
        }
        if let Some(f) = &self.name {
            conds.extend(f.conditions(&tcol(team::Column::Name)));
        }
        if let Some(f) = &self.manager_id {
            conds.extend(f.conditions(&tcol(team::Column::ManagerId), "filter.managerId")?);
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
        Ok(conds.into_iter().fold(Condition::all(), Condition::add))
    }
}

/// Fields teams can be ordered by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum TeamOrderField {
    /// Name.
    Name,
    /// Creation time.
    CreatedAt,
}

/// One ordering key; ties are broken by the next key, finally by ID.
#[derive(InputObject, Clone, Copy)]
pub struct TeamOrder {
    /// What to order by.
    pub field: TeamOrderField,
    /// Which way.
    #[graphql(default)]
    pub direction: OrderDirection,
}

connection!(
    TeamConnection,
    TeamEdge,
    Team,
    "A page of teams, with the total over all pages.",
    "A team in a page, with its cursor."
);

/// Team queries.
#[derive(Default)]
pub struct TeamQuery;

#[Object]
impl TeamQuery {
    /// Teams, a page at a time (25 by default, at most 100); by name by default.
    #[expect(clippy::too_many_arguments, reason = "the Relay connection arguments")]
    async fn teams(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Rows after this cursor.")] after: Option<String>,
        #[graphql(desc = "Rows before this cursor.")] before: Option<String>,
        #[graphql(desc = "How many rows from the start (default 25, at most 100).")] first: Option<
            i32,
        >,
        #[graphql(desc = "How many rows from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Conditions the teams must meet.")] filter: Option<TeamFilter>,
        #[graphql(desc = "Ordering keys (default: name); ties break by ID.")] order_by: Option<
            Vec<TeamOrder>,
        >,
    ) -> Result<TeamConnection> {
        let actor = actor(ctx)?;
        let deps = deps(ctx);
        let viewer = &actor.viewer;
        let condition = match &filter {
            Some(f) => f.to_condition().map_err(gql)?,
            None => Condition::all(),
        };
        let order: Vec<(TeamSort, bool)> = order_by
            .unwrap_or_default()
            .iter()
            .map(|o| {
                let f = match o.field {
                    TeamOrderField::Name => TeamSort::Name,
                    TeamOrderField::CreatedAt => TeamSort::CreatedAt,
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
        Ok(TeamConnection::from_page(page, total, Team))
    }

    /// A team by id; `null` if it does not exist.
    async fn team(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The team's ID.")] id: ID,
    ) -> Result<Option<Team>> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        match service::team::get(deps(ctx), actor, id).await {
            Ok(t) => Ok(Some(Team(t))),
            Err(crate::error::ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(gql(e)),
        }
    }
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
        let manager_id = input
            .manager_id
            .as_ref()
            .map(|m| parse_id(m, "managerId"))
            .transpose()
            .map_err(gql)?;
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
