//! The shared Redis connection of the limiters and the outage state that
//! decides when to use it.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::LimitError;

/// A connection to the Redis that stores the limit state, shared by a
/// [`RateLimiter`](super::RateLimiter) and a [`DailyQuota`](super::DailyQuota).
///
/// After a failed command the limiters use local counters and send nothing
/// to Redis for `retry_interval`. Then one request probes Redis again, and
/// the limiters go back to it when the probe succeeds. The first failure of
/// an outage is logged at `warn` and the recovery at `info`; the failures in
/// between are logged at `debug`.
#[derive(Clone)]
pub struct RedisLink {
    manager: ConnectionManager,
    prefix: Arc<str>,
    health: Arc<Health>,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLink")
            .field("prefix", &self.prefix)
            .field("retry_interval", &self.health.retry_interval)
            .finish_non_exhaustive()
    }
}

impl RedisLink {
    /// Builds the link for `url` (such as `redis://127.0.0.1:6379`) without
    /// connecting, so a Redis that is down at start-up only means local
    /// limits. Every key is prefixed with `prefix`. A command that takes
    /// longer than `timeout` counts as a failure.
    ///
    /// # Errors
    /// [`LimitError::Redis`] for an invalid URL, and
    /// [`LimitError::InvalidConfig`] when called outside a Tokio runtime,
    /// which the connection task needs, or for a zero `timeout`.
    pub fn new(
        url: &str,
        prefix: &str,
        timeout: Duration,
        retry_interval: Duration,
    ) -> Result<Self, LimitError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(LimitError::InvalidConfig(
                "RedisLink::new must be called inside a Tokio runtime".to_owned(),
            ));
        }
        if timeout.is_zero() {
            return Err(LimitError::InvalidConfig(
                "redis timeout must be longer than 0".to_owned(),
            ));
        }
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let manager = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self {
            manager,
            prefix: Arc::from(prefix),
            health: Arc::new(Health::new(retry_interval)),
        })
    }

    /// Returns a handle on the connection for one command.
    pub(crate) fn connection(&self) -> ConnectionManager {
        self.manager.clone()
    }

    /// Returns `key` with this link's prefix.
    pub(crate) fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Returns whether this call may send a command to Redis at `now_micros`.
    pub(crate) fn should_try(&self, now_micros: i64) -> bool {
        self.health.should_try(now_micros)
    }

    /// Records a successful command.
    pub(crate) fn record_success(&self) {
        self.health.record_success(&self.prefix);
    }

    /// Records a failed command at `now_micros`.
    pub(crate) fn record_failure(&self, now_micros: i64, error: &redis::RedisError) {
        self.health.record_failure(now_micros, error, &self.prefix);
    }

    /// Records a decision taken by the local counters during an outage.
    pub(crate) fn record_local_decision(&self) {
        self.health.local_decisions.fetch_add(1, Ordering::Relaxed);
    }

    /// Returns whether the link currently treats Redis as unreachable.
    pub fn is_down(&self) -> bool {
        self.health.down.load(Ordering::Acquire)
    }

    /// Returns the number of outages since the link was built, which is
    /// also the number of `warn` events it has logged.
    pub fn outages(&self) -> u64 {
        self.health.outages.load(Ordering::Relaxed)
    }

    /// Returns the server's id of the current connection, so a test can kill
    /// it with `CLIENT KILL ID`.
    #[cfg(test)]
    pub(crate) async fn client_id(&self) -> Result<i64, redis::RedisError> {
        let mut connection = self.connection();
        redis::cmd("CLIENT")
            .arg("ID")
            .query_async::<i64>(&mut connection)
            .await
    }
}

/// The outage state of a link: whether Redis is treated as down, and when
/// to probe it next.
#[derive(Debug)]
struct Health {
    retry_interval: Duration,
    down: AtomicBool,
    /// Microseconds since the Unix epoch before which no command is sent
    /// while `down` is set.
    next_probe: AtomicI64,
    /// Decisions taken locally since the outage began.
    local_decisions: AtomicU64,
    /// Outages since start, each logged once at `warn`.
    outages: AtomicU64,
}

impl Health {
    fn new(retry_interval: Duration) -> Self {
        Self {
            retry_interval,
            down: AtomicBool::new(false),
            next_probe: AtomicI64::new(0),
            local_decisions: AtomicU64::new(0),
            outages: AtomicU64::new(0),
        }
    }

    fn retry_micros(&self) -> i64 {
        i64::try_from(self.retry_interval.as_micros()).unwrap_or(i64::MAX)
    }

    /// Returns whether a caller may send a command. While down, it lets
    /// through one caller per retry interval: the one that wins the exchange
    /// of `next_probe`.
    fn should_try(&self, now: i64) -> bool {
        if !self.down.load(Ordering::Acquire) {
            return true;
        }
        let next = self.next_probe.load(Ordering::Acquire);
        if now < next {
            return false;
        }
        self.next_probe
            .compare_exchange(
                next,
                now.saturating_add(self.retry_micros()),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    fn record_success(&self, prefix: &str) {
        if self.down.swap(false, Ordering::AcqRel) {
            let local_decisions = self.local_decisions.swap(0, Ordering::Relaxed);
            tracing::info!(
                key_prefix = prefix,
                local_decisions,
                "limits redis reachable again, rate limits and quotas are shared across replicas"
            );
        }
    }

    fn record_failure(&self, now: i64, error: &redis::RedisError, prefix: &str) {
        self.next_probe
            .store(now.saturating_add(self.retry_micros()), Ordering::Release);
        if self.down.swap(true, Ordering::AcqRel) {
            tracing::debug!(key_prefix = prefix, error = %error, "limits redis command failed again, still using per-instance counters");
        } else {
            self.outages.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                key_prefix = prefix,
                error = %error,
                retry_interval_ms = u64::try_from(self.retry_interval.as_millis()).unwrap_or(u64::MAX),
                "limits redis command failed, rate limits and quotas fall back to per-instance counters"
            );
        }
    }
}
