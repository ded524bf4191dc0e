//! Filter inputs shared by every list: one per scalar type, each with the operators of the
//! public contract. Entity filters (`DealFilter`, …) combine them with `and`, `or`, `not`.

use async_graphql::{Enum, ID, InputObject, InputType};
use chrono::{DateTime, Utc};
use sea_orm::Value;
use sea_orm::sea_query::SimpleExpr;

use crate::error::ApiResult;
use crate::graphql::parse_id;
use crate::graphql::scalars::{Date, Decimal};
use crate::service::filter::{Op, condition};

/// A UTC timestamp (named for the `concrete` attribute below).
pub type UtcDateTime = DateTime<Utc>;

/// Comparisons on an ordered value. Every operator given must hold.
#[derive(InputObject, Default, Clone)]
#[graphql(concrete(name = "IntFilter", params(i32)))]
#[graphql(concrete(name = "DecimalFilter", params(Decimal)))]
#[graphql(concrete(name = "DateFilter", params(Date)))]
#[graphql(concrete(name = "DateTimeFilter", params(UtcDateTime)))]
pub struct OrdFilter<T: InputType> {
    /// Equal to.
    pub eq: Option<T>,
    /// Not equal to (empty values match).
    pub ne: Option<T>,
    /// One of.
    #[graphql(name = "in")]
    pub in_: Option<Vec<T>>,
    /// None of (empty values match).
    pub not_in: Option<Vec<T>>,
    /// Less than.
    pub lt: Option<T>,
    /// Less than or equal to.
    pub lte: Option<T>,
    /// Greater than.
    pub gt: Option<T>,
    /// Greater than or equal to.
    pub gte: Option<T>,
    /// True: the value is empty; false: it is set.
    pub is_null: Option<bool>,
}

impl<T: InputType> OrdFilter<T> {
    /// The operators as conditions on `expr`; `conv` turns a client value into a bound SQL
    /// value (or a `BAD_USER_INPUT` naming the field).
    pub fn conditions(
        &self,
        expr: &SimpleExpr,
        conv: impl Fn(&T) -> ApiResult<Value>,
    ) -> ApiResult<Vec<sea_orm::Condition>> {
        let list = |vs: &Vec<T>| vs.iter().map(&conv).collect::<ApiResult<Vec<_>>>();
        let mut ops = Vec::new();
        if let Some(v) = &self.eq {
            ops.push(Op::Eq(conv(v)?));
        }
        if let Some(v) = &self.ne {
            ops.push(Op::Ne(conv(v)?));
        }
        if let Some(v) = &self.in_ {
            ops.push(Op::In(list(v)?));
        }
        if let Some(v) = &self.not_in {
            ops.push(Op::NotIn(list(v)?));
        }
        if let Some(v) = &self.lt {
            ops.push(Op::Lt(conv(v)?));
        }
        if let Some(v) = &self.lte {
            ops.push(Op::Lte(conv(v)?));
        }
        if let Some(v) = &self.gt {
            ops.push(Op::Gt(conv(v)?));
        }
        if let Some(v) = &self.gte {
            ops.push(Op::Gte(conv(v)?));
        }
        if let Some(b) = self.is_null {
            ops.push(Op::IsNull(b));
        }
        Ok(ops
            .into_iter()
            .map(|op| condition(expr.clone(), op))
            .collect())
    }
}

/// Comparisons on text. `contains` and `startsWith` ignore case; the others compare exactly.
#[derive(InputObject, Default, Clone)]
pub struct StringFilter {
    /// Equal to.
    pub eq: Option<String>,
    /// Not equal to (empty values match).
    pub ne: Option<String>,
    /// One of.
    #[graphql(name = "in")]
    pub in_: Option<Vec<String>>,
    /// None of (empty values match).
    pub not_in: Option<Vec<String>>,
    /// Sorts before.
    pub lt: Option<String>,
    /// Sorts before or equal.
    pub lte: Option<String>,
    /// Sorts after.
    pub gt: Option<String>,
    /// Sorts after or equal.
    pub gte: Option<String>,
    /// True: the value is empty; false: it is set.
    pub is_null: Option<bool>,
    /// Contains this text, ignoring case.
    pub contains: Option<String>,
    /// Starts with this text, ignoring case.
    pub starts_with: Option<String>,
}

impl StringFilter {
    /// The operators as conditions on `expr`.
    pub fn conditions(&self, expr: &SimpleExpr) -> Vec<sea_orm::Condition> {
        let v = |s: &String| Value::from(s.clone());
        let vs = |l: &Vec<String>| l.iter().map(v).collect::<Vec<_>>();
        let mut ops = Vec::new();
        if let Some(s) = &self.eq {
            ops.push(Op::Eq(v(s)));
        }
        if let Some(s) = &self.ne {
            ops.push(Op::Ne(v(s)));
        }
        if let Some(l) = &self.in_ {
            ops.push(Op::In(vs(l)));
        }
        if let Some(l) = &self.not_in {
            ops.push(Op::NotIn(vs(l)));
        }
        if let Some(s) = &self.lt {
            ops.push(Op::Lt(v(s)));
        }
        if let Some(s) = &self.lte {
            ops.push(Op::Lte(v(s)));
        }
        if let Some(s) = &self.gt {
            ops.push(Op::Gt(v(s)));
        }
        if let Some(s) = &self.gte {
            ops.push(Op::Gte(v(s)));
        }
        if let Some(b) = self.is_null {
            ops.push(Op::IsNull(b));
        }
        if let Some(s) = &self.contains {
            ops.push(Op::Contains(s.clone()));
        }
        if let Some(s) = &self.starts_with {
            ops.push(Op::StartsWith(s.clone()));
        }
        ops.into_iter()
            .map(|op| condition(expr.clone(), op))
            .collect()
    }
}

