//! Scalars of the public contract: `Date` (YYYY-MM-DD) and `Decimal` (exact, a JSON
//! string). `DateTime` (RFC 3339, UTC) and `ID` come from async-graphql.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::NaiveDate;
use std::str::FromStr;

/// A calendar date, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

/// A calendar date in ISO 8601 form, `YYYY-MM-DD`.
#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| InputValueError::custom("expected a date as YYYY-MM-DD")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

/// An exact decimal number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Decimal(pub rust_decimal::Decimal);

/// An exact decimal number, sent and received as a JSON string such as `"1234.50"` so no
/// client rounds it through floating point. Integers are also accepted as JSON numbers.
#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => rust_decimal::Decimal::from_str(s.trim())
                .map(Decimal)
                .map_err(|_| {
                    InputValueError::custom("expected a decimal number such as \"1234.50\"")
                }),
            Value::Number(n) => n
                .as_i64()
                .map(|i| Decimal(rust_decimal::Decimal::from(i)))
                .ok_or_else(|| {
                    InputValueError::custom("send fractional amounts as strings, e.g. \"12.50\"")
                }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}
