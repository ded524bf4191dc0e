# Companies. Contacts (contact.polar) follow the same rules, plus notes.
#
# Roles a user can hold on a company:
#   viewer        reads it
#   owner         the owner: reads, creates (as its owner) and updates it
#   team_manager  a manager over the owner: also deletes and exports it
#   admin         everything
resource Company {
    permissions = ["read", "create", "update", "delete", "export"];
    roles = ["viewer", "owner", "team_manager", "admin"];

    "read" if "viewer";
    "viewer" if "owner";
    "viewer" if "team_manager";

    # "create" is asked about the company as it would be created (its owner).
    "create" if "owner";
    "update" if "owner";

    "create" if "team_manager";
    "update" if "team_manager";
    "delete" if "team_manager";
    "export" if "team_manager";

    "team_manager" if "admin";
    "owner" if "admin";
}

# Sales reps see their teammates' companies.
has_role(user: User, "viewer", company: Company) if
    user.role = "sales_rep" and company.in_team_of(user);

# Anyone who can read one of a company's deals can read the company.
has_role(user: User, "viewer", company: Company) if
    company.linked_to_readable_deal(user);

has_role(user: User, "owner", company: Company) if
    company.owned_by(user);

# Managers manage their teams' members' companies, and their own.
has_role(user: User, "team_manager", company: Company) if
    user.role = "manager" and
    (company.in_team_of(user) or company.owned_by(user));
