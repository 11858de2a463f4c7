//! The Redis rate limiter: atomicity, window edges, refill, sharing and key
//! isolation, and the local GCRA step on a manual clock.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use futures::future::join_all;

use super::{keys_under, link, redis_time_micros, system_clock, TestPrefix};
use crate::limits::{DecisionSource, ManualClock, Rate, RateDecision, RateKey, RateLimiter};
use crate::tenancy::PartnerSlug;

const RETRY: Duration = Duration::from_secs(5);

fn partner(slug: &str) -> RateKey {
    RateKey::partner(&PartnerSlug::parse(slug).unwrap())
}

fn redis_limiter(prefix: &str) -> RateLimiter {
    RateLimiter::new(link(prefix, RETRY), system_clock())
}

fn count_allowed(decisions: &[RateDecision]) -> usize {
    decisions.iter().filter(|decision| decision.allowed).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_admit_exactly_limit() {
    let prefix = TestPrefix::new();
    let limiter = redis_limiter(&prefix);
    // One request per 6 s refills nothing while the test runs.
    let rate = Rate::per_minute(10, 10).unwrap();
    let key = partner("acme");

    let tasks = (0..50).map(|_| {
        let limiter = limiter.clone();
        let key = key.clone();
        tokio::spawn(async move { limiter.check(&key, &rate).await })
    });
    let decisions: Vec<RateDecision> = join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();

    assert_eq!(count_allowed(&decisions), 10);
    assert!(decisions
        .iter()
        .all(|decision| decision.source == DecisionSource::Redis));
    let mut remaining: Vec<u32> = decisions
        .iter()
        .filter(|decision| decision.allowed)
        .map(|decision| decision.remaining)
        .collect();
    remaining.sort_unstable();
    assert_eq!(remaining, (0..10).collect::<Vec<u32>>());
    for denied in decisions.iter().filter(|decision| !decision.allowed) {
        assert_eq!(denied.remaining, 0);
        let retry_after = denied.retry_after.unwrap();
        assert!(retry_after > Duration::ZERO, "{denied:?}");
        assert!(retry_after <= Duration::from_secs(6), "{denied:?}");
    }
}

#[tokio::test]
async fn window_edge_admits_no_double_burst() {
    let prefix = TestPrefix::new();
    let limiter = redis_limiter(&prefix);
    // 5 per second, burst 5: one request comes back every 200 ms.
    let rate = Rate::per_second(5, 5).unwrap();
    let key = partner("acme");

    // Spend the burst in the last 100 ms of a second of the Redis clock.
    while redis_time_micros().await % 1_000_000 < 900_000 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let burst_start = tokio::time::Instant::now();
    for _ in 0..5 {
        assert!(limiter.check(&key, &rate).await.allowed);
    }
    assert!(!limiter.check(&key, &rate).await.allowed);

    // Right after the second boundary a fixed window would admit 5 again.
    while redis_time_micros().await % 1_000_000 >= 900_000 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let after_boundary = limiter.check(&key, &rate).await;
    assert!(burst_start.elapsed() < Duration::from_millis(200));
    assert!(!after_boundary.allowed, "{after_boundary:?}");
    assert!(after_boundary.retry_after.unwrap() <= Duration::from_millis(200));

    // 300 ms after the burst exactly one request has come back.
    tokio::time::sleep_until(burst_start + Duration::from_millis(300)).await;
    let refilled = limiter.check(&key, &rate).await;
    assert!(refilled.allowed, "{refilled:?}");
    assert_eq!(refilled.remaining, 0);
    assert!(!limiter.check(&key, &rate).await.allowed);
}

#[tokio::test]
async fn refill_follows_emission_interval() {
    let prefix = TestPrefix::new();
    let limiter = redis_limiter(&prefix);
    // One request per 200 ms, burst 2, so a full refill takes 400 ms.
    let rate = Rate::per_second(5, 2).unwrap();
    let key = partner("acme");

    let first = limiter.check(&key, &rate).await;
    assert!(first.allowed);
    assert_eq!(first.limit, 2);
    assert_eq!(first.remaining, 1);
    assert!(first.reset_after <= Duration::from_millis(200));
    assert!(first.reset_after > Duration::from_millis(150));
    assert_eq!(first.retry_after, None);

    let second = limiter.check(&key, &rate).await;
    assert!(second.allowed);
    assert_eq!(second.remaining, 0);

    let denied = limiter.check(&key, &rate).await;
    assert!(!denied.allowed);
    let retry_after = denied.retry_after.unwrap();
    assert!(retry_after <= Duration::from_millis(200), "{denied:?}");
    assert!(retry_after > Duration::from_millis(100), "{denied:?}");

    tokio::time::sleep(retry_after + Duration::from_millis(20)).await;
    assert!(limiter.check(&key, &rate).await.allowed);
    assert!(!limiter.check(&key, &rate).await.allowed);

    // After a quiet spell of a full refill the whole burst is back, no more.
    tokio::time::sleep(Duration::from_millis(450)).await;
    let refilled: Vec<RateDecision> = join_all((0..4).map(|_| limiter.check(&key, &rate))).await;
    assert_eq!(count_allowed(&refilled), 2);
}

#[tokio::test]
async fn limiters_on_one_redis_share_budget() {
    let prefix = TestPrefix::new();
    // Two replicas: separate links and local state, one Redis.
    let replica_a = redis_limiter(&prefix);
    let replica_b = redis_limiter(&prefix);
    let rate = Rate::per_minute(6, 6).unwrap();
    let key = partner("acme");

    for _ in 0..3 {
        assert!(replica_a.check(&key, &rate).await.allowed);
        assert!(replica_b.check(&key, &rate).await.allowed);
    }
    let from_a = replica_a.check(&key, &rate).await;
    let from_b = replica_b.check(&key, &rate).await;
    assert!(!from_a.allowed);
    assert!(!from_b.allowed);
    assert_eq!(from_a.source, DecisionSource::Redis);
    assert_eq!(from_b.source, DecisionSource::Redis);
}

#[tokio::test]
async fn skewed_replica_clocks_share_budget() {
    let prefix = TestPrefix::new();
    // The Redis script reads the Redis clock, so replica clocks a day apart
    // see the same budget and refill.
    let behind = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 9, 12, 0, 0).unwrap(),
    ));
    let ahead = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap(),
    ));
    let replica_a = RateLimiter::new(link(&prefix, RETRY), behind);
    let replica_b = RateLimiter::new(link(&prefix, RETRY), ahead);
    let rate = Rate::per_minute(4, 4).unwrap();
    let key = partner("acme");

    for _ in 0..2 {
        assert!(replica_a.check(&key, &rate).await.allowed);
        assert!(replica_b.check(&key, &rate).await.allowed);
    }
    let from_a = replica_a.check(&key, &rate).await;
    let from_b = replica_b.check(&key, &rate).await;
    assert!(!from_a.allowed);
    assert!(!from_b.allowed);
    // Both see the same wait, within the time between the two calls.
    let wait_a = from_a.retry_after.unwrap();
    let wait_b = from_b.retry_after.unwrap();
    assert!(wait_a >= wait_b, "{wait_a:?} < {wait_b:?}");
    assert!(
        wait_a - wait_b < Duration::from_millis(100),
        "{wait_a:?} vs {wait_b:?}"
    );
}

