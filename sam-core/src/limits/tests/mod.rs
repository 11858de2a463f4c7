//! Tests of the limits module, against the real Redis at 127.0.0.1:6379.
//! Each test writes under its own random key prefix and deletes its keys.

mod config;
mod fallback;
mod quota;
mod rate;

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use super::{Clock, RedisLink, SystemClock};

const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Redis command timeout of the links under test.
const TIMEOUT: Duration = Duration::from_millis(500);

/// Returns a random key prefix, so parallel tests never share keys.
fn random_prefix() -> String {
    format!("sam-test-limits-{:016x}:", rand::thread_rng().gen::<u64>())
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

/// Deletes every key under `prefix` on the shared Redis.
async fn delete_prefix(prefix: &str) {
    let keys = keys_under(prefix).await;
    if keys.is_empty() {
        return;
    }
    redis::cmd("DEL")
        .arg(&keys)
        .query_async::<()>(&mut admin().await)
        .await
        .unwrap();
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
