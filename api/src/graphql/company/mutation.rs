//! Company changes and their inputs.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result};

use crate::graphql::enums::{CompanySize, Industry};
use crate::graphql::{actor, deps, gql, parse_id, parse_opt_id, wrap};
use crate::service;
use crate::service::company::{CompanyChanges, NewCompany};

#[allow(unused_imports)]
use super::*;

/// Input of `createCompany`.
#[derive(InputObject)]
pub struct CreateCompanyInput {
    /// An id for the new record chosen by the client (a UUID), so that an offline client can
    /// replay a queued create safely: the same create sent again returns the record the first
    /// one made and changes nothing. An id already used by a record you cannot read is refused.
    pub id: Option<ID>,
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
        let owner_id = parse_opt_id(input.owner_id.as_ref(), "ownerId").map_err(gql)?;
        let id = parse_opt_id(input.id.as_ref(), "id").map_err(gql)?;
        let new = NewCompany {
            id,
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
        wrap::<Company>(
            service::company::create(deps(ctx), &actor.viewer, crate::service::At::Own, new).await,
            &actor.viewer,
        )
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
        let owner_id = parse_opt_id(input.owner_id.as_ref(), "ownerId").map_err(gql)?;
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
        wrap::<Company>(
            service::company::update(
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
