//! Shared helpers of the authorization tests: the default policy, and the two SQL halves of
//! the fast path (scope membership and the facts-mask column).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use api::authz::{Action, Authorizer, FACTS_COLUMN, Fact, FactMask, Kind, Viewer};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use uuid::Uuid;

/// The checked-in policy directory.
pub fn policy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

/// A copy of the policy directory with `appended` text added to the named files, for a
/// server started with an edited policy (`policy_dir`).
pub fn policy_dir_with(appended: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(policy_dir()).expect("policies") {
        let path = entry.expect("entry").path();
        let file = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default()
            .to_owned();
        let mut text = std::fs::read_to_string(&path).expect("policy file");
        for (name, extra) in appended {
            if *name == file {
                text.push_str(extra);
            }
        }
        std::fs::write(dir.path().join(&file), text).expect("write policy");
    }
    dir
}

/// The default policy, compiled once per test binary.
pub static DEFAULT: LazyLock<Authorizer> =
    LazyLock::new(|| Authorizer::load(&policy_dir()).unwrap_or_else(|e| panic!("{e}")));

/// The default policy with `edit` applied to the file ending in `file` (`replace` → `with`,
/// or appended when `replace` is empty).
pub fn edited_policy(file: &str, replace: &str, with: &str) -> Authorizer {
    let mut sources = Authorizer::read_sources(&policy_dir()).expect("read policies");
    let source = sources
        .iter_mut()
        .find(|s| s.name.ends_with(file))
        .unwrap_or_else(|| panic!("no {file}"));
    if replace.is_empty() {
        source.text.push_str(with);
    } else {
        assert!(source.text.contains(replace), "{file} has no {replace:?}");
        source.text = source.text.replacen(replace, with, 1);
    }
    let pairs: Vec<(&str, &str)> = sources
        .iter()
        .map(|s| (s.name.as_str(), s.text.as_str()))
        .collect();
    Authorizer::from_sources(&pairs).unwrap_or_else(|e| panic!("{e}"))
}

fn table(kind: Kind) -> &'static str {
    kind.table()
        .unwrap_or_else(|| panic!("{kind} has no table"))
}

/// Ids of the rows of `kind` selected by `condition`.
pub async fn ids_where(db: &DatabaseConnection, kind: Kind, condition: Condition) -> HashSet<Uuid> {
    let t = table(kind);
    let select = Query::select()
        .column((t, "id"))
        .from(t)
        .cond_where(condition)
        .to_owned();
    db.query_all(&select)
        .await
        .unwrap_or_else(|e| panic!("scope query on {t}: {e}"))
        .iter()
        .map(|row| row.try_get::<Uuid>("", "id").expect("id"))
        .collect()
}

/// Ids of the rows (of the action's kind) in the SQL scope of (viewer, action).
pub async fn scoped_ids(
    db: &DatabaseConnection,
    authz: &Authorizer,
    viewer: &Viewer,
    action: impl Into<Action>,
) -> HashSet<Uuid> {
    let action = action.into();
    let kind = action.kind();
    let ids = ids_where(db, kind, authz.scope(viewer, action)).await;
    // Both shapes of the scope select the same rows.
    let aggregate = ids_where(db, kind, authz.aggregate_scope(viewer, action)).await;
    assert_eq!(
        ids, aggregate,
        "{kind:?} {action}: page and aggregate scopes differ"
    );
    // The disjoint parts counts add up: each row in exactly one part, none outside.
    let mut parts = HashSet::new();
    for part in authz.disjoint_scopes(viewer, action, db.get_database_backend()) {
        for id in ids_where(db, kind, part).await {
            assert!(
                parts.insert(id),
                "{kind:?} {action}: row {id} is in two disjoint parts"
            );
        }
    }
    assert_eq!(ids, parts, "{kind:?} {action}: the disjoint parts differ");
    ids
}

