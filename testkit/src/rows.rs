//! The row factory: a builder per table, started from an [`Org`].
//!
//! Every builder starts from a complete row with defaults (a fresh id, a unique name, the
//! organisation's clock), is changed by its setters, and ends with:
//! - `insert(db)`: writes the row now and returns it as stored (panics if the database
//!   refuses it);
//! - `try_insert(db)`: the same, with the database's refusal as an `Err` (nothing is
//!   recorded then);
//! - `add()`: keeps the row in the organisation for [`Org::insert`] to write later.
//!
//! References to other rows take an id or the row itself ([`RowId`]); optional ones also
//! take an `Option` of either ([`MaybeRowId`]). Required references (an owner, a creator)
//! panic with a message when missing.

use chrono::{DateTime, NaiveDate, Utc};
use entity::enums::{
    ActivityStatus, ActivityType, CompanySize, DealSource, DealStage, Department, Industry,
    Priority, Role, SharePermission,
};
use entity::{activity, company, contact, deal, deal_share, team, user};
use rust_decimal::Decimal;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, IntoActiveModel};
use uuid::Uuid;

use crate::PASSWORD_HASH;
use crate::org::Org;

/// Something that names one row: its id, or the row.
pub trait RowId {
    /// The row's id.
    fn row_id(&self) -> Uuid;
}

impl RowId for Uuid {
    fn row_id(&self) -> Uuid {
        *self
    }
}

impl<T: RowId + ?Sized> RowId for &T {
    fn row_id(&self) -> Uuid {
        (**self).row_id()
    }
}

macro_rules! row_id {
    ($($model:path),* $(,)?) => {
        $(impl RowId for $model {
            fn row_id(&self) -> Uuid {
                self.id
            }
        })*
    };
}

row_id!(
    team::Model,
    user::Model,
    company::Model,
    contact::Model,
    deal::Model,
    deal_share::Model,
    activity::Model,
);

/// Something that names at most one row: a [`RowId`], or an `Option` of one.
pub trait MaybeRowId {
    /// The row's id, if any.
    fn maybe_row_id(&self) -> Option<Uuid>;
}

impl<T: RowId> MaybeRowId for T {
    fn maybe_row_id(&self) -> Option<Uuid> {
        Some(self.row_id())
    }
}

impl<T: RowId> MaybeRowId for Option<T> {
    fn maybe_row_id(&self) -> Option<Uuid> {
        self.as_ref().map(RowId::row_id)
    }
}

/// `add`, `insert` and `try_insert` for a builder whose `finish` gives the row.
macro_rules! terminals {
    ($builder:ident, $model:ty, $list:ident) => {
        impl $builder<'_> {
            /// Changes the row directly (for the columns without a setter).
            pub fn with(mut self, change: impl FnOnce(&mut $model)) -> Self {
                change(&mut self.row);
                self
            }

            /// The row, completed (derived columns filled in), without recording it.
            pub fn build(self) -> $model {
                self.finish().1
            }

            /// Keeps the row in the organisation, to be written by [`Org::insert`];
            /// returns it.
            pub fn add(self) -> $model {
                let (org, row) = self.finish();
                org.$list.push(row.clone());
                row
            }

            /// Writes the row now and returns it as the database stored it. Panics if the
            /// database refuses it.
            pub async fn insert(self, db: &impl ConnectionTrait) -> $model {
                match self.try_insert(db).await {
                    Ok(row) => row,
                    Err(e) => panic!("insert into {}: {e}", stringify!($list)),
                }
            }

            /// Writes the row now and returns it as the database stored it, or the
            /// database's refusal (then nothing is recorded).
            pub async fn try_insert(self, db: &impl ConnectionTrait) -> Result<$model, DbErr> {
                let (org, row) = self.finish();
                let stored = row.into_active_model().reset_all().insert(db).await?;
                org.mark_written(stored.id);
                org.$list.push(stored.clone());
                Ok(stored)
            }
        }
    };
}

