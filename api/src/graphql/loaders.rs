//! Relation loaders: every relation resolves through one batched, policy-scoped query per
//! relation and request, so the number of statements grows with query depth, never with
//! the number of rows. One set of loaders per request (they are scoped by the viewer).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, Result};
use std::marker::PhantomData;

use entity::{deal_share, team, user};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::authz::{Fact, FactMask, Kind, TeamAction, UserAction, Viewer};
use crate::batch::BatchLoader;
use crate::error::ApiError;
use crate::graphql::connection::Total;
use crate::graphql::{Team, User, actor, gql};
use crate::service::Deps;
use crate::service::list::{Page, encode_cursor};
use crate::service::record::{self, Identified, Record};
use crate::service::related::Related;

/// The loaders of one request.
pub struct Loaders {
    deps: Deps,
    viewer: Viewer,
}

impl Loaders {
    /// The services' dependencies (for loaders declared beside their types).
    pub(crate) fn deps(&self) -> &Deps {
        &self.deps
    }
}

/// The per-request loader handle put into the GraphQL request data.
pub type RequestLoader = BatchLoader<Loaders>;

/// The loaders for one request of `viewer`.
pub fn for_viewer(deps: Deps, viewer: Viewer) -> RequestLoader {
    BatchLoader::new(Loaders { deps, viewer })
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
/// A session that must still change its reset password resolves none either (`FORBIDDEN`,
/// `reason: PASSWORD_CHANGE_REQUIRED`): it may read its own `me` fields, not its team,
/// the team's members or anything else reached from there.
pub(crate) fn loader<'a>(ctx: &Context<'a>) -> Result<&'a RequestLoader> {
    actor(ctx)?;
    match ctx.data_opt::<RequestLoader>() {
        Some(loader) => Ok(loader),
        None => crate::graphql::signed_in_here(ctx)
            .map(|s| &s.loader)
            .ok_or_else(|| gql(ApiError::Unauthenticated)),
    }
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
        let users = crate::service::user::directory()
            .filter(user::Column::Id.is_in(keys.iter().map(|k| k.0)))
            .all(&self.deps.db)
            .await
            .map_err(from_db)?;
        Ok(users
            .into_iter()
            .filter(|u| {
                self.deps
                    .authz
                    .decide_user(&self.viewer, UserAction::Read, u)
            })
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
            .allowed_without_facts(self.viewer.role, TeamAction::Read)
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
        let users = crate::service::user::directory()
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
                && self
                    .deps
                    .authz
                    .decide_user(&self.viewer, UserAction::Read, &u)
            {
                out.entry(MembersOfTeam(team)).or_default().push(u);
            }
        }
        Ok(out)
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

/// Resolves the shares of a deal.
pub async fn shares(ctx: &Context<'_>, deal: Uuid) -> Result<Vec<deal_share::Model>> {
    Ok(loader(ctx)?
        .load_one(SharesOfDeal(deal))
        .await
        .map_err(unarc)?
        .unwrap_or_default())
}

/// A row of kind `R` by id, if readable, with the facts the caller knows hold on it (see
/// `Authorizer::scope_knowing`; none for [`ById::new`]).
pub struct ById<R>(pub Uuid, FactMask, PhantomData<fn() -> R>);

impl<R> ById<R> {
    /// The key of row `id`.
    pub fn new(id: Uuid) -> Self {
        Self(id, FactMask::NONE, PhantomData)
    }
}

impl<R> Clone for ById<R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<R> Copy for ById<R> {}
impl<R> PartialEq for ById<R> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 && self.1 == other.1
    }
}
impl<R> Eq for ById<R> {}
impl<R> std::hash::Hash for ById<R> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
        self.1.bits().hash(state);
    }
}

impl<R: Record> Loader<ById<R>> for Loaders {
    type Value = R::Row;
    type Error = LoadError;

    async fn load(&self, keys: &[ById<R>]) -> Result<HashMap<ById<R>, R::Row>, LoadError> {
        let mut found = HashMap::with_capacity(keys.len());
        // One statement per set of known facts (almost always one).
        let mut knowns: Vec<FactMask> = keys.iter().map(|k| k.1).collect();
        knowns.sort_by_key(|k| k.bits());
        knowns.dedup();
        for known in knowns {
            let ids: Vec<Uuid> = keys.iter().filter(|k| k.1 == known).map(|k| k.0).collect();
            let rows = if known == FactMask::NONE {
                record::by_ids::<R>(&self.deps, &self.viewer, &ids).await
            } else {
                record::by_ids_knowing::<R>(&self.deps, &self.viewer, &ids, known).await
            }
            .map_err(load_err)?;
            found.extend(
                rows.into_iter()
                    .map(|r| (ById(r.id(), known, PhantomData), r)),
            );
        }
        Ok(found)
    }
}

/// Hands the related records a page read in its own statement (`service::related`) to the
/// request's loaders: the relations of its rows then resolve without a statement.
pub fn prime(loader: &RequestLoader, related: Vec<Vec<Related>>) {
    for related in related.into_iter().flatten() {
        match related {
            Related::Company(id, known, row) => {
                loader.prime(ById::<entity::company::Entity>(id, known, PhantomData), row);
            }
            Related::Contact(id, known, row) => {
                loader.prime(ById::<entity::contact::Entity>(id, known, PhantomData), row);
            }
            Related::User(id, user) => loader.prime(UserById(id), user),
        }
    }
}

/// Resolves a readable row of kind `R` (or `null`).
pub async fn by_id<R: Record>(ctx: &Context<'_>, id: Uuid) -> Result<Option<R::Row>> {
    by_id_knowing::<R>(ctx, id, FactMask::NONE).await
}

