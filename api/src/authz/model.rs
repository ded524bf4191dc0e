//! The vocabulary the policy and the engine share: resource kinds, fact masks and roles. The
//! actions of each kind are in `actions.rs`, the facts a rule may test in `facts.rs`.
//!
//! Changing a list here is a code change (the engine precomputes exactly these questions);
//! changing how the policy combines them is not.

use std::fmt;

use entity::enums::Role;

use super::facts::{self, Fact};

/// The kinds of resource the policy decides about; each is a Polar class of the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `Deal` (table `deals`).
    Deal,
    /// `Company` (table `companies`).
    Company,
    /// `Contact` (table `contacts`).
    Contact,
    /// `Activity` (table `activities`).
    Activity,
    /// `User` as a directory record (table `users`); the actor is a `User` too.
    User,
    /// `Team` (role-only: no facts).
    Team,
    /// `AuditLog` (role-only).
    AuditLog,
    /// `Export`: starting a bulk export (role-only; which rows it contains is the `export`
    /// action on each record kind).
    Export,
    /// `Automation`: workflow automations (role-only).
    Automation,
}

impl Kind {
    /// Every kind, in table order.
    pub const ALL: [Kind; 9] = [
        Kind::Deal,
        Kind::Company,
        Kind::Contact,
        Kind::Activity,
        Kind::User,
        Kind::Team,
        Kind::AuditLog,
        Kind::Export,
        Kind::Automation,
    ];

    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    /// The Polar class name of this kind.
    pub const fn polar_class(self) -> &'static str {
        match self {
            Kind::Deal => "Deal",
            Kind::Company => "Company",
            Kind::Contact => "Contact",
            Kind::Activity => "Activity",
            Kind::User => "User",
            Kind::Team => "Team",
            Kind::AuditLog => "AuditLog",
            Kind::Export => "Export",
            Kind::Automation => "Automation",
        }
    }

    /// The SQL table whose rows the fact expressions of this kind look at, for kinds with facts.
    pub const fn table(self) -> Option<&'static str> {
        match self {
            Kind::Deal => Some("deals"),
            Kind::Company => Some("companies"),
            Kind::Contact => Some("contacts"),
            Kind::Activity => Some("activities"),
            Kind::User => Some("users"),
            Kind::Team | Kind::AuditLog | Kind::Export | Kind::Automation => None,
        }
    }

    /// How many facts this kind has: its masks have this many bits.
    pub const fn fact_count(self) -> usize {
        facts::count(self)
    }

    /// The facts of this kind, in bit order: fact `i` is bit `i` of a [`FactMask`].
    pub fn facts(self) -> impl Iterator<Item = Fact> {
        (0..self.fact_count()).filter_map(move |bit| facts::meaning(self, bit).map(|m| m.fact))
    }

    /// Bit of `fact` in this kind's [`FactMask`]s.
    pub fn fact_bit(self, fact: Fact) -> Option<u8> {
        self.facts().position(|f| f == fact).map(|i| i as u8)
    }

    /// Number of distinct fact combinations (`2^facts`).
    pub(crate) const fn combinations(self) -> u32 {
        1 << self.fact_count()
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.polar_class())
    }
}

/// The facts that hold for one (viewer, record) pair: bit `i` is fact `i` of the kind (see
/// the tables in `facts.rs`).
///
/// A mask read from SQL (see [`crate::authz::Authorizer::facts_expr`]) or computed in Rust
/// (see [`crate::authz::Viewer`]) is looked up in the compiled tables; a mask that does not
/// fit the kind denies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FactMask(u8);

impl FactMask {
    /// No fact holds.
    pub const NONE: FactMask = FactMask(0);
    /// A mask no kind accepts: every decision on it is a deny.
    pub const INVALID: FactMask = FactMask(u8::MAX);

    /// The mask with exactly these bits.
    pub const fn from_bits(bits: u8) -> Self {
        FactMask(bits)
    }

    /// The raw bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// The mask selected by the facts column (`authz_facts`) of a query; out-of-range values
    /// (which a correct query never yields) become [`FactMask::INVALID`].
    pub fn from_column(value: i64) -> Self {
        match u8::try_from(value) {
            Ok(bits) if bits < 64 => FactMask(bits),
            _ => FactMask::INVALID,
        }
    }

    /// This mask with `fact` set to `value`. A fact the kind does not have leaves the mask
    /// unchanged (and is a bug: debug builds panic).
    #[must_use]
    pub fn with(self, kind: Kind, fact: Fact, value: bool) -> Self {
        match kind.fact_bit(fact) {
            Some(bit) if value => FactMask(self.0 | (1 << bit)),
            Some(bit) => FactMask(self.0 & !(1 << bit)),
            None => {
                debug_assert!(false, "{kind} has no fact {fact:?}");
                self
            }
        }
    }

    /// Whether `fact` holds in this mask.
    pub fn has(self, kind: Kind, fact: Fact) -> bool {
        kind.fact_bit(fact)
            .is_some_and(|bit| self.0 != u8::MAX && self.0 & (1 << bit) != 0)
    }

    /// Whether this mask is valid for `kind`.
    pub(crate) fn fits(self, kind: Kind) -> bool {
        u32::from(self.0) < kind.combinations()
    }
}

/// The roles, in table order.
pub(crate) const ROLES: [Role; 3] = [Role::SalesRep, Role::Manager, Role::Admin];

pub(crate) const fn role_index(role: Role) -> usize {
    match role {
        Role::SalesRep => 0,
        Role::Manager => 1,
        Role::Admin => 2,
    }
}

/// The role as the policy spells it (`user.role`).
pub(crate) fn role_name(role: Role) -> &'static str {
    match role {
        Role::SalesRep => "sales_rep",
        Role::Manager => "manager",
        Role::Admin => "admin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::ActiveEnum;

    #[test]
    fn role_names_are_the_stored_strings() {
        for role in ROLES {
            assert_eq!(role_name(role), role.to_value());
            assert_eq!(ROLES[role_index(role)], role);
        }
    }

    #[test]
    fn every_kind_fits_a_u64_table() {
        for kind in Kind::ALL {
            assert!(kind.fact_count() <= 6, "{kind} has too many facts");
            assert_eq!(Kind::ALL[kind.index()], kind);
        }
    }

    #[test]
    fn masks() {
        let m = FactMask::NONE
            .with(Kind::Deal, Fact::SharedEdit, true)
            .with(Kind::Deal, Fact::OwnedBy, true);
        assert_eq!(m.bits(), 0b1001);
        assert!(m.has(Kind::Deal, Fact::SharedEdit));
        assert!(!m.has(Kind::Deal, Fact::InTeamOf));
        assert!(!FactMask::INVALID.fits(Kind::Deal));
        assert_eq!(FactMask::from_column(-1), FactMask::INVALID);
        assert_eq!(FactMask::from_column(64), FactMask::INVALID);
        assert_eq!(FactMask::from_column(5).bits(), 5);
    }
}