/// Setters of the timestamps every table has.
macro_rules! timestamps {
    ($builder:ident) => {
        impl $builder<'_> {
            /// Sets `created_at` and `updated_at`.
            pub fn at(mut self, at: DateTime<Utc>) -> Self {
                self.row.created_at = at;
                self.row.updated_at = at;
                self
            }

            /// Sets `created_at`.
            pub fn created_at(mut self, at: DateTime<Utc>) -> Self {
                self.row.created_at = at;
                self
            }

            /// Sets `updated_at`.
            pub fn updated_at(mut self, at: DateTime<Utc>) -> Self {
                self.row.updated_at = at;
                self
            }

            /// Sets the id (default: a fresh random one).
            pub fn id(mut self, id: Uuid) -> Self {
                self.row.id = id;
                self
            }
        }
    };
}

/// Setters that store their argument (converted by `$e`) in one column.
macro_rules! setters {
    ($builder:ident {
        $($(#[$doc:meta])* $name:ident($value:ident: $ty:ty) => $field:ident = $e:expr;)*
    }) => {
        impl $builder<'_> {
            $(
                $(#[$doc])*
                pub fn $name(mut self, $value: $ty) -> Self {
                    self.row.$field = $e;
                    self
                }
            )*
        }
    };
}

impl Org {
    /// A team: `Team <n>`, no manager.
    pub fn team(&mut self) -> TeamBuilder<'_> {
        self.seq.team += 1;
        let now = self.tick();
        let name = self.default_name("Team", self.seq.team);
        TeamBuilder {
            org: self,
            row: team::Model {
                id: Uuid::new_v4(),
                name,
                manager_id: None,
                created_at: now,
                updated_at: now,
            },
        }
    }

    /// An active sales rep in no team, `User <n>` <`user<n>@example.test`>, who signs in
    /// with [`PASSWORD`](crate::PASSWORD). Give a name and the email follows from it
    /// (`Rae` → `rae@example.test`); give an email and the name is its local part.
    pub fn user(&mut self) -> UserBuilder<'_> {
        self.seq.user += 1;
        let now = self.tick();
        UserBuilder {
            n: self.seq.user,
            name: None,
            email: None,
            row: user::Model {
                id: Uuid::new_v4(),
                email: String::new(),
                name: String::new(),
                password_hash: PASSWORD_HASH.to_owned(),
                role: Role::SalesRep,
                team_id: None,
                active: true,
                must_change_password: false,
                created_at: now,
                updated_at: now,
            },
            org: self,
        }
    }

    /// A company `Company <n>` with no other details; needs an [`owner`](CompanyBuilder::owner).
    pub fn company(&mut self) -> CompanyBuilder<'_> {
        self.seq.company += 1;
        let now = self.tick();
        let name = self.default_name("Company", self.seq.company);
        CompanyBuilder {
            org: self,
            owner: None,
            row: company::Model {
                id: Uuid::new_v4(),
                name,
                domain: None,
                industry: None,
                size: None,
                address: None,
                city: None,
                state: None,
                country: None,
                phone: None,
                website: None,
                owner_id: Uuid::nil(),
                version: 1,
                created_at: now,
                updated_at: now,
            },
        }
    }

    /// A contact `Contact<n>` (first name only) at no company; needs an
    /// [`owner`](ContactBuilder::owner). The full name follows the first and last names.
    pub fn contact(&mut self) -> ContactBuilder<'_> {
        self.seq.contact += 1;
        let now = self.tick();
        let first = format!("Contact{}", self.seq.contact);
        ContactBuilder {
            org: self,
            owner: None,
            full_name: None,
            row: contact::Model {
                id: Uuid::new_v4(),
                company_id: None,
                first_name: Some(first),
                last_name: None,
                full_name: String::new(),
                email: None,
                phone: None,
                mobile: None,
                title: None,
                department: None,
                is_primary: false,
                linkedin_url: None,
                notes: None,
                owner_id: Uuid::nil(),
                version: 1,
                created_at: now,
                updated_at: now,
            },
        }
    }

    /// A deal `Deal <n>` of 0 USD, prospecting, medium priority, at the organisation's
    /// latest company unless [`company`](DealBuilder::company) says otherwise; needs an
    /// [`owner`](DealBuilder::owner). The probability follows the stage, and a closed deal
    /// closes on the day it was created, unless set.
    pub fn deal(&mut self) -> DealBuilder<'_> {
        self.seq.deal += 1;
        let now = self.tick();
        let title = format!("Deal {}", self.seq.deal);
        let company = self.companies.last().map(|c| c.id);
        DealBuilder {
            org: self,
            owner: None,
            company,
            probability: None,
            closed_on: None,
            row: deal::Model {
                id: Uuid::new_v4(),
                company_id: Uuid::nil(),
                contact_id: None,
                title,
                amount_cents: 0,
                currency: "USD".to_owned(),
                stage: DealStage::Prospecting,
                probability: 0,
                expected_close_date: None,
                actual_close_date: None,
                source: None,
                priority: Priority::Medium,
                notes: None,
                owner_id: Uuid::nil(),
                version: 1,
                created_at: now,
                updated_at: now,
            },
        }
    }

    /// `deal` shared with `user`, to view.
    pub fn share(&mut self, deal: impl RowId, user: impl RowId) -> ShareBuilder<'_> {
        let now = self.tick();
        ShareBuilder {
            org: self,
            row: deal_share::Model {
                id: Uuid::new_v4(),
                deal_id: deal.row_id(),
                user_id: user.row_id(),
                permission: SharePermission::View,
                created_at: now,
            },
        }
    }

    /// An open task `Activity <n>` on nothing, without a due time; needs a
    /// [`creator`](ActivityBuilder::created_by), to whom it is assigned unless
    /// [`assigned_to`](ActivityBuilder::assigned_to) says otherwise.
    pub fn activity(&mut self) -> ActivityBuilder<'_> {
        self.seq.activity += 1;
        let now = self.tick();
        let subject = format!("Activity {}", self.seq.activity);
        ActivityBuilder {
            org: self,
            created_by: None,
            assigned_to: None,
            completed_at: None,
            started: now,
            row: activity::Model {
                id: Uuid::new_v4(),
                kind: ActivityType::Task,
                subject,
                description: None,
                due_at: None,
                completed: false,
                completed_at: None,
                priority: Priority::Medium,
                status: ActivityStatus::Pending,
                company_id: None,
                contact_id: None,
                deal_id: None,
                created_by: Uuid::nil(),
                assigned_to: None,
                version: 1,
                created_at: now,
                updated_at: now,
            },
        }
    }
}

