//! Compiled decisions as SQL conditions, and the building blocks of the facts' SQL.
//!
//! Each fact of a kind is a boolean SQL expression over that kind's table, relative to the
//! viewer (whose id and team ids are bound parameters), as its row in `facts.rs` says with the
//! blocks of [`Row`]. A compiled DNF becomes `OR`s of `AND`s of those expressions; facts that
//! are constant for this viewer (no teams, say) are folded away. Every expression is
//! two-valued (never `NULL`), so `NOT fact` is exact.

use sea_orm::sea_query::{
    Condition, Expr, ExprTrait, Func, Query, SelectStatement, SubQueryStatement,
};

use super::actions::Action;
use super::compile::Tables;
use super::facts::{self, Meaning, SqlDef};
use super::minimize::Cube;
use super::model::{FactMask, Kind};
use super::viewer::Viewer;

/// Aliases for tables in nested subqueries (never the alias of an enclosing query: a kind's
/// scope only nests other kinds).
const USERS: &str = "authz_users";

fn nested_alias(kind: Kind) -> &'static str {
    match kind {
        Kind::Deal => "authz_deals",
        Kind::Company => "authz_companies",
        Kind::Contact => "authz_contacts",
        _ => "authz_other",
    }
}

/// A boolean SQL expression, or a constant known without asking the database.
#[derive(Clone, Debug)]
pub(crate) enum Sql {
    Const(bool),
    Expr(Expr),
}

impl Sql {
    pub(crate) fn and(self, other: Sql) -> Sql {
        match (self, other) {
            (Sql::Const(false), _) | (_, Sql::Const(false)) => Sql::Const(false),
            (Sql::Const(true), x) | (x, Sql::Const(true)) => x,
            (Sql::Expr(a), Sql::Expr(b)) => Sql::Expr(a.and(b)),
        }
    }

    pub(crate) fn or(self, other: Sql) -> Sql {
        match (self, other) {
            (Sql::Const(true), _) | (_, Sql::Const(true)) => Sql::Const(true),
            (Sql::Const(false), x) | (x, Sql::Const(false)) => x,
            (Sql::Expr(a), Sql::Expr(b)) => Sql::Expr(a.or(b)),
        }
    }

    pub(crate) fn not(self) -> Sql {
        match self {
            Sql::Const(b) => Sql::Const(!b),
            Sql::Expr(e) => Sql::Expr(e.not()),
        }
    }

    /// As a `WHERE` condition: no condition for true, `1 = 0` for false.
    pub(crate) fn into_condition(self) -> Condition {
        match self {
            Sql::Const(true) => Condition::all(),
            Sql::Const(false) => Condition::all().add(false_expr()),
            Sql::Expr(e) => Condition::all().add(e),
        }
    }
}

/// How facts that look into another table are written; both shapes select the same rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// Correlated `EXISTS (… WHERE s.deal_id = deals.id …)`: for ordered pages with a
    /// `LIMIT`, where the planner should walk the order index and probe each row — cheap
    /// when most rows are readable, and the scan stops at the page's end.
    Probe,
    /// Uncorrelated `deals.id IN (SELECT s.deal_id …)`: for aggregates over everything
    /// readable, where the viewer's shares are read once and the scope's other terms can
    /// use their indexes (a sparse scope visits only its rows).
    Set,
    /// PostgreSQL only, for the one term that leads a disjoint part of a count: the
    /// viewer's rows read once into an array, `deals.id = ANY(ARRAY(SELECT s.deal_id …))`,
    /// which PostgreSQL turns into an index condition (an `IN (SELECT …)` semi-join it
    /// may plan as a scan of the whole table). Never used where the test runs on every row:
    /// membership in such an array is a linear search.
    Index,
}

fn false_expr() -> Expr {
    Expr::cust("1 = 0")
}

fn col(table: &'static str, column: &'static str) -> Expr {
    Expr::col((table, column))
}

/// SQL for what the compiled tables say about (viewer, action), over rows of `table`, with
/// the facts of `known` taken as true for every row (facts the caller has established for
/// the rows it asks about; none for a plain scope).
pub(crate) fn scope(
    tables: &Tables,
    viewer: &Viewer,
    action: Action,
    table: &'static str,
    shape: Shape,
    known: FactMask,
) -> Sql {
    let kind = action.kind();
    let facts = (0..kind.fact_count())
        .map(|bit| (known.bits() >> bit & 1 == 1).then_some(Sql::Const(true)))
        .collect();
    fixed_scope(tables, viewer, action, table, shape, facts)
}

