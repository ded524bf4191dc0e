# The audit log: admins only.

resource AuditLog {
    permissions = ["read"];
    roles = ["admin"];

    "read" if "admin";
}
