//! Conversions between Rust values and the portable column encodings that
//! both PostgreSQL and SQLite store identically through sqlx's `Any` driver.

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;

use crate::tenancy::TenancyError;

/// Encodes a timestamp as fixed-width RFC 3339 UTC text with microseconds,
/// so text order is time order.
pub(crate) fn encode_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Decodes a timestamp written by [`encode_time`].
pub(crate) fn decode_time(column: &'static str, text: &str) -> Result<DateTime<Utc>, TenancyError> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|err| TenancyError::Corrupt {
            column,
            reason: format!("{text:?} is not an RFC 3339 time: {err}"),
        })
}

/// Decodes a decimal stored as text.
pub(crate) fn decode_decimal(column: &'static str, text: &str) -> Result<Decimal, TenancyError> {
    text.parse().map_err(|err| TenancyError::Corrupt {
        column,
        reason: format!("{text:?} is not a decimal: {err}"),
    })
}

/// Decodes a closed-set name stored as text.
pub(crate) fn decode_name<T: std::str::FromStr>(
    column: &'static str,
    text: &str,
) -> Result<T, TenancyError> {
    text.parse().map_err(|_| TenancyError::Corrupt {
        column,
        reason: format!("{text:?} is not a known value"),
    })
}

/// Decodes a UUID stored as text.
pub(crate) fn decode_uuid(column: &'static str, text: &str) -> Result<uuid::Uuid, TenancyError> {
    text.parse().map_err(|err| TenancyError::Corrupt {
        column,
        reason: format!("{text:?} is not a UUID: {err}"),
    })
}

/// Encodes a flag as the 0/1 integer both engines store.
pub(crate) fn encode_flag(flag: bool) -> i64 {
    i64::from(flag)
}

/// Decodes a flag written by [`encode_flag`].
pub(crate) fn decode_flag(value: i64) -> bool {
    value != 0
}

/// Returns the `VALUES` list for `rows` rows of `columns` bind parameters,
/// numbered from `$1`: `($1, $2), ($3, $4)`.
///
/// sqlx's `QueryBuilder` writes `?` placeholders for the `Any` driver,
/// which PostgreSQL rejects, so multi-row statements number their own.
pub(crate) fn values_list(rows: usize, columns: usize) -> String {
    let mut text = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            text.push_str(", ");
        }
        text.push('(');
        for column in 0..columns {
            if column > 0 {
                text.push_str(", ");
            }
            text.push('$');
            text.push_str(&(row * columns + column + 1).to_string());
        }
        text.push(')');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_list_numbers_every_parameter() {
        assert_eq!(values_list(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values_list(1, 1), "($1)");
    }
}
