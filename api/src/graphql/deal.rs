//! Deals: the `Deal` type, its filter and order inputs, `deals` / `deal`.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::deal;
use sea_orm::{Condition, Value};

use crate::authz::{DealAction, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::graphql::connection::{connection, list_page};
use crate::graphql::enums::SharePermission;
use crate::graphql::filter::{EnumFilter, IdFilter, OrdFilter, OrderDirection, StringFilter};
use crate::graphql::scalars::{Date, Decimal};
use crate::graphql::{User, actor, deps, gql, parse_id};
use crate::service;
use crate::service::Deps;
use crate::service::deal::{DealChanges, DealRow, DealSort, NewDeal, col, visible_amount};
use crate::service::list::PageArgs;
use crate::service::money::{from_cents, to_cents};

/// Where a deal stands in the pipeline; the probability follows from it.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::DealStage")]
pub enum DealStage {
    /// First contact (10 %).
    Prospecting,
    /// Need and budget confirmed (25 %).
    Qualification,
    /// Proposal sent (50 %).
    Proposal,
    /// Terms under negotiation (75 %).
    Negotiation,
    /// Won (100 %).
    ClosedWon,
    /// Lost (0 %).
    ClosedLost,
}

/// Where a deal came from.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::DealSource")]
pub enum DealSource {
    /// The website.
    Website,
    /// A referral.
    Referral,
    /// A cold call.
    ColdCall,
    /// An event.
    Event,
    /// Anything else.
    Other,
}

/// How urgent a deal is.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::Priority")]
pub enum Priority {
    /// Low.
    Low,
    /// Medium (the default).
    Medium,
    /// High.
    High,
}

/// A sales opportunity with a company.
pub struct Deal {
    row: DealRow,
    viewer: Viewer,
}

impl Deal {
    /// Wraps a row read for `viewer`.
    pub fn new(row: DealRow, viewer: &Viewer) -> Self {
        Self {
            row,
            viewer: viewer.clone(),
        }
    }

    fn m(&self) -> &deal::Model {
        &self.row.model
    }

    fn can(&self, ctx: &Context<'_>, action: DealAction) -> bool {
        deps(ctx)
            .authz
            .decide(self.viewer.role, action, self.row.facts)
    }
}

/// What the viewer may do with a deal, as decided by the policy.
#[derive(SimpleObject)]
pub struct DealViewerCan {
    /// Edit the deal.
    update: bool,
    /// Delete the deal.
    delete: bool,
    /// Give the deal to another owner.
    reassign: bool,
    /// Share the deal with other users.
    share: bool,
    /// See the amount.
    read_amount: bool,
    /// Change the amount.
    update_amount: bool,
}

/// A sales opportunity with a company.
#[Object]
impl Deal {
    /// Stable identifier.
    pub(crate) async fn id(&self) -> ID {
        ID(self.m().id.to_string())
    }
    /// What is being sold.
    async fn title(&self) -> &str {
        &self.m().title
    }
    /// The value, exact; `null` when the viewer may not see it (see `viewerCan.readAmount`).
    async fn amount(&self, ctx: &Context<'_>) -> Option<Decimal> {
        self.can(ctx, DealAction::ReadAmount)
            .then(|| Decimal(from_cents(self.m().amount_cents)))
    }
    /// ISO 4217 currency code of the amount.
    async fn currency(&self) -> &str {
        &self.m().currency
    }
    /// Pipeline stage.
    async fn stage(&self) -> DealStage {
        self.m().stage.into()
    }
    /// Win probability in percent, derived from the stage.
    async fn probability(&self) -> i32 {
        i32::from(self.m().probability)
    }
    /// When the deal is expected to close.
    async fn expected_close_date(&self) -> Option<Date> {
        self.m().expected_close_date.map(Date)
    }
    /// When the deal closed (set when it moves to a closed stage).
    async fn actual_close_date(&self) -> Option<Date> {
        self.m().actual_close_date.map(Date)
    }
    /// Where the deal came from.
    async fn source(&self) -> Option<DealSource> {
        self.m().source.map(Into::into)
    }
    /// How urgent it is.
    async fn priority(&self) -> Priority {
        self.m().priority.into()
    }
    /// Free-form notes.
    async fn notes(&self) -> Option<&str> {
        self.m().notes.as_deref()
    }
    /// ID of the owning sales person.
    async fn owner_id(&self) -> ID {
        ID(self.m().owner_id.to_string())
    }
    /// ID of the company.
    async fn company_id(&self) -> ID {
        ID(self.m().company_id.to_string())
    }
    /// ID of the main contact, if any.
    async fn contact_id(&self) -> Option<ID> {
        self.m().contact_id.map(|c| ID(c.to_string()))
    }
    /// The owning sales person, if visible in the directory.
    async fn owner(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        crate::graphql::loaders::user(ctx, self.m().owner_id).await
    }
    /// The company, if the viewer may read it.
    async fn company(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::company::Company>> {
        Ok(crate::graphql::loaders::company(ctx, self.m().company_id)
            .await?
            .map(|r| crate::graphql::company::Company::new(r, &self.viewer)))
    }
    /// The main contact, if set and the viewer may read it.
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::contact::Contact>> {
        let Some(id) = self.m().contact_id else {
            return Ok(None);
        };
        Ok(crate::graphql::loaders::contact(ctx, id)
            .await?
            .map(|r| crate::graphql::contact::Contact::new(r, &self.viewer)))
    }
    /// The deal's activities the viewer may read, soonest due first. To page further, use
    /// `activities(filter: {dealId: {eq: …}}, after: endCursor)`.
    async fn activities(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (default 25, at most 100).")] first: Option<i32>,
    ) -> Result<crate::graphql::activity::ActivityConnection> {
        crate::graphql::loaders::activities_of(
            ctx,
            crate::graphql::loaders::Parent::Deal(self.m().id),
            first,
        )
        .await
    }
    /// Who else has access through a share. Listed only for viewers who may share the deal
    /// (`viewerCan.share`); empty for everyone else.
    async fn shares(&self, ctx: &Context<'_>) -> Result<Vec<DealShare>> {
        if !self.can(ctx, DealAction::Share) {
            return Ok(Vec::new());
        }
        Ok(crate::graphql::loaders::shares(ctx, self.m().id)
            .await?
            .into_iter()
            .map(DealShare)
            .collect())
    }
    /// Incremented by every change; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.m().version
    }
    /// When the deal was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.m().created_at
    }
    /// When the deal last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.m().updated_at
    }
    /// What the viewer may do with this deal.
    async fn viewer_can(&self, ctx: &Context<'_>) -> DealViewerCan {
        DealViewerCan {
            update: self.can(ctx, DealAction::Update),
            delete: self.can(ctx, DealAction::Delete),
            reassign: self.can(ctx, DealAction::Reassign),
            share: self.can(ctx, DealAction::Share),
            read_amount: self.can(ctx, DealAction::ReadAmount),
            update_amount: self.can(ctx, DealAction::UpdateAmount),
        }
    }
}

