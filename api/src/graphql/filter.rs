//! Filter inputs shared by every list: one per scalar type, each with the operators of the
//! public contract. Record filters (`DealFilter`, …) are declared with [`record_filter!`],
//! which adds `and`, `or`, `not` and turns the input into the service's plain
//! [`Filter`]; nothing here knows SQL.

use async_graphql::{Enum, ID, InputObject, InputType};
use chrono::{DateTime, Utc};

use crate::error::ApiResult;
use crate::graphql::enums::{
    ActivityStatus, ActivityType, CompanySize, DealSource, DealStage, Department, Industry,
    Priority, Role,
};
use crate::graphql::parse_id;
use crate::graphql::scalars::{Date, Decimal};
use crate::service::filter::{Filter, Op, Scalar};

/// A UTC timestamp (named for the `concrete` attribute below).
pub type UtcDateTime = DateTime<Utc>;

/// `filter.fieldName` for the Rust field `field_name`, as errors name it.
pub fn path(field: &str) -> String {
    let mut out = String::from("filter.");
    let mut upper = false;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A client value as a filter operand; `field` (the Rust field name) is what an error
/// names.
pub trait Operand {
    /// The plain value, or `BAD_USER_INPUT` on the field.
    fn operand(&self, field: &str) -> ApiResult<Scalar>;
}

impl Operand for i32 {
    fn operand(&self, _: &str) -> ApiResult<Scalar> {
        Ok(Scalar::Int(i64::from(*self)))
    }
}

impl Operand for Date {
    fn operand(&self, _: &str) -> ApiResult<Scalar> {
        Ok(Scalar::Date(self.0))
    }
}

impl Operand for UtcDateTime {
    fn operand(&self, _: &str) -> ApiResult<Scalar> {
        Ok(Scalar::Ts(*self))
    }
}

/// Money compares in cents; more than two decimal places is refused.
impl Operand for Decimal {
    fn operand(&self, field: &str) -> ApiResult<Scalar> {
        crate::service::money::to_cents(&self.0, &path(field)).map(Scalar::Int)
    }
}

impl Operand for ID {
    fn operand(&self, field: &str) -> ApiResult<Scalar> {
        parse_id(self, &path(field)).map(Scalar::Uuid)
    }
}

impl Operand for String {
    fn operand(&self, _: &str) -> ApiResult<Scalar> {
        Ok(Scalar::Str(self.clone()))
    }
}

impl Operand for bool {
    fn operand(&self, _: &str) -> ApiResult<Scalar> {
        Ok(Scalar::Bool(*self))
    }
}

/// Enums compare by their stored name.
macro_rules! enum_operands {
    ($($gql:ty => $db:ty),* $(,)?) => {$(
        impl Operand for $gql {
            fn operand(&self, _: &str) -> ApiResult<Scalar> {
                Ok(Scalar::of_enum(<$db>::from(*self)))
            }
        }
    )*};
}

enum_operands!(
    DealStage => entity::enums::DealStage,
    DealSource => entity::enums::DealSource,
    Priority => entity::enums::Priority,
    Role => entity::enums::Role,
    Industry => entity::enums::Industry,
    CompanySize => entity::enums::CompanySize,
    Department => entity::enums::Department,
    ActivityType => entity::enums::ActivityType,
    ActivityStatus => entity::enums::ActivityStatus,
);

/// The operators of one field's filter input.
pub trait Operators {
    /// The operators given, in contract order.
    fn operators(&self, field: &str) -> ApiResult<Vec<Op>>;
}

/// The equality operators every filter input has.
fn equality<T: Operand>(
    field: &str,
    eq: &Option<T>,
    ne: &Option<T>,
    in_: &Option<Vec<T>>,
    not_in: &Option<Vec<T>>,
) -> ApiResult<Vec<Op>> {
    let list = |vs: &Vec<T>| {
        vs.iter()
            .map(|v| v.operand(field))
            .collect::<ApiResult<Vec<_>>>()
    };
    let mut ops = Vec::new();
    if let Some(v) = eq {
        ops.push(Op::Eq(v.operand(field)?));
    }
    if let Some(v) = ne {
        ops.push(Op::Ne(v.operand(field)?));
    }
    if let Some(v) = in_ {
        ops.push(Op::In(list(v)?));
    }
    if let Some(v) = not_in {
        ops.push(Op::NotIn(list(v)?));
    }
    Ok(ops)
}

/// The ordering operators.
fn ordering<T: Operand>(
    field: &str,
    [lt, lte, gt, gte]: [&Option<T>; 4],
    ops: &mut Vec<Op>,
) -> ApiResult<()> {
    let make: [fn(Scalar) -> Op; 4] = [Op::Lt, Op::Lte, Op::Gt, Op::Gte];
    for (v, make) in [lt, lte, gt, gte].into_iter().zip(make) {
        if let Some(v) = v {
            ops.push(make(v.operand(field)?));
        }
    }
    Ok(())
}

/// A record kind's filter input: converts into the service's [`Filter`] over `Field`.
pub trait RecordFilter {
    /// The kind's filterable fields.
    type Field;
    /// The plain filter; malformed values are `BAD_USER_INPUT` naming the field.
    fn to_filter(&self) -> ApiResult<Filter<Self::Field>>;
}

/// Declares a record filter input: each field's operators on a service field, plus `and`,
/// `or`, `not`, and its [`RecordFilter`] conversion.
macro_rules! record_filter {
    (
        $(#[$meta:meta])*
        $name:ident over $field:ty {
            $( $(#[$fmeta:meta])* $f:ident : $ty:ty => $target:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(async_graphql::InputObject, Default, Clone)]
        pub struct $name {
            $( $(#[$fmeta])* pub $f: Option<$ty>, )*
            /// All of these.
            pub and: Option<Vec<$name>>,
            /// Any of these.
            pub or: Option<Vec<$name>>,
            /// Not this.
            pub not: Option<Box<$name>>,
        }

        impl $crate::graphql::filter::RecordFilter for $name {
            type Field = $field;
            fn to_filter(
                &self,
            ) -> $crate::error::ApiResult<$crate::service::filter::Filter<$field>> {
                use $crate::graphql::filter::Operators as _;
                use $crate::service::filter::Filter;
                let mut all = Vec::new();
                $(
                    if let Some(f) = &self.$f {
                        for op in f.operators(stringify!($f))? {
                            all.push(Filter::Is($target, op));
                        }
                    }
                )*
                for f in self.and.iter().flatten() {
                    all.push(f.to_filter()?);
                }
                if let Some(list) = &self.or {
                    let any = list.iter().map(|f| f.to_filter()).collect::<Result<_, _>>()?;
                    all.push(Filter::Any(any));
                }
                if let Some(f) = &self.not {
                    all.push(Filter::Not(Box::new(f.to_filter()?)));
                }
                Ok(Filter::All(all))
            }
        }
    };
}

pub(crate) use record_filter;

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

impl<T: InputType + Operand> Operators for OrdFilter<T> {
    fn operators(&self, field: &str) -> ApiResult<Vec<Op>> {
        let mut ops = equality(field, &self.eq, &self.ne, &self.in_, &self.not_in)?;
        ordering(field, [&self.lt, &self.lte, &self.gt, &self.gte], &mut ops)?;
        if let Some(b) = self.is_null {
            ops.push(Op::IsNull(b));
        }
        Ok(ops)
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

impl Operators for StringFilter {
    fn operators(&self, field: &str) -> ApiResult<Vec<Op>> {
        let mut ops = equality(field, &self.eq, &self.ne, &self.in_, &self.not_in)?;
        ordering(field, [&self.lt, &self.lte, &self.gt, &self.gte], &mut ops)?;
        if let Some(b) = self.is_null {
            ops.push(Op::IsNull(b));
        }
        if let Some(s) = &self.contains {
            ops.push(Op::Contains(s.clone()));
        }
        if let Some(s) = &self.starts_with {
            ops.push(Op::StartsWith(s.clone()));
        }
        Ok(ops)
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

impl Operators for IdFilter {
    fn operators(&self, field: &str) -> ApiResult<Vec<Op>> {
        let mut ops = equality(field, &self.eq, &self.ne, &self.in_, &self.not_in)?;
        if let Some(b) = self.is_null {
            ops.push(Op::IsNull(b));
        }
        Ok(ops)
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

impl Operators for BooleanFilter {
    fn operators(&self, field: &str) -> ApiResult<Vec<Op>> {
        let mut ops = equality(field, &self.eq, &self.ne, &None, &None)?;
        if let Some(b) = self.is_null {
            ops.push(Op::IsNull(b));
        }
        Ok(ops)
    }
}

/// Comparisons on one of a fixed set of values.
#[derive(InputObject, Default, Clone)]
#[graphql(concrete(name = "DealStageFilter", params(DealStage)))]
#[graphql(concrete(name = "DealSourceFilter", params(DealSource)))]
#[graphql(concrete(name = "PriorityFilter", params(Priority)))]
#[graphql(concrete(name = "RoleFilter", params(Role)))]
#[graphql(concrete(name = "IndustryFilter", params(Industry)))]
#[graphql(concrete(name = "CompanySizeFilter", params(CompanySize)))]
#[graphql(concrete(name = "DepartmentFilter", params(Department)))]
#[graphql(concrete(name = "ActivityTypeFilter", params(ActivityType)))]
#[graphql(concrete(name = "ActivityStatusFilter", params(ActivityStatus)))]
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

impl<T: InputType + Operand> Operators for EnumFilter<T> {
    fn operators(&self, field: &str) -> ApiResult<Vec<Op>> {
        let mut ops = equality(field, &self.eq, &self.ne, &self.in_, &self.not_in)?;
        if let Some(b) = self.is_null {
            ops.push(Op::IsNull(b));
        }
        Ok(ops)
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

/// Declares a kind's GraphQL order-field enum from the service's list of sort keys
/// (`xxx_sort_keys!(order_field_enum)`), converting into the service's sort.
macro_rules! order_field_enum {
    ($(#[$meta:meta])* $name:ident as $api:ident { $($(#[$vmeta:meta])* $variant:ident,)* }) => {
        $(#[$meta])*
        #[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
        pub enum $api {
            $($(#[$vmeta])* $variant,)*
        }

        impl From<$api> for $name {
            fn from(f: $api) -> Self {
                match f {
                    $($api::$variant => $name::$variant,)*
                }
            }
        }
    };
}

pub(crate) use order_field_enum;

/// A record kind's ordering input: one key of the service's sort, and its direction.
pub trait RecordOrder {
    /// The kind's sort keys.
    type Sort;
    /// The key and `true` for descending.
    fn key(&self) -> (Self::Sort, bool);
}

/// Declares a record order input (`field` and `direction`) for an order-field enum that
/// mirrors the service's sort (`#[graphql(remote = …)]`).
macro_rules! record_order {
    ($(#[$meta:meta])* $name:ident, $field:ty => $sort:ty) => {
        $(#[$meta])*
        #[derive(async_graphql::InputObject, Clone, Copy)]
        pub struct $name {
            /// What to order by.
            pub field: $field,
            /// Which way.
            #[graphql(default)]
            pub direction: $crate::graphql::filter::OrderDirection,
        }

        impl $crate::graphql::filter::RecordOrder for $name {
            type Sort = $sort;
            fn key(&self) -> ($sort, bool) {
                (
                    self.field.into(),
                    self.direction == $crate::graphql::filter::OrderDirection::Desc,
                )
            }
        }
    };
}

pub(crate) use record_order;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_camel_case() {
        assert_eq!(path("owner_id"), "filter.ownerId");
        assert_eq!(path("amount"), "filter.amount");
    }

    fn amounts(eq: &str, gte: Option<&str>) -> OrdFilter<Decimal> {
        let d = |s: &str| Decimal(s.parse().unwrap());
        OrdFilter {
            eq: Some(d(eq)),
            ne: None,
            in_: None,
            not_in: None,
            lt: None,
            lte: None,
            gt: None,
            gte: gte.map(d),
            is_null: None,
        }
    }

    #[test]
    fn operators_keep_contract_order_and_name_the_field() {
        let f = amounts("2", Some("1.5"));
        assert_eq!(
            f.operators("amount").unwrap(),
            vec![Op::Eq(Scalar::Int(200)), Op::Gte(Scalar::Int(150))]
        );
        let bad = amounts("1.234", None);
        let err = bad.operators("amount").unwrap_err();
        assert!(format!("{err:?}").contains("filter.amount"));
        let id = IdFilter {
            eq: Some(ID("nope".into())),
            ..Default::default()
        };
        assert!(format!("{:?}", id.operators("owner_id").unwrap_err()).contains("filter.ownerId"));
    }
}
