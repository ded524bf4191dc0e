//! The filter operators every list accepts (`eq ne in notIn lt lte gt gte isNull`, and for
//! strings `contains startsWith`, case-insensitive), turned into SQL conditions with bound
//! values.

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, SimpleExpr};
use sea_orm::{Condition, Value};

/// One operator applied to one field.
#[derive(Debug, Clone)]
pub enum Op {
    /// Equal.
    Eq(Value),
    /// Not equal (rows where the field is NULL match too).
    Ne(Value),
    /// One of.
    In(Vec<Value>),
    /// None of (rows where the field is NULL match too).
    NotIn(Vec<Value>),
    /// Less than.
    Lt(Value),
    /// Less than or equal.
    Lte(Value),
    /// Greater than.
    Gt(Value),
    /// Greater than or equal.
    Gte(Value),
    /// NULL (true) or not NULL (false).
    IsNull(bool),
    /// Contains the text, ignoring case.
    Contains(String),
    /// Starts with the text, ignoring case.
    StartsWith(String),
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
pub fn condition(expr: SimpleExpr, op: Op) -> Condition {
    let e = || Expr::expr(expr.clone());
    match op {
        Op::Eq(v) => Condition::all().add(e().eq(v)),
        Op::Ne(v) => Condition::any().add(e().ne(v)).add(e().is_null()),
        Op::In(vs) if vs.is_empty() => Condition::all().add(Expr::val(1).eq(0)),
        Op::In(vs) => Condition::all().add(e().is_in(vs)),
        Op::NotIn(vs) if vs.is_empty() => Condition::all(),
        Op::NotIn(vs) => Condition::any().add(e().is_not_in(vs)).add(e().is_null()),
        Op::Lt(v) => Condition::all().add(e().lt(v)),
        Op::Lte(v) => Condition::all().add(e().lte(v)),
        Op::Gt(v) => Condition::all().add(e().gt(v)),
        Op::Gte(v) => Condition::all().add(e().gte(v)),
        Op::IsNull(true) => Condition::all().add(e().is_null()),
        Op::IsNull(false) => Condition::all().add(e().is_not_null()),
        Op::Contains(s) => Condition::all().add(lower_like(expr, format!("%{}%", like_escape(&s)))),
        Op::StartsWith(s) => {
            Condition::all().add(lower_like(expr, format!("{}%", like_escape(&s))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards_and_lowercase() {
        assert_eq!(like_escape("50%_Off\\"), "50\\%\\_off\\\\");
    }
}
