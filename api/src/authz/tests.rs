//! Unit tests of the engine: how Polar treats our fact methods, loading errors, fail-closed
//! behaviour, and the compiled default policy in words.

use entity::enums::Role;

use super::*;

fn default_policy() -> Authorizer {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies");
    Authorizer::load(Path::new(dir)).unwrap_or_else(|e| panic!("{e}"))
}

/// A tiny policy around the `Deal` class, to see how Polar treats boolean method results.
fn tiny(body: &str) -> Authorizer {
    let text = format!(
        "actor User {{}}\n\
         allow(user: User, action: String, deal: Deal) if action = \"read\" and {body};\n\
         has_role(_: User, _: String, _: Resource) if false;\n"
    );
    Authorizer::from_sources(&[("tiny.polar", &text)]).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn authorizer_is_send_and_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<Authorizer>();
}

#[test]
fn a_boolean_method_is_a_condition_on_its_own() {
    let a = tiny("deal.owned_by(user)");
    assert_eq!(
        a.describe(Role::SalesRep, DealAction::Read),
        "owned_by(user)"
    );
}

#[test]
fn comparing_a_boolean_method_with_true_is_the_same() {
    let a = tiny("deal.owned_by(user) = true");
    assert_eq!(
        a.describe(Role::SalesRep, DealAction::Read),
        "owned_by(user)"
    );
}

#[test]
fn not_negates_a_boolean_method() {
    let a = tiny("not deal.owned_by(user) and deal.in_team_of(user)");
    assert_eq!(
        a.describe(Role::SalesRep, DealAction::Read),
        "not owned_by(user) and in_team_of(user)"
    );
}

#[test]
fn a_method_without_parentheses_is_an_error_and_the_load_fails() {
    let text = "actor User {}\n\
                allow(user: User, _action: String, deal: Deal) if deal.owned_by;\n\
                has_role(_: User, _: String, _: Resource) if false;\n";
    let _ = "user unused";
    let err = Authorizer::from_sources(&[("x.polar", text)]);
    assert!(err.is_err());
}

#[test]
fn an_unknown_method_fails_the_load() {
    let text = "actor User {}\n\
                allow(user: User, _action: String, deal: Deal) if deal.is_hot(user);\n\
                has_role(_: User, _: String, _: Resource) if false;\n";
    let err = Authorizer::from_sources(&[("x.polar", text)]).unwrap_err();
    assert!(matches!(err, PolicyError::Evaluation { .. }), "{err}");
    assert!(err.to_string().contains("is_hot"), "{err}");
}

#[test]
fn an_unknown_share_permission_fails_the_load() {
    let text = "actor User {}\n\
                allow(user: User, _action: String, deal: Deal) if deal.shared_with(user, \"own\");\n\
                has_role(_: User, _: String, _: Resource) if false;\n";
    let err = Authorizer::from_sources(&[("x.polar", text)]).unwrap_err();
    assert!(err.to_string().contains("\"own\""), "{err}");
}

#[test]
fn reading_the_role_of_a_user_record_fails_the_load() {
    let text = "actor User {}\n\
                allow(_user: User, _action: String, target: User) if target.role = \"admin\";\n\
                has_role(_: User, _: String, _: Resource) if false;\n";
    let err = Authorizer::from_sources(&[("x.polar", text)]).unwrap_err();
    assert!(err.to_string().contains("role"), "{err}");
}

#[test]
fn a_fact_about_someone_else_fails_the_load() {
    let text = "actor User {}\n\
                allow(_user: User, _action: String, target: User) if target.is_self(target);\n\
                has_role(_: User, _: String, _: Resource) if false;\n";
    assert!(Authorizer::from_sources(&[("x.polar", text)]).is_err());
}

