//! One handle on the rate limiter, the daily quota and the settings, with
//! the keys and rates the server applies per request.

use std::sync::Arc;

use crate::tenancy::Partner;

use super::clock::Clock;
use super::config::LimitsPolicy;
use super::gcra::RateDecision;
use super::quota::{DailyQuota, QuotaDecision};
use super::rate::{RateKey, RateLimiter};
use super::LimitError;

/// The limits of every partner: request rates per partner and per API key,
/// and daily evaluation quotas. Cloning is cheap and the clones share state.
#[derive(Debug, Clone)]
pub struct Limits {
    policy: Arc<LimitsPolicy>,
    rates: RateLimiter,
    quotas: DailyQuota,
}

impl Limits {
    /// Builds the limits on the Redis at `redis_url` (without connecting),
    /// or on per-instance state when `redis_url` is `None`.
    ///
    /// # Errors
    /// As [`LimitsPolicy::redis_link`].
    pub fn new(
        policy: LimitsPolicy,
        redis_url: Option<&str>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, LimitError> {
        let (rates, quotas) = match redis_url {
            Some(url) => {
                let link = policy.redis_link(url)?;
                (
                    RateLimiter::new(link.clone(), Arc::clone(&clock)),
                    DailyQuota::new(link, clock),
                )
            }
            None => (
                RateLimiter::local_only(Arc::clone(&clock)),
                DailyQuota::local_only(clock),
            ),
        };
        Ok(Self {
            policy: Arc::new(policy),
            rates,
            quotas,
        })
    }

    /// Checks one request of `partner` under `partner:{slug}` at the
    /// partner's rate.
    pub async fn check_partner(&self, partner: &Partner) -> RateDecision {
        let rate = self.policy.partner_rate(&partner.slug, partner.tier);
        self.rates
            .check(&RateKey::partner(&partner.slug), &rate)
            .await
    }

    /// Checks one request made with the API key whose public prefix is
    /// `key_prefix`, under `key:{key_prefix}`. Each key gets the rate of
    /// its partner, so [`Limits::check_partner`] bounds the partner's keys
    /// together.
    pub async fn check_api_key(&self, partner: &Partner, key_prefix: &str) -> RateDecision {
        let rate = self.policy.partner_rate(&partner.slug, partner.tier);
        self.rates.check(&RateKey::api_key(key_prefix), &rate).await
    }

    /// Counts `evaluations` against the daily quota of `partner` unless that
    /// would pass it.
    ///
    /// # Errors
    /// As [`LimitsPolicy::partner_quota`], for a partner row with a negative
    /// quota or an unknown time zone.
    pub async fn consume_quota(
        &self,
        partner: &Partner,
        evaluations: u64,
    ) -> Result<QuotaDecision, LimitError> {
        let quota = self.policy.partner_quota(partner)?;
        Ok(self
            .quotas
            .check_and_consume(&partner.slug, &quota, evaluations)
            .await)
    }

    /// Returns the validated settings.
    pub fn policy(&self) -> &LimitsPolicy {
        &self.policy
    }

    /// Returns the rate limiter, for keys other than the partner and API key ones.
    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.rates
    }

    /// Returns the daily quota counter.
    pub fn daily_quota(&self) -> &DailyQuota {
        &self.quotas
    }
}
