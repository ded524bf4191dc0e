//! The facts as SQL, and compiled decisions as SQL conditions.
//!
//! Each fact of a kind is a boolean SQL expression over that kind's table, relative to the
//! viewer (whose id and team ids are bound parameters). A compiled DNF becomes `OR`s of `AND`s
//! of those expressions; facts that are constant for this viewer (no teams, say) are folded
//! away. Every expression is two-valued (never `NULL`), so `NOT fact` is exact.

use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query, SelectStatement};

use super::compile::Tables;
use super::minimize::Dnf;
use super::model::{Fact, Kind, action};
use super::viewer::Viewer;

/// Aliases for tables in nested subqueries (never the alias of an enclosing query: a kind's
/// scope only nests other kinds).
const USERS: &str = "authz_users";
const SHARES: &str = "authz_shares";

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
    fn and(self, other: Sql) -> Sql {
        match (self, other) {
            (Sql::Const(false), _) | (_, Sql::Const(false)) => Sql::Const(false),
            (Sql::Const(true), x) | (x, Sql::Const(true)) => x,
            (Sql::Expr(a), Sql::Expr(b)) => Sql::Expr(a.and(b)),
        }
    }

    fn or(self, other: Sql) -> Sql {
        match (self, other) {
            (Sql::Const(true), _) | (_, Sql::Const(true)) => Sql::Const(true),
            (Sql::Const(false), x) | (x, Sql::Const(false)) => x,
            (Sql::Expr(a), Sql::Expr(b)) => Sql::Expr(a.or(b)),
        }
    }

    fn not(self) -> Sql {
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Correlated `EXISTS (… WHERE s.deal_id = deals.id …)`: for ordered pages with a
    /// `LIMIT`, where the planner should walk the order index and probe each row — cheap
    /// when most rows are readable, and the scan stops at the page's end.
    Probe,
    /// Uncorrelated `deals.id IN (SELECT s.deal_id …)`: for aggregates over everything
    /// readable, where the viewer's shares are read once and the scope's other terms can
    /// use their indexes (a sparse scope visits only its rows).
    Set,
}

fn false_expr() -> Expr {
    Expr::cust("1 = 0")
}

fn col(table: &'static str, column: &'static str) -> Expr {
    Expr::col((table, column))
}

/// SQL for what the compiled tables say about (viewer, kind, action), over rows of `table`.
pub(crate) fn scope(
    tables: &Tables,
    viewer: &Viewer,
    kind: Kind,
    action: &str,
    table: &'static str,
    shape: Shape,
) -> Sql {
    match kind.action_index(action) {
        Some(ai) => dnf(
            tables,
            viewer,
            kind,
            tables.dnf(viewer.role, kind, ai),
            table,
            shape,
        ),
        None => Sql::Const(false),
    }
}

fn dnf(
    tables: &Tables,
    viewer: &Viewer,
    kind: Kind,
    dnf: &Dnf,
    table: &'static str,
    shape: Shape,
) -> Sql {
    let mut facts: Vec<Option<Sql>> = vec![None; kind.facts().len()];
    let mut any = Sql::Const(false);
    for cube in dnf {
        let mut all = Sql::Const(true);
        for (var, positive) in cube.iter() {
            let Some(&fact_kind) = kind.facts().get(var) else {
                return Sql::Const(false);
            };
            let f = facts[var]
                .get_or_insert_with(|| fact(tables, viewer, kind, fact_kind, table, shape))
                .clone();
            all = all.and(if positive { f } else { f.not() });
        }
        any = any.or(all);
    }
    any
}

