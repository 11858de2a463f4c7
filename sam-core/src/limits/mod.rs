//! Request rate limits (GCRA) and daily evaluation quotas per partner, kept
//! in Redis so every server replica shares them, with per-instance counters
//! while Redis is unreachable.
//!
//! [`RateLimiter`] and [`DailyQuota`] never fail a request because Redis is
//! down: each call reports in its decision whether Redis or the local
//! fallback decided it.
//!
//! A request handler checks the partner's rate, sends the decision's
//! headers, and counts the evaluation against the daily quota:
//!
//! ```no_run
//! # async fn handle(partner: sam_core::tenancy::Partner) -> Result<(), sam_core::limits::LimitError> {
//! use std::sync::Arc;
//!
//! use sam_core::limits::{Limits, LimitsConfig, SystemClock};
//!
//! let policy = LimitsConfig::default().validate()?;
//! let limits = Limits::new(policy, Some("redis://127.0.0.1:6379"), Arc::new(SystemClock))?;
//!
//! let rate = limits.check_partner(&partner).await;
//! let headers = rate.headers();
//! if !rate.allowed {
//!     // Reply 429 with `headers`, which include `retry-after`.
//!     return Ok(());
//! }
//! let quota = limits.consume_quota(&partner, 1).await?;
//! if !quota.allowed {
//!     // Reply 429 until `quota.resets_at`.
//! }
//! # Ok(())
//! # }
//! ```

mod clock;
mod config;
mod gcra;
mod handle;
mod local;
mod quota;
mod rate;
mod redis_link;
mod scripts;

#[cfg(test)]
mod tests;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{LimitsConfig, LimitsPolicy, RateLimitConfig, TierLimits};
pub use gcra::{Rate, RateDecision};
pub use handle::Limits;
pub use quota::{start_of_local_day, DailyQuota, PartnerQuota, QuotaDecision};
pub use rate::{RateKey, RateLimiter};
pub use redis_link::RedisLink;

/// The store that decided a rate-limit or quota request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecisionSource {
    /// The shared Redis, so the budget is shared by every replica.
    Redis,
    /// This process's own counters, used while Redis is unreachable, so each
    /// replica admits up to the full budget on its own.
    Local,
}

/// An error from building a limiter or from invalid limit settings. Checking
/// a request never returns one, because a Redis failure falls back to local
/// counters.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// The Redis URL is invalid.
    #[error("invalid redis URL for limits: {0}")]
    Redis(#[from] redis::RedisError),
    /// A setting is out of range or the limiter cannot be built as configured.
    #[error("invalid limits configuration: {0}")]
    InvalidConfig(String),
    /// A time zone name is not in the IANA database.
    #[error(
        "invalid time zone {value:?} for {owner}: expected an IANA name such as America/Santiago"
    )]
    InvalidTimeZone {
        /// The partner slug or configuration key that carries the name.
        owner: String,
        /// The rejected name.
        value: String,
    },
    /// A partner's daily quota is negative.
    #[error("invalid daily quota {value} for partner {partner}: expected 0 or more")]
    InvalidQuota {
        /// The partner's slug.
        partner: String,
        /// The rejected quota.
        value: i64,
    },
}