/// The compiled DNF of (viewer, action) with the facts already in `facts` fixed.
fn fixed_scope(
    tables: &Tables,
    viewer: &Viewer,
    action: Action,
    table: &'static str,
    shape: Shape,
    mut facts: Vec<Option<Sql>>,
) -> Sql {
    let row = Row {
        tables,
        viewer,
        table,
        shape,
    };
    let kind = action.kind();
    // Terms that are one lookup fact each (shared to view; shared to edit) test the same
    // lookup row: one test of `column IN (values)` for all of them, instead of one
    // subquery each (one index probe per row a page visits, one hashed set per value).
    let mut merged: Vec<(&'static Lookup, Vec<&'static str>)> = Vec::new();
    let mut any = Sql::Const(false);
    for cube in tables.dnf(viewer.role, kind, action.index()) {
        let mut literals = cube.iter();
        if let (Some((var, true)), None) = (literals.next(), literals.next())
            && facts[var].is_none()
            && let Some(Meaning {
                sql: SqlDef::Lookup(lookup, value),
                ..
            }) = facts::meaning(kind, var)
        {
            match merged.iter_mut().find(|(l, _)| *l == lookup) {
                Some((_, values)) => values.push(value),
                None => merged.push((lookup, vec![value])),
            }
            continue;
        }
        any = any.or(row.cube(kind, *cube, &mut facts));
    }
    for (lookup, values) in merged {
        any = any.or(row.lookup(lookup, &values));
    }
    any
}

/// Whether fact `bit` of `kind` is read from another table's row about the record and the
/// viewer (a share), rather than from the record's own columns.
pub(crate) fn is_lookup(kind: Kind, bit: usize) -> bool {
    facts::meaning(kind, bit).is_some_and(|m| matches!(m.sql, SqlDef::Lookup(..)))
}

/// [`scope`] for rows on which no lookup fact holds (no share with the viewer): the
/// compiled DNF with every lookup fact false, so only facts of the row's own columns remain
/// (for deals: the owner's). Over a table of totals grouped by those columns it selects the
/// groups whose rows the viewer may act on when nothing else about them is known.
pub(crate) fn scope_without_lookups(
    tables: &Tables,
    viewer: &Viewer,
    action: Action,
    table: &'static str,
    shape: Shape,
) -> Sql {
    let kind = action.kind();
    let facts = (0..kind.fact_count())
        .map(|bit| is_lookup(kind, bit).then_some(Sql::Const(false)))
        .collect();
    fixed_scope(tables, viewer, action, table, shape, facts)
}

/// The ids of the records of `kind` on which some lookup fact may hold for the viewer (a
/// row of the lookup table exists for the record and the viewer, whatever its value), as
/// `record_id`: one `SELECT` per lookup table, united. `None` for kinds without lookups.
pub(crate) fn lookup_ids(viewer: &Viewer, kind: Kind) -> Option<SelectStatement> {
    let mut lookups: Vec<&Lookup> = Vec::new();
    for bit in 0..kind.fact_count() {
        if let Some(Meaning {
            sql: SqlDef::Lookup(lookup, _),
            ..
        }) = facts::meaning(kind, bit)
            && !lookups.contains(&lookup)
        {
            lookups.push(lookup);
        }
    }
    let mut selects = lookups.into_iter().map(|lookup| {
        let l = lookup.alias;
        Query::select()
            .expr_as(
                col(l, lookup.record),
                sea_orm::sea_query::Alias::new("record_id"),
            )
            .from_as(lookup.table, l)
            .and_where(col(l, lookup.viewer).eq(viewer.user_id))
            .to_owned()
    });
    let mut union = selects.next()?;
    for other in selects {
        union.union(sea_orm::sea_query::UnionType::Distinct, other);
    }
    Some(union)
}

