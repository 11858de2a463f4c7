//! Redis outages: local decisions while Redis is unreachable, one warning
//! per outage, probing once per retry interval, and the return to Redis.

use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{kill_connection, link, system_clock, TestPrefix, TIMEOUT};
use crate::limits::{
    DailyQuota, DecisionSource, PartnerQuota, Rate, RateKey, RateLimiter, RedisLink,
};
use crate::tenancy::PartnerSlug;

fn acme() -> PartnerSlug {
    PartnerSlug::parse("acme").unwrap()
}

/// Returns a loopback port that was just bound and released, so nothing
/// listens on it.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn link_to_port(port: u16, timeout: Duration, retry_interval: Duration) -> RedisLink {
    RedisLink::new(
        &format!("redis://127.0.0.1:{port}"),
        "sam-test-limits-unreachable:",
        timeout,
        retry_interval,
    )
    .unwrap()
}

/// A TCP proxy on a loopback port in front of the shared Redis. Dropping it
/// closes the port and every proxied connection, as a Redis restart would.
struct RedisProxy {
    _tasks: JoinSet<()>,
}

impl RedisProxy {
    async fn start(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect("127.0.0.1:6379").await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self { _tasks: tasks }
    }
}

#[tokio::test]
async fn unreachable_redis_decides_locally() {
    let link = link_to_port(closed_port(), TIMEOUT, Duration::from_secs(60));
    let limiter = RateLimiter::new(link.clone(), system_clock());
    let quota = DailyQuota::new(link.clone(), system_clock());
    let rate = Rate::per_minute(3, 3).unwrap();
    let key = RateKey::partner(&acme());

    for expected_remaining in [2, 1, 0] {
        let decision = limiter.check(&key, &rate).await;
        assert!(decision.allowed);
        assert_eq!(decision.remaining, expected_remaining);
        assert_eq!(decision.source, DecisionSource::Local);
    }
    let denied = limiter.check(&key, &rate).await;
    assert!(!denied.allowed);
    assert_eq!(denied.source, DecisionSource::Local);
    assert!(link.is_down());

    let partner_quota = PartnerQuota::new(1, chrono_tz::America::Santiago);
    let first = quota.check_and_consume(&acme(), &partner_quota, 1).await;
    assert!(first.allowed);
    assert_eq!(first.source, DecisionSource::Local);
    let second = quota.check_and_consume(&acme(), &partner_quota, 1).await;
    assert!(!second.allowed);
    assert_eq!(second.used, 1);
}

#[tokio::test]
async fn outage_counted_once_while_probes_fail() {
    // A zero retry interval sends every call to the closed port.
    let link = link_to_port(closed_port(), TIMEOUT, Duration::ZERO);
    let limiter = RateLimiter::new(link.clone(), system_clock());
    let rate = Rate::per_minute(60, 10).unwrap();
    for _ in 0..5 {
        let decision = limiter.check(&RateKey::partner(&acme()), &rate).await;
        assert_eq!(decision.source, DecisionSource::Local);
    }
    // The outage's single `warn` event is logged where this count grows.
    assert_eq!(link.outages(), 1);
}

#[tokio::test]
async fn unresponsive_redis_is_probed_once_per_interval() {
    // A listener that never replies makes every command wait for the timeout.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let timeout = Duration::from_millis(200);
    let link = link_to_port(port, timeout, Duration::from_secs(60));
    let limiter = RateLimiter::new(link, system_clock());
    let rate = Rate::per_minute(600, 100).unwrap();
    let key = RateKey::partner(&acme());

    let started = Instant::now();
    let first = limiter.check(&key, &rate).await;
    assert_eq!(first.source, DecisionSource::Local);
    assert!(started.elapsed() >= timeout, "{:?}", started.elapsed());

    // Within the retry interval no call waits on Redis again.
    let started = Instant::now();
    for _ in 0..20 {
        assert_eq!(
            limiter.check(&key, &rate).await.source,
            DecisionSource::Local
        );
    }
    assert!(started.elapsed() < timeout, "{:?}", started.elapsed());
    drop(silent);
}

#[tokio::test]
async fn killed_connection_returns_to_redis() {
    let prefix = TestPrefix::new();
    let retry_interval = Duration::from_millis(300);
    let link = link(&prefix, retry_interval);
    let limiter = RateLimiter::new(link.clone(), system_clock());
    let rate = Rate::per_minute(10, 10).unwrap();
    let key = RateKey::partner(&acme());

    let before = limiter.check(&key, &rate).await;
    assert_eq!(before.source, DecisionSource::Redis);
    let mut counted_in_redis = 1;
    kill_connection(&link).await;

    // The first command on the killed connection fails; a call that reaches
    // a reconnected manager first is still counted in Redis.
    let mut saw_local = false;
    for _ in 0..5 {
        let decision = limiter.check(&key, &rate).await;
        if decision.source == DecisionSource::Local {
            saw_local = true;
            break;
        }
        counted_in_redis += 1;
    }
    assert!(saw_local, "no call fell back after CLIENT KILL");
    assert!(link.is_down());
    // Until the retry interval passes, calls stay local.
    assert_eq!(
        limiter.check(&key, &rate).await.source,
        DecisionSource::Local
    );

    tokio::time::sleep(retry_interval + Duration::from_millis(50)).await;
    let after = limiter.check(&key, &rate).await;
    counted_in_redis += 1;
    assert_eq!(after.source, DecisionSource::Redis);
    assert!(!link.is_down());
    // The Redis budget kept what was spent before the outage.
    assert_eq!(after.remaining, 10 - counted_in_redis);
}

#[tokio::test]
async fn redis_restart_returns_to_redis() {
    let port = closed_port();
    let retry_interval = Duration::from_millis(300);
    let prefix = TestPrefix::new();
    let link = RedisLink::new(
        &format!("redis://127.0.0.1:{port}"),
        &prefix,
        TIMEOUT,
        retry_interval,
    )
    .unwrap();
    let limiter = RateLimiter::new(link.clone(), system_clock());
    let quota = DailyQuota::new(link.clone(), system_clock());
    let rate = Rate::per_minute(60, 10).unwrap();
    let key = RateKey::partner(&acme());
    let partner_quota = PartnerQuota::new(100, chrono_tz::America::Santiago);

    // Down at start-up.
    assert_eq!(
        limiter.check(&key, &rate).await.source,
        DecisionSource::Local
    );
    assert!(link.is_down());

    // Up: the next probe after the retry interval goes back to Redis.
    let proxy = RedisProxy::start(port).await;
    tokio::time::sleep(retry_interval + Duration::from_millis(50)).await;
    assert_eq!(
        limiter.check(&key, &rate).await.source,
        DecisionSource::Redis
    );
    assert!(!link.is_down());
    let counted = quota.check_and_consume(&acme(), &partner_quota, 1).await;
    assert_eq!(counted.source, DecisionSource::Redis);

    // Down again: open connections close and the port refuses new ones.
    drop(proxy);
    let during = quota.check_and_consume(&acme(), &partner_quota, 1).await;
    assert_eq!(during.source, DecisionSource::Local);
    assert!(link.is_down());
    assert_eq!(link.outages(), 2);

    // Up again.
    let _proxy = RedisProxy::start(port).await;
    tokio::time::sleep(retry_interval + Duration::from_millis(50)).await;
    let back = quota.check_and_consume(&acme(), &partner_quota, 1).await;
    assert_eq!(back.source, DecisionSource::Redis);
    // Only the calls decided by Redis are in its count.
    assert_eq!(back.used, 2);
}
