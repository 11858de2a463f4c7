//! Retry policy: exponential backoff with full jitter, and the cap on a
//! provider's `retry-after`.

use std::time::Duration;

use rand::Rng;
use serde::Deserialize;

use super::breaker::duration_secs;

/// Retry settings for one provider, before the router moves to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts per provider and grading, the first one included.
    pub max_attempts_per_provider: u32,
    /// Backoff before the first retry; it doubles for each later retry.
    #[serde(with = "duration_secs")]
    pub base_delay: Duration,
    /// Upper bound of the backoff.
    #[serde(with = "duration_secs")]
    pub max_delay: Duration,
    /// The longest `retry-after` the router waits for. A 429 asking for
    /// longer moves to the next provider at once.
    #[serde(with = "duration_secs")]
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts_per_provider: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// Returns the wait before retry number `retry` (0 for the first retry):
    /// a uniformly random duration in `0..=min(max_delay, base_delay * 2^retry)`.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(20));
        let ceiling = self.base_delay.saturating_mul(factor).min(self.max_delay);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::thread_rng().gen_range(0..=nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_ceiling() {
        let policy = RetryPolicy::default();
        for retry in 0..10 {
            let ceiling = (Duration::from_millis(200) * 2u32.pow(retry)).min(policy.max_delay);
            for _ in 0..50 {
                assert!(policy.backoff(retry) <= ceiling);
            }
        }
    }
}