/// Conditions on deals; every field given must hold. Amount conditions only match deals
/// whose amount the viewer may see.
#[derive(InputObject, Default, Clone)]
pub struct DealFilter {
    /// The deal's ID.
    pub id: Option<IdFilter>,
    /// Title.
    pub title: Option<StringFilter>,
    /// Amount (visible amounts only).
    pub amount: Option<OrdFilter<Decimal>>,
    /// Currency code.
    pub currency: Option<StringFilter>,
    /// Stage.
    pub stage: Option<EnumFilter<DealStage>>,
    /// Source.
    pub source: Option<EnumFilter<DealSource>>,
    /// Priority.
    pub priority: Option<EnumFilter<Priority>>,
    /// Win probability in percent.
    pub probability: Option<OrdFilter<i32>>,
    /// Expected close date.
    pub expected_close_date: Option<OrdFilter<Date>>,
    /// Actual close date.
    pub actual_close_date: Option<OrdFilter<Date>>,
    /// Owner.
    pub owner_id: Option<IdFilter>,
    /// Company.
    pub company_id: Option<IdFilter>,
    /// Contact.
    pub contact_id: Option<IdFilter>,
    /// Creation time.
    pub created_at: Option<OrdFilter<DateTime<Utc>>>,
    /// Last change.
    pub updated_at: Option<OrdFilter<DateTime<Utc>>>,
    /// All of these.
    pub and: Option<Vec<DealFilter>>,
    /// Any of these.
    pub or: Option<Vec<DealFilter>>,
    /// Not this.
    pub not: Option<Box<DealFilter>>,
}

