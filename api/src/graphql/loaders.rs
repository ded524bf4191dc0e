//! DataLoaders: every relation resolves through one batched, policy-scoped query per
//! relation and request, so the number of statements grows with query depth, never with
//! the number of rows. One set of loaders per request (they are scoped by the viewer).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, Result};
use entity::{deal_share, team, user};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::authz::{TeamAction, UserAction, Viewer};
use crate::error::ApiError;
use crate::graphql::batch::BatchLoader;
use crate::graphql::{Team, User, actor, gql};
use crate::service::Deps;
use crate::service::activity::ActivityRow;
use crate::service::company::CompanyRow;
use crate::service::contact::ContactRow;
use crate::service::deal::DealRow;
use crate::service::list::{CursorValue, Page, encode_cursor};

/// The loaders of one request.
pub struct Loaders {
    deps: Deps,
    viewer: Viewer,
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
        let users = user::Entity::find()
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
        Ok(rows
            .into_iter()
            .map(|r| (DealById(r.model.id), r))
            .collect())
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

/// A company by id, if readable.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct CompanyById(pub Uuid);

impl Loader<CompanyById> for Loaders {
    type Value = CompanyRow;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[CompanyById],
    ) -> Result<HashMap<CompanyById, CompanyRow>, LoadError> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = crate::service::company::by_ids(&self.deps, &self.viewer, &ids)
            .await
            .map_err(load_err)?;
        Ok(rows
            .into_iter()
            .map(|r| (CompanyById(r.model.id), r))
            .collect())
    }
}

/// A contact by id, if readable.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct ContactById(pub Uuid);

impl Loader<ContactById> for Loaders {
    type Value = ContactRow;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ContactById],
    ) -> Result<HashMap<ContactById, ContactRow>, LoadError> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = crate::service::contact::by_ids(&self.deps, &self.viewer, &ids)
            .await
            .map_err(load_err)?;
        Ok(rows
            .into_iter()
            .map(|r| (ContactById(r.model.id), r))
            .collect())
    }
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

/// Groups keys by (parent kind, page size) and runs one windowed statement per group.
async fn load_children<K, E, M>(
    keys: &[K],
    split: impl Fn(&K) -> (Parent, u64),
    table: &str,
    order_sql: &str,
    select: impl Fn() -> sea_orm::Select<E>,
    db: &sea_orm::DatabaseConnection,
) -> Result<HashMap<K, ChildPage<M>>, LoadError>
where
    K: Copy + std::hash::Hash + Eq,
    E: EntityTrait,
    M: sea_orm::FromQueryResult + Clone,
{
    let mut groups: Vec<((Parent, u64), Vec<K>)> = Vec::new();
    for k in keys {
        let (parent, first) = split(k);
        match groups
            .iter_mut()
            .find(|((p, f), _)| p.same_kind(parent) && *f == first)
        {
            Some((_, ks)) => ks.push(*k),
            None => groups.push(((parent, first), vec![*k])),
        }
    }
    let mut out = HashMap::new();
    for ((parent, first), ks) in groups {
        let ids: Vec<Uuid> = ks.iter().map(|k| split(k).0.id()).collect();
        let found = crate::service::list::children::<E, M>(
            db,
            select(),
            table,
            parent.column(),
            &ids,
            order_sql,
            first,
        )
        .await
        .map_err(load_err)?;
        for k in ks {
            let page = found.get(&split(&k).0.id()).cloned().unwrap_or_default();
            out.insert(k, page);
        }
    }
    Ok(out)
}

/// Deals of a company or contact, newest first (the `deals` list's default order).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct DealsOf(pub Parent, pub u64);

impl Loader<DealsOf> for Loaders {
    type Value = ChildPage<DealRow>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[DealsOf],
    ) -> Result<HashMap<DealsOf, ChildPage<DealRow>>, LoadError> {
        load_children(
            keys,
            |k| (k.0, k.1),
            "deals",
            "\"deals\".\"created_at\" DESC, \"deals\".\"id\" ASC",
            || crate::service::deal::readable(&self.deps, &self.viewer),
            &self.deps.db,
        )
        .await
    }
}

/// Contacts of a company, by full name (the `contacts` list's default order).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct ContactsOf(pub Parent, pub u64);

impl Loader<ContactsOf> for Loaders {
    type Value = ChildPage<ContactRow>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ContactsOf],
    ) -> Result<HashMap<ContactsOf, ChildPage<ContactRow>>, LoadError> {
        load_children(
            keys,
            |k| (k.0, k.1),
            "contacts",
            "\"contacts\".\"full_name\" ASC, \"contacts\".\"id\" ASC",
            || crate::service::contact::readable(&self.deps, &self.viewer),
            &self.deps.db,
        )
        .await
    }
}

