# Deals.
#
# A user's relationship to a deal is one of these roles, from least to most:
#   viewer        reads it (a sales rep's teammate's deal; a deal shared "view")
#   editor        also changes it and sees and changes its amount (shared "edit")
#   owner         also shares it; a deal may be created with its owner being you
#   team_manager  a manager over the owner: also deletes, reassigns, exports it
#   admin         everything
# Each role includes the ones above it.
resource Deal {
    permissions = [
        "read", "create", "update", "delete", "reassign", "share", "export",
        "read:amount", "update:amount"
    ];
    roles = ["viewer", "editor", "owner", "team_manager", "admin"];

    "read" if "viewer";

    "update" if "editor";
    "read:amount" if "editor";
    "update:amount" if "editor";
    "viewer" if "editor";

    # "create" is asked about the deal as it would be created: reps create
    # deals for themselves, managers for themselves and their team members.
    "create" if "owner";
    "share" if "owner";
    "editor" if "owner";

    # "reassign" is asked about the deal before and after the new owner is
    # set, so a manager reassigns only within their teams.
    "reassign" if "team_manager";
    "delete" if "team_manager";
    "export" if "team_manager";
    "owner" if "team_manager";

    "team_manager" if "admin";
}

# Sales reps see their teammates' deals, read-only.
has_role(user: User, "viewer", deal: Deal) if
    user.role = "sales_rep" and deal.in_team_of(user);

# A share makes a viewer or an editor, whatever the user's role.
has_role(user: User, "viewer", deal: Deal) if
    deal.shared_with(user, "view");
has_role(user: User, "editor", deal: Deal) if
    deal.shared_with(user, "edit");

# The owner. Owning a deal does not let a sales rep delete it: reps never
# delete anything.
has_role(user: User, "owner", deal: Deal) if
    deal.owned_by(user);

# Managers manage the deals of their teams' members, and their own.
has_role(user: User, "team_manager", deal: Deal) if
    user.role = "manager" and
    (deal.in_team_of(user) or deal.owned_by(user));