fn enum_value<T: sea_orm::ActiveEnum<Value = String>>(v: T) -> Value {
    Value::from(v.to_value())
}

impl DealFilter {
    /// The SQL condition (scoping is added separately by the service).
    pub fn to_condition(&self, deps: &Deps, viewer: &Viewer) -> ApiResult<Condition> {
        let mut all = Condition::all();
        let mut add = |conds: Vec<Condition>| {
            for c in conds {
                all = std::mem::replace(&mut all, Condition::all()).add(c);
            }
        };
        if let Some(f) = &self.id {
            add(f.conditions(&col(deal::Column::Id), "filter.id")?);
        }
        if let Some(f) = &self.title {
            add(f.conditions(&col(deal::Column::Title)));
        }
        if let Some(f) = &self.amount {
            let expr = visible_amount(deps, viewer);
            add(f.conditions(&expr, |d| to_cents(&d.0, "filter.amount").map(Value::from))?);
        }
        if let Some(f) = &self.currency {
            add(f.conditions(&col(deal::Column::Currency)));
        }
        if let Some(f) = &self.stage {
            add(f.conditions(&col(deal::Column::Stage), |s| {
                enum_value(entity::enums::DealStage::from(s))
            }));
        }
        if let Some(f) = &self.source {
            add(f.conditions(&col(deal::Column::Source), |s| {
                enum_value(entity::enums::DealSource::from(s))
            }));
        }
        if let Some(f) = &self.priority {
            add(f.conditions(&col(deal::Column::Priority), |p| {
                enum_value(entity::enums::Priority::from(p))
            }));
        }
        if let Some(f) = &self.probability {
            add(f.conditions(&col(deal::Column::Probability), |p| Ok(Value::from(*p)))?);
        }
        if let Some(f) = &self.expected_close_date {
            add(f.conditions(&col(deal::Column::ExpectedCloseDate), |d| {
                Ok(Value::from(d.0))
            })?);
        }
        if let Some(f) = &self.actual_close_date {
            add(f.conditions(&col(deal::Column::ActualCloseDate), |d| {
                Ok(Value::from(d.0))
            })?);
        }
        if let Some(f) = &self.owner_id {
            add(f.conditions(&col(deal::Column::OwnerId), "filter.ownerId")?);
        }
        if let Some(f) = &self.company_id {
            add(f.conditions(&col(deal::Column::CompanyId), "filter.companyId")?);
        }
        if let Some(f) = &self.contact_id {
            add(f.conditions(&col(deal::Column::ContactId), "filter.contactId")?);
        }
        if let Some(f) = &self.created_at {
            add(f.conditions(&col(deal::Column::CreatedAt), |t| Ok(Value::from(*t)))?);
        }
        if let Some(f) = &self.updated_at {
            add(f.conditions(&col(deal::Column::UpdatedAt), |t| Ok(Value::from(*t)))?);
        }
        if let Some(list) = &self.and {
            for f in list {
                add(vec![f.to_condition(deps, viewer)?]);
            }
        }
        if let Some(list) = &self.or {
            let mut any = Condition::any();
            for f in list {
                any = any.add(f.to_condition(deps, viewer)?);
            }
            add(vec![any]);
        }
        if let Some(f) = &self.not {
            add(vec![f.to_condition(deps, viewer)?.not()]);
        }
        Ok(all)
    }
}

