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

// Each kind's actions as `Variant = "how the policy spells it"`; the type's doc says what
// each one means.
actions! {
    /// What may be done with a deal: see (and list) it; create it (asked about the deal as it
    /// would be created: its owner); change; delete; give it to another owner (asked about the
    /// deal before and after); share it with another user; include it in a bulk (CSV) export;
    /// see its `amount` (and have it count in money sums); change its `amount`.
    Deal => DealAction {
        Read = "read", Create = "create", Update = "update", Delete = "delete",
        Reassign = "reassign", Share = "share", Export = "export",
        ReadAmount = "read:amount", UpdateAmount = "update:amount",
    }
    /// What may be done with a company: see (and list), create (asked about the company as
    /// it would be created: its owner), change, delete, include it in a bulk export.
    Company => CompanyAction {
        Read = "read", Create = "create", Update = "update", Delete = "delete", Export = "export",
    }
    /// What may be done with a contact: as with a company, and change its `notes`.
    Contact => ContactAction {
        Read = "read", Create = "create", Update = "update", Delete = "delete", Export = "export",
        UpdateNotes = "update:notes",
    }
    /// What may be done with an activity: see (and list), log (asked about the activity as it
    /// would be created), change, mark completed, delete, include it in a bulk export.
    Activity => ActivityAction {
        Read = "read", Create = "create", Update = "update", Complete = "complete",
        Delete = "delete", Export = "export",
    }
    /// What may be done with a user's directory record: see (and list) them, create a user,
    /// change the record, change their role, move them to another team, deactivate (or
    /// reactivate) them, reset their password.
    User => UserAction {
        Read = "read", Create = "create", Update = "update", UpdateRole = "update_role",
        UpdateTeam = "update_team", Deactivate = "deactivate", ResetPassword = "reset_password",
    }
    /// What may be done with teams (decided by role alone): see, create, change.
    Team => TeamAction {
        Read = "read", Create = "create", Update = "update",
    }
    /// What may be done with the audit log (decided by role alone): read it.
    AuditLog => AuditLogAction {
        Read = "read",
    }
    /// Bulk exports (decided by role alone; which rows an export contains is the `export`
    /// action on each record kind): start one.
    Export => ExportAction {
        Create = "create",
    }
    /// Workflow automations (decided by role alone): see them and their runs, set them up.
    Automation => AutomationAction {
        Read = "read", Manage = "manage",
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
