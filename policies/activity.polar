# Activities: calls, emails, meetings, notes and tasks.
#
#   viewer        reads it (it is on a deal, company or contact they can read)
#   participant   its creator or assignee: reads, updates and completes it
#   team_manager  a manager over its creator or assignee: also deletes, exports
#   admin         everything
resource Activity {
    permissions = ["read", "create", "update", "complete", "delete", "export"];
    roles = ["viewer", "participant", "team_manager", "admin"];

    "read" if "viewer";
    "viewer" if "participant";

    # Logging an activity: as its creator (the server sets the creator to the
    # user logging it; the records it is attached to must be readable).
    "create" if "participant";
    "update" if "participant";
    "complete" if "participant";

    "delete" if "team_manager";
    "export" if "team_manager";
    "participant" if "team_manager";

    "team_manager" if "admin";
}

# Whoever can read the deal, company or contact sees its activities.
has_role(user: User, "viewer", activity: Activity) if
    activity.on_readable_record(user);

has_role(user: User, "participant", activity: Activity) if
    activity.created_by(user) or activity.assigned_to(user);

# Managers manage their teams' activities (created by or assigned to a member).
has_role(user: User, "team_manager", activity: Activity) if
    user.role = "manager" and activity.in_team_of(user);