/// Fields deals can be ordered by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum DealOrderField {
    /// Creation time.
    CreatedAt,
    /// Last change.
    UpdatedAt,
    /// Title.
    Title,
    /// Amount; amounts hidden from the viewer sort as empty.
    Amount,
    /// Pipeline order of the stage.
    Stage,
    /// Expected close date.
    ExpectedCloseDate,
}

/// One ordering key; ties are broken by the next key, finally by ID.
#[derive(InputObject, Clone, Copy)]
pub struct DealOrder {
    /// What to order by.
    pub field: DealOrderField,
    /// Which way.
    #[graphql(default)]
    pub direction: OrderDirection,
}

impl From<DealOrderField> for DealSort {
    fn from(f: DealOrderField) -> Self {
        match f {
            DealOrderField::CreatedAt => DealSort::CreatedAt,
            DealOrderField::UpdatedAt => DealSort::UpdatedAt,
            DealOrderField::Title => DealSort::Title,
            DealOrderField::Amount => DealSort::Amount,
            DealOrderField::Stage => DealSort::Stage,
            DealOrderField::ExpectedCloseDate => DealSort::ExpectedCloseDate,
        }
    }
}

connection!(
    DealConnection,
    DealEdge,
    Deal,
    "A page of deals, with the total over all pages.",
    "A deal in a page, with its cursor."
);

/// Deal queries.
#[derive(Default)]
pub struct DealQuery;

#[Object]
impl DealQuery {
    /// Deals the viewer may read, a page at a time (25 by default, at most 100).
    #[expect(clippy::too_many_arguments, reason = "the Relay connection arguments")]
    async fn deals(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Rows after this cursor.")] after: Option<String>,
        #[graphql(desc = "Rows before this cursor.")] before: Option<String>,
        #[graphql(desc = "How many rows from the start (default 25, at most 100).")] first: Option<
            i32,
        >,
        #[graphql(desc = "How many rows from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Conditions the deals must meet.")] filter: Option<DealFilter>,
        #[graphql(desc = "Text to look for in the title (case-insensitive).")] search: Option<
            String,
        >,
        #[graphql(desc = "Ordering keys (default: newest first); ties break by ID.")]
        order_by: Option<Vec<DealOrder>>,
    ) -> Result<DealConnection> {
        let actor = actor(ctx)?;
        let deps = deps(ctx);
        let viewer = &actor.viewer;
        let mut condition = match &filter {
            Some(f) => f.to_condition(deps, viewer).map_err(gql)?,
            None => Condition::all(),
        };
        if let Some(s) = search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let f = StringFilter {
                contains: Some(s.to_owned()),
                ..Default::default()
            };
            for c in f.conditions(&col(deal::Column::Title)) {
                condition = condition.add(c);
            }
        }
        let order: Vec<(DealSort, bool)> = order_by
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
        Ok(DealConnection::from_page(page, total, |row| {
            Deal::new(row, viewer)
        }))
    }

    /// A deal by ID; `null` when it does not exist or the viewer may not read it.
    async fn deal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The deal's ID.")] id: ID,
    ) -> Result<Option<Deal>> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        match crate::service::deal::get(deps(ctx), &actor.viewer, id).await {
            Ok(row) => Ok(Some(Deal::new(row, &actor.viewer))),
            Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(gql(e)),
        }
    }
}

