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
use crate::service::list::{WithFacts, facts_at};
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
    /// A record's company (`company_id`).
    pub const COMPANY: ToOne = ToOne {
        field: "company",
        kind: Kind::Company,
        fk: "company_id",
    };
    /// A record's contact (`contact_id`).
    pub const CONTACT: ToOne = ToOne {
        field: "contact",
        kind: Kind::Contact,
        fk: "contact_id",
    };
    /// A record's owner (`owner_id`), from the directory.
    pub const OWNER: ToOne = ToOne {
        field: "owner",
        kind: Kind::User,
        fk: "owner_id",
    };

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

/// Which columns of a model a statement reads: bit `i` is the model's `i`-th column in
/// `Column::iter()` order. A column left out is read as a [`Placeholder`] (`""`, `None`,
/// zero, the epoch): the GraphQL layer leaves out only columns no field of the request's
/// document reads (`graphql::selected`).
pub type Columns = u32;

/// Every column.
pub const ALL_COLUMNS: Columns = Columns::MAX;

/// A relation a page reads in its own statement, and the columns of it the request needs.
#[derive(Debug, Clone, Copy)]
pub struct Join {
    /// The relation.
    pub to_one: &'static ToOne,
    /// The columns the request's fields read (see [`Join::columns`]).
    pub wanted: Columns,
}