// ---------------------------------------------------------------------------------------
// Teams
// ---------------------------------------------------------------------------------------

/// A team being built; see [`Org::team`].
#[must_use = "a row is written by insert or kept by add"]
pub struct TeamBuilder<'o> {
    org: &'o mut Org,
    row: team::Model,
}

impl<'o> TeamBuilder<'o> {
    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.row.name = name.into();
        self
    }

    /// Sets (or, with `None`, clears) the manager.
    pub fn manager(mut self, manager: impl MaybeRowId) -> Self {
        self.row.manager_id = manager.maybe_row_id();
        self
    }

    fn finish(self) -> (&'o mut Org, team::Model) {
        (self.org, self.row)
    }
}

timestamps!(TeamBuilder);
terminals!(TeamBuilder, team::Model, teams);

// ---------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------

/// A user being built; see [`Org::user`].
#[must_use = "a row is written by insert or kept by add"]
pub struct UserBuilder<'o> {
    org: &'o mut Org,
    n: usize,
    name: Option<String>,
    email: Option<String>,
    row: user::Model,
}

impl<'o> UserBuilder<'o> {
    /// Sets the display name (and, unless given, the email: `Rae` → `rae@example.test`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the email, stored lowercase (and, unless given, the name: its local part).
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Sets (or, with `None`, clears) the user's own team.
    pub fn team(mut self, team: impl MaybeRowId) -> Self {
        self.row.team_id = team.maybe_row_id();
        self
    }

    /// A deactivated user.
    pub fn inactive(self) -> Self {
        self.active(false)
    }

    fn finish(mut self) -> (&'o mut Org, user::Model) {
        let domain = self.org.email_domain();
        let (name, email) = match (self.name, self.email) {
            (Some(name), Some(email)) => (name, email),
            (Some(name), None) => {
                let local: String = name
                    .chars()
                    .map(|c| {
                        if c.is_alphanumeric() {
                            c.to_ascii_lowercase()
                        } else {
                            '.'
                        }
                    })
                    .collect();
                let email = format!("{local}@{domain}");
                (name, email)
            }
            (None, Some(email)) => {
                let name = email.split('@').next().unwrap_or(&email).to_owned();
                (name, email)
            }
            (None, None) => {
                let n = self.n;
                (
                    self.org.default_name("User", n),
                    format!("user{n}@{domain}"),
                )
            }
        };
        self.row.name = name;
        self.row.email = email.to_lowercase();
        (self.org, self.row)
    }
}

