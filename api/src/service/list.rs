//! Relay-style keyset pagination shared by every list: typed cursors, sort keys with an id
//! tie-breaker, `first/after` and `last/before`, and rows carrying their authorization
//! facts.
//!
//! NULLs sort as if larger than every value (`NULLS LAST` ascending, `NULLS FIRST`
//! descending) on both databases, and the keyset predicate follows the same rule, so pages
//! stay exact when rows are inserted or deleted between requests. Keys declared never NULL
//! ([`SortKey::not_null`]) leave the NULL cases out, so that an index serves their order.

use base64::Engine;
use sea_orm::sea_query::{Expr, ExprTrait, NullOrdering, Order, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QueryResult, QuerySelect, QueryTrait, Select,
};

use crate::authz::{FACTS_COLUMN, FactMask};
use crate::error::{ApiError, ApiResult};
use crate::service::filter::Scalar;

/// Rows per page when the client does not say.
pub const DEFAULT_PAGE_SIZE: u64 = 25;
/// The most rows one page may hold.
pub const MAX_PAGE_SIZE: u64 = 100;

/// The pagination arguments of a connection field.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    /// Rows after `after`, from the start.
    pub first: Option<i32>,
    /// Cursor to start after.
    pub after: Option<String>,
    /// Rows before `before`, from the end.
    pub last: Option<i32>,
    /// Cursor to end before.
    pub before: Option<String>,
}

/// One sort-key value inside a cursor.
pub type CursorValue = Scalar;

/// What type of value a sort key holds, so that a cursor cannot put a string where the
/// database compares a timestamp (PostgreSQL would refuse the statement).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorKind {
    /// Integers.
    Int,
    /// Text (and enums, stored as text).
    Str,
    /// UUIDs.
    Uuid,
    /// Timestamps.
    Ts,
    /// Dates.
    Date,
    /// Booleans.
    Bool,
}

impl CursorKind {
    /// The kind of a column's values.
    pub fn of_column(c: impl ColumnTrait) -> Self {
        use sea_orm::sea_query::ColumnType as T;
        match c.def().get_column_type() {
            T::TinyInteger
            | T::SmallInteger
            | T::Integer
            | T::BigInteger
            | T::TinyUnsigned
            | T::SmallUnsigned
            | T::Unsigned
            | T::BigUnsigned => Self::Int,
            T::Uuid => Self::Uuid,
            T::DateTime | T::Timestamp | T::TimestampWithTimeZone => Self::Ts,
            T::Date => Self::Date,
            T::Boolean => Self::Bool,
            _ => Self::Str,
        }
    }

    /// Whether `value` may stand for a key of this kind (NULL always may).
    fn admits(self, value: &CursorValue) -> bool {
        matches!(
            (self, value),
            (_, CursorValue::Null)
                | (Self::Int, CursorValue::Int(_))
                | (Self::Str, CursorValue::Str(_))
                | (Self::Uuid, CursorValue::Uuid(_))
                | (Self::Ts, CursorValue::Ts(_))
                | (Self::Date, CursorValue::Date(_))
                | (Self::Bool, CursorValue::Bool(_))
        )
    }
}

/// One ORDER BY key: an SQL expression, the kind of its values and its direction.
#[derive(Debug, Clone)]
pub struct SortKey {
    /// What to order by.
    pub expr: SimpleExpr,
    /// The kind of value `expr` yields.
    pub kind: CursorKind,
    /// Descending?
    pub desc: bool,
    /// `expr` is never NULL (see [`SortKey::not_null`]).
    pub not_null: bool,
}

impl SortKey {
    /// `expr` (of values of `kind`) in the given direction.
    pub fn new(expr: impl Into<SimpleExpr>, kind: CursorKind, desc: bool) -> Self {
        Self {
            expr: expr.into(),
            kind,
            desc,
            not_null: false,
        }
    }

