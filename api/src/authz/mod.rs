//! Authorization: the Oso policy (`policies/*.polar`) compiled into per-role fact tables and
//! SQL scopes.
//!
//! Every decision is a function of the viewer's role, the action and a few actor-relative
//! boolean facts about the record (`deal.owned_by(user)`, `deal.in_team_of(user)`, …). Each
//! fact is defined once, in its kind's table in `facts.rs` (Polar spelling, SQL and Rust
//! check side by side); each kind's actions are a type ([`DealAction`], …). At load time the policy is asked about every role × kind × action × fact
//! combination with synthetic instances, and the answers are stored as truth tables. Then:
//! - a per-row decision is a table lookup on the row's [`FactMask`] ([`Authorizer::decide`]);
//! - a list's `WHERE` is the minimised table with each fact replaced by its SQL
//!   ([`Authorizer::scope`]), so pagination, counts and sums are exact;
//! - the same fact SQL, summed into one integer column ([`Authorizer::facts_expr`]), gives
//!   every listed row its mask so fields and `viewerCan` are decided per row without Oso.
//!
//! The policy files stay the single source of truth: nothing here knows what a role may do.
//! `docs/authorization.md` describes the facts a policy may use and how to add one.
//!
//! Fail closed: a policy that does not load, or that errors on any question while compiling,
//! is not an `Authorizer`; a mask that does not fit the kind denies (and an action the engine
//! does not know cannot be written).

mod actions;
pub mod builtin;
mod compile;
mod facts;
mod minimize;
mod model;
mod polar;
mod policy;
mod sql;
mod viewer;

use std::path::Path;
use std::sync::Arc;

use entity::enums::Role;
use entity::user;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, SelectStatement};

pub use actions::{
    Action, ActivityAction, AuditLogAction, AutomationAction, CompanyAction, ContactAction,
    DealAction, ExportAction, TeamAction, UserAction,
};
pub use facts::{
    ActivityFacts, CompanyFacts, ContactFacts, DealFacts, Fact, FactDef, RecordFacts, UserFacts,
};
pub use minimize::{Cube, Dnf, minimize, table_of};
pub use model::{FactMask, Kind};
pub use polar::{
    FactError, PolarActivity, PolarAuditLog, PolarAutomation, PolarCompany, PolarContact,
    PolarDeal, PolarExport, PolarRecord, PolarResource, PolarTeam, PolarUser, RealUser,
};
pub use policy::{PolicyError, PolicySource};
pub use sql::{Shape, any_of};
pub use viewer::{Origin, Viewer};

use compile::Compiled;
use model::role_name;

/// Ids of compiled policies, for viewers' caches.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The name of the facts-mask column services select next to a row (see
/// [`Authorizer::facts_expr`]).
pub const FACTS_COLUMN: &str = "authz_facts";

/// The compiled policy. Cheap to clone, `Send + Sync`; decisions are synchronous and never
/// touch Oso after loading.
#[derive(Clone)]
pub struct Authorizer {
    inner: Arc<Compiled>,
    /// Distinguishes this compiled policy in viewers' caches of built SQL.
    id: u64,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("files", &self.inner.files)
            .finish_non_exhaustive()
    }
}

impl Authorizer {
    /// Loads every `*.polar` file of `dir` (in file-name order) and compiles the policy.
    /// Errors name the file and line.
    pub fn load(dir: &Path) -> Result<Self, PolicyError> {
        Self::compile(policy::read_dir(dir)?)
    }

    /// Compiles a policy given as `(file name, Polar text)` pairs, e.g. a default policy
    /// edited in a test.
    pub fn from_sources(sources: &[(&str, &str)]) -> Result<Self, PolicyError> {
        Self::compile(
            sources
                .iter()
                .map(|(name, text)| PolicySource {
                    name: (*name).to_owned(),
                    text: (*text).to_owned(),
                })
                .collect(),
        )
    }

    /// The policy files of `dir`, read but not loaded (to edit them in memory).
    pub fn read_sources(dir: &Path) -> Result<Vec<PolicySource>, PolicyError> {
        policy::read_dir(dir)
    }