#[test]
fn a_syntax_error_reports_file_and_line() {
    let mut sources = Authorizer::read_sources(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../policies"
    )))
    .expect("read policies");
    let deal = sources
        .iter_mut()
        .find(|s| s.name.ends_with("deal.polar"))
        .expect("deal.polar");
    deal.text = deal
        .text
        .replacen("\"read\" if \"viewer\";", "\"read\" if \"viewer\"", 1);
    let line = deal
        .text
        .lines()
        .position(|l| l.contains("\"read\" if \"viewer\"") && !l.ends_with(';'))
        .expect("edited line")
        + 1;
    let pairs: Vec<(&str, &str)> = sources
        .iter()
        .map(|s| (s.name.as_str(), s.text.as_str()))
        .collect();
    let err = Authorizer::from_sources(&pairs).unwrap_err();
    let PolicyError::Load { file, line: at, .. } = &err else {
        panic!("{err}");
    };
    assert!(file.ends_with("deal.polar"), "{err}");
    // The parser notices on the next token, on this line or the next.
    assert!((line..=line + 2).contains(at), "{err} (edited line {line})");
}

#[test]
fn a_missing_directory_is_an_error() {
    let err = Authorizer::load(Path::new("/nonexistent/policies")).unwrap_err();
    assert!(matches!(err, PolicyError::ReadDir { .. }), "{err}");
}

#[test]
fn unknown_actions_and_bad_masks_deny() {
    let a = default_policy();
    // An action the engine does not know has no `Action`: it is never asked, hence denied.
    let fly = Action::named(Kind::Deal, "fly");
    assert!(!fly.is_some_and(|fly| a.decide(Role::Admin, fly, FactMask::NONE)));
    assert!(a.decide(Role::Admin, DealAction::Read, FactMask::NONE));
    assert!(!a.decide(Role::Admin, DealAction::Read, FactMask::INVALID));
    assert!(!a.decide(Role::Admin, DealAction::Read, FactMask::from_bits(16)));
    assert!(!fly.is_some_and(|fly| a.allowed_for_some(Role::Admin, fly)));
}

#[test]
fn decide_regardless_requires_every_completion() {
    let a = default_policy();
    let k = Kind::Deal;
    let owned = FactMask::NONE.with(k, Fact::OwnedBy, true);
    let team = FactMask::NONE.with(k, Fact::InTeamOf, true);
    // A rep reads an owned deal whatever the team fact is.
    assert!(a.decide_regardless(Role::SalesRep, DealAction::Read, owned, team));
    // Not a deal of unknown team.
    assert!(!a.decide_regardless(Role::SalesRep, DealAction::Read, FactMask::NONE, team));
}

#[test]
fn the_default_policy_compiles_to_the_design_table() {
    let a = default_policy();
    let d = |role, action: Action| a.describe(role, action);
    use Role::*;
    assert_eq!(
        d(SalesRep, DealAction::Read.into()),
        "owned_by(user) or in_team_of(user) or shared_with(user, \"view\") or \
         shared_with(user, \"edit\")"
    );
    assert_eq!(
        d(SalesRep, DealAction::Update.into()),
        "owned_by(user) or shared_with(user, \"edit\")"
    );
    assert_eq!(d(SalesRep, DealAction::Delete.into()), "never");
    assert_eq!(d(SalesRep, DealAction::Reassign.into()), "never");
    assert_eq!(
        d(Manager, DealAction::Delete.into()),
        "owned_by(user) or in_team_of(user)"
    );
    assert_eq!(d(Admin, DealAction::Delete.into()), "always");
    assert_eq!(
        d(SalesRep, DealAction::ReadAmount.into()),
        "owned_by(user) or shared_with(user, \"edit\")"
    );
    assert_eq!(
        d(SalesRep, ContactAction::UpdateNotes.into()),
        "owned_by(user)"
    );
    assert_eq!(
        d(Manager, ContactAction::UpdateNotes.into()),
        "owned_by(user)"
    );
    assert_eq!(
        d(SalesRep, UserAction::Read.into()),
        "is_self(user) or active"
    );
    assert_eq!(d(Manager, UserAction::Read.into()), "always");
    for action in [
        UserAction::Create,
        UserAction::Update,
        UserAction::UpdateRole,
        UserAction::UpdateTeam,
        UserAction::Deactivate,
        UserAction::ResetPassword,
    ] {
        let action = Action::from(action);
        assert_eq!(d(SalesRep, action), "never");
        assert_eq!(d(Manager, action), "never");
        assert_eq!(d(Admin, action), "always");
    }
    assert_eq!(d(Manager, AuditLogAction::Read.into()), "never");
    assert_eq!(d(Admin, AuditLogAction::Read.into()), "always");
    assert_eq!(d(SalesRep, ExportAction::Create.into()), "never");
    assert_eq!(d(Manager, ExportAction::Create.into()), "always");
    assert_eq!(d(SalesRep, TeamAction::Read.into()), "always");
    assert_eq!(d(SalesRep, TeamAction::Create.into()), "never");
}