    /// The same key written so that the database does not read the rows in its order
    /// through an index, for a page of a few rows that are cheaper to find through the
    /// scope's indexes and sort. SQLite: unary `+` (a no-op that keeps the column's
    /// collation). PostgreSQL has no unary `+` for text or timestamps: `COALESCE(key, key)`,
    /// the same value, type and collation, which matches no index.
    pub fn unindexed(&self, backend: sea_orm::DbBackend) -> Self {
        // The template placeholder is the backend's own (`?` on SQLite, `$1` on PostgreSQL).
        let template = match backend {
            sea_orm::DbBackend::Postgres => "COALESCE($1, $1)",
            _ => "+?",
        };
        Self {
            expr: Expr::cust_with_expr(template, self.expr.clone()),
            ..self.clone()
        }
    }

    /// Declares that the key is never NULL (a `NOT NULL` column): it is ordered without a
    /// `NULLS` clause and compared without the NULL cases. That matters on SQLite, whose
    /// `ASC NULLS LAST` is not the order of an index: there an index serves such an order
    /// for one column only and the rest is sorted, every matching row of it. When every key
    /// of a list is never NULL and all go the same way, the cursor condition is a single
    /// row-value comparison (`(a, b) > (?, ?)`), which both databases read as an index
    /// range.
    pub fn not_null(mut self) -> Self {
        self.not_null = true;
        self
    }

    /// A table-qualified column in the given direction.
    pub fn column<C: ColumnTrait>(c: C, desc: bool) -> Self {
        Self::new(
            Expr::col((c.entity_name(), c)),
            CursorKind::of_column(c),
            desc,
        )
    }
}

/// `select` ordered by `keys` (reversed when not `forward`), empty values last ascending.
pub fn ordered<E: EntityTrait>(
    mut select: Select<E>,
    keys: &[SortKey],
    forward: bool,
) -> Select<E> {
    for key in keys {
        let ascending = key.desc != forward;
        let (order, nulls) = if ascending {
            (Order::Asc, NullOrdering::Last)
        } else {
            (Order::Desc, NullOrdering::First)
        };
        select = if key.not_null {
            select.order_by(key.expr.clone(), order)
        } else {
            select.order_by_with_nulls(key.expr.clone(), order, nulls)
        };
    }
    select
}

/// The position (1, 2, …) of enum column `column`'s value in `E`'s declaration order, as
/// SQL: an order by stage or priority follows the pipeline or urgency, not the alphabet.
pub fn enum_rank<E>(column: SimpleExpr) -> SimpleExpr
where
    E: sea_orm::ActiveEnum + sea_orm::Iterable,
{
    let mut case: Option<sea_orm::sea_query::CaseStatement> = None;
    for (i, v) in E::iter().enumerate() {
        let when = Expr::expr(column.clone()).eq(v.to_value());
        let rank = Expr::val(i as i64 + 1);
        case = Some(match case {
            None => Expr::case(when, rank),
            Some(c) => c.case(when, rank),
        });
    }
    match case {
        Some(c) => c.finally(Expr::val(99_i64)).into(),
        None => Expr::val(99_i64),
    }
}

/// The rank [`enum_rank`] gives `value`.
pub fn enum_rank_of<E>(value: &E) -> i64
where
    E: sea_orm::ActiveEnum + sea_orm::Iterable + PartialEq,
{
    E::iter()
        .position(|v| v == *value)
        .map_or(99, |p| p as i64 + 1)
}

/// Encodes a cursor (opaque to clients).
pub fn encode_cursor(values: &[CursorValue]) -> String {
    let json = serde_json::to_vec(values).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_cursor(cursor: &str, field: &str, keys: &[SortKey]) -> ApiResult<Vec<CursorValue>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Vec<CursorValue>>(&bytes).ok())
        .filter(|v| v.len() == keys.len() && keys.iter().zip(v).all(|(k, v)| k.kind.admits(v)))
        .ok_or_else(|| ApiError::bad_input(field, "is not a cursor of this list with this order"))
}