/// The rows [`scope`] selects (aggregate-shaped), as disjoint parts: one per term of the
/// compiled DNF, each term minus the terms before it (`t1`, `t2 AND NOT t1`,
/// `t3 AND NOT (t1 OR t2)`, …). Every fact is two-valued, so the parts never overlap and
/// together select exactly the scope's rows. A count adds up the parts' counts: each part
/// leads with one term the planner can serve from an index (the team's deals by owner, the
/// viewer's shares), instead of testing every row against the whole `OR`. No part for a
/// scope that selects nothing; one `Const(true)` part when it selects everything.
pub(crate) fn disjoint_parts(
    tables: &Tables,
    viewer: &Viewer,
    action: Action,
    table: &'static str,
    backend: sea_orm::DbBackend,
) -> Vec<Sql> {
    let row = |shape| Row {
        tables,
        viewer,
        table,
        shape,
    };
    // The earlier terms, negated, are tested on each row the leading term finds: hashed
    // `IN` sets. The leading term itself: an index condition (on PostgreSQL a shape of its
    // own; elsewhere the same SQL, built once).
    let tested = row(Shape::Set);
    let leading = (backend == sea_orm::DbBackend::Postgres).then(|| row(Shape::Index));
    let kind = action.kind();
    let mut facts: Vec<Option<Sql>> = vec![None; kind.fact_count()];
    let mut leading_facts: Vec<Option<Sql>> = vec![None; kind.fact_count()];
    let mut parts = Vec::new();
    let mut earlier = Sql::Const(false);
    for cube in tables.dnf(viewer.role, kind, action.index()) {
        let term = tested.cube(kind, *cube, &mut facts);
        match term {
            Sql::Const(false) => continue,
            Sql::Const(true) => return vec![Sql::Const(true)],
            Sql::Expr(_) => {}
        }
        let lead = match &leading {
            Some(leading) => leading.cube(kind, *cube, &mut leading_facts),
            None => term.clone(),
        };
        parts.push(lead.and(earlier.clone().not()));
        earlier = earlier.or(term);
    }
    parts
}

/// The integer facts mask of each row of `table` (bit `i` = fact `i` of `kind`), restricted
/// to the facts the viewer's role's decisions depend on.
pub(crate) fn facts_mask(
    tables: &Tables,
    viewer: &Viewer,
    kind: Kind,
    table: &'static str,
    known: FactMask,
) -> Expr {
    // Per-row values: the correlated form (the mask is computed for the listed rows only).
    let row = Row {
        tables,
        viewer,
        table,
        shape: Shape::Probe,
    };
    let relevant = tables.relevant(viewer.role, kind);
    // A fact no decision of this role depends on is left at 0: it costs nothing to compute
    // and changes no answer.
    // A fact the caller knows holds is a constant bit.
    let mut constant: i32 = i32::from(relevant.bits() & known.bits());
    let facts: Vec<(i32, Meaning)> = (0..kind.fact_count())
        .filter(|&bit| (relevant.bits() & !known.bits()) >> bit & 1 == 1)
        .filter_map(|bit| facts::meaning(kind, bit).map(|m| (1i32 << bit, m)))
        .collect();
    let mut sum: Option<Expr> = None;
    let mut add = |term: Expr| {
        sum = Some(match sum.take() {
            Some(s) => s.add(term),
            None => term,
        });
    };
    // Facts that read the same lookup (both share facts of a deal: at most one share per
    // deal and user) come from one lookup of that row instead of one probe each.
    let mut looked_up: Vec<&Lookup> = Vec::new();
    for (_, m) in &facts {
        let SqlDef::Lookup(lookup, _) = m.sql else {
            continue;
        };
        if looked_up.contains(&lookup) {
            continue;
        }
        let values: Vec<(&str, i32)> = facts
            .iter()
            .filter_map(|(bit, m)| match m.sql {
                SqlDef::Lookup(l, value) if l == lookup => Some((value, *bit)),
                _ => None,
            })
            .collect();
        if values.len() > 1 {
            looked_up.push(lookup);
            add(row.lookup_bits(lookup, &values));
        }
    }
    for (bit, m) in &facts {
        if matches!(m.sql, SqlDef::Lookup(lookup, _) if looked_up.contains(&lookup)) {
            continue;
        }
        match row.fact(m) {
            Sql::Const(true) => constant |= bit,
            Sql::Const(false) => {}
            Sql::Expr(e) => add(Expr::case(e, Expr::val(*bit)).finally(Expr::val(0)).into()),
        }
    }
    let expr = match sum {
        Some(s) if constant != 0 => s.add(Expr::val(constant)),
        Some(s) => s,
        None => Expr::val(constant),
    };
    expr.cast_as("integer")
}

/// A row of another table that exists at most once per (record, viewer), by a unique index
/// (the viewer's share of a deal); facts test one of its columns.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Lookup {
    /// The table.
    pub(crate) table: &'static str,
    /// Its alias in subqueries.
    pub(crate) alias: &'static str,
    /// The column holding the record's id.
    pub(crate) record: &'static str,
    /// The column holding the viewer's id.
    pub(crate) viewer: &'static str,
    /// The column the facts test.
    pub(crate) column: &'static str,
}