/// Activities of a deal, company or contact, soonest due first (the `activities` list's
/// default order).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct ActivitiesOf(pub Parent, pub u64);

impl Loader<ActivitiesOf> for Loaders {
    type Value = ChildPage<ActivityRow>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ActivitiesOf],
    ) -> Result<HashMap<ActivitiesOf, ChildPage<ActivityRow>>, LoadError> {
        load_children(
            keys,
            |k| (k.0, k.1),
            "activities",
            "\"activities\".\"due_at\" ASC NULLS LAST, \"activities\".\"id\" ASC",
            || crate::service::activity::readable(&self.deps, &self.viewer),
            &self.deps.db,
        )
        .await
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

/// A nested page as a service page: cursors continue in the top-level list's default order
/// (e.g. `deals(filter: {companyId: {eq: …}}, after: endCursor)`).
pub fn child_page<M>(
    (rows, total): ChildPage<M>,
    cursor: impl Fn(&M) -> Vec<CursorValue>,
) -> (Page<M>, crate::graphql::connection::Total) {
    let has_next_page = (rows.len() as u64) < total;
    let rows = rows
        .into_iter()
        .map(|m| (encode_cursor(&cursor(&m)), m))
        .collect();
    (
        Page {
            rows,
            has_next_page,
            has_previous_page: false,
        },
        crate::graphql::connection::Total::Known(total),
    )
}

/// Resolves a readable company (or `null`).
pub async fn company(ctx: &Context<'_>, id: Uuid) -> Result<Option<CompanyRow>> {
    loader(ctx)?.load_one(CompanyById(id)).await.map_err(unarc)
}

/// Resolves a readable contact (or `null`).
pub async fn contact(ctx: &Context<'_>, id: Uuid) -> Result<Option<ContactRow>> {
    loader(ctx)?.load_one(ContactById(id)).await.map_err(unarc)
}

/// Resolves the first `first` readable deals of `parent`, with cursors and total.
pub async fn deals_of(
    ctx: &Context<'_>,
    parent: Parent,
    first: Option<i32>,
) -> Result<crate::graphql::deal::DealConnection> {
    let first = nested_first(first)?;
    let viewer = &crate::graphql::actor(ctx)?.viewer;
    let rows = loader(ctx)?
        .load_one(DealsOf(parent, first))
        .await
        .map_err(unarc)?
        .unwrap_or_default();
    let (page, total) = child_page(rows, |r: &DealRow| {
        vec![
            CursorValue::Ts(r.model.created_at),
            CursorValue::Uuid(r.model.id),
        ]
    });
    Ok(crate::graphql::deal::DealConnection::from_page(
        page,
        total,
        |r| crate::graphql::deal::Deal::new(r, viewer),
    ))
}

/// Resolves the first `first` readable activities of `parent`, with cursors and total.
pub async fn activities_of(
    ctx: &Context<'_>,
    parent: Parent,
    first: Option<i32>,
) -> Result<crate::graphql::activity::ActivityConnection> {
    let first = nested_first(first)?;
    let viewer = &crate::graphql::actor(ctx)?.viewer;
    let rows = loader(ctx)?
        .load_one(ActivitiesOf(parent, first))
        .await
        .map_err(unarc)?
        .unwrap_or_default();
    let (page, total) = child_page(rows, |r: &ActivityRow| {
        vec![
            r.model.due_at.map_or(CursorValue::Null, CursorValue::Ts),
            CursorValue::Uuid(r.model.id),
        ]
    });
    Ok(crate::graphql::activity::ActivityConnection::from_page(
        page,
        total,
        |r| crate::graphql::activity::Activity::new(r, viewer),
    ))
}

/// Resolves the first `first` readable contacts of a company, with cursors and total.
pub async fn contacts_of(
    ctx: &Context<'_>,
    company: Uuid,
    first: Option<i32>,
) -> Result<crate::graphql::contact::ContactConnection> {
    let first = nested_first(first)?;
    let viewer = &crate::graphql::actor(ctx)?.viewer;
    let rows = loader(ctx)?
        .load_one(ContactsOf(Parent::Company(company), first))
        .await
        .map_err(unarc)?
        .unwrap_or_default();
    let (page, total) = child_page(rows, |r: &ContactRow| {
        vec![
            CursorValue::Str(r.model.full_name.clone()),
            CursorValue::Uuid(r.model.id),
        ]
    });
    Ok(crate::graphql::contact::ContactConnection::from_page(
        page,
        total,
        |r| crate::graphql::contact::Contact::new(r, viewer),
    ))
}
