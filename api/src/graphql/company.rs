//! Companies: the `Company` type, its filter and order inputs, `companies` / `company`, and
//! `createCompany` / `updateCompany` / `deleteCompany`.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::company;
use sea_orm::{Condition, Value};

use crate::authz::{CompanyAction, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::graphql::connection::{connection, list_page};
use crate::graphql::enums::{CompanySize, Industry};
use crate::graphql::filter::{EnumFilter, IdFilter, OrdFilter, OrderDirection, StringFilter};
use crate::graphql::{actor, deps, gql, parse_id};
use crate::service;
use crate::service::company::{CompanyChanges, CompanyRow, CompanySort, NewCompany, col};
use crate::service::list::PageArgs;

/// An organisation the sales team works with.
pub struct Company {
    row: CompanyRow,
    viewer: Viewer,
}

impl Company {
    /// Wraps a row read for `viewer` (by a service, e.g. [`service::company::by_ids`]).
    pub fn new(row: CompanyRow, viewer: &Viewer) -> Self {
        Self {
            row,
            viewer: viewer.clone(),
        }
    }

    /// The stored row.
    pub fn model(&self) -> &company::Model {
        &self.row.model
    }

    /// The viewer the row was read for.
    pub fn viewer(&self) -> &Viewer {
        &self.viewer
    }

    fn m(&self) -> &company::Model {
        &self.row.model
    }

    fn can(&self, ctx: &Context<'_>, action: CompanyAction) -> bool {
        deps(ctx)
            .authz
            .decide(self.viewer.role, action, self.row.facts)
    }
}

/// What the viewer may do with a company, as decided by the policy.
#[derive(SimpleObject)]
pub struct CompanyViewerCan {
    /// Edit the company.
    update: bool,
    /// Delete the company (refused anyway while it has deals).
    delete: bool,
}

/// An organisation the sales team works with.
#[Object]
impl Company {
    /// Stable identifier.
    pub(crate) async fn id(&self) -> ID {
        ID(self.m().id.to_string())
    }
    /// Name, unique ignoring case.
    async fn name(&self) -> &str {
        &self.m().name
    }
    /// Web domain, lowercase (e.g. `example.com`), unique.
    async fn domain(&self) -> Option<&str> {
        self.m().domain.as_deref()
    }
    /// Industry.
    async fn industry(&self) -> Option<Industry> {
        self.m().industry.map(Into::into)
    }
    /// Head-count bracket.
    async fn size(&self) -> Option<CompanySize> {
        self.m().size.map(Into::into)
    }
    /// Street address.
    async fn address(&self) -> Option<&str> {
        self.m().address.as_deref()
    }
    /// City.
    async fn city(&self) -> Option<&str> {
        self.m().city.as_deref()
    }
    /// State or region.
    async fn state(&self) -> Option<&str> {
        self.m().state.as_deref()
    }
    /// Country.
    async fn country(&self) -> Option<&str> {
        self.m().country.as_deref()
    }
    /// Main phone number, E.164 (e.g. `+14155550100`).
    async fn phone(&self) -> Option<&str> {
        self.m().phone.as_deref()
    }
    /// Website, an http(s) URL.
    async fn website(&self) -> Option<&str> {
        self.m().website.as_deref()
    }
    /// ID of the owning sales person.
    async fn owner_id(&self) -> ID {
        ID(self.m().owner_id.to_string())
    }
    /// Incremented by every change; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.m().version
    }
    /// When the company was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.m().created_at
    }
    /// When the company last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.m().updated_at
    }
    /// The owning sales person, if visible in the directory.
    async fn owner(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::User>> {
        crate::graphql::loaders::user(ctx, self.model().owner_id).await
    }
    /// The company's contacts the viewer may read, by name. To page further, use
    /// `contacts(filter: {companyId: {eq: …}}, after: endCursor)`.
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (default 25, at most 100).")] first: Option<i32>,
    ) -> Result<crate::graphql::contact::ContactConnection> {
        crate::graphql::loaders::contacts_of(ctx, self.model().id, first).await
    }
    /// The company's deals the viewer may read, newest first. To page further, use
    /// `deals(filter: {companyId: {eq: …}}, after: endCursor)`.
    async fn deals(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (default 25, at most 100).")] first: Option<i32>,
    ) -> Result<crate::graphql::deal::DealConnection> {
        crate::graphql::loaders::deals_of(
            ctx,
            crate::graphql::loaders::Parent::Company(self.model().id),
            first,
        )
        .await
    }
    /// The company's activities the viewer may read, soonest due first. To page further, use
    /// `activities(filter: {companyId: {eq: …}}, after: endCursor)`.
    async fn activities(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (default 25, at most 100).")] first: Option<i32>,
    ) -> Result<crate::graphql::activity::ActivityConnection> {
        crate::graphql::loaders::activities_of(
            ctx,
            crate::graphql::loaders::Parent::Company(self.model().id),
            first,
        )
        .await
    }
    /// What the viewer may do with this company.
    async fn viewer_can(&self, ctx: &Context<'_>) -> CompanyViewerCan {
        CompanyViewerCan {
            update: self.can(ctx, CompanyAction::Update),
            delete: self.can(ctx, CompanyAction::Delete),
        }
    }
}