/// The rows of `table` as seen by `viewer`: what a fact's SQL is built from.
pub(crate) struct Row<'a> {
    tables: &'a Tables,
    viewer: &'a Viewer,
    table: &'static str,
    shape: Shape,
}

impl Row<'_> {
    fn col(&self, column: &'static str) -> Expr {
        col(self.table, column)
    }

    /// The shape of another kind's scope nested in this row's facts: a correlated `EXISTS`
    /// tests it once per outer row, so an index-shaped array (a linear search per test)
    /// is no use there; the hashed sets of [`Shape::Set`] are.
    fn nested_shape(&self) -> Shape {
        match self.shape {
            Shape::Index => Shape::Set,
            shape => shape,
        }
    }

    /// One term of a DNF: the `AND` of its literals (each fact built once in `facts`).
    fn cube(&self, kind: Kind, cube: Cube, facts: &mut [Option<Sql>]) -> Sql {
        let mut all = Sql::Const(true);
        for (var, positive) in cube.iter() {
            let Some(meaning) = facts::meaning(kind, var) else {
                return Sql::Const(false);
            };
            let f = facts[var]
                .get_or_insert_with(|| self.fact(&meaning))
                .clone();
            all = all.and(if positive { f } else { f.not() });
        }
        all
    }

    /// One fact as SQL over this row.
    fn fact(&self, meaning: &Meaning) -> Sql {
        match meaning.sql {
            SqlDef::Expr(build) => build(self),
            SqlDef::Lookup(lookup, value) => self.lookup(lookup, &[value]),
        }
    }

    /// `column` is the viewer (a column that is never `NULL`).
    pub(crate) fn is_viewer(&self, column: &'static str) -> Sql {
        Sql::Expr(self.col(column).eq(self.viewer.user_id))
    }

    /// `column` is set and is the viewer.
    pub(crate) fn is_viewer_if_set(&self, column: &'static str) -> Sql {
        Sql::Expr(
            self.col(column)
                .is_not_null()
                .and(self.col(column).eq(self.viewer.user_id)),
        )
    }

    /// The boolean `column` is true.
    pub(crate) fn is_true(&self, column: &'static str) -> Sql {
        Sql::Expr(self.col(column).eq(true))
    }

    /// `column` (a user id, never `NULL`) is a member of one of the viewer's teams.
    pub(crate) fn user_in_viewer_teams(&self, column: &'static str) -> Sql {
        owned_by_team_member(self.viewer, self.col(column), false, self.shape)
    }

    /// `column` (a user id) is set and a member of one of the viewer's teams.
    pub(crate) fn user_in_viewer_teams_if_set(&self, column: &'static str) -> Sql {
        owned_by_team_member(self.viewer, self.col(column), true, self.shape)
    }

    /// `column` (a team id) is set and one of the viewer's teams.
    pub(crate) fn team_in_viewer_teams(&self, column: &'static str) -> Sql {
        if self.viewer.team_ids.is_empty() {
            return Sql::Const(false);
        }
        Sql::Expr(
            self.col(column)
                .is_not_null()
                .and(self.col(column).is_in(self.viewer.team_ids.iter().copied())),
        )
    }

    /// The record `fk` (a column of this row) refers to allows `action` (of its kind), by the
    /// compiled policy.
    pub(crate) fn references(&self, action: impl Into<Action>, fk: &'static str) -> Sql {
        let action = action.into();
        let target = action.kind();
        let alias = nested_alias(target);
        let Some(target_table) = target.table() else {
            return Sql::Const(false);
        };
        let fk = self.col(fk);
        match self.nested_scope(action, alias) {
            Sql::Const(false) => Sql::Const(false),
            // Foreign keys guarantee the row exists.
            Sql::Const(true) => Sql::Expr(fk.is_not_null()),
            Sql::Expr(allowed) => Sql::Expr(Expr::exists(
                Query::select()
                    .expr(Expr::cust("1"))
                    .from_as(target_table, alias)
                    .and_where(col(alias, "id").eq(fk))
                    .and_where(allowed)
                    .to_owned(),
            )),
        }
    }

    /// The policy's scope of `action` over another kind's rows aliased `alias`, nested in
    /// this row's facts.
    fn nested_scope(&self, action: Action, alias: &'static str) -> Sql {
        let (tables, viewer, shape) = (self.tables, self.viewer, self.nested_shape());
        scope(tables, viewer, action, alias, shape, FactMask::NONE)
    }

    /// Some record of `action`'s kind whose `link` column is this row's id allows `action`,
    /// by the compiled policy.
    pub(crate) fn referenced_by(&self, action: impl Into<Action>, link: &'static str) -> Sql {
        let action = action.into();
        let source = action.kind();
        let alias = nested_alias(source);
        let Some(source_table) = source.table() else {
            return Sql::Const(false);
        };
        let mut select = Query::select()
            .expr(Expr::cust("1"))
            .from_as(source_table, alias)
            .and_where(col(alias, link).equals((self.table, "id")))
            .to_owned();
        match self.nested_scope(action, alias) {
            Sql::Const(false) => Sql::Const(false),
            Sql::Const(true) => Sql::Expr(Expr::exists(select)),
            Sql::Expr(allowed) => Sql::Expr(Expr::exists(select.and_where(allowed).to_owned())),
        }
    }

    /// The viewer's row of `lookup` for this record exists and its column holds one of
    /// `values` (`column = value` for one).
    fn lookup(&self, lookup: &Lookup, values: &[&'static str]) -> Sql {
        let l = lookup.alias;
        let column = match values {
            [value] => col(l, lookup.column).eq(*value),
            values => col(l, lookup.column).is_in(values.iter().copied()),
        };
        let mut rows = Query::select()
            .column((l, lookup.record))
            .from_as(lookup.table, l)
            .and_where(col(l, lookup.viewer).eq(self.viewer.user_id))
            .and_where(column)
            .to_owned();
        Sql::Expr(match self.shape {
            // Probed for each row the query visits: lets the planner walk an order index and
            // stop at a page's LIMIT.
            Shape::Probe => Expr::exists(
                rows.and_where(col(l, lookup.record).equals((self.table, "id")))
                    .to_owned(),
            ),
            // The viewer's rows read once: every term of the scope's `OR` stays indexable, so
            // only the allowed rows are visited. Equivalent and two-valued: neither the
            // record's id nor the lookup's record column is ever NULL.
            Shape::Set => self.col("id").in_subquery(rows),
            // The same set as an array: an index condition on PostgreSQL.
            Shape::Index => self.col("id").eq(any_of(rows)),
        })
    }

    /// The bits of the facts `values` (`column = value` → bit) of the viewer's row of `lookup`
    /// for this record, 0 without a row: one lookup for several facts.
    fn lookup_bits(&self, lookup: &Lookup, values: &[(&'static str, i32)]) -> Expr {
        let l = lookup.alias;
        let mut arms = values.iter();
        let bits = match arms.next() {
            Some(&(value, bit)) => {
                let mut case = Expr::case(col(l, lookup.column).eq(value), Expr::val(bit));
                for &(value, bit) in arms {
                    case = case.case(col(l, lookup.column).eq(value), Expr::val(bit));
                }
                case.finally(Expr::val(0)).into()
            }
            None => Expr::val(0),
        };
        let select = Query::select()
            .expr(bits)
            .from_as(lookup.table, l)
            .and_where(col(l, lookup.record).equals((self.table, "id")))
            .and_where(col(l, lookup.viewer).eq(self.viewer.user_id))
            .to_owned();
        Expr::expr(Func::coalesce([
            Expr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(select))),
            Expr::val(0),
        ]))
    }
}

