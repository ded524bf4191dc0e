//! DataLoaders: every relation resolves through one batched, policy-scoped query per
//! relation and request, so the number of statements grows with query depth, never with
//! the number of rows. One set of loaders per request (they are scoped by the viewer).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Result};
use entity::{deal_share, team, user};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::authz::{Kind, Viewer, action};
use crate::error::ApiError;
use crate::graphql::{Team, User, actor_even_if_password_expired, gql};
use crate::service::Deps;
use crate::service::deal::DealRow;

/// The loaders of one request.
pub struct Loaders {
    deps: Deps,
    viewer: Viewer,
}

/// The per-request loader handle put into the GraphQL request data.
pub type RequestLoader = DataLoader<Loaders>;

/// A loader for `viewer`, spawning batches on the Tokio runtime.
pub fn for_viewer(deps: Deps, viewer: Viewer) -> RequestLoader {
    DataLoader::new(Loaders { deps, viewer }, tokio::spawn)
}

/// Errors cross the loader as shared GraphQL errors (driver text never included).
type LoadError = Arc<async_graphql::Error>;

fn load_err(e: ApiError) -> LoadError {
    Arc::new(gql(e))
}

fn from_db(e: sea_orm::DbErr) -> LoadError {
    load_err(ApiError::from(e))
}

/// The request's loader; absent only for anonymous requests, which resolve no relations.
pub(crate) fn loader<'a>(ctx: &Context<'a>) -> Result<&'a RequestLoader> {
    actor_even_if_password_expired(ctx)?;
    ctx.data::<RequestLoader>()
}

fn unarc(e: LoadError) -> async_graphql::Error {
    (*e).clone()
}

/// A user by id, if the directory shows them to the viewer.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct UserById(pub Uuid);

impl Loader<UserById> for Loaders {
    type Value = user::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[UserById]) -> Result<HashMap<UserById, user::Model>, LoadError> {
        let users = user::Entity::find()
            .filter(user::Column::Id.is_in(keys.iter().map(|k| k.0)))
            .all(&self.deps.db)
            .await
            .map_err(from_db)?;
        Ok(users
            .into_iter()
            .filter(|u| self.deps.authz.decide_user(&self.viewer, action::READ, u))
            .map(|u| (UserById(u.id), u))
            .collect())
    }
}

/// A team by id (teams are readable per the policy's role rule).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct TeamById(pub Uuid);

impl Loader<TeamById> for Loaders {
    type Value = team::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[TeamById]) -> Result<HashMap<TeamById, team::Model>, LoadError> {
        if !self
            .deps
            .authz
            .allowed_without_facts(self.viewer.role, Kind::Team, action::READ)
        {
            return Ok(HashMap::new());
        }
        let teams = team::Entity::find()
            .filter(team::Column::Id.is_in(keys.iter().map(|k| k.0)))
            .all(&self.deps.db)
            .await
            .map_err(from_db)?;
        Ok(teams.into_iter().map(|t| (TeamById(t.id), t)).collect())
    }
}

/// The members of a team the viewer may see, by name.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct MembersOfTeam(pub Uuid);

impl Loader<MembersOfTeam> for Loaders {
    type Value = Vec<user::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[MembersOfTeam],
    ) -> Result<HashMap<MembersOfTeam, Vec<user::Model>>, LoadError> {
        let users = user::Entity::find()
            .filter(user::Column::TeamId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(user::Column::Name)
            .order_by_asc(user::Column::Id)
            .all(&self.deps.db)
            .await
            .map_err(from_db)?;
        let mut out: HashMap<MembersOfTeam, Vec<user::Model>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for u in users {
            if let Some(team) = u.team_id
                && self.deps.authz.decide_user(&self.viewer, action::READ, &u)
            {
                out.entry(MembersOfTeam(team)).or_default().push(u);
            }
        }
        Ok(out)
    }
}

/// A deal by id, if readable.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct DealById(pub Uuid);

impl Loader<DealById> for Loaders {
    type Value = DealRow;
    type Error = LoadError;

    async fn load(&self, keys: &[DealById]) -> Result<HashMap<DealById, DealRow>, LoadError> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = crate::service::deal::by_ids(&self.deps, &self.viewer, &ids)
            .await
            .map_err(load_err)?;
        Ok(rows.into_iter().map(|r| (DealById(r.model.id), r)).collect())
    }
}

/// The shares of a deal.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct SharesOfDeal(pub Uuid);

impl Loader<SharesOfDeal> for Loaders {
    type Value = Vec<deal_share::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[SharesOfDeal],
    ) -> Result<HashMap<SharesOfDeal, Vec<deal_share::Model>>, LoadError> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let shares = crate::service::deal::shares_of(&self.deps.db, &ids)
            .await
            .map_err(load_err)?;
        let mut out: HashMap<SharesOfDeal, Vec<deal_share::Model>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for s in shares {
            out.entry(SharesOfDeal(s.deal_id)).or_default().push(s);
        }
        Ok(out)
    }
}

/// Resolves a directory user (or `null` when hidden).
pub async fn user(ctx: &Context<'_>, id: Uuid) -> Result<Option<User>> {
    Ok(loader(ctx)?
        .load_one(UserById(id))
        .await
        .map_err(unarc)?
        .map(User))
}

/// Resolves a team (or `null` when hidden).
pub async fn team(ctx: &Context<'_>, id: Uuid) -> Result<Option<Team>> {
    Ok(loader(ctx)?
        .load_one(TeamById(id))
        .await
        .map_err(unarc)?
        .map(Team))
}

/// Resolves the visible members of a team.
pub async fn members(ctx: &Context<'_>, team: Uuid) -> Result<Vec<User>> {
    Ok(loader(ctx)?
        .load_one(MembersOfTeam(team))
        .await
        .map_err(unarc)?
        .unwrap_or_default()
        .into_iter()
        .map(User)
        .collect())
}

/// Resolves a readable deal (or `null`).
pub async fn deal(ctx: &Context<'_>, id: Uuid) -> Result<Option<DealRow>> {
    loader(ctx)?.load_one(DealById(id)).await.map_err(unarc)
}

/// Resolves the shares of a deal.
pub async fn shares(ctx: &Context<'_>, deal: Uuid) -> Result<Vec<deal_share::Model>> {
    Ok(loader(ctx)?
        .load_one(SharesOfDeal(deal))
        .await
        .map_err(unarc)?
        .unwrap_or_default())
}
