//! Money: exact integer cents in the database, exact decimals at the API.

use rust_decimal::Decimal;

use crate::error::{ApiError, ApiResult};

/// A client amount as exact cents: at most two decimal places, and it must fit.
pub fn to_cents(amount: &Decimal, field: &str) -> ApiResult<i64> {
    let normalized = amount.normalize();
    if normalized.scale() > 2 {
        return Err(ApiError::bad_input(
            field,
            "has more than two decimal places",
        ));
    }
    normalized
        .checked_mul(Decimal::ONE_HUNDRED)
        .and_then(|c| i64::try_from(c.trunc()).ok())
        .ok_or_else(|| ApiError::bad_input(field, "is too large"))
}

/// Cents as an exact decimal with two places.
pub fn from_cents(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn cents_round_trip_exactly() {
        for s in ["0", "0.01", "1234.5", "99999999999.99", "1.10"] {
            let d = Decimal::from_str(s).unwrap();
            assert_eq!(from_cents(to_cents(&d, "amount").unwrap()), d.round_dp(2));
        }
        assert!(to_cents(&Decimal::from_str("1.001").unwrap(), "amount").is_err());
        assert!(
            to_cents(&Decimal::MAX, "amount").is_err(),
            "no overflow panic"
        );
        assert!(to_cents(&Decimal::from(i64::MAX), "amount").is_err());
    }
}
