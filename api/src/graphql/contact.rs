//! Contacts: the `Contact` type, its filter and order inputs, `contacts` / `contact`, and
//! `createContact` / `updateContact` / `deleteContact`.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::contact;
use sea_orm::{Condition, Value};

use crate::authz::{ContactAction, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::graphql::connection::{connection, list_page};
use crate::graphql::enums::Department;
use crate::graphql::filter::{
    BooleanFilter, EnumFilter, IdFilter, OrdFilter, OrderDirection, StringFilter,
};
use crate::graphql::{actor, deps, gql, parse_id};
use crate::service;
use crate::service::contact::{ContactChanges, ContactRow, ContactSort, NewContact, col};
use crate::service::list::PageArgs;

/// A person at a company.
pub struct Contact {
    row: ContactRow,
    viewer: Viewer,
}

impl Contact {
    /// Wraps a row read for `viewer` (by a service, e.g. [`service::contact::by_ids`]).
    pub fn new(row: ContactRow, viewer: &Viewer) -> Self {
        Self {
            row,
            viewer: viewer.clone(),
        }
    }

    /// The stored row.
    pub fn model(&self) -> &contact::Model {
        &self.row.model
    }

    /// The viewer the row was read for.
    pub fn viewer(&self) -> &Viewer {
        &self.viewer
    }

    fn m(&self) -> &contact::Model {
        &self.row.model
    }

    fn can(&self, ctx: &Context<'_>, action: ContactAction) -> bool {
        deps(ctx)
            .authz
            .decide(self.viewer.role, action, self.row.facts)
    }
}

/// What the viewer may do with a contact, as decided by the policy.
#[derive(SimpleObject)]
pub struct ContactViewerCan {
    /// Edit the contact.
    update: bool,
    /// Delete the contact.
    delete: bool,
    /// Change the notes (everyone who reads a contact sees them).
    update_notes: bool,
}

/// A person at a company.
#[Object]
impl Contact {
    /// Stable identifier.
    pub(crate) async fn id(&self) -> ID {
        ID(self.m().id.to_string())
    }
    /// ID of the company the person works at, if any.
    async fn company_id(&self) -> Option<ID> {
        self.m().company_id.map(|c| ID(c.to_string()))
    }
    /// First name.
    async fn first_name(&self) -> Option<&str> {
        self.m().first_name.as_deref()
    }
    /// Last name.
    async fn last_name(&self) -> Option<&str> {
        self.m().last_name.as_deref()
    }
    /// First and last name, as displayed.
    async fn full_name(&self) -> &str {
        &self.m().full_name
    }
    /// Email address (lowercase), unique.
    async fn email(&self) -> Option<&str> {
        self.m().email.as_deref()
    }
    /// Phone number, E.164.
    async fn phone(&self) -> Option<&str> {
        self.m().phone.as_deref()
    }
    /// Mobile number, E.164.
    async fn mobile(&self) -> Option<&str> {
        self.m().mobile.as_deref()
    }
    /// Job title.
    async fn title(&self) -> Option<&str> {
        self.m().title.as_deref()
    }
    /// Department.
    async fn department(&self) -> Option<Department> {
        self.m().department.map(Into::into)
    }
    /// Whether this is the main contact at the company.
    async fn is_primary(&self) -> bool {
        self.m().is_primary
    }
    /// LinkedIn profile URL.
    async fn linkedin_url(&self) -> Option<&str> {
        self.m().linkedin_url.as_deref()
    }
    /// Free-form notes; only the owner may change them (see `viewerCan.updateNotes`).
    async fn notes(&self) -> Option<&str> {
        self.m().notes.as_deref()
    }
    /// ID of the owning sales person.
    async fn owner_id(&self) -> ID {
        ID(self.m().owner_id.to_string())
    }
    /// Incremented by every change; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.m().version
    }
    /// When the contact was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.m().created_at
    }
    /// When the contact last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.m().updated_at
    }
    /// The owning sales person, if visible in the directory.
    async fn owner(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::User>> {
        crate::graphql::loaders::user(ctx, self.model().owner_id).await
    }
    /// The contact's company, if set and the viewer may read it.
    async fn company(&self, ctx: &Context<'_>) -> Result<Option<crate::graphql::company::Company>> {
        let Some(id) = self.model().company_id else {
            return Ok(None);
        };
        Ok(crate::graphql::loaders::company(ctx, id)
            .await?
            .map(|r| crate::graphql::company::Company::new(r, self.viewer())))
    }
    /// Deals with this contact as main contact that the viewer may read, newest first.
    async fn deals(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (default 25, at most 100).")] first: Option<i32>,
    ) -> Result<crate::graphql::deal::DealConnection> {
        crate::graphql::loaders::deals_of(
            ctx,
            crate::graphql::loaders::Parent::Contact(self.model().id),
            first,
        )
        .await
    }
    /// The contact's activities the viewer may read, soonest due first.
    async fn activities(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (default 25, at most 100).")] first: Option<i32>,
    ) -> Result<crate::graphql::activity::ActivityConnection> {
        crate::graphql::loaders::activities_of(
            ctx,
            crate::graphql::loaders::Parent::Contact(self.model().id),
            first,
        )
        .await
    }
    /// What the viewer may do with this contact.
    async fn viewer_can(&self, ctx: &Context<'_>) -> ContactViewerCan {
        ContactViewerCan {
            update: self.can(ctx, ContactAction::Update),
            delete: self.can(ctx, ContactAction::Delete),
            update_notes: self.can(ctx, ContactAction::UpdateNotes),
        }
    }
}

