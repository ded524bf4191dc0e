//! Every fact, defined once.
//!
//! A fact is an actor-relative boolean about a record (`deal.owned_by(user)`). Each kind with
//! facts has one table below, in bit order (fact `i` is bit `i` of a [`FactMask`]), and each
//! row says everything about one fact of that kind, side by side:
//! - `polar`: how a policy spells it; the Polar classes register exactly these methods and
//!   attributes (`polar.rs`);
//! - `sql`: its boolean SQL over the kind's row, relative to the viewer, for list scopes and
//!   the per-row facts mask (`sql.rs`);
//! - `holds`: its Rust check on the kind's typed input ([`DealFacts`], …), which services use
//!   for records about to be created or changed ([`Viewer::facts`]) and direct Oso queries
//!   on real data answer with (`crm_testkit::direct`).
//!
//! The differential test holds the SQL to the Rust check, and the compiled tables to Oso.
//! Adding a fact is a row here (and a [`Fact`] name if it is new); see
//! `docs/authorization.md`.
//!
//! [`FactMask`]: super::FactMask

use std::fmt;

use entity::enums::SharePermission;
use entity::user;
use uuid::Uuid;

use super::actions::{CompanyAction, ContactAction, DealAction};
use super::model::Kind;
use super::sql::{Lookup, Row, Sql};
use super::viewer::Viewer;

/// The name of an actor-relative fact; what it means for each kind is that kind's row in the
/// tables of this module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fact {
    /// The record's owner is the user.
    OwnedBy,
    /// The record's owner (deal, company, contact), creator or assignee (activity), or the user
    /// record itself (user) belongs to one of the user's teams (their own team and the teams
    /// they manage).
    InTeamOf,
    /// The deal is shared with the user for viewing.
    SharedView,
    /// The deal is shared with the user for editing.
    SharedEdit,
    /// Some deal of this company/contact is readable by the user (by the policy's own `read`
    /// rule for deals).
    LinkedToReadableDeal,
    /// The user created the activity.
    CreatedBy,
    /// The activity is assigned to the user.
    AssignedTo,
    /// The activity's deal, company or contact is readable by the user.
    OnReadableRecord,
    /// The user record is the user themself.
    IsSelf,
    /// The user record is active (not deactivated).
    Active,
}

/// How a policy spells a fact. The argument of a method is always the acting user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PolarForm {
    /// `x.name(user)`.
    Method(&'static str),
    /// `x.method(user, "value")`: one fact per value of the literal argument `param`; any
    /// other value is an error.
    MethodWith {
        method: &'static str,
        param: &'static str,
        value: &'static str,
    },
    /// `x.name`: does not involve the user (asked without one, its check must not look at
    /// the viewer).
    Attribute(&'static str),
}

impl PolarForm {
    /// The Polar method or attribute name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            PolarForm::Method(name) | PolarForm::Attribute(name) => name,
            PolarForm::MethodWith { method, .. } => method,
        }
    }
}

/// `owned_by(user)`, `shared_with(user, "view")`, `active` (receiver omitted).
impl fmt::Display for PolarForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolarForm::Method(name) => write!(f, "{name}(user)"),
            PolarForm::MethodWith { method, value, .. } => write!(f, "{method}(user, {value:?})"),
            PolarForm::Attribute(name) => f.write_str(name),
        }
    }
}

/// A fact's SQL, over the kind's row relative to the viewer. Two-valued (never `NULL`), with
/// the viewer's values as bound parameters.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SqlDef {
    /// A boolean expression built from the row ([`Row`] has the building blocks).
    Expr(fn(&Row<'_>) -> Sql),
    /// The viewer's row of `lookup` for this record exists and its column is `value`. Facts
    /// reading the same lookup come from one subquery in the facts mask.
    Lookup(&'static Lookup, &'static str),
}

/// One fact of one kind: its name, how the policy spells it, its SQL, and its Rust check on
/// the kind's typed input `R`.
pub struct FactDef<R> {
    pub(crate) fact: Fact,
    pub(crate) polar: PolarForm,
    pub(crate) sql: SqlDef,
    pub(crate) holds: fn(&R, &Viewer) -> bool,
}

/// A fact of a kind without its typed Rust check.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meaning {
    pub(crate) fact: Fact,
    pub(crate) polar: PolarForm,
    pub(crate) sql: SqlDef,
}

