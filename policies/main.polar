# The CRM authorization policy: entry point.
#
# The server asks one question, allow(user, action, resource), and this file
# answers it with the permissions granted in the resource blocks of the other
# files (deal.polar, company.polar, ...). Every action the server asks about is
# listed in the `permissions` of its resource block.
#
# What a rule may look at (and nothing else; see docs/authorization.md):
#   user.role                       "sales_rep", "manager" or "admin"
#   deal.owned_by(user)             deal.in_team_of(user)
#   deal.shared_with(user, "view")  deal.shared_with(user, "edit")
#   company.owned_by(user)          company.in_team_of(user)
#   company.linked_to_readable_deal(user)        (same three for Contact)
#   activity.created_by(user)       activity.assigned_to(user)
#   activity.in_team_of(user)       activity.on_readable_record(user)
#   target.is_self(user)            target.active
#   target.in_team_of(user)         (target is a User in the directory)
#
# "Their team(s)": a sales rep's own team; for a manager, their own team and
# every team they manage. x.in_team_of(user) means x's owner (or creator or
# assignee) is a member of one of those teams.
#
# Anything not allowed here is denied, and so is any question the server did
# not foresee: unknown roles, actions or resources.

actor User {}

allow(user: User, action: String, resource: Resource) if
    has_permission(user, action, resource);

# Admins hold the "admin" role on every resource that declares it, and each
# resource block grants that role everything.
has_role(user: User, "admin", _resource: Resource) if
    user.role = "admin";
