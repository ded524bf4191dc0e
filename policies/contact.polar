# Contacts: the same rules as companies, and notes only their owner may write
# (everyone who reads a contact sees its notes).
resource Contact {
    permissions = ["read", "create", "update", "delete", "export", "update:notes"];
    roles = ["viewer", "owner", "team_manager", "admin"];

    "read" if "viewer";
    "viewer" if "owner";
    "viewer" if "team_manager";

    # "create" is asked about the contact as it would be created (its owner).
    "create" if "owner";
    "update" if "owner";

    "create" if "team_manager";
    "update" if "team_manager";
    "delete" if "team_manager";
    "export" if "team_manager";

    # Notes: the owner only (not the owner's manager).
    "update:notes" if "owner";

    "team_manager" if "admin";
    "owner" if "admin";
}

# Sales reps see their teammates' contacts.
has_role(user: User, "viewer", contact: Contact) if
    user.role = "sales_rep" and contact.in_team_of(user);

# Anyone who can read one of a contact's deals can read the contact.
has_role(user: User, "viewer", contact: Contact) if
    contact.linked_to_readable_deal(user);

has_role(user: User, "owner", contact: Contact) if
    contact.owned_by(user);

# Managers manage their teams' members' contacts, and their own.
has_role(user: User, "team_manager", contact: Contact) if
    user.role = "manager" and
    (contact.in_team_of(user) or contact.owned_by(user));