/// Conditions on companies; every field given must hold.
#[derive(InputObject, Default, Clone)]
pub struct CompanyFilter {
    /// The company's ID.
    pub id: Option<IdFilter>,
    /// Name.
    pub name: Option<StringFilter>,
    /// Domain.
    pub domain: Option<StringFilter>,
    /// Industry.
    pub industry: Option<EnumFilter<Industry>>,
    /// Head-count bracket.
    pub size: Option<EnumFilter<CompanySize>>,
    /// City.
    pub city: Option<StringFilter>,
    /// State or region.
    pub state: Option<StringFilter>,
    /// Country.
    pub country: Option<StringFilter>,
    /// Owner.
    pub owner_id: Option<IdFilter>,
    /// Creation time.
    pub created_at: Option<OrdFilter<DateTime<Utc>>>,
    /// Last change.
    pub updated_at: Option<OrdFilter<DateTime<Utc>>>,
    /// All of these.
    pub and: Option<Vec<CompanyFilter>>,
    /// Any of these.
    pub or: Option<Vec<CompanyFilter>>,
    /// Not this.
    pub not: Option<Box<CompanyFilter>>,
}

fn enum_value<T: sea_orm::ActiveEnum<Value = String>>(v: T) -> Value {
    Value::from(v.to_value())
}

impl CompanyFilter {
    /// The SQL condition (scoping is added separately by the service).
    pub fn to_condition(&self) -> ApiResult<Condition> {
        use company::Column as C;
        let mut all = Condition::all();
        let mut add = |conds: Vec<Condition>| {
            for c in conds {
                all = std::mem::replace(&mut all, Condition::all()).add(c);
            }
        };
        if let Some(f) = &self.id {
            add(f.conditions(&col(C::Id), "filter.id")?);
        }
        for (f, c) in [
            (&self.name, C::Name),
            (&self.domain, C::Domain),
            (&self.city, C::City),
            (&self.state, C::State),
            (&self.country, C::Country),
        ] {
            if let Some(f) = f {
                add(f.conditions(&col(c)));
            }
        }
        if let Some(f) = &self.industry {
            add(f.conditions(&col(C::Industry), |i| {
                enum_value(entity::enums::Industry::from(i))
            }));
        }
        if let Some(f) = &self.size {
            add(f.conditions(&col(C::Size), |s| {
                enum_value(entity::enums::CompanySize::from(s))
            }));
        }
        if let Some(f) = &self.owner_id {
            add(f.conditions(&col(C::OwnerId), "filter.ownerId")?);
        }
        if let Some(f) = &self.created_at {
            add(f.conditions(&col(C::CreatedAt), |t| Ok(Value::from(*t)))?);
        }
        if let Some(f) = &self.updated_at {
            add(f.conditions(&col(C::UpdatedAt), |t| Ok(Value::from(*t)))?);
        }
        if let Some(list) = &self.and {
            for f in list {
                add(vec![f.to_condition()?]);
            }
        }
        if let Some(list) = &self.or {
            let mut any = Condition::any();
            for f in list {
                any = any.add(f.to_condition()?);
            }
            add(vec![any]);
        }
        if let Some(f) = &self.not {
            add(vec![f.to_condition()?.not()]);
        }
        Ok(all)
    }
}