#[test]
fn loading_the_same_text_twice_reuses_the_compilation() {
    let a = default_policy();
    let b = default_policy();
    assert!(Arc::ptr_eq(&a.inner, &b.inner));
}

fn sql(a: &Authorizer, viewer: &Viewer, action: impl Into<Action>) -> (String, String) {
    use sea_orm::sea_query::{PostgresQueryBuilder, Query};
    let action = action.into();
    let kind = action.kind();
    let t = kind.table().expect("table");
    let scope = Query::select()
        .column((t, "id"))
        .from(t)
        .cond_where(a.scope(viewer, action))
        .to_owned()
        .to_string(PostgresQueryBuilder);
    let mask = Query::select()
        .expr(a.facts_expr(viewer, kind))
        .from(t)
        .to_owned()
        .to_string(PostgresQueryBuilder);
    (scope, mask)
}

#[test]
fn scopes_use_indexable_shapes_and_bound_values() {
    let a = default_policy();
    let me = uuid::Uuid::from_u128(0xAAAA);
    let team = uuid::Uuid::from_u128(0xBBBB);
    let rep = Viewer::new(me, Role::SalesRep, [team]);
    let (scope, mask) = sql(&a, &rep, DealAction::Read);
    let me_lit = format!("'{me}'");
    for part in [
        format!("\"deals\".\"owner_id\" = {me_lit}"),
        "\"deals\".\"owner_id\" IN (SELECT \"authz_users\".\"id\" FROM \"users\"".to_owned(),
    ] {
        assert!(scope.contains(&part), "{part}\nnot in\n{scope}");
        assert!(mask.contains(&part), "{part}\nnot in\n{mask}");
    }
    // The page scope probes the viewer's share of each visited row (correlated EXISTS on
    // the unique (deal_id, user_id) index); the aggregate scope reads the viewer's shares
    // once (uncorrelated IN, no per-row probe); the mask reads the one share row of (deal,
    // viewer) once for both share facts. The two share terms (to view, to edit) test the
    // same share row: one subquery with both values, not one each.
    let probe = "EXISTS(SELECT \"authz_shares\".\"deal_id\" FROM \"deal_shares\" AS \"authz_shares\" WHERE \"authz_shares\".\"user_id\" = ";
    let correlated = "AND \"authz_shares\".\"deal_id\" = \"deals\".\"id\")";
    let both = "\"authz_shares\".\"permission\" IN ('view', 'edit')";
    assert_eq!(scope.matches(probe).count(), 1, "{scope}");
    assert!(
        scope.contains(correlated) && scope.contains(both),
        "{scope}"
    );
    let aggregate = {
        use sea_orm::sea_query::{PostgresQueryBuilder, Query};
        Query::select()
            .column(("deals", "id"))
            .from("deals")
            .cond_where(a.aggregate_scope(&rep, DealAction::Read))
            .to_owned()
            .to_string(PostgresQueryBuilder)
    };
    let set = "\"deals\".\"id\" IN (SELECT \"authz_shares\".\"deal_id\" FROM \"deal_shares\" AS \"authz_shares\" WHERE \"authz_shares\".\"user_id\" = ";
    assert_eq!(aggregate.matches(set).count(), 1, "{aggregate}");
    assert!(aggregate.contains(both), "{aggregate}");
    assert!(!aggregate.contains("EXISTS"), "{aggregate}");
    assert!(!aggregate.contains(correlated), "{aggregate}");
    assert!(!mask.contains("EXISTS"), "{mask}");
    assert_eq!(mask.matches("FROM \"deal_shares\"").count(), 1, "{mask}");
    // Values are parameters (rendered inline only by to_string).
    let (stmt, values) = {
        use sea_orm::sea_query::{PostgresQueryBuilder, Query};
        Query::select()
            .column(("deals", "id"))
            .from("deals")
            .cond_where(a.scope(&rep, DealAction::Read))
            .to_owned()
            .build(PostgresQueryBuilder)
    };
    assert!(!stmt.contains(&me.to_string()), "{stmt}");
    assert!(values.0.len() >= 4, "{values:?}");

    // A rep without a team: the team fact folds away.
    let loner = Viewer::new(me, Role::SalesRep, []);
    let (scope, _) = sql(&a, &loner, DealAction::Read);
    assert!(!scope.contains("authz_users"), "{scope}");

    // Admins: no filter, and no fact is computed.
    let admin = Viewer::new(me, Role::Admin, [team]);
    for read in [
        Action::from(DealAction::Read),
        CompanyAction::Read.into(),
        ContactAction::Read.into(),
        ActivityAction::Read.into(),
        UserAction::Read.into(),
    ] {
        let (scope, mask) = sql(&a, &admin, read);
        assert!(scope.ends_with("WHERE TRUE"), "{scope}");
        assert!(mask.starts_with("SELECT CAST(0 AS integer)"), "{mask}");
    }

    // Never allowed: a false condition.
    let (scope, _) = sql(&a, &rep, DealAction::Delete);
    assert!(scope.ends_with("WHERE 1 = 0"), "{scope}");
    // An unknown action cannot be asked (there is no `Action` for it), so has no scope.
    assert!(Action::named(Kind::Deal, "fly").is_none());
}

