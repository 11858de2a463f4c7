//! Rate-limit settings of a test server, and a Redis server of a test's
//! own that the test can stop and start again.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use sam_core::limits::{Clock, LimitsConfig, SystemClock};

use super::REDIS_URL;

/// The rate limiter and daily quota of a test server: the settings with a
/// key prefix of their own, the Redis that stores them (`None` for
/// per-instance state only) and the clock they run on.
pub struct RateLimits {
    pub config: LimitsConfig,
    pub redis_url: Option<String>,
    pub clock: Arc<dyn Clock>,
}

impl RateLimits {
    /// Builds the limits of `rate`, a `LimitsConfig` in TOML without
    /// `key_prefix`, on the shared Redis with a unique key prefix and the
    /// system clock.
    pub fn new(rate: &str) -> Self {
        let prefix = format!("samtest-limits-{}:", uuid::Uuid::new_v4().simple());
        let config: LimitsConfig = toml::from_str(&format!("key_prefix = \"{prefix}\"\n{rate}"))
            .unwrap_or_else(|error| panic!("invalid limits settings {rate:?}: {error}"));
        Self {
            config,
            redis_url: Some(REDIS_URL.to_owned()),
            clock: Arc::new(SystemClock),
        }
    }

    /// Stores the limits in the Redis at `url`, or only in the server's
    /// process when `url` is `None`.
    pub fn with_redis(mut self, url: Option<&str>) -> Self {
        self.redis_url = url.map(str::to_owned);
        self
    }

    /// Runs the limits and the quota's `retry-after` on `clock`. The Redis
    /// GCRA script reads the Redis server's clock, so `clock` times request
    /// rates only in per-instance state. It always decides the quota's day.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Returns the prefix of every Redis key the limits write.
    pub fn key_prefix(&self) -> &str {
        &self.config.key_prefix
    }
}

/// A `redis-server` process on a free loopback port, without persistence,
/// killed when dropped.
pub struct ThrowawayRedis {
    port: u16,
    process: Option<Child>,
}

impl ThrowawayRedis {
    /// Starts `redis-server` on a loopback port that was free a moment ago
    /// and waits until it replies to PING.
    pub async fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let mut redis = Self {
            port,
            process: None,
        };
        redis.restart().await;
        redis
    }

    /// Returns the server's URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server and waits for it to exit, so its port is closed.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }

    /// Starts the server again on the same port, with no data, and waits
    /// until it replies to PING.
    pub async fn restart(&mut self) {
        self.stop();
        let port = self.port.to_string();
        let process = Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("starting redis-server failed: {error}; install the redis-server package")
            });
        self.process = Some(process);
        for _ in 0..100 {
            if self.ping().await {
                return;
            }
            if let Some(status) = self
                .process
                .as_mut()
                .and_then(|p| p.try_wait().ok().flatten())
            {
                panic!("redis-server on port {port} exited with {status} before replying");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server on port {port} did not reply to PING within 5 s");
    }

    async fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        let Ok(mut connection) = client.get_multiplexed_async_connection().await else {
            return false;
        };
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .is_ok()
    }

    /// Returns the keys stored under `prefix`.
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let client = redis::Client::open(self.url()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut connection)
            .await
            .unwrap()
    }
}

impl Drop for ThrowawayRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