/// Input of `createDeal`.
#[derive(InputObject)]
pub struct CreateDealInput {
    /// The company (required; one the viewer can read).
    pub company_id: ID,
    /// The main contact (of the same company).
    pub contact_id: Option<ID>,
    /// What is being sold (required, at most 200 characters).
    pub title: String,
    /// Value, from 0 to 999999999999.99, at most two decimal places (default 0). Setting it
    /// needs `update:amount` on the deal as it will be.
    pub amount: Option<Decimal>,
    /// ISO 4217 currency code (default USD).
    pub currency: Option<String>,
    /// Stage (default PROSPECTING); the probability follows from it.
    pub stage: Option<DealStage>,
    /// Expected close date; must be in the future.
    pub expected_close_date: Option<Date>,
    /// Where the deal came from.
    pub source: Option<DealSource>,
    /// Priority (default MEDIUM).
    pub priority: Option<Priority>,
    /// Free-form notes.
    pub notes: Option<String>,
    /// The owner (default: you); the policy decides whom you may create deals for.
    pub owner_id: Option<ID>,
}

/// Input of `updateDeal`; omitted fields stay as they are, `null` clears a field.
#[derive(InputObject)]
pub struct UpdateDealInput {
    /// New title.
    pub title: Option<String>,
    /// New amount, from 0 to 999999999999.99, at most two decimal places (needs
    /// `viewerCan.updateAmount`).
    pub amount: Option<Decimal>,
    /// New currency code.
    pub currency: Option<String>,
    /// New stage (same as `moveDeal`).
    pub stage: Option<DealStage>,
    /// New expected close date.
    pub expected_close_date: MaybeUndefined<Date>,
    /// New source.
    pub source: MaybeUndefined<DealSource>,
    /// New priority.
    pub priority: Option<Priority>,
    /// New notes.
    pub notes: MaybeUndefined<String>,
    /// New main contact (of the deal's company).
    pub contact_id: MaybeUndefined<ID>,
    /// The `version` you last read; if the deal changed since, the update is refused with
    /// `CONFLICT` and nothing is written.
    pub expected_version: Option<i32>,
}

fn maybe<T, U>(
    m: MaybeUndefined<T>,
    f: impl FnOnce(T) -> Result<U, ApiError>,
) -> Result<Option<Option<U>>, ApiError> {
    match m {
        MaybeUndefined::Undefined => Ok(None),
        MaybeUndefined::Null => Ok(Some(None)),
        MaybeUndefined::Value(v) => f(v).map(|u| Some(Some(u))),
    }
}

/// A user's access to a deal through a share.
pub struct DealShare(pub entity::deal_share::Model);

/// A user's access to a deal through a share.
#[Object]
impl DealShare {
    /// The user the deal is shared with.
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        crate::graphql::loaders::user(ctx, self.0.user_id).await
    }
    /// ID of that user.
    async fn user_id(&self) -> ID {
        ID(self.0.user_id.to_string())
    }
    /// What they may do.
    async fn permission(&self) -> SharePermission {
        self.0.permission.into()
    }
    /// When the deal was shared.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Deal changes.
#[derive(Default)]
pub struct DealMutation;