/// The facts mask of every row of `kind`, as selected by SQL.
pub async fn masks(
    db: &DatabaseConnection,
    authz: &Authorizer,
    viewer: &Viewer,
    kind: Kind,
) -> HashMap<Uuid, FactMask> {
    let t = table(kind);
    let select = Query::select()
        .column((t, "id"))
        .expr_as(authz.facts_expr(viewer, kind), FACTS_COLUMN)
        .from(t)
        .to_owned();
    db.query_all(&select)
        .await
        .unwrap_or_else(|e| panic!("mask query on {t}: {e}"))
        .iter()
        .map(|row| {
            let id = row.try_get::<Uuid>("", "id").expect("id");
            let mask = row.try_get::<i32>("", FACTS_COLUMN).expect("mask");
            (id, FactMask::from_column(mask.into()))
        })
        .collect()
}

/// The fast path for one record: whether the SQL scope lists it, and whether the compiled
/// table allows it given its SQL facts mask. The two must agree; the answer is returned.
pub async fn fast_path(
    db: &DatabaseConnection,
    authz: &Authorizer,
    viewer: &Viewer,
    action: impl Into<Action>,
    id: Uuid,
) -> bool {
    let action = action.into();
    let kind = action.kind();
    let t = table(kind);
    let only = Condition::all().add(Expr::col((t, "id")).eq(id));
    let listed = !ids_where(db, kind, only.clone().add(authz.scope(viewer, action)))
        .await
        .is_empty();
    let select = Query::select()
        .expr_as(authz.facts_expr(viewer, kind), FACTS_COLUMN)
        .from(t)
        .cond_where(only)
        .to_owned();
    let row = db
        .query_one(&select)
        .await
        .expect("mask query")
        .unwrap_or_else(|| panic!("no {kind} {id}"));
    let mask = FactMask::from_column(row.try_get::<i32>("", FACTS_COLUMN).expect("mask").into());
    let decided = authz.decide(viewer.role, action, mask);
    assert_eq!(
        listed, decided,
        "{kind} {id}, {action:?} for {:?}: the SQL scope says {listed}, the facts mask \
         {mask:?} says {decided}",
        viewer.role
    );
    listed
}

/// The relation loaders' shortcut: a company or contact reached from a deal the viewer
/// may read is "linked to a readable deal", so its scope and facts mask may be built with
/// that fact fixed (`Authorizer::scope_knowing`). Over the records `linked` to readable
/// deals, that must select the same rows with the same facts masks as the plain scope
/// and mask; returns the differences.
pub async fn knowing_linked_agrees(
    db: &DatabaseConnection,
    authz: &Authorizer,
    viewer: &Viewer,
    read: impl Into<Action>,
    linked: &HashSet<Uuid>,
) -> Vec<String> {
    let read = read.into();
    let kind = read.kind();
    let t = table(kind);
    let known = FactMask::NONE.with(kind, Fact::LinkedToReadableDeal, true);
    let among = || Condition::all().add(Expr::col((t, "id")).is_in(linked.iter().copied()));
    let plain = ids_where(db, kind, among().add(authz.scope(viewer, read))).await;
    let knowing = ids_where(
        db,
        kind,
        among().add(authz.scope_knowing(viewer, read, known)),
    )
    .await;
    let mut wrong = Vec::new();
    if plain != knowing {
        wrong.push(format!(
            "{:?} {kind}: knowing the link selects {knowing:?}, the scope {plain:?}",
            viewer.role
        ));
    }
    let all = masks(db, authz, viewer, kind).await;
    let select = Query::select()
        .column((t, "id"))
        .expr_as(authz.facts_expr_knowing(viewer, kind, known), FACTS_COLUMN)
        .from(t)
        .cond_where(among())
        .to_owned();
    for row in db.query_all(&select).await.expect("masks knowing the link") {
        let id = row.try_get::<Uuid>("", "id").expect("id");
        let mask =
            FactMask::from_column(row.try_get::<i32>("", FACTS_COLUMN).expect("mask").into());
        if all.get(&id) != Some(&mask) {
            wrong.push(format!(
                "{:?} {kind} {id}: mask knowing the link {mask:?}, plain {:?}",
                viewer.role,
                all.get(&id)
            ));
        }
    }
    wrong
}