/// The integer facts mask of each row of `table` (bit `i` = fact `i` of `kind`), restricted
/// to the facts the viewer's role's decisions depend on.
pub(crate) fn facts_mask(
    tables: &Tables,
    viewer: &Viewer,
    kind: Kind,
    table: &'static str,
) -> Expr {
    let relevant = tables.relevant(viewer.role, kind);
    let mut constant: i32 = 0;
    let mut sum: Option<Expr> = None;
    // A deal has at most one share per user: both share facts come from one lookup
    // (`ux_deal_shares_deal_id_user_id`) instead of two EXISTS probes per row.
    let both_shares = kind == Kind::Deal
        && relevant.has(kind, Fact::SharedView)
        && relevant.has(kind, Fact::SharedEdit);
    if both_shares {
        let bit = |f: Fact| {
            kind.facts()
                .iter()
                .position(|x| *x == f)
                .map_or(0, |i| 1i32 << i)
        };
        let lookup = Query::select()
            .expr(
                Expr::case(
                    col(SHARES, "permission").eq("view"),
                    Expr::val(bit(Fact::SharedView)),
                )
                .case(
                    col(SHARES, "permission").eq("edit"),
                    Expr::val(bit(Fact::SharedEdit)),
                )
                .finally(Expr::val(0)),
            )
            .from_as("deal_shares", SHARES)
            .and_where(col(SHARES, "deal_id").equals((table, "id")))
            .and_where(col(SHARES, "user_id").eq(viewer.user_id))
            .to_owned();
        let term = Expr::expr(sea_orm::sea_query::Func::coalesce([
            Expr::SubQuery(
                None,
                Box::new(sea_orm::sea_query::SubQueryStatement::SelectStatement(
                    lookup,
                )),
            ),
            Expr::val(0),
        ]));
        sum = Some(term);
    }
    for (i, &f) in kind.facts().iter().enumerate() {
        let bit = 1i32 << i;
        // A fact no decision of this role depends on is left at 0: it costs nothing to
        // compute and changes no answer.
        if !relevant.has(kind, f) {
            continue;
        }
        if both_shares && matches!(f, Fact::SharedView | Fact::SharedEdit) {
            continue;
        }
        // Per-row values: the correlated form (the mask is computed for the listed rows only).
        match fact(tables, viewer, kind, f, table, Shape::Probe) {
            Sql::Const(true) => constant |= bit,
            Sql::Const(false) => {}
            Sql::Expr(e) => {
                let term: Expr = Expr::case(e, Expr::val(bit)).finally(Expr::val(0)).into();
                sum = Some(match sum {
                    Some(s) => s.add(term),
                    None => term,
                });
            }
        }
    }
    let expr = match sum {
        Some(s) if constant != 0 => s.add(Expr::val(constant)),
        Some(s) => s,
        None => Expr::val(constant),
    };
    expr.cast_as("integer")
}

/// `column` belongs to a member of one of the viewer's teams. `nullable` guards a column that
/// may be `NULL` so the result stays two-valued.
fn owned_by_team_member(viewer: &Viewer, column: Expr, nullable: bool) -> Sql {
    if viewer.team_ids.is_empty() {
        return Sql::Const(false);
    }
    let members: SelectStatement = Query::select()
        .column((USERS, "id"))
        .from_as("users", USERS)
        .and_where(col(USERS, "team_id").is_in(viewer.team_ids.iter().copied()))
        .to_owned();
    let member = column.clone().in_subquery(members);
    Sql::Expr(if nullable {
        column.is_not_null().and(member)
    } else {
        member
    })
}

/// The row of `target` kind referenced by `fk` (a column of the outer row) is readable.
fn references_readable(
    tables: &Tables,
    viewer: &Viewer,
    target: Kind,
    fk: Expr,
    shape: Shape,
) -> Sql {
    let alias = nested_alias(target);
    let Some(target_table) = target.table() else {
        return Sql::Const(false);
    };
    match scope(tables, viewer, target, action::READ, alias, shape) {
        Sql::Const(false) => Sql::Const(false),
        // Foreign keys guarantee the row exists.
        Sql::Const(true) => Sql::Expr(fk.is_not_null()),
        Sql::Expr(readable) => Sql::Expr(Expr::exists(
            Query::select()
                .expr(Expr::cust("1"))
                .from_as(target_table, alias)
                .and_where(col(alias, "id").eq(fk))
                .and_where(readable)
                .to_owned(),
        )),
    }
}