#[tokio::test]
async fn partner_budgets_are_separate() {
    let prefix = TestPrefix::new();
    let limiter = redis_limiter(&prefix);
    let rate = Rate::per_minute(3, 3).unwrap();
    let acme = partner("acme");
    let globex = partner("globex");
    let api_key = RateKey::api_key("sam_live_ab12");

    for _ in 0..3 {
        assert!(limiter.check(&acme, &rate).await.allowed);
    }
    assert!(!limiter.check(&acme, &rate).await.allowed);

    let other_partner = limiter.check(&globex, &rate).await;
    assert!(other_partner.allowed);
    assert_eq!(other_partner.remaining, 2);
    let other_key = limiter.check(&api_key, &rate).await;
    assert!(other_key.allowed);
    assert_eq!(other_key.remaining, 2);

    let mut keys = keys_under(&prefix).await;
    keys.sort();
    assert_eq!(
        keys,
        [
            format!("{prefix}key:sam_live_ab12"),
            format!("{prefix}partner:acme"),
            format!("{prefix}partner:globex"),
        ]
    );
}

#[tokio::test]
async fn rate_keys_expire_after_refill() {
    let prefix = TestPrefix::new();
    let limiter = redis_limiter(&prefix);
    let rate = Rate::per_minute(60, 5).unwrap();
    limiter.check(&partner("acme"), &rate).await;

    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{prefix}partner:acme"))
        .query_async(&mut super::admin().await)
        .await
        .unwrap();
    // One request was counted, so the bucket is full again after 1 s.
    assert!(ttl > 0, "PTTL was {ttl}");
    assert!(ttl <= 1_000, "PTTL was {ttl}");
}