/// Comparisons on a reference to another record.
#[derive(InputObject, Default, Clone)]
pub struct IdFilter {
    /// Equal to.
    pub eq: Option<ID>,
    /// Not equal to (empty references match).
    pub ne: Option<ID>,
    /// One of.
    #[graphql(name = "in")]
    pub in_: Option<Vec<ID>>,
    /// None of (empty references match).
    pub not_in: Option<Vec<ID>>,
    /// True: no reference; false: a reference is set.
    pub is_null: Option<bool>,
}

impl IdFilter {
    /// The operators as conditions on `expr`; a malformed ID is `BAD_USER_INPUT` on `field`.
    pub fn conditions(&self, expr: &SimpleExpr, field: &str) -> ApiResult<Vec<sea_orm::Condition>> {
        let v = |id: &ID| parse_id(id, field).map(Value::from);
        let vs = |l: &Vec<ID>| l.iter().map(v).collect::<ApiResult<Vec<_>>>();
        let mut ops = Vec::new();
        if let Some(id) = &self.eq {
            ops.push(Op::Eq(v(id)?));
        }
        if let Some(id) = &self.ne {
            ops.push(Op::Ne(v(id)?));
        }
        if let Some(l) = &self.in_ {
            ops.push(Op::In(vs(l)?));
        }
        if let Some(l) = &self.not_in {
            ops.push(Op::NotIn(vs(l)?));
        }
        if let Some(b) = self.is_null {
            ops.push(Op::IsNull(b));
        }
        Ok(ops
            .into_iter()
            .map(|op| condition(expr.clone(), op))
            .collect())
    }
}

/// Comparisons on a yes/no value.
#[derive(InputObject, Default, Clone)]
pub struct BooleanFilter {
    /// Equal to.
    pub eq: Option<bool>,
    /// Not equal to.
    pub ne: Option<bool>,
    /// True: the value is empty; false: it is set.
    pub is_null: Option<bool>,
}

impl BooleanFilter {
    /// The operators as conditions on `expr`.
    pub fn conditions(&self, expr: &SimpleExpr) -> Vec<sea_orm::Condition> {
        let mut ops = Vec::new();
        if let Some(b) = self.eq {
            ops.push(Op::Eq(b.into()));
        }
        if let Some(b) = self.ne {
            ops.push(Op::Ne(b.into()));
        }
        if let Some(b) = self.is_null {
            ops.push(Op::IsNull(b));
        }
        ops.into_iter()
            .map(|op| condition(expr.clone(), op))
            .collect()
    }
}

/// Comparisons on one of a fixed set of values.
#[derive(InputObject, Default, Clone)]
#[graphql(concrete(name = "DealStageFilter", params(crate::graphql::deal::DealStage)))]
#[graphql(concrete(name = "DealSourceFilter", params(crate::graphql::deal::DealSource)))]
#[graphql(concrete(name = "PriorityFilter", params(crate::graphql::deal::Priority)))]
#[graphql(concrete(name = "RoleFilter", params(crate::graphql::user::Role)))]
#[graphql(concrete(name = "IndustryFilter", params(crate::graphql::enums::Industry)))]
#[graphql(concrete(name = "CompanySizeFilter", params(crate::graphql::enums::CompanySize)))]
#[graphql(concrete(name = "DepartmentFilter", params(crate::graphql::enums::Department)))]
#[graphql(concrete(
    name = "ActivityTypeFilter",
    params(crate::graphql::enums::ActivityType)
))]
pub struct EnumFilter<T: InputType> {
    /// Equal to.
    pub eq: Option<T>,
    /// Not equal to (empty values match).
    pub ne: Option<T>,
    /// One of.
    #[graphql(name = "in")]
    pub in_: Option<Vec<T>>,
    /// None of (empty values match).
    pub not_in: Option<Vec<T>>,
    /// True: the value is empty; false: it is set.
    pub is_null: Option<bool>,
}

impl<T: InputType + Copy> EnumFilter<T> {
    /// The operators as conditions on `expr`; `conv` gives the stored string of a value.
    pub fn conditions(
        &self,
        expr: &SimpleExpr,
        conv: impl Fn(T) -> Value,
    ) -> Vec<sea_orm::Condition> {
        let vs = |l: &Vec<T>| l.iter().map(|v| conv(*v)).collect::<Vec<_>>();
        let mut ops = Vec::new();
        if let Some(v) = self.eq {
            ops.push(Op::Eq(conv(v)));
        }
        if let Some(v) = self.ne {
            ops.push(Op::Ne(conv(v)));
        }
        if let Some(l) = &self.in_ {
            ops.push(Op::In(vs(l)));
        }
        if let Some(l) = &self.not_in {
            ops.push(Op::NotIn(vs(l)));
        }
        if let Some(b) = self.is_null {
            ops.push(Op::IsNull(b));
        }
        ops.into_iter()
            .map(|op| condition(expr.clone(), op))
            .collect()
    }
}

/// Sort direction; empty values sort last ascending and first descending.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum OrderDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}
