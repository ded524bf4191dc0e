# Users as directory records (id, name, email, role, team), and their
# administration.
resource User {
    permissions = [
        "read", "create", "update", "update_role", "update_team", "deactivate",
        "reset_password"
    ];
    roles = ["admin"];

    "read" if "admin";
    "create" if "admin";
    "update" if "admin";
    "update_role" if "admin";
    "update_team" if "admin";
    "deactivate" if "admin";
    "reset_password" if "admin";
}

# Everyone sees the active users, and themselves.
has_permission(_user: User, "read", target: User) if
    target.active;
has_permission(user: User, "read", target: User) if
    target.is_self(user);

# Managers also see deactivated users.
has_permission(user: User, "read", _target: User) if
    user.role = "manager";