/// A record as its kind's facts read it in Rust: the typed input of [`Viewer::facts`] and
/// the data of a Polar instance in direct queries. Implemented by [`DealFacts`],
/// [`CompanyFacts`], [`ContactFacts`], [`ActivityFacts`] and [`UserFacts`].
pub trait RecordFacts: Clone + fmt::Debug + Send + Sync + 'static {
    /// The kind.
    const KIND: Kind;
    /// The kind's facts, in bit order.
    const FACTS: &'static [FactDef<Self>];
}

/// A record with an owner (deal, company, contact): its `owned_by` and `in_team_of` facts are
/// about the owner, the same for each such kind.
pub(crate) trait Owned {
    /// The owner and the owner's team.
    fn owner(&self) -> (Uuid, Option<Uuid>);
}

/// `x.owned_by(user)` of an owned record: its owner is the user.
const fn owned_by<R: Owned>() -> FactDef<R> {
    FactDef {
        fact: Fact::OwnedBy,
        polar: PolarForm::Method("owned_by"),
        sql: SqlDef::Expr(|row| row.is_viewer("owner_id")),
        holds: |record, viewer| record.owner().0 == viewer.user_id,
    }
}

/// `x.in_team_of(user)` of an owned record: its owner is a member of one of the user's teams.
const fn owner_in_team_of<R: Owned>() -> FactDef<R> {
    FactDef {
        fact: Fact::InTeamOf,
        polar: PolarForm::Method("in_team_of"),
        sql: SqlDef::Expr(|row| row.user_in_viewer_teams("owner_id")),
        holds: |record, viewer| viewer.has_team(record.owner().1),
    }
}

/// The deal shares of the viewer: at most one per deal and user
/// (`ux_deal_shares_deal_id_user_id`).
const DEAL_SHARE: Lookup = Lookup {
    table: "deal_shares",
    alias: "authz_shares",
    record: "deal_id",
    viewer: "user_id",
    column: "permission",
};

/// A deal as its facts read it (as it is, or as it would be after a create or reassign).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DealFacts {
    /// The owner.
    pub owner_id: Uuid,
    /// The owner's team.
    pub owner_team_id: Option<Uuid>,
    /// The deal's share with the viewer, if any.
    pub share: Option<SharePermission>,
}

impl Owned for DealFacts {
    fn owner(&self) -> (Uuid, Option<Uuid>) {
        (self.owner_id, self.owner_team_id)
    }
}

impl RecordFacts for DealFacts {
    const KIND: Kind = Kind::Deal;
    const FACTS: &'static [FactDef<Self>] = &[
        owned_by(),
        owner_in_team_of(),
        FactDef {
            fact: Fact::SharedView,
            polar: PolarForm::MethodWith {
                method: "shared_with",
                param: "permission",
                value: "view",
            },
            sql: SqlDef::Lookup(&DEAL_SHARE, "view"),
            holds: |deal, _| deal.share == Some(SharePermission::View),
        },
        FactDef {
            fact: Fact::SharedEdit,
            polar: PolarForm::MethodWith {
                method: "shared_with",
                param: "permission",
                value: "edit",
            },
            sql: SqlDef::Lookup(&DEAL_SHARE, "edit"),
            holds: |deal, _| deal.share == Some(SharePermission::Edit),
        },
    ];
}

