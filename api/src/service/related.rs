//! To-one relations read in a page's own statement.
//!
//! A page of deals asking for each deal's company and owner would otherwise run three
//! statements: the page, then one batched statement per relation (the loaders). Here the
//! page's statement left-joins the related tables and selects their rows under a prefix,
//! each exactly as its loader would read it — the company under the policy's scope with the
//! facts the page establishes ("linked to a readable deal", [`ToOne::known`]) fixed, the
//! owner from the directory and decided by the policy in Rust — so the GraphQL layer can
//! hand the rows to the request's loaders and no further statement runs. A row whose
//! related record is missing or unreadable carries `NULL`s there and reads as `None`,
//! which is what the loader answers for it.

use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, JoinType, SelectStatement};
use sea_orm::{FromQueryResult, Iterable, QueryResult};
use uuid::Uuid;

use crate::authz::{FACTS_COLUMN, Fact, FactMask, Kind, UserAction, Viewer};
use crate::service::Deps;
use crate::service::list::WithFacts;
use crate::service::record::Record;

/// A to-one relation of a kind's rows that a page can read in its own statement.
#[derive(Debug)]
pub struct ToOne {
    /// The node field that reads it (`company`).
    pub field: &'static str,
    /// The related kind: a guarded record (company, contact) or a user of the directory.
    pub kind: Kind,
    /// The foreign key column of the page's table (`company_id`).
    pub fk: &'static str,
}

impl ToOne {
    /// The facts every related row of a page holds: the page's rows are readable, so a
    /// company or contact they link to is linked to a readable deal (the loader key of
    /// `Deal.company` carries the same facts).
    pub fn known(&self, from: Kind) -> FactMask {
        if from == Kind::Deal && matches!(self.kind, Kind::Company | Kind::Contact) {
            FactMask::NONE.with(self.kind, Fact::LinkedToReadableDeal, true)
        } else {
            FactMask::NONE
        }
    }
}

/// The related record of one page row, as its loader would answer for its key.
#[derive(Debug, Clone)]
pub enum Related {
    /// A company (`None`: missing or unreadable).
    Company(Uuid, FactMask, Option<WithFacts<entity::company::Model>>),
    /// A contact.
    Contact(Uuid, FactMask, Option<WithFacts<entity::contact::Model>>),
    /// A user as the directory shows them (`None`: not shown to the viewer).
    User(Uuid, Option<entity::user::Model>),
}

/// The column prefix of relation `n` of a page.
fn prefix(n: usize) -> String {
    format!("related{n}_")
}

/// The aliases of the related tables (a table may be joined twice, or also be the page's).
const ALIASES: [&str; 4] = ["related0", "related1", "related2", "related3"];

/// The most relations one page reads in its statement.
pub const MAX_JOINS: usize = ALIASES.len();

fn alias(n: usize) -> &'static str {
    ALIASES[n]
}

/// Adds relations `joins` of a page over `table` (rows of kind `from`) to `query`.
pub fn join(
    deps: &Deps,
    viewer: &Viewer,
    query: &mut SelectStatement,
    table: &'static str,
    from: Kind,
    joins: &[&'static ToOne],
) {
    for (n, to_one) in joins.iter().enumerate().take(MAX_JOINS) {
        let known = to_one.known(from);
        match to_one.kind {
            Kind::Company => {
                join_record::<entity::company::Entity>(deps, viewer, query, table, n, to_one, known)
            }
            Kind::Contact => {
                join_record::<entity::contact::Entity>(deps, viewer, query, table, n, to_one, known)
            }
            Kind::User => join_user(query, table, n, to_one),
            // Not a to-one target: no join, the loader reads it.
            _ => {}
        }
    }
}

/// The columns of entity `E` as `{prefix}{column}` from its table aliased `alias`.
fn columns<E: sea_orm::EntityTrait>(query: &mut SelectStatement, alias: &str, prefix: &str) {
    for column in E::Column::iter() {
        let name = sea_orm::IdenStatic::as_str(&column);
        query.expr_as(
            Expr::col((Alias::new(alias), Alias::new(name))),
            Alias::new(format!("{prefix}{name}")),
        );
    }
}

fn join_record<R: Record>(
    deps: &Deps,
    viewer: &Viewer,
    query: &mut SelectStatement,
    table: &'static str,
    n: usize,
    to_one: &ToOne,
    known: FactMask,
) {
    let (alias, prefix) = (alias(n), prefix(n));
    let on = Condition::all()
        .add(
            Expr::col((Alias::new(alias), Alias::new("id")))
                .equals((Alias::new(table), Alias::new(to_one.fk))),
        )
        .add(deps.authz.scope_knowing_as(viewer, R::READ, known, alias));
    query.join_as(
        JoinType::LeftJoin,
        Alias::new(R::default().table_name()),
        Alias::new(alias),
        on,
    );
    columns::<R>(query, alias, &prefix);
    query.expr_as(
        deps.authz
            .facts_expr_knowing_as(viewer, R::KIND, known, alias),
        Alias::new(format!("{prefix}{FACTS_COLUMN}")),
    );
}

fn join_user(query: &mut SelectStatement, table: &'static str, n: usize, to_one: &ToOne) {
    let (alias, prefix) = (alias(n), prefix(n));
    query.join_as(
        JoinType::LeftJoin,
        Alias::new("users"),
        Alias::new(alias),
        Expr::col((Alias::new(alias), Alias::new("id")))
            .equals((Alias::new(table), Alias::new(to_one.fk))),
    );
    // The directory's columns: never the password hash.
    for column in entity::user::Column::iter() {
        let name = sea_orm::IdenStatic::as_str(&column);
        let value = if matches!(column, entity::user::Column::PasswordHash) {
            Expr::val("")
        } else {
            Expr::col((Alias::new(alias), Alias::new(name)))
        };
        query.expr_as(value, Alias::new(format!("{prefix}{name}")));
    }
}

/// A related row under `prefix`, when the join `found` one.
fn row<M: FromQueryResult>(
    found: bool,
    res: &QueryResult,
    prefix: &str,
) -> Result<Option<M>, sea_orm::DbErr> {
    found.then(|| M::from_query_result(res, prefix)).transpose()
}

/// The related records of one page row read with [`join`].
pub fn read(
    deps: &Deps,
    viewer: &Viewer,
    res: &QueryResult,
    from: Kind,
    joins: &[&'static ToOne],
) -> Result<Vec<Related>, sea_orm::DbErr> {
    let mut related = Vec::with_capacity(joins.len());
    for (n, to_one) in joins.iter().enumerate().take(MAX_JOINS) {
        let prefix = prefix(n);
        let fk: Option<Uuid> = res.try_get("", to_one.fk)?;
        let Some(fk) = fk else {
            continue;
        };
        let found = res.try_get::<Option<Uuid>>(&prefix, "id")?.is_some();
        let known = to_one.known(from);
        related.push(match to_one.kind {
            Kind::Company => Related::Company(fk, known, row(found, res, &prefix)?),
            Kind::Contact => Related::Contact(fk, known, row(found, res, &prefix)?),
            Kind::User => {
                let user = row::<entity::user::Model>(found, res, &prefix)?
                    .filter(|u| deps.authz.decide_user(viewer, UserAction::Read, u));
                Related::User(fk, user)
            }
            _ => continue,
        });
    }
    Ok(related)
}
