//! Limit settings: request rates per tier with per-partner overrides, the
//! default time zone for quota days, and the Redis timing. Read as
//! [`LimitsConfig`], then validated into a [`LimitsPolicy`].

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::tenancy::{Partner, PartnerSlug, Tier};

use super::gcra::Rate;
use super::quota::PartnerQuota;
use super::redis_link::RedisLink;
use super::LimitError;

/// The limit settings as written in the configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Prefix of every Redis key the limiters write.
    pub key_prefix: String,
    /// Milliseconds a Redis command may take before it counts as a failure
    /// and the request is decided locally.
    pub redis_timeout_ms: u64,
    /// Seconds between attempts to reach Redis again during an outage.
    pub retry_interval_secs: u64,
    /// IANA time zone for the quota days of partners that have none.
    pub default_time_zone: String,
    /// Request rate per tier.
    pub tiers: TierLimits,
    /// Request rates that replace the tier's rate for single partners, by
    /// partner slug.
    pub partners: BTreeMap<PartnerSlug, RateLimitConfig>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            key_prefix: "sam:limits:".to_owned(),
            redis_timeout_ms: 250,
            retry_interval_secs: 5,
            default_time_zone: "America/Santiago".to_owned(),
            tiers: TierLimits::default(),
            partners: BTreeMap::new(),
        }
    }
}

/// The request rate of each tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TierLimits {
    /// Rate of the basic tier.
    pub basic: RateLimitConfig,
    /// Rate of the standard tier.
    pub standard: RateLimitConfig,
    /// Rate of the premium tier.
    pub premium: RateLimitConfig,
    /// Rate of the enterprise tier.
    pub enterprise: RateLimitConfig,
}

// NOTE: these defaults are starting values, not sized from measured
// traffic; deployments should set them in the configuration file.
impl Default for TierLimits {
    fn default() -> Self {
        Self {
            basic: RateLimitConfig::new(60, 10),
            standard: RateLimitConfig::new(300, 50),
            premium: RateLimitConfig::new(1_200, 200),
            enterprise: RateLimitConfig::new(6_000, 1_000),
        }
    }
}

impl TierLimits {
    /// Returns the settings of `tier`.
    pub fn get(&self, tier: Tier) -> RateLimitConfig {
        match tier {
            Tier::Basic => self.basic,
            Tier::Standard => self.standard,
            Tier::Premium => self.premium,
            Tier::Enterprise => self.enterprise,
        }
    }
}

/// A request rate as written in the configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sustained requests per minute.
    pub requests_per_minute: u32,
    /// Requests admitted at once after a quiet spell.
    pub burst: u32,
}

impl RateLimitConfig {
    /// Builds a setting of `requests_per_minute` with a burst of `burst`.
    pub const fn new(requests_per_minute: u32, burst: u32) -> Self {
        Self {
            requests_per_minute,
            burst,
        }
    }

    /// Validates the setting into a [`Rate`].
    ///
    /// # Errors
    /// As [`Rate::per_minute`].
    pub fn rate(&self) -> Result<Rate, LimitError> {
        Rate::per_minute(self.requests_per_minute, self.burst)
    }
}

/// Validated limit settings.
#[derive(Debug, Clone)]
pub struct LimitsPolicy {
    tiers: [Rate; 4],
    partners: HashMap<PartnerSlug, Rate>,
    default_time_zone: Tz,
    key_prefix: String,
    redis_timeout: Duration,
    retry_interval: Duration,
}

impl LimitsConfig {
    /// Validates the settings.
    ///
    /// # Errors
    /// [`LimitError::InvalidConfig`] naming the setting for an invalid rate
    /// or a zero Redis timeout, and [`LimitError::InvalidTimeZone`] for a
    /// default time zone that is not an IANA name.
    pub fn validate(&self) -> Result<LimitsPolicy, LimitError> {
        let tier_rate = |tier: Tier| {
            self.tiers
                .get(tier)
                .rate()
                .map_err(|error| named(&format!("tiers.{tier}"), error))
        };
        let tiers = [
            tier_rate(Tier::Basic)?,
            tier_rate(Tier::Standard)?,
            tier_rate(Tier::Premium)?,
            tier_rate(Tier::Enterprise)?,
        ];
        let mut partners = HashMap::with_capacity(self.partners.len());
        for (slug, setting) in &self.partners {
            let rate = setting
                .rate()
                .map_err(|error| named(&format!("partners.{slug}"), error))?;
            partners.insert(slug.clone(), rate);
        }
        let default_time_zone =
            self.default_time_zone
                .parse::<Tz>()
                .map_err(|_| LimitError::InvalidTimeZone {
                    owner: "default_time_zone".to_owned(),
                    value: self.default_time_zone.clone(),
                })?;
        if self.redis_timeout_ms == 0 {
            return Err(LimitError::InvalidConfig(
                "redis_timeout_ms must be at least 1".to_owned(),
            ));
        }
        Ok(LimitsPolicy {
            tiers,
            partners,
            default_time_zone,
            key_prefix: self.key_prefix.clone(),
            redis_timeout: Duration::from_millis(self.redis_timeout_ms),
            retry_interval: Duration::from_secs(self.retry_interval_secs),
        })
    }
}

/// Prefixes the message of an invalid-setting error with the setting's name.
fn named(setting: &str, error: LimitError) -> LimitError {
    match error {
        LimitError::InvalidConfig(message) => {
            LimitError::InvalidConfig(format!("{setting}: {message}"))
        }
        other => other,
    }
}

impl LimitsPolicy {
    /// Returns the request rate of a partner: its override when there is
    /// one, otherwise its tier's rate.
    pub fn partner_rate(&self, slug: &PartnerSlug, tier: Tier) -> Rate {
        self.partners
            .get(slug)
            .copied()
            .unwrap_or_else(|| self.tier_rate(tier))
    }

    /// Returns the request rate of `tier`.
    pub fn tier_rate(&self, tier: Tier) -> Rate {
        match tier {
            Tier::Basic => self.tiers[0],
            Tier::Standard => self.tiers[1],
            Tier::Premium => self.tiers[2],
            Tier::Enterprise => self.tiers[3],
        }
    }

    /// Returns the daily quota of `partner`, in the default time zone when
    /// the partner has none.
    ///
    /// # Errors
    /// As [`PartnerQuota::from_partner`].
    pub fn partner_quota(&self, partner: &Partner) -> Result<PartnerQuota, LimitError> {
        PartnerQuota::from_partner(partner, self.default_time_zone)
    }

    /// Returns the time zone used for partners that have none.
    pub fn default_time_zone(&self) -> Tz {
        self.default_time_zone
    }

    /// Builds the Redis link for these settings, without connecting.
    ///
    /// # Errors
    /// As [`RedisLink::new`].
    pub fn redis_link(&self, url: &str) -> Result<RedisLink, LimitError> {
        RedisLink::new(
            url,
            &self.key_prefix,
            self.redis_timeout,
            self.retry_interval,
        )
    }
}
