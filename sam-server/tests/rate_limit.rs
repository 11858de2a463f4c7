//! Rate limits through the real server: the shared budget in Redis, the
//! edge of a period, and the per-instance fallback while Redis is down.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::{Method, Response, StatusCode};
use sam_core::limits::{DecisionSource, ManualClock, SystemClock};
use serde_json::Value;
use support::limits::{RateLimits, ThrowawayRedis};
use support::logs::captured_logs;
use support::{assignment, mount_model, read, submission, TestServer, REDIS_URL};

const CLIENTS: &str = "/api/aptus/v1/clients";

/// 5 requests per minute with a burst of 5: one request comes back every
/// 12 s, and a fixed one-minute window would admit 5 on each side of a
/// minute boundary.
const FIVE_PER_MINUTE: &str = "[partners.aptus]\nrequests_per_minute = 5\nburst = 5\n";

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// Sends `count` concurrent requests for the client list with `token`.
async fn burst(server: &TestServer, token: &str, count: usize) -> Vec<Response> {
    let requests = (0..count).map(|_| {
        server
            .http
            .get(format!("{}{CLIENTS}", server.base))
            .bearer_auth(token)
            .send()
    });
    futures::future::join_all(requests)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

fn count_status(responses: &[Response], status: StatusCode) -> usize {
    responses.iter().filter(|r| r.status() == status).count()
}

/// Returns a response header parsed as a whole number.
fn number_header(response: &Response, name: &str) -> u64 {
    let value = response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing header {name}"));
    value.to_str().unwrap().parse().unwrap()
}

/// Returns the Redis server's time, which times the shared GCRA.
async fn redis_time() -> DateTime<Utc> {
    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let (seconds, micros): (i64, i64) = redis::cmd("TIME")
        .query_async(&mut connection)
        .await
        .unwrap();
    DateTime::from_timestamp_micros(seconds * 1_000_000 + micros).unwrap()
}

/// Returns the microseconds since the last whole minute of `time`.
fn micros_into_minute(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros().rem_euclid(60_000_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_requests_admit_exactly_burst() {
    let server =
        TestServer::start_rate_limited("[partners.aptus]\nrequests_per_minute = 1\nburst = 10\n")
            .await;
    let token = server.token("padmin").await;
    let requests = (0..50).map(|_| {
        server
            .http
            .get(format!("{}/api/aptus/v1/clients", server.base))
            .bearer_auth(&token)
            .send()
    });
    let responses = futures::future::join_all(requests).await;
    let mut admitted = 0;
    let mut rejected = 0;
    for response in responses {
        let response = response.unwrap();
        match response.status() {
            StatusCode::OK => {
                admitted += 1;
                assert!(response.headers().contains_key("x-ratelimit-remaining"));
            }
            StatusCode::TOO_MANY_REQUESTS => {
                rejected += 1;
                assert!(response.headers().contains_key("retry-after"));
                assert_eq!(response.headers()["x-ratelimit-limit"], "10");
                let body: serde_json::Value = response.json().await.unwrap();
                assert_eq!(body["error"]["code"], "rate_limited");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(admitted, 10);
    assert_eq!(rejected, 40);

    // Another partner's budget is untouched.
    let other = server
        .request(
            Method::GET,
            "/api/bravo/v1/clients/b1/assignments",
            Some("bprof"),
        )
        .await
        .send()
        .await
        .unwrap();
    assert_ne!(other.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_edge_admits_no_double_burst() {
    let boundary = utc("2026-03-10T15:00:00Z");
    let first_burst_at = boundary - TimeDelta::milliseconds(1);
    let clock = Arc::new(ManualClock::new(first_burst_at));
    // Per-instance state runs the GCRA step of the Redis script on this
    // clock, which the script itself never reads.
    let rate = RateLimits::new(FIVE_PER_MINUTE)
        .with_redis(None)
        .with_clock(clock.clone());
    let server = TestServer::start_limited(rate).await;
    let token = server.token("padmin").await;

    let before = burst(&server, &token, 8).await;
    assert_eq!(count_status(&before, StatusCode::OK), 5);
    assert_eq!(count_status(&before, StatusCode::TOO_MANY_REQUESTS), 3);

    // 2 ms later, on the other side of the minute boundary.
    clock.set(boundary + TimeDelta::milliseconds(1));
    let after = burst(&server, &token, 5).await;
    assert_eq!(count_status(&after, StatusCode::OK), 0);
    for rejected in &after {
        assert_eq!(rejected.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(number_header(rejected, "x-ratelimit-limit"), 5);
        assert_eq!(number_header(rejected, "x-ratelimit-remaining"), 0);
        // The next request is admitted 12 s after the first burst, 11.998 s
        // from now, and the full burst 60 s after it, 59.998 s from now.
        assert_eq!(number_header(rejected, "retry-after"), 12);
        assert_eq!(number_header(rejected, "x-ratelimit-reset"), 60);
    }
    let (_, body) = read(after.into_iter().next().unwrap()).await;
    assert_eq!(body["error"]["code"], "rate_limited");

    // Waiting the advertised retry-after admits exactly one request.
    clock.set(boundary + TimeDelta::milliseconds(1) + TimeDelta::seconds(12));
    let retried = burst(&server, &token, 3).await;
    assert_eq!(count_status(&retried, StatusCode::OK), 1);
    let admitted = retried
        .iter()
        .find(|r| r.status() == StatusCode::OK)
        .unwrap();
    assert_eq!(number_header(admitted, "x-ratelimit-limit"), 5);
    assert_eq!(number_header(admitted, "x-ratelimit-remaining"), 0);

    // Over the 60 s after the first burst, GCRA admits the burst plus one
    // request per 12 s: 5 + 5.
    clock.set(first_burst_at + TimeDelta::seconds(60));
    let minute_later = burst(&server, &token, 8).await;
    assert_eq!(count_status(&minute_later, StatusCode::OK), 4);
    server.stop().await;
}

/// Waits until the Redis clock is in the first 300 ms of the last second of
/// a minute, which takes up to a minute.
async fn wait_for_last_second_of_minute() {
    loop {
        let into_minute = micros_into_minute(redis_time().await);
        if (59_000_000..59_300_000).contains(&into_minute) {
            return;
        }
        let wait = (59_000_000 - into_minute).rem_euclid(60_000_000);
        let step = u64::try_from(wait).unwrap().clamp(10_000, 500_000);
        tokio::time::sleep(Duration::from_micros(step)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_window_edge_admits_no_double_burst() {
    // The Redis script times requests by the Redis server's clock, which a
    // test cannot set, so this test waits for a real minute boundary.
    let server = TestServer::start_rate_limited(FIVE_PER_MINUTE).await;
    let token = server.token("padmin").await;

    wait_for_last_second_of_minute().await;
    let minute = redis_time().await.timestamp() / 60;
    let before = burst(&server, &token, 8).await;
    assert_eq!(
        redis_time().await.timestamp() / 60,
        minute,
        "the first burst ran past the minute boundary"
    );
    assert_eq!(count_status(&before, StatusCode::OK), 5);

    while redis_time().await.timestamp() / 60 == minute {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = burst(&server, &token, 5).await;
    assert_eq!(count_status(&after, StatusCode::OK), 0);
    for rejected in &after {
        assert_eq!(number_header(rejected, "x-ratelimit-limit"), 5);
        assert_eq!(number_header(rejected, "x-ratelimit-remaining"), 0);
        let retry_after = number_header(rejected, "retry-after");
        let reset = number_header(rejected, "x-ratelimit-reset");
        // Less than 2 s have passed since the burst, so the next request
        // is 11 to 12 s away and the full burst 59 to 60 s away.
        assert!(
            (11..=12).contains(&retry_after),
            "retry-after {retry_after}"
        );
        assert!((59..=60).contains(&reset), "x-ratelimit-reset {reset}");
    }
    server.stop().await;
}

/// Sends a GET of the client list as `padmin` and returns the status,
/// the response and the body.
async fn list_clients(server: &TestServer) -> (StatusCode, Value) {
    let response = server
        .request(Method::GET, CLIENTS, Some("padmin"))
        .await
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, read(response).await.1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_falls_back_to_local_limits() {
    let mut redis = ThrowawayRedis::start().await;
    let clock = Arc::new(ManualClock::new(utc("2026-03-10T15:00:00Z")));
    // 4 per minute with a burst of 4: one request comes back every 15 s.
    let rate = RateLimits::new(
        "retry_interval_secs = 5\n[partners.aptus]\nrequests_per_minute = 4\nburst = 4\n",
    )
    .with_redis(Some(&redis.url()))
    .with_clock(clock.clone());
    let prefix = rate.key_prefix().to_owned();
    let policy = rate.config.validate().unwrap();
    let server = TestServer::start_limited(rate).await;
    mount_model(&server.llm, Duration::ZERO).await;
    let partner_key = format!("{prefix}partner:aptus");

    // Up: the shared counters in Redis decide.
    let (status, _) = server
        .call(
            Method::POST,
            "/api/aptus/v1/clients/c1/assignments",
            Some("prof"),
            Some(assignment("a1")),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(redis.keys(&prefix).await, vec![partner_key.clone()]);
    let (status, ready) = server.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, 200, "{ready}");

    // Down: /readyz reports it, and requests are decided by this
    // instance's own counters, which start with the full burst.
    redis.stop();
    let (status, ready) = server.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["checks"]["redis"], "unreachable");
    assert_eq!(ready["checks"]["database"], "ok");
    let (status, evaluation) = server
        .call(
            Method::POST,
            "/api/aptus/v1/clients/c1/evaluations",
            Some("prof"),
            Some(submission("a1", "s1", "ana")),
        )
        .await;
    assert_eq!(status, 201, "{evaluation}");
    for _ in 0..3 {
        assert_eq!(list_clients(&server).await.0, StatusCode::OK);
    }
    let (status, body) = list_clients(&server).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"]["code"], "rate_limited");
    let warnings: Vec<String> = captured_logs(&prefix)
        .into_iter()
        .filter(|line| line.contains("fall back to per-instance counters"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("WARN"), "{}", warnings[0]);

    // Up again, with no data: after the retry interval the next request
    // probes Redis, which admits it although the local counters, with no
    // request refilled in 6 s, would reject it.
    redis.restart().await;
    clock.advance(TimeDelta::seconds(6));
    let (status, body) = list_clients(&server).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(redis.keys(&prefix).await, vec![partner_key]);
    let recoveries = captured_logs(&prefix)
        .into_iter()
        .filter(|line| line.contains("limits redis reachable again"))
        .count();
    assert_eq!(recoveries, 1);
    let (status, ready) = server.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, 200, "{ready}");

    // Another replica on the same Redis and key prefix spends from the
    // same budget: 4, less this server's request, less its own.
    let replica =
        sam_core::limits::Limits::new(policy, Some(&redis.url()), Arc::new(SystemClock)).unwrap();
    let partner = server.store.partner(&support::slug("aptus")).await.unwrap();
    let decision = replica.check_partner(&partner).await;
    assert!(decision.allowed);
    assert_eq!(decision.source, DecisionSource::Redis);
    assert_eq!(decision.remaining, 2);
    server.stop().await;
}
