# Starting a bulk (CSV) export. Which rows it contains is the "export"
# permission on each record (deal.polar, company.polar, ...): a manager's
# export holds their teams' data, an admin's everything. The server caps an
# export at 1,000 rows and records it in the audit log.
resource Export {
    permissions = ["create"];
    roles = ["admin"];

    "create" if "admin";
}

has_permission(user: User, "create", _export: Export) if
    user.role = "manager";
