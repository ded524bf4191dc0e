//! The filters every list accepts, as plain Rust values: a tree of `and`/`or`/`not` over
//! one operator (`eq ne in notIn lt lte gt gte isNull`, and for text `contains startsWith`,
//! case-insensitive) applied to one field of a record kind. Callers (GraphQL, CSV export,
//! automation conditions) build a [`Filter`]; only this module turns it into SQL, with
//! bound values.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, SimpleExpr};
use sea_orm::{Condition, Value};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::authz::Viewer;
use crate::service::Deps;

/// One plain value: a filter operand, or one sort-key value inside a cursor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", content = "v")]
pub enum Scalar {
    /// SQL NULL.
    Null,
    /// An integer (money in cents).
    Int(i64),
    /// A string (enums as their stored name).
    Str(String),
    /// A UUID.
    Uuid(Uuid),
    /// A timestamp.
    Ts(DateTime<Utc>),
    /// A date.
    Date(NaiveDate),
    /// A boolean.
    Bool(bool),
}

impl Scalar {
    /// The bound SQL value (`None` for NULL).
    pub fn to_value(&self) -> Option<Value> {
        match self {
            Self::Null => None,
            Self::Int(i) => Some((*i).into()),
            Self::Str(s) => Some(s.clone().into()),
            Self::Uuid(u) => Some((*u).into()),
            Self::Ts(t) => Some((*t).into()),
            Self::Date(d) => Some((*d).into()),
            Self::Bool(b) => Some((*b).into()),
        }
    }

    /// An enum as it is stored (its string value).
    pub fn of_enum<T: sea_orm::ActiveEnum<Value = String>>(v: T) -> Self {
        Self::Str(v.to_value())
    }

    /// An optional string; `None` is NULL.
    pub fn opt_str(v: Option<&String>) -> Self {
        v.map_or(Self::Null, |s| Self::Str(s.clone()))
    }

    /// An optional value through `f`; `None` is NULL.
    pub fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Self) -> Self {
        v.map_or(Self::Null, f)
    }

    fn bound(&self) -> Value {
        self.to_value().unwrap_or(Value::String(None))
    }
}

/// One operator with its operand(s).
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Equal.
    Eq(Scalar),
    /// Not equal (rows where the field is NULL match too).
    Ne(Scalar),
    /// One of.
    In(Vec<Scalar>),
    /// None of (rows where the field is NULL match too).
    NotIn(Vec<Scalar>),
    /// Less than.
    Lt(Scalar),
    /// Less than or equal.
    Lte(Scalar),
    /// Greater than.
    Gt(Scalar),
    /// Greater than or equal.
    Gte(Scalar),
    /// NULL (true) or not NULL (false).
    IsNull(bool),
    /// Contains the text, ignoring case.
    Contains(String),
    /// Starts with the text, ignoring case.
    StartsWith(String),
}

/// A condition on records whose fields are `F` (a kind's field enum).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter<F> {
    /// Every one holds (no conditions: every row).
    All(Vec<Filter<F>>),
    /// At least one holds (no conditions: no row).
    Any(Vec<Filter<F>>),
    /// Does not hold.
    Not(Box<Filter<F>>),
    /// The field satisfies the operator.
    Is(F, Op),
}

impl<F> Default for Filter<F> {
    fn default() -> Self {
        Self::All(Vec::new())
    }
}

impl<F: Copy> Filter<F> {
    /// "Some of `fields` contains `text`" (a list's `search` argument); blank text is no
    /// condition.
    pub fn search(fields: &[F], text: Option<&str>) -> Self {
        match text.map(str::trim).filter(|t| !t.is_empty()) {
            None => Self::default(),
            Some(t) => Self::Any(
                fields
                    .iter()
                    .map(|f| Self::Is(*f, Op::Contains(t.to_owned())))
                    .collect(),
            ),
        }
    }
}

/// What a filter's fields need to become SQL: the viewer (a hidden amount compares as
/// empty) and the policy.
pub struct Env<'a> {
    /// The policy and the pool.
    pub deps: &'a Deps,
    /// Who is asking.
    pub viewer: &'a Viewer,
}

/// A field of a record kind that filters can test.
pub trait Field: Copy {
    /// The SQL expression of the field as the viewer may see it.
    fn expr(self, env: &Env<'_>) -> SimpleExpr;
}

impl<F: Field> Filter<F> {
    /// The SQL condition (scoping is added separately by the service).
    pub fn condition(&self, env: &Env<'_>) -> Condition {
        match self {
            Self::All(fs) => fs
                .iter()
                .fold(Condition::all(), |c, f| c.add(f.condition(env))),
            Self::Any(fs) => fs
                .iter()
                .fold(Condition::any(), |c, f| c.add(f.condition(env))),
            Self::Not(f) => f.condition(env).not(),
            Self::Is(field, op) => condition(field.expr(env), op),
        }
    }
}

/// Escapes `%`, `_` and the escape character itself for a `LIKE … ESCAPE '\'` pattern.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn lower_like(expr: SimpleExpr, pattern: String) -> SimpleExpr {
    Expr::expr(Func::lower(expr)).like(LikeExpr::new(pattern).escape('\\'))
}

/// The condition "`expr` satisfies `op`".
pub fn condition(expr: SimpleExpr, op: &Op) -> Condition {
    let e = || Expr::expr(expr.clone());
    let list = |vs: &[Scalar]| vs.iter().map(Scalar::bound).collect::<Vec<_>>();
    match op {
        Op::Eq(v) => Condition::all().add(e().eq(v.bound())),
        Op::Ne(v) => Condition::any().add(e().ne(v.bound())).add(e().is_null()),
        Op::In(vs) if vs.is_empty() => Condition::all().add(Expr::val(1).eq(0)),
        Op::In(vs) => Condition::all().add(e().is_in(list(vs))),
        Op::NotIn(vs) if vs.is_empty() => Condition::all(),
        Op::NotIn(vs) => Condition::any()
            .add(e().is_not_in(list(vs)))
            .add(e().is_null()),
        Op::Lt(v) => Condition::all().add(e().lt(v.bound())),
        Op::Lte(v) => Condition::all().add(e().lte(v.bound())),
        Op::Gt(v) => Condition::all().add(e().gt(v.bound())),
        Op::Gte(v) => Condition::all().add(e().gte(v.bound())),
        Op::IsNull(true) => Condition::all().add(e().is_null()),
        Op::IsNull(false) => Condition::all().add(e().is_not_null()),
        Op::Contains(s) => Condition::all().add(lower_like(expr, format!("%{}%", like_escape(s)))),
        Op::StartsWith(s) => Condition::all().add(lower_like(expr, format!("{}%", like_escape(s)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards_and_lowercase() {
        assert_eq!(like_escape("50%_Off\\"), "50\\%\\_off\\\\");
    }

    #[test]
    fn search_is_nothing_when_blank_and_any_field_otherwise() {
        #[derive(Clone, Copy, Debug, PartialEq)]
        enum F {
            A,
            B,
        }
        assert_eq!(Filter::search(&[F::A, F::B], Some("  ")), Filter::default());
        assert_eq!(
            Filter::search(&[F::A, F::B], Some(" x ")),
            Filter::Any(vec![
                Filter::Is(F::A, Op::Contains("x".into())),
                Filter::Is(F::B, Op::Contains("x".into())),
            ])
        );
    }
}