/// Declares the facts input of a kind owned like a deal and linked from deals (companies,
/// contacts): owned by, in the owner's team, linked to a readable deal through `$link`.
macro_rules! linked_owned_facts {
    ($(#[$meta:meta])* $name:ident, $kind:ident, $link:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name {
            /// The owner.
            pub owner_id: Uuid,
            /// The owner's team.
            pub owner_team_id: Option<Uuid>,
            /// Whether one of its deals is readable by the viewer (false for a record being
            /// created).
            pub linked_to_readable_deal: bool,
        }

        impl $name {
            /// A record owned by `owner_id` (of `owner_team_id`), as about to be created or
            /// handed over: not yet linked to any deal.
            pub fn owned(owner_id: Uuid, owner_team_id: Option<Uuid>) -> Self {
                Self {
                    owner_id,
                    owner_team_id,
                    linked_to_readable_deal: false,
                }
            }
        }

        impl Owned for $name {
            fn owner(&self) -> (Uuid, Option<Uuid>) {
                (self.owner_id, self.owner_team_id)
            }
        }

        impl RecordFacts for $name {
            const KIND: Kind = Kind::$kind;
            const FACTS: &'static [FactDef<Self>] = &[
                owned_by(),
                owner_in_team_of(),
                FactDef {
                    fact: Fact::LinkedToReadableDeal,
                    polar: PolarForm::Method("linked_to_readable_deal"),
                    sql: SqlDef::Expr(|row| row.referenced_by(DealAction::Read, $link)),
                    holds: |record, _| record.linked_to_readable_deal,
                },
            ];
        }
    };
}

linked_owned_facts!(
    /// A company as its facts read it.
    CompanyFacts,
    Company,
    "company_id"
);

linked_owned_facts!(
    /// A contact as its facts read it.
    ContactFacts,
    Contact,
    "contact_id"
);

/// An activity as its facts read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActivityFacts {
    /// The creator.
    pub created_by: Uuid,
    /// The creator's team.
    pub creator_team_id: Option<Uuid>,
    /// The assignee.
    pub assigned_to: Option<Uuid>,
    /// The assignee's team.
    pub assignee_team_id: Option<Uuid>,
    /// Whether its deal, company or contact is readable by the viewer.
    pub on_readable_record: bool,
}

impl RecordFacts for ActivityFacts {
    const KIND: Kind = Kind::Activity;
    const FACTS: &'static [FactDef<Self>] = &[
        FactDef {
            fact: Fact::CreatedBy,
            polar: PolarForm::Method("created_by"),
            sql: SqlDef::Expr(|row| row.is_viewer("created_by")),
            holds: |activity, viewer| activity.created_by == viewer.user_id,
        },
        FactDef {
            fact: Fact::AssignedTo,
            polar: PolarForm::Method("assigned_to"),
            sql: SqlDef::Expr(|row| row.is_viewer_if_set("assigned_to")),
            holds: |activity, viewer| activity.assigned_to == Some(viewer.user_id),
        },
        FactDef {
            fact: Fact::InTeamOf,
            polar: PolarForm::Method("in_team_of"),
            sql: SqlDef::Expr(|row| {
                row.user_in_viewer_teams("created_by")
                    .or(row.user_in_viewer_teams_if_set("assigned_to"))
            }),
            holds: |activity, viewer| {
                viewer.has_team(activity.creator_team_id)
                    || (activity.assigned_to.is_some()
                        && viewer.has_team(activity.assignee_team_id))
            },
        },
        FactDef {
            fact: Fact::OnReadableRecord,
            polar: PolarForm::Method("on_readable_record"),
            sql: SqlDef::Expr(|row| {
                row.references(DealAction::Read, "deal_id")
                    .or(row.references(CompanyAction::Read, "company_id"))
                    .or(row.references(ContactAction::Read, "contact_id"))
            }),
            holds: |activity, _| activity.on_readable_record,
        },
    ];
}

/// A user's directory record as its facts read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserFacts {
    /// The user's id.
    pub user_id: Uuid,
    /// The user's own team.
    pub team_id: Option<Uuid>,
    /// Not deactivated.
    pub active: bool,
}

impl From<&user::Model> for UserFacts {
    fn from(user: &user::Model) -> Self {
        UserFacts {
            user_id: user.id,
            team_id: user.team_id,
            active: user.active,
        }
    }
}

