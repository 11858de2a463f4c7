//! The request rate limiter: GCRA per key in Redis, with per-instance state
//! while Redis is unreachable.

use std::fmt;
use std::sync::Arc;

use crate::tenancy::PartnerSlug;

use super::clock::Clock;
use super::gcra::{Rate, RateDecision};
use super::local::LocalRates;
use super::redis_link::RedisLink;
use super::scripts::GCRA_SCRIPT;
use super::DecisionSource;

/// The name a rate limit is counted under, such as `partner:acme`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RateKey(String);

impl RateKey {
    /// Returns the key for all requests of one partner: `partner:{slug}`.
    pub fn partner(slug: &PartnerSlug) -> Self {
        Self(format!("partner:{slug}"))
    }

    /// Returns the key for the requests made with one API key:
    /// `key:{prefix}`, where `prefix` is the key's public prefix.
    pub fn api_key(prefix: &str) -> Self {
        Self(format!("key:{prefix}"))
    }

    /// Returns the key as stored, without the link's prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Admits or rejects requests per [`RateKey`] at a [`Rate`], with the state
/// in Redis so every replica shares the budget. Cloning is cheap and the
/// clones share state.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    redis: Option<RedisLink>,
    local: Arc<LocalRates>,
    clock: Arc<dyn Clock>,
}

impl RateLimiter {
    /// Builds a limiter on `redis`. The `clock` only times the local state
    /// used during an outage and the retry interval, because the Redis
    /// script reads the Redis server's clock.
    pub fn new(redis: RedisLink, clock: Arc<dyn Clock>) -> Self {
        Self {
            redis: Some(redis),
            local: Arc::new(LocalRates::new()),
            clock,
        }
    }

    /// Builds a limiter that keeps all state in this process.
    pub fn local_only(clock: Arc<dyn Clock>) -> Self {
        Self {
            redis: None,
            local: Arc::new(LocalRates::new()),
            clock,
        }
    }

    /// Checks one request under `key` at `rate` and, when it is admitted,
    /// counts it. A Redis failure falls back to the local state, so this
    /// never fails.
    ///
    /// The state of a key does not record its rate, so every call for one
    /// key should pass the same rate. A changed rate takes effect from the
    /// stored arrival time, without a reset.
    pub async fn check(&self, key: &RateKey, rate: &Rate) -> RateDecision {
        let now = micros_since_epoch(self.clock.as_ref());
        if let Some(redis) = &self.redis {
            if redis.should_try(now) {
                match check_in_redis(redis, key, rate).await {
                    Ok(decision) => {
                        redis.record_success();
                        return decision;
                    }
                    Err(error) => redis.record_failure(now, &error),
                }
            }
            redis.record_local_decision();
        }
        self.local.check(key.as_str(), now, rate)
    }
}

async fn check_in_redis(
    redis: &RedisLink,
    key: &RateKey,
    rate: &Rate,
) -> Result<RateDecision, redis::RedisError> {
    let mut connection = redis.connection();
    let (allowed, remaining, reset_after, retry_after) = GCRA_SCRIPT
        .key(redis.key(key.as_str()))
        .arg(rate.interval_micros())
        .arg(rate.tolerance_micros())
        .invoke_async::<(i64, i64, i64, i64)>(&mut connection)
        .await?;
    Ok(RateDecision::from_micros(
        allowed == 1,
        remaining,
        reset_after,
        retry_after,
        rate,
        DecisionSource::Redis,
    ))
}

/// Returns the clock's time in microseconds since the Unix epoch.
fn micros_since_epoch(clock: &dyn Clock) -> i64 {
    clock.now().timestamp_micros()
}