impl Join {
    /// The columns the statement selects and the row is read from: those wanted, and for
    /// a user of the directory those the policy decides on, never the password hash.
    fn columns(&self) -> Columns {
        match self.to_one.kind {
            Kind::User => user_columns(self.wanted),
            _ => self.wanted,
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
    joins: &[Join],
) {
    for (n, join) in joins.iter().enumerate().take(MAX_JOINS) {
        let to_one = join.to_one;
        let known = to_one.known(from);
        match to_one.kind {
            Kind::Company => {
                join_record::<entity::company::Entity>(deps, viewer, query, table, (n, join), known)
            }
            Kind::Contact => {
                join_record::<entity::contact::Entity>(deps, viewer, query, table, (n, join), known)
            }
            Kind::User => join_user(query, table, n, join),
            // Not a to-one target: no join, the loader reads it.
            _ => {}
        }
    }
}

/// The columns `wanted` of entity `E` as `{prefix}{column}` from its table aliased
/// `alias`.
fn columns<E: sea_orm::EntityTrait>(
    query: &mut SelectStatement,
    alias: &str,
    prefix: &str,
    wanted: Columns,
) {
    for (i, column) in E::Column::iter().enumerate() {
        if !selects(wanted, i) {
            continue;
        }
        let name = sea_orm::IdenStatic::as_str(&column);
        query.expr_as(
            Expr::col((Alias::new(alias), Alias::new(name))),
            Alias::new(format!("{prefix}{name}")),
        );
    }
}

/// Whether `wanted` holds column `i`. The first column (the id: whether a joined row was
/// found) always is, and so are columns past the mask's width.
fn selects(wanted: Columns, i: usize) -> bool {
    i == 0
        || u32::try_from(i)
            .ok()
            .and_then(|i| 1u32.checked_shl(i))
            .is_none_or(|bit| wanted & bit != 0)
}

/// The bit of column `name` of entity `E` in a [`Columns`] set.
pub fn column_bit<E: sea_orm::EntityTrait>(name: &str) -> Option<Columns> {
    E::Column::iter()
        .position(|c| sea_orm::IdenStatic::as_str(&c) == name)
        .and_then(|i| 1u32.checked_shl(u32::try_from(i).ok()?))
}

fn join_record<R: Record>(
    deps: &Deps,
    viewer: &Viewer,
    query: &mut SelectStatement,
    table: &'static str,
    (n, join): (usize, &Join),
    known: FactMask,
) {
    let to_one = join.to_one;
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
    columns::<R>(query, alias, &prefix, join.columns());
    query.expr_as(
        deps.authz
            .facts_expr_knowing_as(viewer, R::KIND, known, alias),
        Alias::new(format!("{prefix}{FACTS_COLUMN}")),
    );
}

fn join_user(query: &mut SelectStatement, table: &'static str, n: usize, join: &Join) {
    let (alias, prefix) = (alias(n), prefix(n));
    query.join_as(
        JoinType::LeftJoin,
        Alias::new("users"),
        Alias::new(alias),
        Expr::col((Alias::new(alias), Alias::new("id")))
            .equals((Alias::new(table), Alias::new(join.to_one.fk))),
    );
    // The directory's columns (never the password hash) and those the policy reads.
    columns::<entity::user::Entity>(query, alias, &prefix, join.columns());
}

/// The columns of a user read from the directory: those `wanted`, and those the policy
/// decides on ([`crate::authz::UserFacts`]: id, team, active; and the role), never the
/// password hash.
fn user_columns(wanted: Columns) -> Columns {
    let bit = |name| column_bit::<entity::user::Entity>(name).unwrap_or(0);
    (wanted | bit("team_id") | bit("active") | bit("role")) & !bit("password_hash")
}

/// A model read by position from consecutive columns of a row, in its entity's
/// `Column::iter()` order — the order [`columns`] selects them in. `from_query_result` with
/// a prefix formats `{prefix}{column}` and looks the name up, for every column of every
/// row: ~10 % of a manager's page of deals with company and owner. The entities' field order
/// is their column order (`DeriveEntityModel`); the unit test
/// `related_models_read_by_position_equal_the_rows` reads every field of each model back
/// from a row whose columns all differ.
pub trait Positional: Sized {
    /// The model whose first column is column `first` of `res`.
    fn at(res: &QueryResult, first: usize) -> Result<Self, sea_orm::DbErr> {
        Self::at_only(res, first, ALL_COLUMNS)
    }

    /// The model whose columns `wanted` follow each other from column `first` of `res`;
    /// the others are [`Placeholder`]s.
    fn at_only(res: &QueryResult, first: usize, wanted: Columns) -> Result<Self, sea_orm::DbErr>;
}

/// The value a model's field holds when its column was not read ([`Columns`]).
pub trait Placeholder {
    /// `""`, `None`, zero, `false`, the epoch, an enum's first value.
    fn placeholder() -> Self;
}

macro_rules! placeholder_default {
    ($($ty:ty),*) => {
        $(impl Placeholder for $ty {
            fn placeholder() -> Self {
                Self::default()
            }
        })*
    };
}
placeholder_default!(
    String,
    Uuid,
    i16,
    i32,
    i64,
    bool,
    chrono::DateTime<chrono::Utc>
);

impl<T> Placeholder for Option<T> {
    fn placeholder() -> Self {
        None
    }
}

macro_rules! placeholder_first {
    ($($ty:ty),*) => {
        $(impl Placeholder for $ty {
            fn placeholder() -> Self {
                <$ty as Iterable>::iter().next().expect("an enum has values")
            }
        })*
    };
}
placeholder_first!(
    entity::enums::Role,
    entity::enums::DealStage,
    entity::enums::Priority
);

/// Implements [`Positional`] for a model from its fields in declaration order.
macro_rules! positional {
    ($model:ty { $($field:ident),* $(,)? }) => {
        impl Positional for $model {
            #[allow(unused_assignments, reason = "the last field's increments")]
            fn at_only(
                res: &QueryResult,
                first: usize,
                wanted: Columns,
            ) -> Result<Self, sea_orm::DbErr> {
                let (mut column, mut field) = (first, 0);
                Ok(Self {
                    $($field: {
                        field += 1;
                        if selects(wanted, field - 1) {
                            column += 1;
                            res.try_get_by_index(column - 1)?
                        } else {
                            Placeholder::placeholder()
                        }
                    }),*
                })
            }
        }
    };
}

positional!(entity::deal::Model {
    id,
    company_id,
    contact_id,
    title,
    amount_cents,
    currency,
    stage,
    probability,
    expected_close_date,
    actual_close_date,
    source,
    priority,
    notes,
    owner_id,
    version,
    created_at,
    updated_at,
});
positional!(entity::company::Model {
    id,
    name,
    domain,
    industry,
    size,
    address,
    city,
    state,
    country,
    phone,
    website,
    owner_id,
    version,
    created_at,
    updated_at,
});
positional!(entity::contact::Model {
    id,
    company_id,
    first_name,
    last_name,
    full_name,
    email,
    phone,
    mobile,
    title,
    department,
    is_primary,
    linkedin_url,
    notes,
    owner_id,
    version,
    created_at,
    updated_at,
});
positional!(entity::user::Model {
    id,
    email,
    name,
    password_hash,
    role,
    team_id,
    active,
    must_change_password,
    created_at,
    updated_at,
});

/// A guarded record and the facts column after its columns.
impl<M: Positional + sea_orm::ModelTrait> Positional for WithFacts<M> {
    fn at_only(res: &QueryResult, first: usize, wanted: Columns) -> Result<Self, sea_orm::DbErr> {
        let columns = (0..<M::Entity as sea_orm::EntityTrait>::Column::iter().count())
            .filter(|&i| selects(wanted, i))
            .count();
        Ok(Self {
            model: M::at_only(res, first, wanted)?,
            facts: facts_at(res, first + columns)?,
        })
    }
}

/// Where the columns of a page read with [`join`] are: its own row's at 0 when the page's
/// `SELECT` starts with them and the facts column right after (otherwise read by name),
/// each relation's after. Found once per page, from its first row's column names.
pub struct Layout {
    joins: usize,
    found: std::sync::OnceLock<(bool, Vec<Option<usize>>)>,
}

impl Layout {
    /// The layout of a page reading `joins` relations.
    pub fn new(joins: &[Join]) -> Self {
        Self {
            joins: joins.len().min(MAX_JOINS),
            found: std::sync::OnceLock::new(),
        }
    }

    fn get<E: sea_orm::EntityTrait>(&self, res: &QueryResult) -> &(bool, Vec<Option<usize>>) {
        self.found.get_or_init(|| {
            let names = res.column_names();
            let own = E::Column::iter()
                .map(|c| sea_orm::IdenStatic::as_str(&c))
                .chain([FACTS_COLUMN])
                .enumerate()
                .all(|(n, column)| names.get(n).is_some_and(|name| name == column));
            let starts = (0..self.joins)
                .map(|n| {
                    let id = format!("{}id", prefix(n));
                    names.iter().position(|name| *name == id)
                })
                .collect();
            (own, starts)
        })
    }

    /// The page's own row of `res`: by position where [`Record::row_at`] can and the
    /// columns are where it reads them, else by name.
    pub fn row<R: Record>(&self, res: &QueryResult) -> Result<R::Row, sea_orm::DbErr> {
        if self.get::<R>(res).0
            && let Some(row) = R::row_at(res, 0)
        {
            return row;
        }
        R::Row::from_query_result(res, "")
    }
}

/// The related row at `start`, when the join found one (its id is not `NULL`).
fn row<M: Positional>(
    res: &QueryResult,
    start: Option<usize>,
    wanted: Columns,
) -> Result<Option<M>, sea_orm::DbErr> {
    let Some(start) = start else {
        return Err(sea_orm::DbErr::Custom(
            "a joined relation's columns are missing".into(),
        ));
    };
    let found = res.try_get_by_index::<Option<Uuid>>(start)?.is_some();
    found.then(|| M::at_only(res, start, wanted)).transpose()
}

/// The related records of one page row read with [`join`]; `layout` is the page's.
pub fn read<R: Record>(
    deps: &Deps,
    viewer: &Viewer,
    res: &QueryResult,
    layout: &Layout,
    joins: &[Join],
) -> Result<Vec<Related>, sea_orm::DbErr> {
    let starts = &layout.get::<R>(res).1;
    let mut related = Vec::with_capacity(joins.len());
    for (n, join) in joins.iter().enumerate().take(MAX_JOINS) {
        let (to_one, wanted) = (join.to_one, join.columns());
        let fk: Option<Uuid> = res.try_get("", to_one.fk)?;
        let Some(fk) = fk else {
            continue;
        };
        let start = starts.get(n).copied().flatten();
        let known = to_one.known(R::KIND);
        related.push(match to_one.kind {
            Kind::Company => Related::Company(fk, known, row(res, start, wanted)?),
            Kind::Contact => Related::Contact(fk, known, row(res, start, wanted)?),
            Kind::User => {
                let user = row::<entity::user::Model>(res, start, wanted)?
                    .filter(|u| deps.authz.decide_user(viewer, UserAction::Read, u));
                Related::User(fk, user)
            }
            _ => continue,
        });
    }
    Ok(related)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use entity::enums::{CompanySize, DealSource, DealStage, Department, Industry, Priority, Role};
    use entity::{company, contact, deal, user};
    use migration::MigratorTrait;
    use sea_orm::sea_query::Query;
    use sea_orm::{
        ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult,
        IntoActiveModel,
    };

    /// Reads `model` back from its table aliased as a relation, its columns after another
    /// one: by position it equals the row read by name, and the row stored.
    async fn read_back<E>(db: &DatabaseConnection, model: E::Model)
    where
        E: EntityTrait,
        E::Model: Positional + FromQueryResult + PartialEq + IntoActiveModel<E::ActiveModel>,
        E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
    {
        model
            .clone()
            .into_active_model()
            .insert(db)
            .await
            .expect("insert");
        let mut query = Query::select();
        query
            .from_as(Alias::new(E::default().table_name()), Alias::new(alias(2)))
            .expr(Expr::val(7));
        columns::<E>(&mut query, alias(2), &prefix(2), ALL_COLUMNS);
        let res = db.query_one(&query).await.expect("select").expect("a row");
        let by_position = E::Model::at(&res, 1).expect("by position");
        let by_name = E::Model::from_query_result(&res, &prefix(2)).expect("by name");
        assert!(by_position == by_name, "{}", E::default().table_name());
        assert!(by_position == model, "{}", E::default().table_name());
    }

    /// Every field of the related models decodes from its own column: each column holds a
    /// value no other column of the row has, so two fields read in the wrong order differ.
    #[tokio::test]
    async fn related_models_read_by_position_equal_the_rows() {
        let db = crate::db::connect("sqlite::memory:", 1).await.expect("db");
        migration::Migrator::up(&db, None).await.expect("migrate");
        let at = |day| Utc.with_ymd_and_hms(2026, 1, day, 8, 0, 0).unwrap();
        let owner = user::Model {
            id: Uuid::new_v4(),
            email: "owner@example.test".into(),
            name: "Owner Name".into(),
            password_hash: "hash".into(),
            role: Role::Manager,
            team_id: None,
            active: true,
            must_change_password: false,
            created_at: at(1),
            updated_at: at(2),
        };
        read_back::<user::Entity>(&db, owner.clone()).await;
        let company = company::Model {
            id: Uuid::new_v4(),
            name: "Acme".into(),
            domain: Some("acme.test".into()),
            industry: Some(Industry::Healthcare),
            size: Some(CompanySize::S1To10),
            address: Some("1 Road".into()),
            city: Some("Town".into()),
            state: Some("State".into()),
            country: Some("Country".into()),
            phone: Some("+1 555".into()),
            website: Some("https://acme.test".into()),
            owner_id: owner.id,
            version: 3,
            created_at: at(3),
            updated_at: at(4),
        };
        read_back::<company::Entity>(&db, company.clone()).await;
        let contact = Uuid::new_v4();
        read_back::<contact::Entity>(
            &db,
            contact::Model {
                id: contact,
                company_id: Some(company.id),
                first_name: Some("Ada".into()),
                last_name: Some("Lovelace".into()),
                full_name: "Ada Lovelace".into(),
                email: Some("ada@acme.test".into()),
                phone: Some("+1 556".into()),
                mobile: Some("+1 557".into()),
                title: Some("CTO".into()),
                department: Some(Department::Marketing),
                is_primary: true,
                linkedin_url: Some("https://linkedin.test/ada".into()),
                notes: Some("Notes".into()),
                owner_id: owner.id,
                version: 5,
                created_at: at(5),
                updated_at: at(6),
            },
        )
        .await;
        read_back::<deal::Entity>(
            &db,
            deal::Model {
                id: Uuid::new_v4(),
                company_id: company.id,
                contact_id: Some(contact),
                title: "Big deal".into(),
                amount_cents: 123_456,
                currency: "EUR".into(),
                stage: DealStage::Qualification,
                probability: 35,
                expected_close_date: Some(at(7).date_naive()),
                actual_close_date: Some(at(8).date_naive()),
                source: Some(DealSource::Referral),
                priority: Priority::Medium,
                notes: Some("Deal notes".into()),
                owner_id: owner.id,
                version: 9,
                created_at: at(10),
                updated_at: at(11),
            },
        )
        .await;
    }
}