impl RecordFacts for UserFacts {
    const KIND: Kind = Kind::User;
    const FACTS: &'static [FactDef<Self>] = &[
        FactDef {
            fact: Fact::IsSelf,
            polar: PolarForm::Method("is_self"),
            sql: SqlDef::Expr(|row| row.is_viewer("id")),
            holds: |target, viewer| target.user_id == viewer.user_id,
        },
        FactDef {
            fact: Fact::Active,
            polar: PolarForm::Attribute("active"),
            sql: SqlDef::Expr(|row| row.is_true("active")),
            holds: |target, _| target.active,
        },
        FactDef {
            fact: Fact::InTeamOf,
            polar: PolarForm::Method("in_team_of"),
            sql: SqlDef::Expr(|row| row.team_in_viewer_teams("team_id")),
            holds: |target, viewer| viewer.has_team(target.team_id),
        },
    ];
}

/// The facts of each kind, without their typed Rust checks: fact `bit` of `kind`.
pub(crate) fn meaning(kind: Kind, bit: usize) -> Option<Meaning> {
    fn row<R: RecordFacts>(bit: usize) -> Option<Meaning> {
        R::FACTS.get(bit).map(|def| Meaning {
            fact: def.fact,
            polar: def.polar,
            sql: def.sql,
        })
    }
    match kind {
        Kind::Deal => row::<DealFacts>(bit),
        Kind::Company => row::<CompanyFacts>(bit),
        Kind::Contact => row::<ContactFacts>(bit),
        Kind::Activity => row::<ActivityFacts>(bit),
        Kind::User => row::<UserFacts>(bit),
        Kind::Team | Kind::AuditLog | Kind::Export | Kind::Automation => None,
    }
}

/// How many facts `kind` has.
pub(crate) const fn count(kind: Kind) -> usize {
    match kind {
        Kind::Deal => DealFacts::FACTS.len(),
        Kind::Company => CompanyFacts::FACTS.len(),
        Kind::Contact => ContactFacts::FACTS.len(),
        Kind::Activity => ActivityFacts::FACTS.len(),
        Kind::User => UserFacts::FACTS.len(),
        Kind::Team | Kind::AuditLog | Kind::Export | Kind::Automation => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use entity::enums::Role;

    /// Every table is well formed: at most six facts (a `u64` truth table), each fact and
    /// spelling once, and a Polar name used by one form only (methods are registered by name).
    #[test]
    fn tables_are_well_formed() {
        for kind in Kind::ALL {
            let rows: Vec<Meaning> = (0..count(kind))
                .map(|bit| meaning(kind, bit).expect("row"))
                .collect();
            assert!(rows.len() <= 6, "{kind} has too many facts");
            assert!(meaning(kind, rows.len()).is_none());
            for (i, a) in rows.iter().enumerate() {
                for b in &rows[i + 1..] {
                    assert_ne!(a.fact, b.fact, "{kind}: {:?} twice", a.fact);
                    assert_ne!(a.polar, b.polar, "{kind}: {} twice", a.polar);
                    if a.polar.name() == b.polar.name() {
                        assert!(
                            matches!(
                                (a.polar, b.polar),
                                (PolarForm::MethodWith { param: p, .. }, PolarForm::MethodWith { param: q, .. }) if p == q
                            ),
                            "{kind}: {} and {} share a name",
                            a.polar,
                            b.polar
                        );
                    }
                }
            }
        }
    }

    /// An attribute is asked without the acting user: its check must not depend on the viewer.
    #[test]
    fn attributes_ignore_the_viewer() {
        let me = Viewer::new(Uuid::from_u128(1), Role::Admin, [Uuid::from_u128(2)]);
        let nobody = Viewer::new(Uuid::nil(), Role::SalesRep, []);
        for def in UserFacts::FACTS {
            if !matches!(def.polar, PolarForm::Attribute(_)) {
                continue;
            }
            for active in [false, true] {
                for user_id in [Uuid::nil(), Uuid::from_u128(1)] {
                    let target = UserFacts {
                        user_id,
                        team_id: Some(Uuid::from_u128(2)),
                        active,
                    };
                    assert_eq!((def.holds)(&target, &me), (def.holds)(&target, &nobody));
                }
            }
        }
    }
}
