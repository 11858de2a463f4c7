//! A circuit breaker per provider: closed, open and half-open.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

/// Settings of every provider's circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive failed attempts that open the breaker.
    pub failure_threshold: u32,
    /// How long an open breaker rejects calls before it lets one probe through.
    #[serde(with = "duration_secs")]
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cool_down: Duration::from_secs(30),
        }
    }
}

/// The state of a circuit breaker, for logs and health checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls pass; consecutive failures are counted.
    Closed,
    /// Calls are rejected until the cool-down ends.
    Open,
    /// The cool-down ended and one probe call is allowed.
    HalfOpen,
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probe_started: Instant },
}

/// One provider's breaker. It reads time from `tokio::time::Instant`, so
/// tests can drive it with paused time.
#[derive(Debug)]
pub(crate) struct CircuitBreaker {
    config: BreakerConfig,
    state: Mutex<State>,
}

impl CircuitBreaker {
    pub(crate) fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// Returns whether a call may go out now. An open breaker whose cool-down
    /// has ended turns half-open and lets this one call through as a probe.
    /// A probe that never reports back is replaced after another cool-down.
    pub(crate) fn try_acquire(&self) -> bool {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match *state {
            State::Closed { .. } => true,
            State::Open { until } if now >= until => {
                *state = State::HalfOpen { probe_started: now };
                true
            }
            State::Open { .. } => false,
            State::HalfOpen { probe_started } => {
                if now >= probe_started + self.config.cool_down {
                    *state = State::HalfOpen { probe_started: now };
                    true
                } else {
                    false
                }
            }
        }
    }

    /// Closes the breaker and resets the failure count.
    pub(crate) fn record_success(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        *state = State::Closed { failures: 0 };
    }

    /// Counts a failure. Returns `true` when this failure opened the breaker.
    pub(crate) fn record_failure(&self) -> bool {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let open = State::Open {
            until: now + self.config.cool_down,
        };
        match *state {
            State::Closed { failures } => {
                let failures = failures + 1;
                if failures >= self.config.failure_threshold {
                    *state = open;
                    true
                } else {
                    *state = State::Closed { failures };
                    false
                }
            }
            State::HalfOpen { .. } => {
                *state = open;
                true
            }
            State::Open { .. } => false,
        }
    }

    /// Returns the current state without changing it.
    pub(crate) fn state(&self) -> BreakerState {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match *state {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until } if Instant::now() < until => BreakerState::Open,
            State::Open { .. } | State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

/// Reads a `Duration` given as a number of seconds.
pub(crate) mod duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(deserializer)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig {
            failure_threshold: 3,
            cool_down: Duration::from_secs(10),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_threshold() {
        let breaker = breaker();
        assert!(!breaker.record_failure());
        assert!(!breaker.record_failure());
        assert!(breaker.record_failure());
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(!breaker.try_acquire());
    }

    #[tokio::test(start_paused = true)]
    async fn success_resets_failure_count() {
        let breaker = breaker();
        breaker.record_failure();
        breaker.record_failure();
        breaker.record_success();
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_allows_one_probe() {
        let breaker = breaker();
        for _ in 0..3 {
            breaker.record_failure();
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert!(breaker.try_acquire());
        assert!(!breaker.try_acquire());
        breaker.record_success();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_probe_reopens() {
        let breaker = breaker();
        for _ in 0..3 {
            breaker.record_failure();
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(breaker.try_acquire());
        assert!(breaker.record_failure());
        assert_eq!(breaker.state(), BreakerState::Open);
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(!breaker.try_acquire());
    }

    #[tokio::test(start_paused = true)]
    async fn lost_probe_is_replaced_after_cool_down() {
        let breaker = breaker();
        for _ in 0..3 {
            breaker.record_failure();
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(breaker.try_acquire());
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(breaker.try_acquire());
    }
}
