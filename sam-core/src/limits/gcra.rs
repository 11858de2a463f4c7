//! The generic cell rate algorithm (GCRA): a rate, the decision it produces,
//! and the one-step update that the local fallback runs and the Redis script
//! mirrors.
//!
//! Each key stores a theoretical arrival time (TAT). A request is admitted
//! when `TAT + interval - tolerance <= now`, where `interval` is the period
//! divided by the request count and `tolerance` is `interval * burst`. An
//! admitted request moves the TAT to `max(TAT, now) + interval`. Capacity
//! comes back continuously, one request per interval, so a client that spent
//! its burst just before any boundary gets only what was refilled after it.

use std::time::Duration;

use super::{DecisionSource, LimitError};

/// The maximum burst tolerance (`period / count * burst`) a rate may have.
/// It bounds the TTL of a Redis key and keeps the microsecond arithmetic in
/// the Lua script exact, since Lua numbers are doubles.
const MAX_TOLERANCE: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// A request rate: `count` requests per `period`, with at most `burst`
/// requests admitted at once after a quiet spell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    count: u32,
    period: Duration,
    burst: u32,
}

impl Rate {
    /// Builds a rate of `count` requests per `period` with a burst of `burst`.
    ///
    /// # Errors
    /// [`LimitError::InvalidConfig`] when `count` or `burst` is 0, when the
    /// period is shorter than one microsecond per request, or when
    /// `period / count * burst` is longer than seven days.
    pub fn new(count: u32, period: Duration, burst: u32) -> Result<Self, LimitError> {
        if count == 0 || burst == 0 {
            return Err(LimitError::InvalidConfig(format!(
                "rate needs at least 1 request and a burst of at least 1, got {count} requests and burst {burst}"
            )));
        }
        let rate = Self {
            count,
            period,
            burst,
        };
        if rate.interval_micros() < 1 {
            return Err(LimitError::InvalidConfig(format!(
                "rate of {count} requests per {period:?} is faster than 1 request per microsecond"
            )));
        }
        let tolerance = rate.emission_interval().saturating_mul(burst);
        if tolerance > MAX_TOLERANCE {
            return Err(LimitError::InvalidConfig(format!(
                "rate of {count} requests per {period:?} with burst {burst} takes {tolerance:?} to refill, more than the maximum of {MAX_TOLERANCE:?}"
            )));
        }
        Ok(rate)
    }

    /// Builds a rate of `count` requests per second.
    ///
    /// # Errors
    /// As [`Rate::new`].
    pub fn per_second(count: u32, burst: u32) -> Result<Self, LimitError> {
        Self::new(count, Duration::from_secs(1), burst)
    }

    /// Builds a rate of `count` requests per minute.
    ///
    /// # Errors
    /// As [`Rate::new`].
    pub fn per_minute(count: u32, burst: u32) -> Result<Self, LimitError> {
        Self::new(count, Duration::from_secs(60), burst)
    }

    /// Returns the number of requests admitted per period at the sustained
    /// rate.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Returns the period over which [`Rate::count`] requests are admitted.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Returns the maximum number of requests admitted at once, which is
    /// also the `x-ratelimit-limit` value.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Returns the time after which one request's capacity comes back.
    pub fn emission_interval(&self) -> Duration {
        Duration::from_micros(u64::try_from(self.interval_micros()).unwrap_or(0))
    }

    /// Returns the emission interval in whole microseconds, rounded down.
    pub(crate) fn interval_micros(&self) -> i64 {
        let period = i64::try_from(self.period.as_micros()).unwrap_or(i64::MAX);
        period / i64::from(self.count)
    }

    /// Returns the burst tolerance in microseconds.
    pub(crate) fn tolerance_micros(&self) -> i64 {
        self.interval_micros().saturating_mul(i64::from(self.burst))
    }
}

/// The outcome of one rate-limit check, with the values for the
/// `x-ratelimit-*` and `retry-after` response headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether the request is admitted.
    pub allowed: bool,
    /// The rate's burst, sent as `x-ratelimit-limit`.
    pub limit: u32,
    /// Requests that could be admitted right now after this one.
    pub remaining: u32,
    /// Time until the full burst is available again.
    pub reset_after: Duration,
    /// For a rejected request, the time until one request would be admitted.
    pub retry_after: Option<Duration>,
    /// The store that decided.
    pub source: DecisionSource,
}

impl RateDecision {
    /// Builds a decision from the script's or the local step's microsecond
    /// values.
    pub(crate) fn from_micros(
        allowed: bool,
        remaining: i64,
        reset_after: i64,
        retry_after: i64,
        rate: &Rate,
        source: DecisionSource,
    ) -> Self {
        let remaining = u32::try_from(remaining.clamp(0, i64::from(rate.burst))).unwrap_or(0);
        Self {
            allowed,
            limit: rate.burst,
            remaining,
            reset_after: micros(reset_after),
            retry_after: (!allowed).then(|| micros(retry_after)),
            source,
        }
    }

    /// Returns the response headers for this decision: `x-ratelimit-limit`,
    /// `x-ratelimit-remaining` and `x-ratelimit-reset` always, and
    /// `retry-after` for a rejected request. Times are whole seconds,
    /// rounded up so a client that waits that long is admitted.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("x-ratelimit-limit", self.limit.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
            ("x-ratelimit-reset", ceil_secs(self.reset_after).to_string()),
        ];
        if let Some(retry_after) = self.retry_after {
            headers.push(("retry-after", ceil_secs(retry_after).to_string()));
        }
        headers
    }
}

/// Runs one GCRA step for a key whose stored TAT is `stored_tat` (`None`
/// for a new key) at `now`, both in microseconds since the Unix epoch.
/// Returns the decision and, for an admitted request, the new TAT to store.
/// `scripts::GCRA` runs the same arithmetic inside Redis.
pub(crate) fn step(stored_tat: Option<i64>, now: i64, rate: &Rate) -> (RateDecision, Option<i64>) {
    let interval = rate.interval_micros();
    let tolerance = rate.tolerance_micros();
    let tat = stored_tat.map_or(now, |tat| tat.max(now));
    let new_tat = tat.saturating_add(interval);
    let allow_at = new_tat - tolerance;
    if allow_at > now {
        let remaining = (tolerance - (tat - now)) / interval;
        let decision = RateDecision::from_micros(
            false,
            remaining,
            tat - now,
            allow_at - now,
            rate,
            DecisionSource::Local,
        );
        return (decision, None);
    }
    let remaining = (now - allow_at) / interval;
    let decision = RateDecision::from_micros(
        true,
        remaining,
        new_tat - now,
        0,
        rate,
        DecisionSource::Local,
    );
    (decision, Some(new_tat))
}

fn micros(value: i64) -> Duration {
    Duration::from_micros(u64::try_from(value).unwrap_or(0))
}

fn ceil_secs(duration: Duration) -> u64 {
    let secs = duration.as_secs();
    if duration.subsec_nanos() > 0 {
        secs + 1
    } else {
        secs
    }
}
