//! The default policy, compiled into the binary: used when `CRM_POLICY_DIR` is left at its
//! default and there is no `policies/` directory where the server starts (say, a release
//! binary copied elsewhere). Editing the policy means pointing `CRM_POLICY_DIR` at a copy
//! of `policies/`.

/// `(file name, Polar source)` of every file in `policies/` at build time.
pub const DEFAULT_POLICY: &[(&str, &str)] = &[
    (
        "activity.polar",
        include_str!("../../../policies/activity.polar"),
    ),
    (
        "audit_log.polar",
        include_str!("../../../policies/audit_log.polar"),
    ),
    (
        "automation.polar",
        include_str!("../../../policies/automation.polar"),
    ),
    (
        "company.polar",
        include_str!("../../../policies/company.polar"),
    ),
    (
        "contact.polar",
        include_str!("../../../policies/contact.polar"),
    ),
    ("deal.polar", include_str!("../../../policies/deal.polar")),
    (
        "export.polar",
        include_str!("../../../policies/export.polar"),
    ),
    ("main.polar", include_str!("../../../policies/main.polar")),
    ("team.polar", include_str!("../../../policies/team.polar")),
    ("user.polar", include_str!("../../../policies/user.polar")),
];