/// `column` belongs to a member of one of the viewer's teams. `nullable` guards a column that
/// may be `NULL` so the result stays two-valued.
fn owned_by_team_member(viewer: &Viewer, column: Expr, nullable: bool, shape: Shape) -> Sql {
    if viewer.team_ids.is_empty() {
        return Sql::Const(false);
    }
    let members: SelectStatement = Query::select()
        .column((USERS, "id"))
        .from_as("users", USERS)
        .and_where(col(USERS, "team_id").is_in(viewer.team_ids.iter().copied()))
        .to_owned();
    let member = match shape {
        Shape::Index => column.clone().eq(any_of(members)),
        Shape::Probe | Shape::Set => column.clone().in_subquery(members),
    };
    Sql::Expr(if nullable {
        column.is_not_null().and(member)
    } else {
        member
    })
}

/// `ANY(ARRAY(<select>))` (PostgreSQL): the rows of an uncorrelated one-column subquery,
/// read once into an array that an `=` can use as an index condition. Equivalent to
/// `IN (<select>)`, `NULL`s and the empty set included.
/// `= ANY(ARRAY(<select>))`'s right side: the subquery's rows read once into an array,
/// which PostgreSQL can use as an index condition (`id = ANY($1)`), unlike `IN (<select>)`.
pub fn any_of(select: SelectStatement) -> Expr {
    let rows = Expr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(select)));
    Func::cust("ANY").arg(Func::cust("ARRAY").arg(rows)).into()
}
