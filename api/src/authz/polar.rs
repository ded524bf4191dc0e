//! The Rust classes the policy sees: `User` (the actor, and a directory record), `Deal`,
//! `Company`, `Contact`, `Activity`, `Team`, `AuditLog` and `Export`.
//!
//! The fact methods and attributes of each class are those of its kind's table in `facts.rs`,
//! registered from it. Every class has two modes behind the same Polar methods:
//! - *synthetic*: the instance carries a [`FactMask`] and each fact method returns its bit.
//!   The compiler asks the policy about every combination this way.
//! - *real*: the instance carries the kind's typed input ([`DealFacts`], …) and each fact
//!   method answers with the table's Rust check, relative to the actor's id and teams. A
//!   direct Oso query on real data is the reference the differential test holds the fast
//!   path to.
//!
//! A policy may only use what these classes expose (documented in `docs/authorization.md`).
//! Anything else is an error, and an error while compiling fails the load.

use std::fmt;
use std::sync::{Arc, OnceLock};

use entity::enums::Role;
use oso::{Class, ClassBuilder, OsoError, PolarClass};
use uuid::Uuid;

use super::facts::{
    ActivityFacts, CompanyFacts, ContactFacts, DealFacts, FactDef, PolarForm, RecordFacts,
    UserFacts,
};
use super::model::{FactMask, Kind, role_name};
use super::viewer::Viewer;

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

#[derive(Clone)]
enum Repr<R> {
    Synthetic(Synthetic),
    Real(R),
}

impl<R> fmt::Debug for Repr<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Repr::Synthetic(s) => write!(f, "Synthetic({:#b})", s.facts.bits()),
            Repr::Real(_) => f.write_str("Real"),
        }
    }
}

/// Asked without an actor (an attribute), a fact's check gets this viewer; attribute checks
/// do not look at it (see `facts.rs`).
static NOBODY: Viewer = Viewer {
    user_id: Uuid::nil(),
    role: Role::SalesRep,
    team_ids: Vec::new(),
    built: super::viewer::Built::NONE,
    origin: super::viewer::Origin::NONE,
};

/// Registers the facts of `R`'s table on a class: each method answers with
/// `answer(receiver, bit, user)`, each attribute with `attribute(receiver, bit)`.
fn add_facts<C: 'static, R: RecordFacts>(
    mut class: ClassBuilder<C>,
    answer: fn(&C, usize, &PolarUser) -> Result<bool, FactError>,
    attribute: fn(&C, usize) -> bool,
) -> ClassBuilder<C> {
    for (bit, def) in R::FACTS.iter().enumerate() {
        class = match def.polar {
            PolarForm::Method(name) => {
                class.add_method(name, move |c: &C, user: PolarUser| answer(c, bit, &user))
            }
            PolarForm::Attribute(name) => {
                class.add_attribute_getter(name, move |c: &C| attribute(c, bit))
            }
            // One method for all its values, registered with the first.
            PolarForm::MethodWith { method, .. }
                if R::FACTS[..bit].iter().any(|d| d.polar.name() == method) =>
            {
                class
            }
            PolarForm::MethodWith { method, param, .. } => {
                class.add_method(method, move |c: &C, user: PolarUser, value: String| {
                    let with_value = |d: &FactDef<R>| {
                        matches!(d.polar, PolarForm::MethodWith { method: m, value: v, .. }
                            if m == method && v == value)
                    };
                    match R::FACTS.iter().position(with_value) {
                        Some(bit) => answer(c, bit, &user),
                        None => {
                            let values: Vec<String> = R::FACTS
                                .iter()
                                .filter_map(|d| match d.polar {
                                    PolarForm::MethodWith {
                                        method: m,
                                        value: v,
                                        ..
                                    } if m == method => Some(format!("{v:?}")),
                                    _ => None,
                                })
                                .collect();
                            Err(FactError(format!(
                                "{}.{method}(user, {param}): {param} is {}, not {value:?}",
                                R::KIND,
                                values.join(" or ")
                            )))
                        }
                    }
                })
            }
        };
    }
    class
}

// ---------------------------------------------------------------------------------------
// User

/// A real user, as the facts read it as an actor and as a directory record.
#[derive(Debug)]
struct RealUserFacts {
    viewer: Viewer,
    record: UserFacts,
}

#[derive(Clone, Debug)]
enum UserRepr {
    /// The synthetic actor of compilation: only a role.
    Actor(Role),
    /// A synthetic directory record.
    Target(Synthetic),
    /// Real data (actor or record).
    Real(Arc<RealUserFacts>),
}

/// The synthetic actor as a directory record: whoever acts is signed in, hence active.
const SYNTHETIC_ACTOR: UserFacts = UserFacts {
    user_id: Uuid::nil(),
    team_id: None,
    active: true,
};