/// Fields companies can be ordered by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum CompanyOrderField {
    /// Name.
    Name,
    /// Creation time.
    CreatedAt,
    /// Last change.
    UpdatedAt,
    /// City; companies without one sort as empty.
    City,
    /// Industry, by name; companies without one sort as empty.
    Industry,
}

/// One ordering key; ties are broken by the next key, finally by ID.
#[derive(InputObject, Clone, Copy)]
pub struct CompanyOrder {
    /// What to order by.
    pub field: CompanyOrderField,
    /// Which way.
    #[graphql(default)]
    pub direction: OrderDirection,
}

impl From<CompanyOrderField> for CompanySort {
    fn from(f: CompanyOrderField) -> Self {
        match f {
            CompanyOrderField::Name => CompanySort::Name,
            CompanyOrderField::CreatedAt => CompanySort::CreatedAt,
            CompanyOrderField::UpdatedAt => CompanySort::UpdatedAt,
            CompanyOrderField::City => CompanySort::City,
            CompanyOrderField::Industry => CompanySort::Industry,
        }
    }
}

connection!(
    CompanyConnection,
    CompanyEdge,
    Company,
    "A page of companies, with the total over all pages.",
    "A company in a page, with its cursor."
);

/// Company queries.
#[derive(Default)]
pub struct CompanyQuery;

#[Object]
impl CompanyQuery {
    /// Companies the viewer may read, a page at a time (25 by default, at most 100).
    #[expect(clippy::too_many_arguments, reason = "the Relay connection arguments")]
    async fn companies(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Rows after this cursor.")] after: Option<String>,
        #[graphql(desc = "Rows before this cursor.")] before: Option<String>,
        #[graphql(desc = "How many rows from the start (default 25, at most 100).")] first: Option<
            i32,
        >,
        #[graphql(desc = "How many rows from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Conditions the companies must meet.")] filter: Option<CompanyFilter>,
        #[graphql(desc = "Text to look for in the name or domain (case-insensitive).")]
        search: Option<String>,
        #[graphql(desc = "Ordering keys (default: name ascending); ties break by ID.")]
        order_by: Option<Vec<CompanyOrder>>,
    ) -> Result<CompanyConnection> {
        let actor = actor(ctx)?;
        let deps = deps(ctx);
        let viewer = &actor.viewer;
        let mut condition = match &filter {
            Some(f) => f.to_condition().map_err(gql)?,
            None => Condition::all(),
        };
        if let Some(s) = search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            condition = condition.add(service::company::search_condition(s));
        }
        let order: Vec<(CompanySort, bool)> = order_by
            .unwrap_or_default()
            .iter()
            .map(|o| (o.field.into(), o.direction == OrderDirection::Desc))
            .collect();
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let (page, total) = list_page(deps, viewer, condition, order, args).await?;
        Ok(CompanyConnection::from_page(page, total, |row| {
            Company::new(row, viewer)
        }))
    }

    /// A company by ID; `null` when it does not exist or the viewer may not read it.
    async fn company(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The company's ID.")] id: ID,
    ) -> Result<Option<Company>> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        match service::company::get(deps(ctx), &actor.viewer, id).await {
            Ok(row) => Ok(Some(Company::new(row, &actor.viewer))),
            Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(gql(e)),
        }
    }
}

