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