/// Rows strictly after (`forward`) the cursor in the order of `keys`.
fn keyset(keys: &[SortKey], values: &[CursorValue], forward: bool) -> Condition {
    let same_way = keys.iter().all(|k| k.desc == keys[0].desc);
    if keys.iter().all(|k| k.not_null) && same_way {
        let values: Option<Vec<_>> = values.iter().map(CursorValue::to_value).collect();
        if let (Some(values), Some(first)) = (values, keys.first()) {
            let (lhs, rhs) = if keys.len() == 1 {
                (first.expr.clone(), Expr::val(values[0].clone()))
            } else {
                (
                    Expr::tuple(keys.iter().map(|k| k.expr.clone())),
                    Expr::tuple(values.into_iter().map(Expr::val)),
                )
            };
            let ascending = first.desc != forward;
            return Condition::all().add(if ascending { lhs.gt(rhs) } else { lhs.lt(rhs) });
        }
    }
    let mut any = Condition::any();
    for i in 0..keys.len() {
        let mut all = Condition::all();
        for (key, value) in keys[..i].iter().zip(values) {
            all = all.add(match value.to_value() {
                Some(v) => Expr::expr(key.expr.clone()).eq(v),
                None => Expr::expr(key.expr.clone()).is_null(),
            });
        }
        let key = &keys[i];
        // NULL counts as the largest value.
        let ascending = key.desc != forward;
        let after = match (values[i].to_value(), ascending) {
            (Some(v), true) => Condition::any()
                .add(Expr::expr(key.expr.clone()).gt(v))
                .add(Expr::expr(key.expr.clone()).is_null()),
            (Some(v), false) => Condition::all().add(Expr::expr(key.expr.clone()).lt(v)),
            (None, true) => Condition::all().add(Expr::val(1).eq(0)),
            (None, false) => Condition::all().add(Expr::expr(key.expr.clone()).is_not_null()),
        };
        any = any.add(all.add(after));
    }
    any
}

/// A row and its authorization facts relative to the viewer (selected as
/// [`FACTS_COLUMN`]).
#[derive(Debug, Clone)]
pub struct WithFacts<M> {
    /// The row.
    pub model: M,
    /// Its facts.
    pub facts: FactMask,
}

impl<M: FromQueryResult> FromQueryResult for WithFacts<M> {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        Ok(Self {
            model: M::from_query_result(res, pre)?,
            facts: read_facts(res, pre)?,
        })
    }
}

/// The facts selected as [`FACTS_COLUMN`] under prefix `pre`.
pub fn read_facts(res: &QueryResult, pre: &str) -> Result<FactMask, DbErr> {
    if pre.is_empty() {
        facts_at(res, FACTS_COLUMN)
    } else {
        facts_at(res, format!("{pre}{FACTS_COLUMN}").as_str())
    }
}

/// The facts column at `index`, a name or a position (a `bigint` or an `integer`, by
/// backend and expression).
pub fn facts_at<I: sea_orm::ColIdx>(res: &QueryResult, index: I) -> Result<FactMask, DbErr> {
    let raw: i64 = res
        .try_get_by(index)
        .or_else(|_| res.try_get_by::<i32, I>(index).map(i64::from))?;
    Ok(FactMask::from_column(raw))
}

/// One page of a connection.
#[derive(Debug)]
pub struct Page<M> {
    /// The rows, in order, with their cursors.
    pub rows: Vec<(String, M)>,
    /// Whether rows follow the last one.
    pub has_next_page: bool,
    /// Whether rows precede the first one.
    pub has_previous_page: bool,
}

/// `select` narrowed to the page `args` asks for (its keyset bounds and order), with the
/// page size and direction; the arguments checked (`BAD_USER_INPUT` naming the argument).
pub fn checked<E: EntityTrait>(
    select: Select<E>,
    keys: &[SortKey],
    args: &PageArgs,
) -> ApiResult<(Select<E>, u64, bool)> {
    if args.first.is_some() && args.last.is_some() {
        return Err(ApiError::bad_input(
            "last",
            "pass either `first` or `last`, not both",
        ));
    }
    let size = |n: Option<i32>, field: &str| -> ApiResult<u64> {
        match n {
            None => Ok(DEFAULT_PAGE_SIZE),
            Some(n) if (0..=MAX_PAGE_SIZE as i32).contains(&n) => Ok(n as u64),
            Some(_) => Err(ApiError::bad_input(
                field,
                format!("must be between 0 and {MAX_PAGE_SIZE}"),
            )),
        }
    };
    let forward = args.last.is_none();
    let limit = if forward {
        size(args.first, "first")?
    } else {
        size(args.last, "last")?
    };
    let mut select = select;
    if let Some(after) = &args.after {
        let v = decode_cursor(after, "after", keys)?;
        select = select.filter(keyset(keys, &v, true));
    }
    if let Some(before) = &args.before {
        let v = decode_cursor(before, "before", keys)?;
        select = select.filter(keyset(keys, &v, false));
    }
    Ok((ordered(select, keys, forward), limit, forward))
}

