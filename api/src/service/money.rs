//! Money: exact integer cents in the database, exact decimals at the API.
//!
//! A deal's amount is at most [`MAX_AMOUNT_CENTS`] (999,999,999,999.99 in the deal's
//! currency). The limit is what keeps every report sum exact and cheap: the database refuses
//! a larger amount too (`ck_deals_amount_max`, migration
//! `m20261122_000007_add_deal_amount_max`), and sums are read in two parts (see
//! [`SPLIT_CENTS`]) so no SQL aggregate can overflow even over millions of such deals.

use rust_decimal::Decimal;

use crate::error::{ApiError, ApiResult};

/// The largest amount a deal may hold, in cents: 999,999,999,999.99. The migration that
/// adds `ck_deals_amount_max` spells the same number; `tests/api/hardening_money.rs`
/// checks the two agree.
pub const MAX_AMOUNT_CENTS: i64 = 99_999_999_999_999;

/// Report sums are read as `SUM(cents / SPLIT_CENTS)` and `SUM(cents % SPLIT_CENTS)` and
/// recombined in Rust as `i128` (see `service::report`). With amounts up to
/// [`MAX_AMOUNT_CENTS`] the high part of a row is at most 10^6 and the low part below 10^8;
/// times a probability of at most 100, the two sums stay inside `i64` for more than 900
/// million rows, and even a row stored before the limit existed (up to `i64::MAX`) leaves
/// room for a million of them.
pub const SPLIT_CENTS: i64 = 100_000_000;

/// A client amount as exact cents: at most two decimal places, and it must fit in `i64`.
/// No range check beyond that (filters compare with any such value); a deal's amount goes
/// through [`deal_amount`].
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

/// The maximum amount as a decimal (`999999999999.99`).
pub fn max_amount() -> Decimal {
    from_cents(MAX_AMOUNT_CENTS)
}

/// A deal amount as cents: not negative, at most two decimal places, at most
/// [`MAX_AMOUNT_CENTS`]. Errors are `BAD_USER_INPUT` on `field`.
pub fn deal_amount(amount: &Decimal, field: &str) -> ApiResult<i64> {
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(ApiError::bad_input(field, "must not be negative"));
    }
    let too_large = || ApiError::bad_input(field, format!("must be at most {}", max_amount()));
    if *amount > max_amount() {
        // Before the conversion, so a value past `i64` gets the same message.
        return Err(too_large());
    }
    let cents = to_cents(amount, field)?;
    if cents > MAX_AMOUNT_CENTS {
        return Err(too_large());
    }
    Ok(cents)
}

/// Cents as an exact decimal with two places.
pub fn from_cents(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

/// A sum of cents as an exact decimal with two places. Sums read by the reports are at most
/// `i64::MAX × (SPLIT_CENTS + 1)` in magnitude, well inside the 96 bits of a [`Decimal`]; a
/// value past that is `INTERNAL` (logged), never rounded or saturated.
pub fn sum_from_cents(cents: i128) -> ApiResult<Decimal> {
    scaled(cents, 2)
}

/// `mantissa × 10^-scale` as a [`Decimal`], or `INTERNAL` if it does not fit.
pub(crate) fn scaled(mantissa: i128, scale: u32) -> ApiResult<Decimal> {
    Decimal::try_from_i128_with_scale(mantissa, scale)
        .map_err(|e| ApiError::internal("money value outside the Decimal range", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn cents_round_trip_exactly() {
        for s in ["0", "0.01", "1234.5", "99999999999.99", "1.10"] {
            let d = d(s);
            assert_eq!(from_cents(to_cents(&d, "amount").unwrap()), d.round_dp(2));
        }
        assert!(to_cents(&d("1.001"), "amount").is_err());
        assert!(
            to_cents(&Decimal::MAX, "amount").is_err(),
            "no overflow panic"
        );
        assert!(to_cents(&Decimal::from(i64::MAX), "amount").is_err());
    }

    fn refused(amount: &str) -> String {
        match deal_amount(&d(amount), "amount") {
            Err(ApiError::BadUserInput(errors)) => {
                assert_eq!(errors.len(), 1);
                assert_eq!(errors[0].field, "amount");
                errors[0].message.clone()
            }
            other => panic!("{amount}: {other:?}"),
        }
    }

    #[test]
    fn deal_amounts_are_bounded() {
        assert_eq!(max_amount().to_string(), "999999999999.99");
        assert_eq!(
            deal_amount(&d("999999999999.99"), "amount").unwrap(),
            MAX_AMOUNT_CENTS
        );
        assert_eq!(deal_amount(&d("0"), "amount").unwrap(), 0);
        assert_eq!(deal_amount(&d("-0.00"), "amount").unwrap(), 0);
        for too_large in [
            "1000000000000",
            "999999999999.991",
            "92233720368547758.07",
            "92233720368547758.08",
            "79228162514264337593543950335",
        ] {
            assert_eq!(
                refused(too_large),
                "must be at most 999999999999.99",
                "{too_large}"
            );
        }
        assert_eq!(refused("-0.01"), "must not be negative");
        assert_eq!(refused("1.001"), "has more than two decimal places");
    }

    #[test]
    fn sums_convert_exactly_past_i64() {
        let cents = i128::from(i64::MAX) * i128::from(SPLIT_CENTS + 1);
        assert_eq!(cents, 922_337_212_908_849_617_554_775_807);
        assert_eq!(
            sum_from_cents(cents).unwrap().to_string(),
            "9223372129088496175547758.07"
        );
        assert_eq!(sum_from_cents(-5).unwrap().to_string(), "-0.05");
        assert!(sum_from_cents(i128::MAX).is_err(), "refused, not saturated");
    }
}