/// Input of `createCompany`.
#[derive(InputObject)]
pub struct CreateCompanyInput {
    /// Name (required, at most 200 characters, unique ignoring case).
    pub name: String,
    /// Web domain such as `example.com`; stored lowercase, unique.
    pub domain: Option<String>,
    /// Industry.
    pub industry: Option<Industry>,
    /// Head-count bracket.
    pub size: Option<CompanySize>,
    /// Street address.
    pub address: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State or region.
    pub state: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Main phone number in E.164 (`+14155550100`; spaces, dashes and parentheses are
    /// removed).
    pub phone: Option<String>,
    /// Website, an http(s) URL.
    pub website: Option<String>,
    /// The owner (default: you); the policy decides whom you may create companies for.
    pub owner_id: Option<ID>,
}

/// Input of `updateCompany`; omitted fields stay as they are, `null` clears a field.
#[derive(InputObject)]
pub struct UpdateCompanyInput {
    /// New name (at most 200 characters, unique ignoring case).
    pub name: Option<String>,
    /// New domain.
    pub domain: MaybeUndefined<String>,
    /// New industry.
    pub industry: MaybeUndefined<Industry>,
    /// New head-count bracket.
    pub size: MaybeUndefined<CompanySize>,
    /// New street address.
    pub address: MaybeUndefined<String>,
    /// New city.
    pub city: MaybeUndefined<String>,
    /// New state or region.
    pub state: MaybeUndefined<String>,
    /// New country.
    pub country: MaybeUndefined<String>,
    /// New phone number (E.164).
    pub phone: MaybeUndefined<String>,
    /// New website (http(s) URL).
    pub website: MaybeUndefined<String>,
    /// New owner: needs `update` on the company now and the right to create it for the new
    /// owner (managers: within their teams; admins: anyone).
    pub owner_id: Option<ID>,
    /// The `version` you last read; if the company changed since, the update is refused
    /// with `CONFLICT` and nothing is written.
    pub expected_version: Option<i32>,
}

fn enum_change<T: Into<U>, U>(m: MaybeUndefined<T>) -> Option<Option<U>> {
    Option::<Option<T>>::from(m).map(|v| v.map(Into::into))
}

/// Company changes.
#[derive(Default)]
pub struct CompanyMutation;

#[Object]
impl CompanyMutation {
    /// Creates a company.
    async fn create_company(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new company.")] input: CreateCompanyInput,
    ) -> Result<Company> {
        let actor = actor(ctx)?;
        let owner_id = input
            .owner_id
            .as_ref()
            .map(|o| parse_id(o, "ownerId"))
            .transpose()
            .map_err(gql)?;
        let new = NewCompany {
            name: input.name,
            domain: input.domain,
            industry: input.industry.map(Into::into),
            size: input.size.map(Into::into),
            address: input.address,
            city: input.city,
            state: input.state,
            country: input.country,
            phone: input.phone,
            website: input.website,
            owner_id,
        };
        let row = service::company::create(deps(ctx), &actor.viewer, new)
            .await
            .map_err(gql)?;
        Ok(Company::new(row, &actor.viewer))
    }

    /// Changes a company. Pass `expectedVersion` to refuse the change if someone else changed
    /// the company since you read it.
    async fn update_company(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The company.")] id: ID,
        #[graphql(desc = "The changes.")] input: UpdateCompanyInput,
    ) -> Result<Company> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        let owner_id = input
            .owner_id
            .as_ref()
            .map(|o| parse_id(o, "ownerId"))
            .transpose()
            .map_err(gql)?;
        let changes = CompanyChanges {
            name: input.name,
            domain: input.domain.into(),
            industry: enum_change(input.industry),
            size: enum_change(input.size),
            address: input.address.into(),
            city: input.city.into(),
            state: input.state.into(),
            country: input.country.into(),
            phone: input.phone.into(),
            website: input.website.into(),
            owner_id,
            expected_version: input.expected_version,
        };
        let row = service::company::update(deps(ctx), &actor.viewer, id, changes)
            .await
            .map_err(gql)?;
        Ok(Company::new(row, &actor.viewer))
    }

    /// Deletes a company and returns its ID. Refused with `CONFLICT` while it has deals; its
    /// contacts and activities stay, without a company.
    async fn delete_company(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The company.")] id: ID,
    ) -> Result<ID> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        service::company::delete(deps(ctx), &actor.viewer, id)
            .await
            .map(|id| ID(id.to_string()))
            .map_err(gql)
    }
}
