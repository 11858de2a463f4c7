//! Errors of metering and billing.

use crate::tenancy::TenancyError;

/// An error from a usage report, a price plan or an invoice operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BillingError {
    /// A month was not `YYYY-MM` or out of range.
    #[error("invalid month {value:?}: {reason}")]
    InvalidMonth {
        /// The rejected text.
        value: String,
        /// The expected form.
        reason: String,
    },
    /// A date range was malformed.
    #[error("invalid date range {from} to {to}: {reason}")]
    InvalidRange {
        /// First day as given.
        from: String,
        /// Last day as given.
        to: String,
        /// The reason.
        reason: String,
    },
    /// A time zone name is not in the IANA database.
    #[error("unknown time zone {zone:?}: expected an IANA name such as America/Santiago")]
    InvalidTimeZone {
        /// The rejected name.
        zone: String,
    },
    /// A price plan setting cannot be used.
    #[error("invalid price plan setting billing.{key}: {reason}")]
    InvalidPlan {
        /// The configuration key, such as `tiers.basic.markup_percent`.
        key: String,
        /// The problem and the expected value.
        reason: String,
    },
    /// A CLP plan bills model cost but no exchange rate is configured.
    #[error(
        "partner {partner} is billed in CLP with model cost at_cost, but billing.usd_to_clp \
         is not set; set it to the CLP per USD rate to use"
    )]
    MissingExchangeRate {
        /// The partner's slug.
        partner: String,
    },
    /// The month has not ended in the partner's time zone, so it cannot close.
    #[error("month {month} of partner {partner} has not ended yet (it ends at {ends_at} UTC)")]
    MonthNotEnded {
        /// The partner's slug.
        partner: String,
        /// The month.
        month: String,
        /// When the month ends, RFC 3339 UTC.
        ends_at: String,
    },
    /// The month is closed already; a closed invoice never changes.
    #[error(
        "month {month} of partner {partner} is closed already; later corrections appear as \
         adjustment lines on the next open month"
    )]
    AlreadyClosed {
        /// The partner's slug.
        partner: String,
        /// The month.
        month: String,
    },
    /// A closed month's plan has another currency than the plan of the
    /// month that would carry its adjustment.
    #[error(
        "cannot adjust month {month} of partner {partner}: it was billed in {closed} but the \
         current plan bills in {current}"
    )]
    CurrencyChanged {
        /// The partner's slug.
        partner: String,
        /// The closed month.
        month: String,
        /// The closed month's currency.
        closed: String,
        /// The current plan's currency.
        current: String,
    },
    /// The month ended before the partner was created, so the partner has
    /// no invoice for it.
    #[error(
        "partner {partner} was created on {created_on} ({time_zone}), so it has no invoice for \
         {month}; the first billed month is {first_month}"
    )]
    BeforePartnerCreated {
        /// The partner's slug.
        partner: String,
        /// The requested month.
        month: String,
        /// The partner-local day the partner was created.
        created_on: String,
        /// The partner's time zone.
        time_zone: String,
        /// The month the partner was created in, its first billed month.
        first_month: String,
    },
    /// An amount or count does not fit its type.
    #[error("{what} overflowed")]
    Overflow {
        /// The computed quantity.
        what: &'static str,
    },
    /// A storage error.
    #[error(transparent)]
    Tenancy(#[from] TenancyError),
}

impl From<sqlx::Error> for BillingError {
    fn from(err: sqlx::Error) -> Self {
        Self::Tenancy(err.into())
    }
}