/// Conditions on contacts; every field given must hold.
#[derive(InputObject, Default, Clone)]
pub struct ContactFilter {
    /// The contact's ID.
    pub id: Option<IdFilter>,
    /// Company.
    pub company_id: Option<IdFilter>,
    /// First name.
    pub first_name: Option<StringFilter>,
    /// Last name.
    pub last_name: Option<StringFilter>,
    /// Full name.
    pub full_name: Option<StringFilter>,
    /// Email (stored lowercase).
    pub email: Option<StringFilter>,
    /// Job title.
    pub title: Option<StringFilter>,
    /// Department.
    pub department: Option<EnumFilter<Department>>,
    /// Main contact of their company.
    pub is_primary: Option<BooleanFilter>,
    /// Owner.
    pub owner_id: Option<IdFilter>,
    /// Creation time.
    pub created_at: Option<OrdFilter<DateTime<Utc>>>,
    /// Last change.
    pub updated_at: Option<OrdFilter<DateTime<Utc>>>,
    /// All of these.
    pub and: Option<Vec<ContactFilter>>,
    /// Any of these.
    pub or: Option<Vec<ContactFilter>>,
    /// Not this.
    pub not: Option<Box<ContactFilter>>,
}

impl ContactFilter {
    /// The SQL condition (scoping is added separately by the service).
    pub fn to_condition(&self) -> ApiResult<Condition> {
        use contact::Column as C;
        let mut all = Condition::all();
        let mut add = |conds: Vec<Condition>| {
            for c in conds {
                all = std::mem::replace(&mut all, Condition::all()).add(c);
            }
        };
        for (f, c, field) in [
            (&self.id, C::Id, "filter.id"),
            (&self.company_id, C::CompanyId, "filter.companyId"),
            (&self.owner_id, C::OwnerId, "filter.ownerId"),
        ] {
            if let Some(f) = f {
                add(f.conditions(&col(c), field)?);
            }
        }
        for (f, c) in [
            (&self.first_name, C::FirstName),
            (&self.last_name, C::LastName),
            (&self.full_name, C::FullName),
            (&self.email, C::Email),
            (&self.title, C::Title),
        ] {
            if let Some(f) = f {
                add(f.conditions(&col(c)));
            }
        }
        if let Some(f) = &self.department {
            add(f.conditions(&col(C::Department), |d| {
                Value::from(sea_orm::ActiveEnum::to_value(
                    &entity::enums::Department::from(d),
                ))
            }));
        }
        if let Some(f) = &self.is_primary {
            add(f.conditions(&col(C::IsPrimary)));
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

/// Fields contacts can be ordered by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ContactOrderField {
    /// Address-book order: last name, then first name.
    Name,
    /// First name.
    FirstName,
    /// Last name.
    LastName,
    /// Full name as displayed (first name first).
    FullName,
    /// Email; contacts without one sort as empty.
    Email,
    /// Creation time.
    CreatedAt,
    /// Last change.
    UpdatedAt,
}

/// One ordering key; ties are broken by the next key, finally by ID.
#[derive(InputObject, Clone, Copy)]
pub struct ContactOrder {
    /// What to order by.
    pub field: ContactOrderField,
    /// Which way.
    #[graphql(default)]
    pub direction: OrderDirection,
}

impl From<ContactOrderField> for ContactSort {
    fn from(f: ContactOrderField) -> Self {
        match f {
            ContactOrderField::Name => ContactSort::Name,
            ContactOrderField::FirstName => ContactSort::FirstName,
            ContactOrderField::LastName => ContactSort::LastName,
            ContactOrderField::FullName => ContactSort::FullName,
            ContactOrderField::Email => ContactSort::Email,
            ContactOrderField::CreatedAt => ContactSort::CreatedAt,
            ContactOrderField::UpdatedAt => ContactSort::UpdatedAt,
        }
    }
}

connection!(
    ContactConnection,
    ContactEdge,
    Contact,
    "A page of contacts, with the total over all pages.",
    "A contact in a page, with its cursor."
);

/// Contact queries.
#[derive(Default)]
pub struct ContactQuery;

#[Object]
impl ContactQuery {
    /// Contacts the viewer may read, a page at a time (25 by default, at most 100).
    #[expect(clippy::too_many_arguments, reason = "the Relay connection arguments")]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Rows after this cursor.")] after: Option<String>,
        #[graphql(desc = "Rows before this cursor.")] before: Option<String>,
        #[graphql(desc = "How many rows from the start (default 25, at most 100).")] first: Option<
            i32,
        >,
        #[graphql(desc = "How many rows from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Conditions the contacts must meet.")] filter: Option<ContactFilter>,
        #[graphql(desc = "Text to look for in the full name or email (case-insensitive).")] search: Option<String>,
        #[graphql(desc = "Ordering keys (default: full name ascending); ties break by ID.")]
        order_by: Option<Vec<ContactOrder>>,
    ) -> Result<ContactConnection> {
        let actor = actor(ctx)?;
        let deps = deps(ctx);
        let viewer = &actor.viewer;
        let mut condition = match &filter {
            Some(f) => f.to_condition().map_err(gql)?,
            None => Condition::all(),
        };
        if let Some(s) = search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            condition = condition.add(service::contact::search_condition(s));
        }
        let order: Vec<(ContactSort, bool)> = order_by
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
        Ok(ContactConnection::from_page(page, total, |row| {
            Contact::new(row, viewer)
        }))
    }