#[test]
fn related_readability_nests_the_related_read_scope() {
    let a = default_policy();
    let me = uuid::Uuid::from_u128(0xAAAA);
    let rep = Viewer::new(me, Role::SalesRep, []);
    let (scope, _) = sql(&a, &rep, CompanyAction::Read);
    assert!(
        scope.contains(
            "EXISTS(SELECT 1 FROM \"deals\" AS \"authz_deals\" WHERE \"authz_deals\".\"company_id\" = \"companies\".\"id\" AND"
        ),
        "{scope}"
    );
    let (scope, _) = sql(&a, &rep, ActivityAction::Read);
    for table in ["deals", "companies", "contacts"] {
        assert!(
            scope.contains(&format!("FROM \"{table}\" AS \"authz_{table}\"")),
            "{scope}"
        );
    }
}

#[test]
fn a_request_viewer_builds_each_scope_once_and_per_policy() {
    use sea_orm::sea_query::{Alias, PostgresQueryBuilder, Query};
    let sql = |c: Condition| {
        Query::select()
            .column(Alias::new("id"))
            .from(Alias::new("deals"))
            .cond_where(c)
            .to_string(PostgresQueryBuilder)
    };
    let policy = default_policy();
    let viewer = Viewer::new(uuid::Uuid::new_v4(), Role::SalesRep, [uuid::Uuid::new_v4()]);
    let first = sql(policy.scope(&viewer, DealAction::Read));
    assert_eq!(viewer.built.len(), 1);
    // A clone is the same request's viewer: nothing new is built, the same SQL comes back.
    let again = sql(policy.scope(&viewer.clone(), DealAction::Read));
    assert_eq!((viewer.built.len(), &again), (1, &first));
    policy.aggregate_scope(&viewer, DealAction::Read);
    policy.facts_expr(&viewer, Kind::Deal);
    assert_eq!(viewer.built.len(), 3);
    // Another policy asked about the same viewer builds its own scope.
    let owners_only = tiny("deal.owned_by(user)");
    let other = sql(owners_only.scope(&viewer, DealAction::Read));
    assert_ne!(other, first);
    assert_eq!(viewer.built.len(), 4);
    // A new viewer (a new request) starts empty.
    assert_eq!(Viewer::new(viewer.user_id, viewer.role, []).built.len(), 0);
}
