//! The daily evaluation quota per partner, counted per partner-local day
//! and reset at local midnight.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use crate::tenancy::{Partner, PartnerSlug};

use super::clock::Clock;
use super::local::LocalQuotas;
use super::redis_link::RedisLink;
use super::scripts::QUOTA_SCRIPT;
use super::{DecisionSource, LimitError};

/// How long a day's counter outlives the day, so a replica whose clock is
/// behind still finds the count near midnight. The date in the key, not the
/// expiry, is what resets the count.
const KEY_GRACE: TimeDelta = TimeDelta::hours(1);

/// Maximum stretch of local time, in minutes, that a time zone transition
/// may skip. The longest known gap is a whole day (Pacific/Apia skipped 2011-12-30), and
/// the search for the start of a day covers up to the next midnight.
const MAX_GAP_MINUTES: i64 = 24 * 60;

/// One partner's daily limit and the time zone its days are counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartnerQuota {
    /// Evaluations admitted per local day.
    pub daily_limit: u64,
    /// The IANA time zone whose midnight starts a new day.
    pub time_zone: Tz,
}

impl PartnerQuota {
    /// Builds a quota of `daily_limit` evaluations per day in `time_zone`.
    pub fn new(daily_limit: u64, time_zone: Tz) -> Self {
        Self {
            daily_limit,
            time_zone,
        }
    }

    /// Reads the quota of `partner`, using `default_time_zone` when the
    /// partner's time zone is empty.
    ///
    /// # Errors
    /// [`LimitError::InvalidQuota`] for a negative `daily_quota`, and
    /// [`LimitError::InvalidTimeZone`] for a time zone that is not an IANA
    /// name.
    pub fn from_partner(partner: &Partner, default_time_zone: Tz) -> Result<Self, LimitError> {
        let daily_limit =
            u64::try_from(partner.daily_quota).map_err(|_| LimitError::InvalidQuota {
                partner: partner.slug.to_string(),
                value: partner.daily_quota,
            })?;
        let name = partner.time_zone.trim();
        let time_zone = if name.is_empty() {
            default_time_zone
        } else {
            name.parse::<Tz>()
                .map_err(|_| LimitError::InvalidTimeZone {
                    owner: partner.slug.to_string(),
                    value: partner.time_zone.clone(),
                })?
        };
        Ok(Self::new(daily_limit, time_zone))
    }
}

/// The outcome of one quota check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaDecision {
    /// Whether the evaluations were admitted and counted.
    pub allowed: bool,
    /// Evaluations counted for the day after this call.
    pub used: u64,
    /// The daily limit.
    pub limit: u64,
    /// The partner-local date counted.
    pub day: NaiveDate,
    /// The next local midnight, when the count starts again from 0.
    pub resets_at: DateTime<Utc>,
    /// The store that decided.
    pub source: DecisionSource,
}

impl QuotaDecision {
    /// Evaluations still admitted today.
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }
}

/// Counts evaluations per partner and local day in Redis, with per-instance
/// counts while Redis is unreachable. Cloning is cheap and the clones share
/// state.
#[derive(Debug, Clone)]
pub struct DailyQuota {
    redis: Option<RedisLink>,
    local: Arc<LocalQuotas>,
    clock: Arc<dyn Clock>,
}

impl DailyQuota {
    /// Builds a quota counter on `redis`, with `clock` deciding the local
    /// day.
    // NOTE: the day comes from each replica's clock, not from Redis, so
    // around midnight replicas whose clocks differ disagree on the day for
    // as long as the difference.
    pub fn new(redis: RedisLink, clock: Arc<dyn Clock>) -> Self {
        Self {
            redis: Some(redis),
            local: Arc::new(LocalQuotas::new()),
            clock,
        }
    }

    /// Builds a quota counter that keeps all counts in this process.
    pub fn local_only(clock: Arc<dyn Clock>) -> Self {
        Self {
            redis: None,
            local: Arc::new(LocalQuotas::new()),
            clock,
        }
    }