/// Polar class `User`: the actor (`user.role`) and a directory record (the facts of
/// [`UserFacts`]: `target.active`, `target.is_self(user)`, `target.in_team_of(user)`).
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
        PolarUser(UserRepr::Real(Arc::new(RealUserFacts {
            record: UserFacts {
                user_id: user.id,
                team_id: user.team_id,
                active: user.active,
            },
            viewer: Viewer::new(user.id, user.role, user.team_ids),
        })))
    }

    fn role(&self) -> String {
        match &self.0 {
            UserRepr::Actor(role) => role_name(*role).to_owned(),
            UserRepr::Real(user) => role_name(user.viewer.role).to_owned(),
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

    fn attribute(&self, bit: usize) -> bool {
        let holds = UserFacts::FACTS[bit].holds;
        match &self.0 {
            UserRepr::Actor(_) => holds(&SYNTHETIC_ACTOR, &NOBODY),
            UserRepr::Target(s) => s.facts.bits() >> bit & 1 == 1,
            UserRepr::Real(user) => holds(&user.record, &NOBODY),
        }
    }

    fn answer(&self, bit: usize, user: &PolarUser) -> Result<bool, FactError> {
        match (&self.0, &user.0) {
            (UserRepr::Target(s), UserRepr::Actor(_)) => Ok(s.facts.bits() >> bit & 1 == 1),
            (UserRepr::Real(target), UserRepr::Real(actor)) => {
                Ok((UserFacts::FACTS[bit].holds)(&target.record, &actor.viewer))
            }
            _ => Err(FactError(format!(
                "User.{} is asked of the User being decided about, with the acting user as \
                 its argument",
                UserFacts::FACTS[bit].polar
            ))),
        }
    }
}

impl PolarClass for PolarUser {
    fn get_polar_class_builder() -> ClassBuilder<Self> {
        add_facts::<Self, UserFacts>(
            Class::builder::<Self>()
                .name(Kind::User.polar_class())
                .add_attribute_getter("role", PolarUser::role),
            PolarUser::answer,
            PolarUser::attribute,
        )
    }
}

// ---------------------------------------------------------------------------------------
// Deal, Company, Contact, Activity

/// The Polar class of a record kind with facts (`Deal`, `Company`, `Contact`, `Activity`):
/// the facts of `R`'s table, answered from the synthetic mask or from real data `R` (relative
/// to the actor of the query).
#[derive(Clone, Debug)]
pub struct PolarRecord<R>(Repr<R>);

/// Polar class `Deal`.
pub type PolarDeal = PolarRecord<DealFacts>;
/// Polar class `Company`.
pub type PolarCompany = PolarRecord<CompanyFacts>;
/// Polar class `Contact`.
pub type PolarContact = PolarRecord<ContactFacts>;
/// Polar class `Activity`.
pub type PolarActivity = PolarRecord<ActivityFacts>;

impl<R: RecordFacts> PolarRecord<R> {
    pub(crate) fn synthetic(s: Synthetic) -> Self {
        PolarRecord(Repr::Synthetic(s))
    }

    /// A record with real data; facts relative to the actor the policy is asked about (e.g.
    /// `linked_to_readable_deal`, or a deal's share, are the actor's).
    pub fn real(record: R) -> Self {
        PolarRecord(Repr::Real(record))
    }

    /// Answers fact `bit` for `user`: the bit in synthetic mode, the table's check in real
    /// mode. Mixing modes, or passing anything but the actor, is an error.
    fn answer(&self, bit: usize, user: &PolarUser) -> Result<bool, FactError> {
        match (&self.0, &user.0) {
            (Repr::Synthetic(s), UserRepr::Actor(_)) => Ok(s.facts.bits() >> bit & 1 == 1),
            (Repr::Real(record), UserRepr::Real(actor)) => {
                Ok((R::FACTS[bit].holds)(record, &actor.viewer))
            }
            _ => Err(FactError(format!(
                "{}.{} takes the acting user as its argument",
                R::KIND,
                R::FACTS[bit].polar
            ))),
        }
    }

    fn attribute(&self, bit: usize) -> bool {
        match &self.0 {
            Repr::Synthetic(s) => s.facts.bits() >> bit & 1 == 1,
            Repr::Real(record) => (R::FACTS[bit].holds)(record, &NOBODY),
        }
    }
}

impl<R: RecordFacts> PolarClass for PolarRecord<R> {
    fn get_polar_class_builder() -> ClassBuilder<Self> {
        add_facts::<Self, R>(
            Class::builder::<Self>().name(R::KIND.polar_class()),
            Self::answer,
            Self::attribute,
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
role_only_class!(PolarAutomation, "Automation");

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
        PolarAutomation::get_polar_class(),
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
    /// `Automation`.
    Automation,
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
            Kind::Automation => PolarResource::Automation,
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
            PolarResource::Automation => Kind::Automation,
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
            PolarResource::Automation => oso.is_allowed(actor, action, PolarAutomation),
        };
        Ok(allowed?)
    }
}
