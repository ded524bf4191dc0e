//! Deal changes: `createDeal`, `updateDeal`, `moveDeal`, `reassignDeal`, `shareDeal`,
//! `unshareDeal`, `deleteDeal`, and their inputs.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result};
use chrono::{DateTime, Utc};

use crate::error::ApiError;
use crate::graphql::enums::{DealSource, DealStage, Priority, SharePermission};
use crate::graphql::scalars::{Date, Decimal};
use crate::graphql::{User, actor, deps, gql, parse_id, parse_opt_id, wrap};
use crate::service;
use crate::service::deal::{DealChanges, NewDeal};

use super::Deal;

/// Input of `createDeal`.
#[derive(InputObject)]
pub struct CreateDealInput {
    /// An id for the new record chosen by the client (a UUID), so that an offline client can
    /// replay a queued create safely: the same create sent again returns the record the first
    /// one made and changes nothing. An id already used by a record you cannot read is refused.
    pub id: Option<ID>,
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
                contact_id: parse_opt_id(input.contact_id.as_ref(), "contactId")?,
                title: input.title,
                amount: input.amount.map(|a| a.0),
                currency: input.currency,
                stage: input.stage.map(Into::into),
                expected_close_date: input.expected_close_date.map(|d| d.0),
                source: input.source.map(Into::into),
                priority: input.priority.map(Into::into),
                notes: input.notes,
                owner_id: parse_opt_id(input.owner_id.as_ref(), "ownerId")?,
                id: parse_opt_id(input.id.as_ref(), "id")?,
            })
        })()
        .map_err(gql)?;
        wrap::<Deal>(
            service::deal::create(deps(ctx), &actor.viewer, crate::service::At::Own, new).await,
            &actor.viewer,
        )
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
        wrap::<Deal>(
            service::deal::update(
                deps(ctx),
                &actor.viewer,
                crate::service::At::Own,
                id,
                changes,
            )
            .await,
            &actor.viewer,
        )
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
        let changes = DealChanges {
            stage: Some(stage.into()),
            expected_version,
            ..Default::default()
        };
        wrap::<Deal>(
            service::deal::update(
                deps(ctx),
                &actor.viewer,
                crate::service::At::Own,
                id,
                changes,
            )
            .await,
            &actor.viewer,
        )
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
        wrap::<Deal>(
            service::deal::reassign(deps(ctx), &actor.viewer, id, owner, expected_version).await,
            &actor.viewer,
        )
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
        wrap::<Deal>(
            service::deal::share(deps(ctx), &actor.viewer, id, user, permission.into()).await,
            &actor.viewer,
        )
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
        wrap::<Deal>(
            service::deal::unshare(deps(ctx), &actor.viewer, id, user).await,
            &actor.viewer,
        )
    }
}
