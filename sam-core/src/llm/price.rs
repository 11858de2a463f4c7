//! Provider prices and the exact cost of a call in nanos of USD.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::RouterError;
use crate::eval::TokenUsage;

/// The maximum number of decimal places of a price per million tokens. A price of
/// `p` USD per million tokens is `p * 1000` nanos per token, so with at most
/// three decimals every token costs a whole number of nanos and the cost is
/// exact.
pub const MAX_PRICE_DECIMALS: u32 = 3;

/// A model's prices in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// Price of uncached input tokens.
    pub input_per_million: Decimal,
    /// Price of input tokens served from the provider's prompt cache.
    pub cached_input_per_million: Decimal,
    /// Price of output tokens.
    pub output_per_million: Decimal,
}

impl Prices {
    /// Checks that every price is non-negative with at most
    /// [`MAX_PRICE_DECIMALS`] decimal places.
    ///
    /// # Errors
    /// [`RouterError::InvalidPrice`] naming the first bad price.
    pub fn validate(&self) -> Result<(), RouterError> {
        nanos_per_token("input_per_million", self.input_per_million)?;
        nanos_per_token("cached_input_per_million", self.cached_input_per_million)?;
        nanos_per_token("output_per_million", self.output_per_million)?;
        Ok(())
    }

    /// Computes the cost of `usage` in nanos of USD (1e-9 USD):
    /// `(uncached_input * input + cached * cached_input + output * output) / 1e6`,
    /// where `uncached_input = input_tokens - cached_input_tokens`. The result
    /// is exact because each price is a whole number of nanos per token.
    ///
    /// # Errors
    /// [`RouterError::InvalidPrice`] for a price that fails [`Prices::validate`],
    /// [`RouterError::CostOverflow`] when the cost does not fit in an `i64`.
    pub fn cost_nanos(&self, usage: &TokenUsage) -> Result<i64, RouterError> {
        let cached = usage.cached_input_tokens.min(usage.input_tokens);
        let uncached = usage.input_tokens - cached;
        let parts = [
            (
                uncached,
                nanos_per_token("input_per_million", self.input_per_million)?,
            ),
            (
                cached,
                nanos_per_token("cached_input_per_million", self.cached_input_per_million)?,
            ),
            (
                usage.output_tokens,
                nanos_per_token("output_per_million", self.output_per_million)?,
            ),
        ];
        let mut total: i128 = 0;
        for (tokens, price) in parts {
            total += i128::from(tokens) * price;
        }
        i64::try_from(total).map_err(|_| RouterError::CostOverflow {
            tokens: usage.input_tokens.saturating_add(usage.output_tokens),
        })
    }
}

/// Converts a price per million tokens to whole nanos per token.
fn nanos_per_token(field: &'static str, price: Decimal) -> Result<i128, RouterError> {
    let invalid = |reason| RouterError::InvalidPrice {
        field,
        value: price.to_string(),
        reason,
    };
    if price.is_sign_negative() && !price.is_zero() {
        return Err(invalid("prices must not be negative"));
    }
    if price.normalize().scale() > MAX_PRICE_DECIMALS {
        return Err(invalid(
            "prices per million tokens may have at most 3 decimal places, so each token costs whole nanos",
        ));
    }
    let nanos = price * Decimal::from(1_000);
    nanos.to_i128().ok_or_else(|| invalid("price is too large"))
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn usage(input: u64, cached: u64, output: u64) -> TokenUsage {
        TokenUsage {
            input_tokens: input,
            cached_input_tokens: cached,
            output_tokens: output,
        }
    }

    #[test]
    fn cost_of_input_at_fifteen_cents() {
        let prices = Prices {
            input_per_million: dec!(0.15),
            ..Prices::default()
        };
        let cost = prices.cost_nanos(&usage(1_234_567, 0, 0)).unwrap();
        assert_eq!(cost, 185_185_050);
    }

    #[test]
    fn cost_splits_cached_input() {
        // 1000 uncached at 0.27 = 270_000, 500 cached at 0.07 = 35_000,
        // 200 output at 1.10 = 220_000 nanos.
        let prices = Prices {
            input_per_million: dec!(0.27),
            cached_input_per_million: dec!(0.07),
            output_per_million: dec!(1.10),
        };
        let cost = prices.cost_nanos(&usage(1_500, 500, 200)).unwrap();
        assert_eq!(cost, 525_000);
    }

    #[test]
    fn price_with_four_decimals_rejected() {
        let prices = Prices {
            output_per_million: dec!(0.1234),
            ..Prices::default()
        };
        let err = prices.validate().unwrap_err().to_string();
        assert!(err.contains("output_per_million"), "{err}");
        assert!(err.contains("3 decimal places"), "{err}");
    }

    #[test]
    fn trailing_zeros_do_not_count_as_decimals() {
        let prices = Prices {
            input_per_million: dec!(0.1500),
            ..Prices::default()
        };
        assert!(prices.validate().is_ok());
    }

    #[test]
    fn negative_price_rejected() {
        let prices = Prices {
            input_per_million: dec!(-1),
            ..Prices::default()
        };
        assert!(prices.validate().is_err());
    }

    #[test]
    fn cost_overflow_is_an_error() {
        let prices = Prices {
            output_per_million: dec!(1000),
            ..Prices::default()
        };
        let err = prices.cost_nanos(&usage(0, 0, u64::MAX)).unwrap_err();
        assert!(matches!(err, RouterError::CostOverflow { .. }));
    }
}