/// Some deal whose `link` column is `table.id` is readable.
fn linked_to_readable_deal(
    tables: &Tables,
    viewer: &Viewer,
    table: &'static str,
    link: &'static str,
    shape: Shape,
) -> Sql {
    let alias = nested_alias(Kind::Deal);
    let mut select = Query::select()
        .expr(Expr::cust("1"))
        .from_as("deals", alias)
        .and_where(col(alias, link).equals((table, "id")))
        .to_owned();
    match scope(tables, viewer, Kind::Deal, action::READ, alias, shape) {
        Sql::Const(false) => Sql::Const(false),
        Sql::Const(true) => Sql::Expr(Expr::exists(select)),
        Sql::Expr(readable) => Sql::Expr(Expr::exists(select.and_where(readable).to_owned())),
    }
}

/// One fact of `kind` as SQL over rows of `table`.
fn fact(
    tables: &Tables,
    viewer: &Viewer,
    kind: Kind,
    fact: Fact,
    table: &'static str,
    shape: Shape,
) -> Sql {
    let me = viewer.user_id;
    match (kind, fact) {
        (Kind::Deal | Kind::Company | Kind::Contact, Fact::OwnedBy) => {
            Sql::Expr(col(table, "owner_id").eq(me))
        }
        (Kind::Deal | Kind::Company | Kind::Contact, Fact::InTeamOf) => {
            owned_by_team_member(viewer, col(table, "owner_id"), false)
        }
        (Kind::Deal, Fact::SharedView | Fact::SharedEdit) => {
            let permission = if fact == Fact::SharedView {
                "view"
            } else {
                "edit"
            };
            let mut shares = Query::select()
                .column((SHARES, "deal_id"))
                .from_as("deal_shares", SHARES)
                .and_where(col(SHARES, "user_id").eq(me))
                .and_where(col(SHARES, "permission").eq(permission))
                .to_owned();
            Sql::Expr(match shape {
                // Probed for each row the query visits: lets the planner walk an order
                // index and stop at a page's LIMIT.
                Shape::Probe => Expr::exists(
                    shares
                        .and_where(col(SHARES, "deal_id").equals((table, "id")))
                        .to_owned(),
                ),
                // The viewer's shares read once: every term of the scope's `OR` stays
                // indexable, so only the readable rows are visited. Equivalent and
                // two-valued: neither `deals.id` nor `deal_shares.deal_id` is ever NULL.
                Shape::Set => col(table, "id").in_subquery(shares),
            })
        }
        (Kind::Company, Fact::LinkedToReadableDeal) => {
            linked_to_readable_deal(tables, viewer, table, "company_id", shape)
        }
        (Kind::Contact, Fact::LinkedToReadableDeal) => {
            linked_to_readable_deal(tables, viewer, table, "contact_id", shape)
        }
        (Kind::Activity, Fact::CreatedBy) => Sql::Expr(col(table, "created_by").eq(me)),
        (Kind::Activity, Fact::AssignedTo) => Sql::Expr(
            col(table, "assigned_to")
                .is_not_null()
                .and(col(table, "assigned_to").eq(me)),
        ),
        (Kind::Activity, Fact::InTeamOf) => {
            owned_by_team_member(viewer, col(table, "created_by"), false).or(owned_by_team_member(
                viewer,
                col(table, "assigned_to"),
                true,
            ))
        }
        (Kind::Activity, Fact::OnReadableRecord) => {
            references_readable(tables, viewer, Kind::Deal, col(table, "deal_id"), shape)
                .or(references_readable(
                    tables,
                    viewer,
                    Kind::Company,
                    col(table, "company_id"),
                    shape,
                ))
                .or(references_readable(
                    tables,
                    viewer,
                    Kind::Contact,
                    col(table, "contact_id"),
                    shape,
                ))
        }
        (Kind::User, Fact::IsSelf) => Sql::Expr(col(table, "id").eq(me)),
        (Kind::User, Fact::Active) => Sql::Expr(col(table, "active").eq(true)),
        (Kind::User, Fact::InTeamOf) => {
            if viewer.team_ids.is_empty() {
                Sql::Const(false)
            } else {
                Sql::Expr(
                    col(table, "team_id")
                        .is_not_null()
                        .and(col(table, "team_id").is_in(viewer.team_ids.iter().copied())),
                )
            }
        }
        // Kind::facts() never pairs other kinds and facts; deny if it ever did.
        _ => Sql::Const(false),
    }
}
