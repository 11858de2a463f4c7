//! Tests of the limits module, against the real Redis at 127.0.0.1:6379.
//! Each test writes under its own random key prefix and deletes its keys.

mod config;
mod fallback;
mod handle;
mod quota;
mod rate;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use redis::Commands;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::{Clock, RedisLink, SystemClock};
use crate::tenancy::{LlmStrategy, Partner, PartnerSlug, SubscriptionStatus, Tier};

const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Redis command timeout of the links under test.
const TIMEOUT: Duration = Duration::from_millis(500);

/// A random key prefix, so parallel tests never share keys. Dropping it
/// deletes every key under it, also when the test panics.
struct TestPrefix(String);

impl TestPrefix {
    fn new() -> Self {
        Self(format!(
            "sam-test-limits-{:016x}:",
            rand::thread_rng().gen::<u64>()
        ))
    }
}

impl std::ops::Deref for TestPrefix {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TestPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Drop for TestPrefix {
    fn drop(&mut self) {
        // A blocking connection, because Drop cannot await.
        let Ok(client) = redis::Client::open(REDIS_URL) else {
            return;
        };
        let Ok(mut connection) = client.get_connection() else {
            return;
        };
        let keys: Vec<String> = match connection.scan_match(format!("{}*", self.0)) {
            Ok(iter) => iter.filter_map(Result::ok).collect(),
            Err(_) => return,
        };
        if !keys.is_empty() {
            let _ = redis::cmd("DEL").arg(&keys).exec(&mut connection);
        }
    }
}

/// Builds a link to the shared Redis that waits `retry_interval` before
/// retrying after a failure.
fn link(prefix: &str, retry_interval: Duration) -> RedisLink {
    RedisLink::new(REDIS_URL, prefix, TIMEOUT, retry_interval).unwrap()
}

fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// Returns a connection for inspecting and cleaning up keys.
async fn admin() -> redis::aio::MultiplexedConnection {
    redis::Client::open(REDIS_URL)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Returns every key under `prefix` on the shared Redis.
async fn keys_under(prefix: &str) -> Vec<String> {
    let mut connection = admin().await;
    let mut cursor = 0_u64;
    let mut keys = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut connection)
            .await
            .unwrap();
        keys.extend(batch);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

/// Returns the Redis server's time in microseconds since the Unix epoch.
async fn redis_time_micros() -> i64 {
    let (seconds, micros): (i64, i64) = redis::cmd("TIME")
        .query_async(&mut admin().await)
        .await
        .unwrap();
    seconds * 1_000_000 + micros
}

/// Kills the connection that `link` uses, as a dropped network link would.
async fn kill_connection(link: &RedisLink) {
    let id = link.client_id().await.unwrap();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id)
        .query_async(&mut admin().await)
        .await
        .unwrap();
    assert_eq!(killed, 1, "CLIENT KILL ID {id} found no connection");
}

/// Builds a standard-tier partner row with `daily_quota` and `time_zone`.
fn partner_row(slug: &str, daily_quota: i64, time_zone: &str) -> Partner {
    Partner {
        id: Uuid::new_v4(),
        slug: PartnerSlug::parse(slug).unwrap(),
        name: slug.to_owned(),
        tier: Tier::Standard,
        status: SubscriptionStatus::Active,
        monthly_fee: Decimal::ZERO,
        daily_quota,
        strategy: LlmStrategy::CostOptimized,
        time_zone: time_zone.to_owned(),
        provisioned: true,
        created_at: Utc::now(),
    }
}
