//! The Rust classes the policy sees: `User` (the actor, and a directory record), `Deal`,
//! `Company`, `Contact`, `Activity`, `Team`, `AuditLog` and `Export`.
//!
//! Every class has two modes behind the same Polar methods:
//! - *synthetic*: the instance carries a [`FactMask`] and each fact method returns its bit.
//!   The compiler asks the policy about every combination this way.
//! - *real*: the instance carries data (owner id, owner's team, shares, …) and each fact
//!   method computes its answer from that data and the actor's id and teams. A direct Oso
//!   query on real data is the reference the differential test holds the fast path to.
//!
//! A policy may only use what these classes expose (documented in `docs/authorization.md`).
//! Anything else is an error, and an error while compiling fails the load.

use std::fmt;
use std::sync::{Arc, OnceLock};

use entity::enums::{Role, SharePermission};
use oso::{Class, ClassBuilder, OsoError, PolarClass};
use uuid::Uuid;

use super::model::{Fact, FactMask, Kind, role_name};

/// Why a fact method refused to answer (e.g. `deal.shared_with(user, "own")`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct FactError(String);

/// Records the first use of something that is not a fact while compiling (an attribute
/// getter cannot return an error, so it reports here and the compiler fails the load).
#[derive(Clone, Debug, Default)]
pub(crate) struct Misuse(Arc<OnceLock<String>>);

impl Misuse {
    fn record(&self, message: String) {
        let _ = self.0.set(message);
    }

    pub(crate) fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

/// A synthetic instance: which facts hold.
#[derive(Clone, Debug)]
pub(crate) struct Synthetic {
    pub(crate) facts: FactMask,
    pub(crate) misuse: Misuse,
}

/// A user with real data, as actor or as directory record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealUser {
    /// User id.
    pub id: Uuid,
    /// Role.
    pub role: Role,
    /// The user's own team (membership), for `target.in_team_of(actor)`.
    pub team_id: Option<Uuid>,
    /// As an actor: own team plus managed teams, for `x.in_team_of(user)`.
    pub team_ids: Vec<Uuid>,
    /// Not deactivated.
    pub active: bool,
}

/// A deal with real data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealDeal {
    /// Owner.
    pub owner_id: Uuid,
    /// The owner's team.
    pub owner_team_id: Option<Uuid>,
    /// Every share of the deal: (user, permission).
    pub shares: Vec<(Uuid, SharePermission)>,
}

/// A company or contact with real data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealOwned {
    /// Owner.
    pub owner_id: Uuid,
    /// The owner's team.
    pub owner_team_id: Option<Uuid>,
    /// Whether a deal linked to this record is readable *by the actor of the query* (found by
    /// asking the policy about each linked deal; see [`super::direct::Oracle`]).
    pub linked_to_readable_deal: bool,
}

/// An activity with real data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealActivity {
    /// Creator.
    pub created_by: Uuid,
    /// The creator's team.
    pub creator_team_id: Option<Uuid>,
    /// Assignee.
    pub assigned_to: Option<Uuid>,
    /// The assignee's team.
    pub assignee_team_id: Option<Uuid>,
    /// Whether the activity's deal, company or contact is readable *by the actor of the
    /// query* (asked of the policy; see [`super::direct::Oracle`]).
    pub on_readable_record: bool,
}

#[derive(Clone)]
enum Repr<R> {
    Synthetic(Synthetic),
    Real(Arc<R>),
}

impl<R> fmt::Debug for Repr<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Repr::Synthetic(s) => write!(f, "Synthetic({:#b})", s.facts.bits()),
            Repr::Real(_) => f.write_str("Real"),
        }
    }
}

impl<R> Repr<R> {
    /// Answers fact `fact` of `kind` for `user`: the bit in synthetic mode, `real(data, actor)`
    /// in real mode. Mixing modes, or passing anything but the actor, is an error.
    fn fact(
        &self,
        kind: Kind,
        fact: Fact,
        user: &PolarUser,
        real: impl FnOnce(&R, &RealUser) -> bool,
    ) -> Result<bool, FactError> {
        match (self, &user.0) {
            (Repr::Synthetic(s), UserRepr::Actor(_)) => Ok(s.facts.has(kind, fact)),
            (Repr::Real(data), UserRepr::Real(actor)) => Ok(real(data, actor)),
            _ => Err(FactError(format!(
                "{kind}.{} takes the acting user as its argument",
                fact.polar()
            ))),
        }
    }
}