/// [`by_id`] for a row on which the facts of `known` hold (the company or contact of a
/// deal the viewer has read is linked to a readable deal: [`linked_to_readable_deal`]).
pub async fn by_id_knowing<R: Record>(
    ctx: &Context<'_>,
    id: Uuid,
    known: FactMask,
) -> Result<Option<R::Row>> {
    loader(ctx)?
        .load_one(ById::<R>(id, known, PhantomData))
        .await
        .map_err(unarc)
}

/// The fact "linked to a readable deal" of `kind` (a company or a contact), for a record a
/// deal links to when `deal_readable` (the deal's facts allow `read`); no fact otherwise.
pub fn linked_to_readable_deal(kind: Kind, deal_readable: bool) -> FactMask {
    FactMask::NONE.with(kind, Fact::LinkedToReadableDeal, deal_readable)
}

/// The node of a linked record `id`, when there is one and the viewer may read it.
pub async fn linked<R, N>(ctx: &Context<'_>, id: Option<Uuid>, viewer: &Viewer) -> Result<Option<N>>
where
    R: Record,
    N: crate::graphql::record::FromRow<Row = R::Row>,
{
    let Some(id) = id else {
        return Ok(None);
    };
    Ok(by_id::<R>(ctx, id)
        .await?
        .map(|row| N::from_row(row, viewer)))
}

/// The record a nested list hangs off.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Parent {
    /// A company.
    Company(Uuid),
    /// A contact.
    Contact(Uuid),
    /// A deal.
    Deal(Uuid),
}

impl Parent {
    fn id(self) -> Uuid {
        match self {
            Parent::Company(id) | Parent::Contact(id) | Parent::Deal(id) => id,
        }
    }

    /// The child table's foreign key to this kind of parent.
    fn column(self) -> &'static str {
        match self {
            Parent::Company(_) => "company_id",
            Parent::Contact(_) => "contact_id",
            Parent::Deal(_) => "deal_id",
        }
    }

    fn same_kind(self, other: Parent) -> bool {
        std::mem::discriminant(&self) == std::mem::discriminant(&other)
    }
}

/// The first rows of a nested list and the list's total.
pub type ChildPage<M> = (Vec<M>, u64);

/// The first `.1` readable rows of kind `R` under a parent, in the kind's default order.
pub struct ChildrenOf<R>(pub Parent, pub u64, PhantomData<fn() -> R>);

impl<R> Clone for ChildrenOf<R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<R> Copy for ChildrenOf<R> {}
impl<R> PartialEq for ChildrenOf<R> {
    fn eq(&self, other: &Self) -> bool {
        (self.0, self.1) == (other.0, other.1)
    }
}
impl<R> Eq for ChildrenOf<R> {}
impl<R> std::hash::Hash for ChildrenOf<R> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.0, self.1).hash(state);
    }
}

/// Groups keys by (parent kind, page size) and runs one windowed statement per group.
impl<R: Record> Loader<ChildrenOf<R>> for Loaders {
    type Value = ChildPage<R::Row>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ChildrenOf<R>],
    ) -> Result<HashMap<ChildrenOf<R>, ChildPage<R::Row>>, LoadError> {
        // (parent kind and page size, keys): one statement each.
        type Group<R> = ((Parent, u64), Vec<ChildrenOf<R>>);
        let mut groups: Vec<Group<R>> = Vec::new();
        for k in keys {
            match groups
                .iter_mut()
                .find(|((p, f), _)| p.same_kind(k.0) && *f == k.1)
            {
                Some((_, ks)) => ks.push(*k),
                None => groups.push(((k.0, k.1), vec![*k])),
            }
        }
        let mut out = HashMap::new();
        for ((parent, first), ks) in groups {
            let ids: Vec<Uuid> = ks.iter().map(|k| k.0.id()).collect();
            let found =
                record::children::<R>(&self.deps, &self.viewer, parent.column(), &ids, first)
                    .await
                    .map_err(load_err)?;
            for k in ks {
                out.insert(k, found.get(&k.0.id()).cloned().unwrap_or_default());
            }
        }
        Ok(out)
    }
}

/// Validates a nested list's `first` (default 25, at most 100).
pub fn nested_first(first: Option<i32>) -> Result<u64> {
    use crate::service::list::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
    match first {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if (0..=MAX_PAGE_SIZE as i32).contains(&n) => Ok(n as u64),
        Some(_) => Err(gql(ApiError::bad_input(
            "first",
            format!("must be between 0 and {MAX_PAGE_SIZE}"),
        ))),
    }
}

/// The first `first` readable rows of kind `R` under `parent` as a page whose cursors
/// continue in the top-level list's default order (e.g.
/// `deals(filter: {companyId: {eq: …}}, after: endCursor)`), with the total.
pub async fn children<R: Record>(
    ctx: &Context<'_>,
    parent: Parent,
    first: Option<i32>,
) -> Result<(Page<R::Row>, Total)> {
    let first = nested_first(first)?;
    let viewer = &actor(ctx)?.viewer;
    let deps = crate::graphql::deps(ctx);
    let (rows, total) = loader(ctx)?
        .load_one(ChildrenOf::<R>(parent, first, PhantomData))
        .await
        .map_err(unarc)?
        .unwrap_or_default();
    let has_next_page = (rows.len() as u64) < total;
    let rows = rows
        .into_iter()
        .map(|r| {
            let cursor = encode_cursor(&record::default_cursor::<R>(deps, viewer, &r));
            (cursor, r)
        })
        .collect();
    Ok((
        Page {
            rows,
            has_next_page,
            has_previous_page: false,
        },
        Total::Known(total),
    ))
}
