//! The actions the engine asks the policy about, one type per kind: `DealAction::ReadAmount`
//! is `"read:amount"` on a `Deal`, and an action a kind does not have cannot be written.
//! Field permissions are actions too (`"read:amount"`), so one mechanism decides rows and
//! fields. [`Action`] is any of them, with its kind.
//!
//! Changing a list here is a code change (the engine precomputes exactly these questions);
//! the order of a list is the order of the compiled tables and of `describe_all`.

use std::fmt;

use super::model::Kind;

macro_rules! actions {
    ($(
        $(#[$type_doc:meta])*
        $kind:ident => $ty:ident {
            $( $(#[$doc:meta])* $variant:ident = $polar:literal, )+
        }
    )+) => {
        $(
            $(#[$type_doc])*
            #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
            pub enum $ty {
                $( $(#[$doc])* $variant, )+
            }

            impl $ty {
                /// Every action of the kind, in table order.
                pub const ALL: &'static [$ty] = &[$($ty::$variant),+];
                /// The kind these actions are about.
                pub const KIND: Kind = Kind::$kind;

                /// The action as the policy spells it.
                pub const fn polar(self) -> &'static str {
                    match self {
                        $( $ty::$variant => $polar, )+
                    }
                }
            }

            impl From<$ty> for Action {
                fn from(action: $ty) -> Action {
                    Action::$kind(action)
                }
            }

            impl fmt::Display for $ty {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.pad(self.polar())
                }
            }
        )+

        /// An action of any kind: what `Authorizer` decides about. Build one from a kind's
        /// action (`DealAction::Read.into()`); the functions taking `impl Into<Action>` accept
        /// those directly.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Action {
            $(
                #[doc = concat!("An action on `", stringify!($kind), "`.")]
                $kind($ty),
            )+
        }

        impl Action {
            /// The kind the action is about.
            pub const fn kind(self) -> Kind {
                match self {
                    $( Action::$kind(_) => Kind::$kind, )+
                }
            }

            /// The action as the policy spells it.
            pub const fn polar(self) -> &'static str {
                match self {
                    $( Action::$kind(action) => action.polar(), )+
                }
            }

            /// Position in [`Kind::actions`].
            pub(crate) const fn index(self) -> usize {
                match self {
                    $( Action::$kind(action) => action as usize, )+
                }
            }
        }

        impl Kind {
            /// The actions the engine precomputes for this kind, in table order.
            pub const fn actions(self) -> &'static [Action] {
                match self {
                    $( Kind::$kind => &[$(Action::$kind($ty::$variant)),+], )+
                }
            }
        }
    };
}

actions! {
    /// What may be done with a deal.
    Deal => DealAction {
        /// See the deal (and be able to list it).
        Read = "read",
        /// Create it; asked about the deal as it would be created (its owner).
        Create = "create",
        /// Change it.
        Update = "update",
        /// Delete it.
        Delete = "delete",
        /// Give it to another owner; asked about the deal before and after the change.
        Reassign = "reassign",
        /// Share it with another user.
        Share = "share",
        /// Include it in a bulk (CSV) export.
        Export = "export",
        /// See its `amount` (and have it count in money sums).
        ReadAmount = "read:amount",
        /// Change its `amount`.
        UpdateAmount = "update:amount",
    }
    /// What may be done with a company.
    Company => CompanyAction {
        /// See the company (and be able to list it).
        Read = "read",
        /// Create it; asked about the company as it would be created (its owner).
        Create = "create",
        /// Change it.
        Update = "update",
        /// Delete it.
        Delete = "delete",
        /// Include it in a bulk (CSV) export.
        Export = "export",
    }
    /// What may be done with a contact.
    Contact => ContactAction {
        /// See the contact (and be able to list it).
        Read = "read",
        /// Create it; asked about the contact as it would be created (its owner).
        Create = "create",
        /// Change it.
        Update = "update",
        /// Delete it.
        Delete = "delete",
        /// Include it in a bulk (CSV) export.
        Export = "export",
        /// Change its `notes`.
        UpdateNotes = "update:notes",
    }
    /// What may be done with an activity.
    Activity => ActivityAction {
        /// See the activity (and be able to list it).
        Read = "read",
        /// Log it; asked about the activity as it would be created.
        Create = "create",
        /// Change it.
        Update = "update",
        /// Mark it completed.
        Complete = "complete",
        /// Delete it.
        Delete = "delete",
        /// Include it in a bulk (CSV) export.
        Export = "export",
    }
    /// What may be done with a user's directory record.
    User => UserAction {
        /// See the user (and be able to list them).
        Read = "read",
        /// Create a user.
        Create = "create",
        /// Change the user's directory record.
        Update = "update",
        /// Change the user's role.
        UpdateRole = "update_role",
        /// Move the user to another team.
        UpdateTeam = "update_team",
        /// Deactivate (or reactivate) the user.
        Deactivate = "deactivate",
        /// Reset the user's password.
        ResetPassword = "reset_password",
    }
    /// What may be done with teams (decided by role alone).
    Team => TeamAction {
        /// See teams.
        Read = "read",
        /// Create a team.
        Create = "create",
        /// Change a team.
        Update = "update",
    }
    /// What may be done with the audit log (decided by role alone).
    AuditLog => AuditLogAction {
        /// Read it.
        Read = "read",
    }
    /// Bulk exports (decided by role alone; which rows an export contains is the `export`
    /// action on each record kind).
    Export => ExportAction {
        /// Start an export.
        Create = "create",
    }
}

impl Action {
    /// The action of `kind` the policy spells `name`, if the kind has one.
    pub fn named(kind: Kind, name: &str) -> Option<Action> {
        kind.actions().iter().copied().find(|a| a.polar() == name)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.polar())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_know_their_kind_and_place() {
        for kind in Kind::ALL {
            for (i, &action) in kind.actions().iter().enumerate() {
                assert_eq!(action.kind(), kind);
                assert_eq!(action.index(), i);
                assert_eq!(Action::named(kind, action.polar()), Some(action));
            }
        }
        assert_eq!(Action::from(DealAction::ReadAmount).polar(), "read:amount");
        assert_eq!(DealAction::KIND, Kind::Deal);
        assert_eq!(Action::named(Kind::Deal, "fly"), None);
        assert_eq!(Action::named(Kind::Export, "read"), None);
    }
}