fn in_teams(team: Option<Uuid>, actor: &RealUser) -> bool {
    team.is_some_and(|t| actor.team_ids.contains(&t))
}

// ---------------------------------------------------------------------------------------
// User

#[derive(Clone, Debug)]
enum UserRepr {
    /// The synthetic actor of compilation: only a role.
    Actor(Role),
    /// A synthetic directory record.
    Target(Synthetic),
    /// Real data (actor or record).
    Real(Arc<RealUser>),
}

/// Polar class `User`: the actor (`user.role`) and a directory record (`target.active`,
/// `target.is_self(user)`, `target.in_team_of(user)`).
#[derive(Clone, Debug)]
pub struct PolarUser(UserRepr);

impl PolarUser {
    /// The synthetic actor with `role`.
    pub(crate) fn synthetic_actor(role: Role) -> Self {
        PolarUser(UserRepr::Actor(role))
    }

    /// A synthetic directory record.
    pub(crate) fn synthetic_target(synthetic: Synthetic) -> Self {
        PolarUser(UserRepr::Target(synthetic))
    }

    /// A user with real data.
    pub fn real(user: RealUser) -> Self {
        PolarUser(UserRepr::Real(Arc::new(user)))
    }

    fn role(&self) -> String {
        match &self.0 {
            UserRepr::Actor(role) => role_name(*role).to_owned(),
            UserRepr::Real(user) => role_name(user.role).to_owned(),
            UserRepr::Target(s) => {
                s.misuse.record(
                    "the policy reads `role` of a User it is deciding about; only the acting \
                     user's role and the User facts (active, is_self, in_team_of) may be used"
                        .to_owned(),
                );
                String::new()
            }
        }
    }

    fn active(&self) -> bool {
        match &self.0 {
            // Whoever acts is signed in, hence active.
            UserRepr::Actor(_) => true,
            UserRepr::Target(s) => s.facts.has(Kind::User, Fact::Active),
            UserRepr::Real(user) => user.active,
        }
    }

    fn target_fact(
        &self,
        fact: Fact,
        user: &PolarUser,
        real: impl FnOnce(&RealUser, &RealUser) -> bool,
    ) -> Result<bool, FactError> {
        match (&self.0, &user.0) {
            (UserRepr::Target(s), UserRepr::Actor(_)) => Ok(s.facts.has(Kind::User, fact)),
            (UserRepr::Real(target), UserRepr::Real(actor)) => Ok(real(target, actor)),
            _ => Err(FactError(format!(
                "User.{} is asked of the User being decided about, with the acting user as \
                 its argument",
                fact.polar()
            ))),
        }
    }
}

impl PolarClass for PolarUser {
    fn get_polar_class_builder() -> ClassBuilder<Self> {
        Class::builder::<Self>()
            .name("User")
            .add_attribute_getter("role", PolarUser::role)
            .add_attribute_getter("active", PolarUser::active)
            .add_method("is_self", |target: &PolarUser, user: PolarUser| {
                target.target_fact(Fact::IsSelf, &user, |t, a| t.id == a.id)
            })
            .add_method("in_team_of", |target: &PolarUser, user: PolarUser| {
                target.target_fact(Fact::InTeamOf, &user, |t, a| in_teams(t.team_id, a))
            })
    }
}

// ---------------------------------------------------------------------------------------
// Deal

/// Polar class `Deal`.
#[derive(Clone, Debug)]
pub struct PolarDeal(Repr<RealDeal>);

impl PolarDeal {
    pub(crate) fn synthetic(s: Synthetic) -> Self {
        PolarDeal(Repr::Synthetic(s))
    }

    /// A deal with real data.
    pub fn real(deal: RealDeal) -> Self {
        PolarDeal(Repr::Real(Arc::new(deal)))
    }
}