    /// Counts `evaluations` for `partner` today unless that would pass the
    /// daily limit. A rejected call counts nothing, and zero `evaluations` reads
    /// the count. The counter key is `quota:{partner}:{YYYY-MM-DD}` with the
    /// partner-local date. A Redis failure falls back to local counts, so
    /// this never fails.
    // NOTE: counts made locally during an outage are not added to Redis
    // afterwards, so a partner can exceed its quota by what each replica
    // admitted while Redis was down.
    pub async fn check_and_consume(
        &self,
        partner: &PartnerSlug,
        quota: &PartnerQuota,
        evaluations: u64,
    ) -> QuotaDecision {
        let now = self.clock.now();
        let (day, resets_at) = local_day(now, quota.time_zone);
        let key = format!("quota:{partner}:{}", day.format("%Y-%m-%d"));
        let expires_at = resets_at + KEY_GRACE;
        // The TTL is relative so that only this clock, not the Redis
        // server's, decides when the day ends.
        let ttl_ms = (expires_at - now).num_milliseconds().max(1);
        let decide = |allowed: bool, used: u64, source| QuotaDecision {
            allowed,
            used,
            limit: quota.daily_limit,
            day,
            resets_at,
            source,
        };

        let now_micros = now.timestamp_micros();
        if let Some(redis) = &self.redis {
            if redis.should_try(now_micros) {
                let result =
                    consume_in_redis(redis, &key, quota.daily_limit, evaluations, ttl_ms).await;
                match result {
                    Ok((allowed, used)) => {
                        redis.record_success();
                        return decide(allowed, used, DecisionSource::Redis);
                    }
                    Err(error) => redis.record_failure(now_micros, &error),
                }
            }
            redis.record_local_decision();
        }
        let (allowed, used) = self.local.consume(
            &key,
            quota.daily_limit,
            evaluations,
            now.timestamp(),
            expires_at.timestamp(),
        );
        decide(allowed, used, DecisionSource::Local)
    }
}

/// Runs the quota script on `key`. Returns whether the evaluations were
/// counted and the day's count after the call.
async fn consume_in_redis(
    redis: &RedisLink,
    key: &str,
    limit: u64,
    evaluations: u64,
    ttl_ms: i64,
) -> Result<(bool, u64), redis::RedisError> {
    let (allowed, used) = QUOTA_SCRIPT
        .key(redis.key(key))
        .arg(limit)
        .arg(evaluations)
        .arg(ttl_ms)
        .invoke_async::<(i64, i64)>(&mut redis.connection())
        .await?;
    Ok((allowed == 1, u64::try_from(used).unwrap_or(0)))
}

/// Returns the local date at `now` in `time_zone` and the UTC instant at
/// which the next local day starts.
fn local_day(now: DateTime<Utc>, time_zone: Tz) -> (NaiveDate, DateTime<Utc>) {
    let day = now.with_timezone(&time_zone).date_naive();
    let next = day.succ_opt().unwrap_or(day);
    (day, start_of_local_day(next, time_zone))
}

/// Returns the UTC instant at which `date` starts in `time_zone`: local
/// midnight, or when a transition skips midnight (as America/Santiago does
/// on the first Sunday of September), the first local time after the gap.
/// When midnight occurs twice it returns the earlier one.
pub fn start_of_local_day(date: NaiveDate, time_zone: Tz) -> DateTime<Utc> {
    let midnight = date.and_time(NaiveTime::MIN);
    for minute in 0..=MAX_GAP_MINUTES {
        let local = midnight + TimeDelta::minutes(minute);
        if let Some(start) = time_zone.from_local_datetime(&local).earliest() {
            return start.with_timezone(&Utc);
        }
    }
    // No zone skips more than a day, so this is not reached; reading
    // midnight as UTC keeps the function total without a panic.
    midnight.and_utc()
}