#[tokio::test]
async fn local_limiter_runs_same_gcra() {
    let start = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let limiter = RateLimiter::local_only(clock.clone());
    let rate = Rate::per_second(5, 3).unwrap();
    let key = partner("acme");

    for expected_remaining in [2, 1, 0] {
        let decision = limiter.check(&key, &rate).await;
        assert!(decision.allowed);
        assert_eq!(decision.remaining, expected_remaining);
        assert_eq!(decision.source, DecisionSource::Local);
    }
    let denied = limiter.check(&key, &rate).await;
    assert!(!denied.allowed);
    assert_eq!(denied.retry_after, Some(Duration::from_millis(200)));
    assert_eq!(denied.reset_after, Duration::from_millis(600));

    // One microsecond short of the interval is still too early.
    clock.advance(TimeDelta::microseconds(199_999));
    assert!(!limiter.check(&key, &rate).await.allowed);
    clock.advance(TimeDelta::microseconds(1));
    assert!(limiter.check(&key, &rate).await.allowed);
    assert!(!limiter.check(&key, &rate).await.allowed);

    // A long quiet spell gives back the burst and no more.
    clock.advance(TimeDelta::hours(1));
    for _ in 0..3 {
        assert!(limiter.check(&key, &rate).await.allowed);
    }
    assert!(!limiter.check(&key, &rate).await.allowed);
}

#[test]
fn decision_headers_round_up_seconds() {
    let rate = Rate::per_minute(60, 10).unwrap();
    let denied =
        RateDecision::from_micros(false, 0, 9_000_001, 1_500_000, &rate, DecisionSource::Redis);
    assert_eq!(
        denied.headers(),
        [
            ("x-ratelimit-limit", "10".to_owned()),
            ("x-ratelimit-remaining", "0".to_owned()),
            ("x-ratelimit-reset", "10".to_owned()),
            ("retry-after", "2".to_owned()),
        ]
    );
    let allowed = RateDecision::from_micros(true, 4, 6_000_000, 0, &rate, DecisionSource::Redis);
    assert_eq!(allowed.retry_after, None);
    assert_eq!(
        allowed.headers(),
        [
            ("x-ratelimit-limit", "10".to_owned()),
            ("x-ratelimit-remaining", "4".to_owned()),
            ("x-ratelimit-reset", "6".to_owned()),
        ]
    );
}

#[test]
fn rate_rejects_invalid_values() {
    assert!(Rate::per_second(0, 5).is_err());
    assert!(Rate::per_second(5, 0).is_err());
    assert!(Rate::new(2_000_000, Duration::from_secs(1), 1).is_err());
    assert!(Rate::new(1, Duration::from_secs(24 * 60 * 60), 8).is_err());
    let rate = Rate::per_minute(120, 7).unwrap();
    assert_eq!(rate.emission_interval(), Duration::from_millis(500));
    assert_eq!(rate.burst(), 7);
}