    fn compile(sources: Vec<PolicySource>) -> Result<Self, PolicyError> {
        Ok(Self {
            inner: compile::compile_sources(sources)?,
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// The loaded Oso instance (for direct queries; decisions never use it).
    pub fn oso(&self) -> &oso::Oso {
        &self.inner.oso
    }

    /// The files the policy was loaded from.
    pub fn files(&self) -> &[String] {
        &self.inner.files
    }

    /// A hash of the policy's files (names and text): equal on every instance running the
    /// same policy, different after an edit.
    pub fn fingerprint(&self) -> &str {
        &self.inner.fingerprint
    }

    /// May a `role` do `action` on a record (of the action's kind) whose facts (relative to
    /// the viewer) are `facts`? Masks that do not fit the kind deny.
    pub fn decide(&self, role: Role, action: impl Into<Action>, facts: FactMask) -> bool {
        let action = action.into();
        let kind = action.kind();
        facts.fits(kind)
            && self.inner.tables.truth(role, kind, action.index()) >> facts.bits() & 1 == 1
    }

    /// Like [`Authorizer::decide`] when some facts are unknown: allowed only if allowed
    /// whatever the `unknown` facts are (the bits of `facts` under `unknown` are ignored).
    pub fn decide_regardless(
        &self,
        role: Role,
        action: impl Into<Action>,
        facts: FactMask,
        unknown: FactMask,
    ) -> bool {
        let action = action.into();
        let unknown = unknown.bits();
        let known = facts.bits() & !unknown;
        // Every sub-mask of `unknown`, including zero.
        let mut sub = unknown;
        loop {
            if !self.decide(role, action, FactMask::from_bits(known | sub)) {
                return false;
            }
            if sub == 0 {
                return true;
            }
            sub = (sub - 1) & unknown;
        }
    }

    /// The decision when no fact holds: the whole answer for the role-only kinds (`Team`,
    /// `AuditLog`, `Export`, and e.g. `create` on `User`).
    pub fn allowed_without_facts(&self, role: Role, action: impl Into<Action>) -> bool {
        self.decide(role, action, FactMask::NONE)
    }

    /// Whether some record of `kind` could allow `action` to `role` (to decide whether to
    /// offer an action at all, e.g. a "New deal" button).
    pub fn allowed_for_some(&self, role: Role, action: impl Into<Action>) -> bool {
        let action = action.into();
        self.inner.tables.truth(role, action.kind(), action.index()) != 0
    }

    /// The SQL `WHERE` part selecting the rows of `kind` on which `viewer` may do `action`
    /// (`Entity::find().filter(authz.scope(&viewer, DealAction::Read))`), shaped
    /// for pages: facts that look into another table are correlated `EXISTS` probes, so the
    /// planner can walk the page's order index and stop at its `LIMIT`. Written against the
    /// kind's table name, unaliased. All-allowed is an empty condition, all-denied `1 = 0`.
    pub fn scope(&self, viewer: &Viewer, action: impl Into<Action>) -> Condition {
        self.shaped_scope(viewer, action.into(), Shape::Probe, FactMask::NONE)
    }

    /// The same rows as [`Authorizer::scope`] for a viewer who reads few of them, shaped so
    /// that `backend` reads them through the indexes of the scope's terms: on PostgreSQL
    /// the viewer's sets are arrays (`owner_id = ANY(ARRAY(…))`, index conditions a bitmap
    /// `OR` combines; `IN (SELECT …)` would test every row), elsewhere
    /// [`Authorizer::aggregate_scope`] (SQLite's multi-index `OR` serves `IN` sets).
    pub fn few_rows_scope(
        &self,
        viewer: &Viewer,
        action: impl Into<Action>,
        backend: sea_orm::DbBackend,
    ) -> Condition {
        self.shaped_scope(
            viewer,
            action.into(),
            Self::index_shape(backend),
            FactMask::NONE,
        )
    }

    /// The same rows as [`Authorizer::scope`], shaped for aggregates (counts, sums, reports)
    /// over everything the viewer may see: the viewer's shares are an uncorrelated
    /// `id IN (SELECT …)` read once, so every term of the scope can use an index and a
    /// viewer who sees few rows visits only those. (In a page ordered by another index,
    /// this shape makes SQLite collect and sort every readable row first: use `scope`.)
    pub fn aggregate_scope(&self, viewer: &Viewer, action: impl Into<Action>) -> Condition {
        self.shaped_scope(viewer, action.into(), Shape::Set, FactMask::NONE)
    }

    /// The rows of [`Authorizer::aggregate_scope`] as disjoint conditions, for counts that
    /// add up one indexed count per part (see `sql::disjoint_parts`), written for `backend`
    /// (each part's leading term as an index condition on PostgreSQL). Empty when the
    /// viewer may do `action` on no row; one empty condition when on every row.
    pub fn disjoint_scopes(
        &self,
        viewer: &Viewer,
        action: impl Into<Action>,
        backend: sea_orm::DbBackend,
    ) -> Vec<Condition> {
        let action = action.into();
        let key = viewer::BuiltKey::Parts(self.id, action, backend == sea_orm::DbBackend::Postgres);
        viewer
            .built
            .conditions(key, || match action.kind().table() {
                Some(table) => {
                    sql::disjoint_parts(&self.inner.tables, viewer, action, table, backend)
                        .into_iter()
                        .map(sql::Sql::into_condition)
                        .collect()
                }
                None if self.allowed_without_facts(viewer.role, action) => vec![Condition::all()],
                None => Vec::new(),
            })
    }

    /// [`Authorizer::scope`] for rows on which the facts of `known` hold (established by
    /// the caller: the company of a deal the viewer has just read is linked to a readable
    /// deal). The policy still decides: a known fact is one of its inputs, fixed.
    pub fn scope_knowing(
        &self,
        viewer: &Viewer,
        action: impl Into<Action>,
        known: FactMask,
    ) -> Condition {
        self.shaped_scope(viewer, action.into(), Shape::Probe, known)
    }

    /// The scope in `shape` with the facts of `known` fixed, built once per viewer.
    fn shaped_scope(
        &self,
        viewer: &Viewer,
        action: Action,
        shape: Shape,
        known: FactMask,
    ) -> Condition {
        let key = viewer::BuiltKey::Scope(self.id, action, shape, known.bits());
        viewer
            .built
            .condition(key, || self.build_scope(viewer, action, shape, known, None))
    }

    /// [`Authorizer::scope_knowing`] over the kind's table joined under `alias` (the related
    /// rows a page reads in its own statement, `service::related`). Not memoised: the
    /// memoised conditions name the kind's table.
    pub fn scope_knowing_as(
        &self,
        viewer: &Viewer,
        action: impl Into<Action>,
        known: FactMask,
        alias: &'static str,
    ) -> Condition {
        self.build_scope(viewer, action.into(), Shape::Probe, known, Some(alias))
    }

    fn build_scope(
        &self,
        viewer: &Viewer,
        action: Action,
        shape: Shape,
        known: FactMask,
        alias: Option<&'static str>,
    ) -> Condition {
        match action.kind().table() {
            Some(table) => {
                let table = alias.unwrap_or(table);
                sql::scope(&self.inner.tables, viewer, action, table, shape, known).into_condition()
            }
            None => {
                sql::Sql::Const(self.allowed_without_facts(viewer.role, action)).into_condition()
            }
        }
    }

    /// The facts of `kind` read from another table's row about the record and the viewer
    /// (a deal's shares), as a mask.
    pub fn lookup_facts(&self, kind: Kind) -> FactMask {
        FactMask::from_bits(
            (0..kind.fact_count())
                .filter(|&bit| sql::is_lookup(kind, bit))
                .fold(0, |mask, bit| mask | 1 << bit),
        )
    }

    /// [`Authorizer::aggregate_scope`] for rows on which no lookup fact holds (see
    /// [`Authorizer::lookup_facts`]): a condition on the row's own columns only (a deal's
    /// owner), for tables of totals grouped by those columns. The rows it misses or wrongly
    /// includes are among [`Authorizer::lookup_ids`], whose facts decide them one by one.
    /// In `shape`: [`Shape::Set`] where it is tested on every row (a `CASE` in a sum),
    /// [`Authorizer::index_shape`] in a `WHERE` that should read through an index.
    pub fn scope_without_lookups(
        &self,
        viewer: &Viewer,
        action: impl Into<Action>,
        shape: Shape,
    ) -> Condition {
        let action = action.into();
        match action.kind().table() {
            Some(table) => {
                sql::scope_without_lookups(&self.inner.tables, viewer, action, table, shape)
                    .into_condition()
            }
            None => {
                sql::Sql::Const(self.allowed_without_facts(viewer.role, action)).into_condition()
            }
        }
    }

    /// The shape in which `backend` reads a few rows through the indexes of a scope's
    /// terms: [`Shape::Index`] on PostgreSQL (the viewer's sets as arrays), [`Shape::Set`]
    /// elsewhere (SQLite's multi-index `OR` serves `IN` sets).
    pub fn index_shape(backend: sea_orm::DbBackend) -> Shape {
        match backend {
            sea_orm::DbBackend::Postgres => Shape::Index,
            _ => Shape::Set,
        }
    }

    /// The ids (`record_id`) of the records of `kind` on which some lookup fact may hold
    /// for `viewer` (the deals shared with them, to view or to edit); `None` for kinds
    /// without lookup facts.
    pub fn lookup_ids(&self, viewer: &Viewer, kind: Kind) -> Option<SelectStatement> {
        sql::lookup_ids(viewer, kind)
    }

    /// The condition under which a guarded field (an action such as `read:amount`) is
    /// allowed on a row, for use inside expressions evaluated on every row (aggregates, an
    /// amount filter or sort): `SUM(CASE WHEN <field_condition> THEN amount_cents ELSE 0
    /// END)`. Aggregate-shaped (the viewer's shares read once). Combine it with the `read`
    /// scope in the `WHERE`: a field is only ever shown on a readable row.
    pub fn field_condition(&self, viewer: &Viewer, field_action: impl Into<Action>) -> Condition {
        self.aggregate_scope(viewer, field_action)
    }

    /// An integer SQL expression giving each row of `kind` its [`FactMask`] relative to
    /// `viewer`; select it as [`FACTS_COLUMN`] and read it with [`FactMask::from_column`]
    /// (it is an SQL `integer` on every backend). Only facts some decision of the viewer's
    /// role depends on are computed ([`Authorizer::relevant_facts`]); the others read 0.
    pub fn facts_expr(&self, viewer: &Viewer, kind: Kind) -> Expr {
        self.facts_expr_knowing(viewer, kind, FactMask::NONE)
    }

    /// [`Authorizer::facts_expr`] for rows on which the facts of `known` hold (see
    /// [`Authorizer::scope_knowing`]): their bits are constants.
    pub fn facts_expr_knowing(&self, viewer: &Viewer, kind: Kind, known: FactMask) -> Expr {
        let key = viewer::BuiltKey::Facts(self.id, kind, known.bits());
        viewer
            .built
            .expr(key, || self.build_facts(viewer, kind, known, None))
    }

    /// [`Authorizer::facts_expr_knowing`] over the kind's table joined under `alias` (see
    /// [`Authorizer::scope_knowing_as`]).
    pub fn facts_expr_knowing_as(
        &self,
        viewer: &Viewer,
        kind: Kind,
        known: FactMask,
        alias: &'static str,
    ) -> Expr {
        self.build_facts(viewer, kind, known, Some(alias))
    }

    fn build_facts(
        &self,
        viewer: &Viewer,
        kind: Kind,
        known: FactMask,
        alias: Option<&'static str>,
    ) -> Expr {
        match kind.table() {
            Some(table) => {
                let table = alias.unwrap_or(table);
                sql::facts_mask(&self.inner.tables, viewer, kind, table, known)
            }
            None => Expr::val(0).cast_as("integer"),
        }
    }

    /// The facts at least one decision of `role` on `kind` depends on. Masks selected with
    /// [`Authorizer::facts_expr`] have the other bits at 0 (no decision changes); compare a
    /// mask computed in Rust with one from SQL under this mask.
    pub fn relevant_facts(&self, role: Role, kind: Kind) -> FactMask {
        self.inner.tables.relevant(role, kind)
    }

    /// The compiled rule for (role, kind, action) in words, e.g.
    /// `owned_by(user) OR in_team_of(user)`; `always` / `never` for constants.
    pub fn describe(&self, role: Role, action: impl Into<Action>) -> String {
        let action = action.into();
        let kind = action.kind();
        let dnf = self.inner.tables.dnf(role, kind, action.index());
        if dnf.is_empty() {
            return "never".to_owned();
        }
        if dnf.iter().any(|c| c.care == 0) {
            return "always".to_owned();
        }
        let terms: Vec<String> = dnf
            .iter()
            .map(|cube| {
                let lits: Vec<String> = cube
                    .iter()
                    .map(|(var, positive)| {
                        let name = facts::meaning(kind, var)
                            .map_or_else(|| format!("fact {var}"), |m| m.polar.to_string());
                        if positive {
                            name
                        } else {
                            format!("not {name}")
                        }
                    })
                    .collect();
                let joined = lits.join(" and ");
                if dnf.len() > 1 && lits.len() > 1 {
                    format!("({joined})")
                } else {
                    joined
                }
            })
            .collect();
        terms.join(" or ")
    }

    /// A summary of every compiled rule, one line per (role, kind, action).
    pub fn describe_all(&self) -> String {
        let mut out = String::new();
        for role in model::ROLES {
            for kind in Kind::ALL {
                for &action in kind.actions() {
                    out.push_str(&format!(
                        "{:<9} {:<8} {:<14} {}\n",
                        role_name(role),
                        kind.polar_class(),
                        action.polar(),
                        self.describe(role, action)
                    ));
                }
            }
        }
        out
    }

    /// May `viewer` do `action` on the directory record `target`?
    pub fn decide_user(&self, viewer: &Viewer, action: UserAction, target: &user::Model) -> bool {
        let facts = viewer.facts(&UserFacts::from(target));
        self.decide(viewer.role, action, facts)
    }
}

#[cfg(test)]
mod tests;