impl PolarClass for PolarDeal {
    fn get_polar_class_builder() -> ClassBuilder<Self> {
        Class::builder::<Self>()
            .name("Deal")
            .add_method("owned_by", |d: &PolarDeal, user: PolarUser| {
                d.0.fact(Kind::Deal, Fact::OwnedBy, &user, |d, a| d.owner_id == a.id)
            })
            .add_method("in_team_of", |d: &PolarDeal, user: PolarUser| {
                d.0.fact(Kind::Deal, Fact::InTeamOf, &user, |d, a| {
                    in_teams(d.owner_team_id, a)
                })
            })
            .add_method(
                "shared_with",
                |d: &PolarDeal, user: PolarUser, permission: String| {
                    let (fact, wanted) = match permission.as_str() {
                        "view" => (Fact::SharedView, SharePermission::View),
                        "edit" => (Fact::SharedEdit, SharePermission::Edit),
                        other => {
                            return Err(FactError(format!(
                                "Deal.shared_with(user, permission): permission is \"view\" or \
                                 \"edit\", not {other:?}"
                            )));
                        }
                    };
                    d.0.fact(Kind::Deal, fact, &user, |d, a| {
                        d.shares.iter().any(|(u, p)| *u == a.id && *p == wanted)
                    })
                },
            )
    }
}

// ---------------------------------------------------------------------------------------
// Company and Contact

macro_rules! owned_class {
    ($name:ident, $polar:literal, $kind:expr) => {
        #[doc = concat!("Polar class `", $polar, "`.")]
        #[derive(Clone, Debug)]
        pub struct $name(Repr<RealOwned>);

        impl $name {
            pub(crate) fn synthetic(s: Synthetic) -> Self {
                $name(Repr::Synthetic(s))
            }

            #[doc = concat!("A ", $polar, " with real data.")]
            pub fn real(record: RealOwned) -> Self {
                $name(Repr::Real(Arc::new(record)))
            }
        }

        impl PolarClass for $name {
            fn get_polar_class_builder() -> ClassBuilder<Self> {
                Class::builder::<Self>()
                    .name($polar)
                    .add_method("owned_by", |r: &$name, user: PolarUser| {
                        r.0.fact($kind, Fact::OwnedBy, &user, |r, a| r.owner_id == a.id)
                    })
                    .add_method("in_team_of", |r: &$name, user: PolarUser| {
                        r.0.fact($kind, Fact::InTeamOf, &user, |r, a| {
                            in_teams(r.owner_team_id, a)
                        })
                    })
                    .add_method("linked_to_readable_deal", |r: &$name, user: PolarUser| {
                        r.0.fact($kind, Fact::LinkedToReadableDeal, &user, |r, _| {
                            r.linked_to_readable_deal
                        })
                    })
            }
        }
    };
}

owned_class!(PolarCompany, "Company", Kind::Company);
owned_class!(PolarContact, "Contact", Kind::Contact);

// ---------------------------------------------------------------------------------------
// Activity

/// Polar class `Activity`.
#[derive(Clone, Debug)]
pub struct PolarActivity(Repr<RealActivity>);

impl PolarActivity {
    pub(crate) fn synthetic(s: Synthetic) -> Self {
        PolarActivity(Repr::Synthetic(s))
    }

    /// An activity with real data.
    pub fn real(activity: RealActivity) -> Self {
        PolarActivity(Repr::Real(Arc::new(activity)))
    }
}

impl PolarClass for PolarActivity {
    fn get_polar_class_builder() -> ClassBuilder<Self> {
        const K: Kind = Kind::Activity;
        Class::builder::<Self>()
            .name("Activity")
            .add_method("created_by", |r: &PolarActivity, user: PolarUser| {
                r.0.fact(K, Fact::CreatedBy, &user, |r, a| r.created_by == a.id)
            })
            .add_method("assigned_to", |r: &PolarActivity, user: PolarUser| {
                r.0.fact(K, Fact::AssignedTo, &user, |r, a| {
                    r.assigned_to == Some(a.id)
                })
            })
            .add_method("in_team_of", |r: &PolarActivity, user: PolarUser| {
                r.0.fact(K, Fact::InTeamOf, &user, |r, a| {
                    in_teams(r.creator_team_id, a)
                        || (r.assigned_to.is_some() && in_teams(r.assignee_team_id, a))
                })
            })
            .add_method(
                "on_readable_record",
                |r: &PolarActivity, user: PolarUser| {
                    r.0.fact(K, Fact::OnReadableRecord, &user, |r, _| {
                        r.on_readable_record
                    })
                },
            )
    }
}