setters!(UserBuilder {
    /// Sets the role (default: sales rep).
    role(value: Role) => role = value;
    /// Active (default) or deactivated.
    active(value: bool) => active = value;
    /// Whether the user must change their password at the next sign-in.
    must_change_password(value: bool) => must_change_password = value;
    /// Sets the password hash (default: [`PASSWORD_HASH`]).
    password_hash(value: impl Into<String>) => password_hash = value.into();
});
timestamps!(UserBuilder);
terminals!(UserBuilder, user::Model, users);

// ---------------------------------------------------------------------------------------
// Companies
// ---------------------------------------------------------------------------------------

/// A company being built; see [`Org::company`].
#[must_use = "a row is written by insert or kept by add"]
pub struct CompanyBuilder<'o> {
    org: &'o mut Org,
    owner: Option<Uuid>,
    row: company::Model,
}

impl<'o> CompanyBuilder<'o> {
    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.row.name = name.into();
        self
    }

    /// Sets the owner (required).
    pub fn owner(mut self, owner: impl RowId) -> Self {
        self.owner = Some(owner.row_id());
        self
    }

    fn finish(mut self) -> (&'o mut Org, company::Model) {
        self.row.owner_id = self
            .owner
            .unwrap_or_else(|| panic!("company {:?} needs an owner", self.row.name));
        (self.org, self.row)
    }
}

setters!(CompanyBuilder {
    /// Sets the domain.
    domain(value: impl Into<String>) => domain = Some(value.into());
    /// Sets the industry.
    industry(value: Industry) => industry = Some(value);
    /// Sets the head-count bracket.
    size(value: CompanySize) => size = Some(value);
    /// Sets the city.
    city(value: impl Into<String>) => city = Some(value.into());
    /// Sets the country.
    country(value: impl Into<String>) => country = Some(value.into());
    /// Sets the phone number.
    phone(value: impl Into<String>) => phone = Some(value.into());
    /// Sets the website.
    website(value: impl Into<String>) => website = Some(value.into());
    /// Sets the version (default 1).
    version(value: i32) => version = value;
});
timestamps!(CompanyBuilder);
terminals!(CompanyBuilder, company::Model, companies);

// ---------------------------------------------------------------------------------------
// Contacts
// ---------------------------------------------------------------------------------------

/// A contact being built; see [`Org::contact`].
#[must_use = "a row is written by insert or kept by add"]
pub struct ContactBuilder<'o> {
    org: &'o mut Org,
    owner: Option<Uuid>,
    full_name: Option<String>,
    row: contact::Model,
}

impl<'o> ContactBuilder<'o> {
    /// Sets the first name.
    pub fn first(mut self, first: impl Into<String>) -> Self {
        self.row.first_name = Some(first.into());
        self
    }

    /// Sets the last name.
    pub fn last(mut self, last: impl Into<String>) -> Self {
        self.row.last_name = Some(last.into());
        self
    }

    /// Sets the full name as stored (default: the first and last names, space-separated).
    pub fn full_name(mut self, name: impl Into<String>) -> Self {
        self.full_name = Some(name.into());
        self
    }

    /// Sets the owner (required).
    pub fn owner(mut self, owner: impl RowId) -> Self {
        self.owner = Some(owner.row_id());
        self
    }

    /// Sets (or, with `None`, clears) the company.
    pub fn company(mut self, company: impl MaybeRowId) -> Self {
        self.row.company_id = company.maybe_row_id();
        self
    }

    fn finish(mut self) -> (&'o mut Org, contact::Model) {
        self.row.full_name = self.full_name.unwrap_or_else(|| {
            [&self.row.first_name, &self.row.last_name]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        });
        self.row.owner_id = self
            .owner
            .unwrap_or_else(|| panic!("contact {:?} needs an owner", self.row.full_name));
        (self.org, self.row)
    }
}

setters!(ContactBuilder {
    /// Sets the email.
    email(value: impl Into<String>) => email = Some(value.into());
    /// Sets the phone number.
    phone(value: impl Into<String>) => phone = Some(value.into());
    /// Sets the job title.
    title(value: impl Into<String>) => title = Some(value.into());
    /// Sets the department.
    department(value: Department) => department = Some(value);
    /// Sets the notes.
    notes(value: impl Into<String>) => notes = Some(value.into());
    /// Whether this is the company's primary contact.
    primary(value: bool) => is_primary = value;
    /// Sets the version (default 1).
    version(value: i32) => version = value;
});
timestamps!(ContactBuilder);
terminals!(ContactBuilder, contact::Model, contacts);