/// Fetches one page of `select` (already scoped and filtered) ordered by `keys`, whose last
/// key must be unique (the id). `values` gives a row's key values for its cursor; they must
/// be what the key expressions compute for that row.
pub async fn fetch_page<E, M>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    keys: &[SortKey],
    args: &PageArgs,
    values: impl Fn(&M) -> Vec<CursorValue>,
) -> ApiResult<Page<M>>
where
    E: EntityTrait,
    M: FromQueryResult + Send + Sync,
{
    let (page, _) = fetch_page_with(
        db,
        select,
        keys,
        args,
        |res| M::from_query_result(res, ""),
        values,
        |_| Ok(()),
    )
    .await?;
    Ok(page)
}

/// [`fetch_page`] with each row read by `row`, also reading `extra` from each row of the
/// page (in the page's order): what else the page's statement selected
/// (`service::related`).
pub async fn fetch_page_with<E, M, X>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    keys: &[SortKey],
    args: &PageArgs,
    row: impl Fn(&QueryResult) -> Result<M, DbErr>,
    values: impl Fn(&M) -> Vec<CursorValue>,
    extra: impl Fn(&QueryResult) -> Result<X, DbErr>,
) -> ApiResult<(Page<M>, Vec<X>)>
where
    E: EntityTrait,
    M: Send + Sync,
{
    let (select, limit, forward) = checked(select, keys, args)?;
    let results = db
        .query_all_raw(select.limit(limit + 1).build(db.get_database_backend()))
        .await?;
    let more = results.len() as u64 > limit;
    let mut rows = Vec::with_capacity(results.len());
    let mut extras = Vec::with_capacity(results.len());
    for res in results.iter().take(limit as usize) {
        rows.push(row(res)?);
        extras.push(extra(res)?);
    }
    if !forward {
        rows.reverse();
        extras.reverse();
    }
    let rows = rows
        .into_iter()
        .map(|m| (encode_cursor(&values(&m)), m))
        .collect();
    let page = Page {
        rows,
        has_next_page: if forward { more } else { args.before.is_some() },
        has_previous_page: if forward { args.after.is_some() } else { more },
    };
    Ok((page, extras))
}

/// How many rows the disjoint selections `parts` hold together, in one statement:
/// `SELECT (SELECT COUNT(*) … part 1) + (SELECT COUNT(*) … part 2) + …`. Each part is
/// counted by its own plan (an index on its leading term); none is counted twice because
/// the parts never overlap (`Authorizer::disjoint_scopes`).
pub async fn count_parts<E: EntityTrait>(
    db: &impl ConnectionTrait,
    parts: Vec<Select<E>>,
) -> ApiResult<u64> {
    let total = parts
        .into_iter()
        .map(|part| {
            let counted = part.select_only().expr(Expr::cust("COUNT(*)")).into_query();
            Expr::SubQuery(
                None,
                Box::new(sea_orm::sea_query::SubQueryStatement::SelectStatement(
                    counted,
                )),
            )
        })
        .reduce(|sum, part| sum.add(part));
    let Some(total) = total else {
        return Ok(0);
    };
    let statement = Query::select()
        .expr_as(total.cast_as("bigint"), "n")
        .to_owned();
    let row = db
        .query_one(&statement)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("a count".into()))?;
    let n: i64 = row.try_get("", "n")?;
    Ok(u64::try_from(n).unwrap_or(0))
}