    /// A contact by ID; `null` when it does not exist or the viewer may not read it.
    async fn contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The contact's ID.")] id: ID,
    ) -> Result<Option<Contact>> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "id").map_err(gql)?;
        match service::contact::get(deps(ctx), &actor.viewer, id).await {
            Ok(row) => Ok(Some(Contact::new(row, &actor.viewer))),
            Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(gql(e)),
        }
    }
}

/// Input of `createContact`.
#[derive(InputObject)]
pub struct CreateContactInput {
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
                company_id: input
                    .company_id
                    .as_ref()
                    .map(|c| parse_id(c, "companyId"))
                    .transpose()?,
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
                owner_id: input
                    .owner_id
                    .as_ref()
                    .map(|o| parse_id(o, "ownerId"))
                    .transpose()?,
            })
        })()
        .map_err(gql)?;
        let row = service::contact::create(deps(ctx), &actor.viewer, new)
            .await
            .map_err(gql)?;
        Ok(Contact::new(row, &actor.viewer))
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
                owner_id: input
                    .owner_id
                    .as_ref()
                    .map(|o| parse_id(o, "ownerId"))
                    .transpose()?,
                expected_version: input.expected_version,
            })
        })()
        .map_err(gql)?;
        let row = service::contact::update(deps(ctx), &actor.viewer, id, changes)
            .await
            .map_err(gql)?;
        Ok(Contact::new(row, &actor.viewer))
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
