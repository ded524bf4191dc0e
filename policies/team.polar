# Teams: decided by role alone.

resource Team {
    permissions = ["read", "create", "update"];
    roles = ["admin"];

    "create" if "admin";
    "update" if "admin";
}

# Everyone sees the teams.
has_permission(_user: User, "read", _team: Team);
