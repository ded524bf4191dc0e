# Workflow automations (stage-change actions, reminders, digests, email and
# webhooks): seeing, setting up and changing them, and reading their runs, is
# for admins. What an automation does when it runs is decided record by record
# by the other files: a notification or email only goes to a user who may read
# the record, and its writes need the permissions of the user they act for.
resource Automation {
    permissions = ["read", "manage"];
    roles = ["admin"];

    "read" if "admin";
    "manage" if "admin";
}