// ---------------------------------------------------------------------------------------
// Deals
// ---------------------------------------------------------------------------------------

/// A deal being built; see [`Org::deal`].
#[must_use = "a row is written by insert or kept by add"]
pub struct DealBuilder<'o> {
    org: &'o mut Org,
    owner: Option<Uuid>,
    company: Option<Uuid>,
    probability: Option<i16>,
    closed_on: Option<Option<NaiveDate>>,
    row: deal::Model,
}

impl<'o> DealBuilder<'o> {
    /// Sets the title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.row.title = title.into();
        self
    }

    /// Sets the owner (required).
    pub fn owner(mut self, owner: impl RowId) -> Self {
        self.owner = Some(owner.row_id());
        self
    }

    /// Sets the company (default: the organisation's latest).
    pub fn company(mut self, company: impl RowId) -> Self {
        self.company = Some(company.row_id());
        self
    }

    /// Sets (or, with `None`, clears) the contact.
    pub fn contact(mut self, contact: impl MaybeRowId) -> Self {
        self.row.contact_id = contact.maybe_row_id();
        self
    }

    /// Sets the amount from a decimal string in the deal's currency: `"10"`, `"1234.56"`.
    /// Panics on anything else (more than two decimals, not a number).
    pub fn amount(mut self, amount: &str) -> Self {
        let cents = amount
            .parse::<Decimal>()
            .ok()
            .and_then(|d| d.checked_mul(Decimal::ONE_HUNDRED))
            .filter(|d| d.fract().is_zero())
            .and_then(|d| i64::try_from(d).ok())
            .unwrap_or_else(|| panic!("amount {amount:?} is not a whole number of cents"));
        self.row.amount_cents = cents;
        self
    }

    /// Sets the stage; the probability follows unless set.
    pub fn stage(mut self, stage: DealStage) -> Self {
        self.row.stage = stage;
        self
    }

    /// Sets the probability (default: the stage's).
    pub fn probability(mut self, probability: i16) -> Self {
        self.probability = Some(probability);
        self
    }

    /// Sets (or clears) the close date (default: the creation day for a closed deal,
    /// none for an open one).
    pub fn closed_on(mut self, date: impl Into<Option<NaiveDate>>) -> Self {
        self.closed_on = Some(date.into());
        self
    }

    fn finish(mut self) -> (&'o mut Org, deal::Model) {
        let stage = self.row.stage;
        self.row.probability = self.probability.unwrap_or(stage.probability());
        self.row.actual_close_date = self
            .closed_on
            .unwrap_or_else(|| stage.is_closed().then(|| self.row.created_at.date_naive()));
        self.row.owner_id = self
            .owner
            .unwrap_or_else(|| panic!("deal {:?} needs an owner", self.row.title));
        self.row.company_id = self.company.unwrap_or_else(|| {
            panic!(
                "deal {:?} needs a company (and the organisation has none)",
                self.row.title
            )
        });
        (self.org, self.row)
    }
}

setters!(DealBuilder {
    /// Sets the amount in cents (minor units).
    amount_cents(value: i64) => amount_cents = value;
    /// Sets the currency code (default `USD`).
    currency(value: impl Into<String>) => currency = value.into();
    /// Sets (or clears) the expected close date.
    expected_close(value: impl Into<Option<NaiveDate>>) => expected_close_date = value.into();
    /// Sets (or clears) the source.
    source(value: impl Into<Option<DealSource>>) => source = value.into();
    /// Sets the priority (default medium).
    priority(value: Priority) => priority = value;
    /// Sets the notes.
    notes(value: impl Into<String>) => notes = Some(value.into());
    /// Sets the version (default 1).
    version(value: i32) => version = value;
});
timestamps!(DealBuilder);
terminals!(DealBuilder, deal::Model, deals);

// ---------------------------------------------------------------------------------------
// Shares
// ---------------------------------------------------------------------------------------

/// A deal share being built; see [`Org::share`].
#[must_use = "a row is written by insert or kept by add"]
pub struct ShareBuilder<'o> {
    org: &'o mut Org,
    row: deal_share::Model,
}

