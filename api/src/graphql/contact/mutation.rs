//! Contact changes and their inputs.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result};

use crate::error::ApiResult;
use crate::graphql::enums::Department;
use crate::graphql::{actor, deps, gql, parse_id, parse_opt_id, wrap};
use crate::service;
use crate::service::contact::{ContactChanges, NewContact};

#[allow(unused_imports)]
use super::*;

/// Input of `createContact`.
#[derive(InputObject)]
pub struct CreateContactInput {
    /// An id for the new record chosen by the client (a UUID), so that an offline client can
    /// replay a queued create safely: the same create sent again returns the record the first
    /// one made and changes nothing. An id already used by a record you cannot read is refused.
    pub id: Option<ID>,
    /// The company (one you can read).
    pub company_id: Option<ID>,
    /// First name (a first or a last name is required).
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Email address; stored lowercase, unique ignoring case.
    pub email: Option<String>,
    /// Phone number in E.164 (`+14155550100`; spaces, dashes and parentheses are removed).
    pub phone: Option<String>,
    /// Mobile number in E.164.
    pub mobile: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Department.
    pub department: Option<Department>,
    /// Whether this is the main contact at the company (default false).
    #[graphql(default)]
    pub is_primary: bool,
    /// LinkedIn profile, an http(s) URL.
    pub linkedin_url: Option<String>,
    /// Free-form notes; only the contact's owner may write them.
    pub notes: Option<String>,
    /// The owner (default: you); the policy decides whom you may create contacts for.
    pub owner_id: Option<ID>,
}

/// Input of `updateContact`; omitted fields stay as they are, `null` clears a field.
#[derive(InputObject)]
pub struct UpdateContactInput {
    /// New company (one you can read); `null` detaches the contact.
    pub company_id: MaybeUndefined<ID>,
    /// New first name.
    pub first_name: MaybeUndefined<String>,
    /// New last name.
    pub last_name: MaybeUndefined<String>,
    /// New email address.
    pub email: MaybeUndefined<String>,
    /// New phone number (E.164).
    pub phone: MaybeUndefined<String>,
    /// New mobile number (E.164).
    pub mobile: MaybeUndefined<String>,
    /// New job title.
    pub title: MaybeUndefined<String>,
    /// New department.
    pub department: MaybeUndefined<Department>,
    /// Whether this is the main contact at the company.
    pub is_primary: Option<bool>,
    /// New LinkedIn profile URL.
    pub linkedin_url: MaybeUndefined<String>,
    /// New notes: only the owner may change them (`FORBIDDEN` on field `notes` otherwise;
    /// see `viewerCan.updateNotes`).
    pub notes: MaybeUndefined<String>,
    /// New owner: needs `update` on the contact now and the right to create it for the new
    /// owner (managers: within their teams; admins: anyone).
    pub owner_id: Option<ID>,
    /// The `version` you last read; if the contact changed since, the update is refused
    /// with `CONFLICT` and nothing is written.
    pub expected_version: Option<i32>,
}

/// Contact changes.
#[derive(Default)]
pub struct ContactMutation;

#[Object]
impl ContactMutation {
    /// Creates a contact.
    async fn create_contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new contact.")] input: CreateContactInput,
    ) -> Result<Contact> {
        let actor = actor(ctx)?;
        let new = (|| -> ApiResult<NewContact> {
            Ok(NewContact {
                company_id: parse_opt_id(input.company_id.as_ref(), "companyId")?,
                first_name: input.first_name,
                last_name: input.last_name,
                email: input.email,
                phone: input.phone,
                mobile: input.mobile,
                title: input.title,
                department: input.department.map(Into::into),
                is_primary: input.is_primary,
                linkedin_url: input.linkedin_url,
                notes: input.notes,
                owner_id: parse_opt_id(input.owner_id.as_ref(), "ownerId")?,
                id: parse_opt_id(input.id.as_ref(), "id")?,
            })
        })()
        .map_err(gql)?;
        wrap::<Contact>(
            service::contact::create(deps(ctx), &actor.viewer, crate::service::At::Own, new).await,
            &actor.viewer,
        )
    }

    /// Changes a contact. Pass `expectedVersion` to refuse the change if someone else changed
    /// the contact since you read it.
    async fn update_contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The contact.")] id: ID,
        #[graphql(desc = "The changes.")] input: UpdateContactInput,
    ) -> Result<Contact> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        let changes = (|| -> ApiResult<ContactChanges> {
            Ok(ContactChanges {
                company_id: Option::<Option<ID>>::from(input.company_id)
                    .map(|c| c.map(|c| parse_id(&c, "companyId")).transpose())
                    .transpose()?,
                first_name: input.first_name.into(),
                last_name: input.last_name.into(),
                email: input.email.into(),
                phone: input.phone.into(),
                mobile: input.mobile.into(),
                title: input.title.into(),
                department: Option::<Option<Department>>::from(input.department)
                    .map(|d| d.map(Into::into)),
                is_primary: input.is_primary,
                linkedin_url: input.linkedin_url.into(),
                notes: input.notes.into(),
                owner_id: parse_opt_id(input.owner_id.as_ref(), "ownerId")?,
                expected_version: input.expected_version,
            })
        })()
        .map_err(gql)?;
        wrap::<Contact>(
            service::contact::update(
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

    /// Deletes a contact and returns its ID; deals and activities naming it stay, without a
    /// contact.
    async fn delete_contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The contact.")] id: ID,
    ) -> Result<ID> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        service::contact::delete(deps(ctx), &actor.viewer, id)
            .await
            .map(|id| ID(id.to_string()))
            .map_err(gql)
    }
}