#[Object]
impl DealMutation {
    /// Creates a deal.
    async fn create_deal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new deal.")] input: CreateDealInput,
    ) -> Result<Deal> {
        let actor = actor(ctx)?;
        let new = (|| -> Result<NewDeal, ApiError> {
            Ok(NewDeal {
                company_id: parse_id(&input.company_id, "companyId")?,
                contact_id: input
                    .contact_id
                    .as_ref()
                    .map(|c| parse_id(c, "contactId"))
                    .transpose()?,
                title: input.title,
                amount: input.amount.map(|a| a.0),
                currency: input.currency,
                stage: input.stage.map(Into::into),
                expected_close_date: input.expected_close_date.map(|d| d.0),
                source: input.source.map(Into::into),
                priority: input.priority.map(Into::into),
                notes: input.notes,
                owner_id: input
                    .owner_id
                    .as_ref()
                    .map(|o| parse_id(o, "ownerId"))
                    .transpose()?,
            })
        })()
        .map_err(gql)?;
        let row = service::deal::create(deps(ctx), &actor.viewer, new)
            .await
            .map_err(gql)?;
        Ok(Deal::new(row, &actor.viewer))
    }

    /// Changes a deal. Pass `expectedVersion` to refuse the change if someone else changed
    /// the deal since you read it.
    async fn update_deal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The deal.")] id: ID,
        #[graphql(desc = "The changes.")] input: UpdateDealInput,
    ) -> Result<Deal> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        let changes = (|| -> Result<DealChanges, ApiError> {
            Ok(DealChanges {
                title: input.title,
                amount: input.amount.map(|a| a.0),
                currency: input.currency,
                stage: input.stage.map(Into::into),
                expected_close_date: maybe(input.expected_close_date, |d| Ok(d.0))?,
                source: maybe(input.source, |s| Ok(s.into()))?,
                priority: input.priority.map(Into::into),
                notes: maybe(input.notes, Ok)?,
                contact_id: maybe(input.contact_id, |c| parse_id(&c, "contactId"))?,
                expected_version: input.expected_version,
            })
        })()
        .map_err(gql)?;
        let row = service::deal::update(deps(ctx), &actor.viewer, id, changes)
            .await
            .map_err(gql)?;
        Ok(Deal::new(row, &actor.viewer))
    }

    /// Deletes a deal with its shares and activities; returns its ID.
    async fn delete_deal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The deal.")] id: ID,
    ) -> Result<ID> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        service::deal::delete(deps(ctx), &actor.viewer, id)
            .await
            .map(|id| ID(id.to_string()))
            .map_err(gql)
    }

    /// Moves a deal to another stage (the Kanban drag): the probability follows; closing
    /// sets `actualCloseDate`, reopening clears it.
    async fn move_deal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The deal.")] id: ID,
        #[graphql(desc = "The new stage.")] stage: DealStage,
        #[graphql(desc = "The `version` you last read (optional).")] expected_version: Option<i32>,
    ) -> Result<Deal> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        let row =
            service::deal::move_to(deps(ctx), &actor.viewer, id, stage.into(), expected_version)
                .await
                .map_err(gql)?;
        Ok(Deal::new(row, &actor.viewer))
    }

    /// Gives a deal to another owner (managers: within their teams; admins: anyone).
    async fn reassign_deal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The deal.")] id: ID,
        #[graphql(desc = "The new owner (an active user).")] owner_id: ID,
        #[graphql(desc = "The `version` you last read (optional).")] expected_version: Option<i32>,
    ) -> Result<Deal> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        let owner = parse_id(&owner_id, "ownerId").map_err(gql)?;
        let row = service::deal::reassign(deps(ctx), &actor.viewer, id, owner, expected_version)
            .await
            .map_err(gql)?;
        Ok(Deal::new(row, &actor.viewer))
    }

    /// Shares a deal with a user, or changes the permission of an existing share.
    async fn share_deal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The deal.")] id: ID,
        #[graphql(desc = "The user to share with (active, not the owner).")] user_id: ID,
        #[graphql(desc = "VIEW or EDIT.")] permission: SharePermission,
    ) -> Result<Deal> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        let user = parse_id(&user_id, "userId").map_err(gql)?;
        let row = service::deal::share(deps(ctx), &actor.viewer, id, user, permission.into())
            .await
            .map_err(gql)?;
        Ok(Deal::new(row, &actor.viewer))
    }

    /// Removes a user's share of a deal (no error if there was none).
    async fn unshare_deal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The deal.")] id: ID,
        #[graphql(desc = "The user.")] user_id: ID,
    ) -> Result<Deal> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        let user = parse_id(&user_id, "userId").map_err(gql)?;
        let row = service::deal::unshare(deps(ctx), &actor.viewer, id, user)
            .await
            .map_err(gql)?;
        Ok(Deal::new(row, &actor.viewer))
    }
}