impl<'o> ShareBuilder<'o> {
    /// Sets the creation time.
    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.row.created_at = at;
        self
    }

    /// Sets the id (default: a fresh random one).
    pub fn id(mut self, id: Uuid) -> Self {
        self.row.id = id;
        self
    }

    fn finish(self) -> (&'o mut Org, deal_share::Model) {
        (self.org, self.row)
    }
}

setters!(ShareBuilder {
    /// Sets the permission (default: view).
    permission(value: SharePermission) => permission = value;
});
terminals!(ShareBuilder, deal_share::Model, shares);

// ---------------------------------------------------------------------------------------
// Activities
// ---------------------------------------------------------------------------------------

/// An activity being built; see [`Org::activity`].
#[must_use = "a row is written by insert or kept by add"]
pub struct ActivityBuilder<'o> {
    org: &'o mut Org,
    created_by: Option<Uuid>,
    assigned_to: Option<Option<Uuid>>,
    completed_at: Option<DateTime<Utc>>,
    /// The organisation's time when the row was started.
    started: DateTime<Utc>,
    row: activity::Model,
}

impl<'o> ActivityBuilder<'o> {
    /// Sets the subject.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.row.subject = subject.into();
        self
    }

    /// Sets the creator (required).
    pub fn created_by(mut self, user: impl RowId) -> Self {
        self.created_by = Some(user.row_id());
        self
    }

    /// Sets (or, with `None`, clears) the assignee (default: the creator).
    pub fn assigned_to(mut self, user: impl MaybeRowId) -> Self {
        self.assigned_to = Some(user.maybe_row_id());
        self
    }

    /// Assigned to nobody.
    pub fn unassigned(mut self) -> Self {
        self.assigned_to = Some(None);
        self
    }

    /// Sets (or, with `None`, clears) the deal it is about.
    pub fn deal(mut self, deal: impl MaybeRowId) -> Self {
        self.row.deal_id = deal.maybe_row_id();
        self
    }

    /// Sets (or, with `None`, clears) the company it is about.
    pub fn company(mut self, company: impl MaybeRowId) -> Self {
        self.row.company_id = company.maybe_row_id();
        self
    }

    /// Sets (or, with `None`, clears) the contact it is about.
    pub fn contact(mut self, contact: impl MaybeRowId) -> Self {
        self.row.contact_id = contact.maybe_row_id();
        self
    }

    /// Completed or open; a completed one was completed when it was built, unless
    /// [`completed_at`](Self::completed_at) says when.
    pub fn completed(mut self, completed: bool) -> Self {
        self.row.completed = completed;
        self.row.status = if completed {
            ActivityStatus::Completed
        } else {
            ActivityStatus::Pending
        };
        self
    }

    /// Completed at `at`.
    pub fn completed_at(mut self, at: DateTime<Utc>) -> Self {
        self.row.completed = true;
        self.row.status = ActivityStatus::Completed;
        self.completed_at = Some(at);
        self
    }

    /// Priority (default medium).
    pub fn priority(mut self, priority: Priority) -> Self {
        self.row.priority = priority;
        self
    }

    /// Pending or in progress (an open activity); see [`completed`](Self::completed).
    pub fn in_progress(mut self) -> Self {
        self.row.completed = false;
        self.row.status = ActivityStatus::InProgress;
        self
    }

    fn finish(mut self) -> (&'o mut Org, activity::Model) {
        let creator = self
            .created_by
            .unwrap_or_else(|| panic!("activity {:?} needs a creator", self.row.subject));
        self.row.created_by = creator;
        self.row.assigned_to = self.assigned_to.unwrap_or(Some(creator));
        self.row.completed_at = self
            .row
            .completed
            .then(|| self.completed_at.unwrap_or(self.started));
        (self.org, self.row)
    }
}

setters!(ActivityBuilder {
    /// Sets the type (default: task).
    kind(value: ActivityType) => kind = value;
    /// Sets the description.
    description(value: impl Into<String>) => description = Some(value.into());
    /// Sets (or clears) the due time.
    due_at(value: impl Into<Option<DateTime<Utc>>>) => due_at = value.into();
    /// Sets the version (default 1).
    version(value: i32) => version = value;
});
timestamps!(ActivityBuilder);
terminals!(ActivityBuilder, activity::Model, activities);