// ---------------------------------------------------------------------------------------
// Role-only kinds

macro_rules! role_only_class {
    ($name:ident, $polar:literal) => {
        #[doc = concat!("Polar class `", $polar, "`: no facts, decided by role alone.")]
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $name;

        impl PolarClass for $name {
            fn get_polar_class_builder() -> ClassBuilder<Self> {
                Class::builder::<Self>().name($polar)
            }
        }
    };
}

role_only_class!(PolarTeam, "Team");
role_only_class!(PolarAuditLog, "AuditLog");
role_only_class!(PolarExport, "Export");

/// Registers every class with `oso` (before loading the policy, which refers to them).
pub(crate) fn register_classes(oso: &mut oso::Oso) -> Result<(), Box<OsoError>> {
    for class in [
        PolarUser::get_polar_class(),
        PolarDeal::get_polar_class(),
        PolarCompany::get_polar_class(),
        PolarContact::get_polar_class(),
        PolarActivity::get_polar_class(),
        PolarTeam::get_polar_class(),
        PolarAuditLog::get_polar_class(),
        PolarExport::get_polar_class(),
    ] {
        oso.register_class(class)?;
    }
    Ok(())
}

/// A resource of any kind, ready to pass to Oso.
#[derive(Clone, Debug)]
pub enum PolarResource {
    /// `Deal`.
    Deal(PolarDeal),
    /// `Company`.
    Company(PolarCompany),
    /// `Contact`.
    Contact(PolarContact),
    /// `Activity`.
    Activity(PolarActivity),
    /// `User` (directory record).
    User(PolarUser),
    /// `Team`.
    Team,
    /// `AuditLog`.
    AuditLog,
    /// `Export`.
    Export,
}

impl PolarResource {
    /// The synthetic instance of `kind` for which exactly the facts in `synthetic` hold.
    pub(crate) fn synthetic(kind: Kind, synthetic: Synthetic) -> Self {
        match kind {
            Kind::Deal => PolarResource::Deal(PolarDeal::synthetic(synthetic)),
            Kind::Company => PolarResource::Company(PolarCompany::synthetic(synthetic)),
            Kind::Contact => PolarResource::Contact(PolarContact::synthetic(synthetic)),
            Kind::Activity => PolarResource::Activity(PolarActivity::synthetic(synthetic)),
            Kind::User => PolarResource::User(PolarUser::synthetic_target(synthetic)),
            Kind::Team => PolarResource::Team,
            Kind::AuditLog => PolarResource::AuditLog,
            Kind::Export => PolarResource::Export,
        }
    }

    /// The kind of this resource.
    pub fn kind(&self) -> Kind {
        match self {
            PolarResource::Deal(_) => Kind::Deal,
            PolarResource::Company(_) => Kind::Company,
            PolarResource::Contact(_) => Kind::Contact,
            PolarResource::Activity(_) => Kind::Activity,
            PolarResource::User(_) => Kind::User,
            PolarResource::Team => Kind::Team,
            PolarResource::AuditLog => Kind::AuditLog,
            PolarResource::Export => Kind::Export,
        }
    }

    /// `oso.is_allowed(actor, action, self)`.
    pub fn is_allowed(
        &self,
        oso: &oso::Oso,
        actor: &PolarUser,
        action: &str,
    ) -> Result<bool, Box<OsoError>> {
        let actor = actor.clone();
        let allowed = match self {
            PolarResource::Deal(r) => oso.is_allowed(actor, action, r.clone()),
            PolarResource::Company(r) => oso.is_allowed(actor, action, r.clone()),
            PolarResource::Contact(r) => oso.is_allowed(actor, action, r.clone()),
            PolarResource::Activity(r) => oso.is_allowed(actor, action, r.clone()),
            PolarResource::User(r) => oso.is_allowed(actor, action, r.clone()),
            PolarResource::Team => oso.is_allowed(actor, action, PolarTeam),
            PolarResource::AuditLog => oso.is_allowed(actor, action, PolarAuditLog),
            PolarResource::Export => oso.is_allowed(actor, action, PolarExport),
        };
        Ok(allowed?)
    }
}
