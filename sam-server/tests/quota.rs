//! Daily evaluation quotas through the real server: counted per
//! partner-local day in Redis and reset at the partner's local midnight,
//! with the server's clock set by the test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sam_core::limits::ManualClock;
use support::limits::RateLimits;
use support::{assignment, mount_model, read, submission, TestServer};

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// Starts a server whose limits run on a clock stopped at `now`.
async fn server_at(now: &str) -> (TestServer, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(utc(now)));
    let server = TestServer::start_limited(RateLimits::new("").with_clock(clock.clone())).await;
    mount_model(&server.llm, Duration::ZERO).await;
    (server, clock)
}

/// A partner made for one test, with client `c1`, its teacher's token and
/// assignment `a1`.
struct QuotaPartner {
    slug: &'static str,
    token: String,
    submissions: std::sync::atomic::AtomicUsize,
}

/// The result of one evaluation request.
#[derive(Debug)]
struct Outcome {
    status: u16,
    code: Option<String>,
    retry_after: Option<u64>,
}

impl QuotaPartner {
    /// Creates partner `slug` with `daily_quota` evaluations a day in
    /// `time_zone`, the default time zone when `None`.
    async fn create(
        server: &TestServer,
        slug: &'static str,
        daily_quota: i64,
        time_zone: Option<&str>,
    ) -> Self {
        server.add_partner(slug, daily_quota, time_zone).await;
        let token = server.member_token(slug, Some("c1"), "teacher").await;
        let response = server
            .http
            .post(format!(
                "{}/api/{slug}/v1/clients/c1/assignments",
                server.base
            ))
            .bearer_auth(&token)
            .json(&assignment("a1"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        Self {
            slug,
            token,
            submissions: Default::default(),
        }
    }

    /// Evaluates a new submission.
    async fn evaluate(&self, server: &TestServer) -> Outcome {
        let number = self
            .submissions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let response = server
            .http
            .post(format!(
                "{}/api/{}/v1/clients/c1/evaluations",
                server.base, self.slug
            ))
            .bearer_auth(&self.token)
            .json(&submission("a1", &format!("s{number}"), "student"))
            .send()
            .await
            .unwrap();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|value| value.to_str().unwrap().parse().unwrap());
        let (status, body) = read(response).await;
        Outcome {
            status,
            code: body["error"]["code"].as_str().map(str::to_owned),
            retry_after,
        }
    }

    /// Asserts that the next evaluation is admitted.
    async fn assert_admitted(&self, server: &TestServer) {
        let outcome = self.evaluate(server).await;
        assert_eq!(outcome.status, 201, "{}: {outcome:?}", self.slug);
    }

    /// Asserts that the next evaluation gets the quota's 429, with a
    /// `retry-after` of `retry_after` seconds.
    async fn assert_exhausted(&self, server: &TestServer, retry_after: u64) {
        let outcome = self.evaluate(server).await;
        assert_eq!(outcome.status, 429, "{}: {outcome:?}", self.slug);
        assert_eq!(outcome.code.as_deref(), Some("quota_exceeded"));
        assert_eq!(outcome.retry_after, Some(retry_after), "{}", self.slug);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_resets_at_santiago_midnight() {
    // 23:59 on 2026-03-10 in Santiago, in summer time (-03).
    let (server, clock) = server_at("2026-03-11T02:59:00Z").await;
    let partner = QuotaPartner::create(&server, "chile", 2, None).await;

    partner.assert_admitted(&server).await;
    partner.assert_admitted(&server).await;
    partner.assert_exhausted(&server, 60).await;
    clock.set(utc("2026-03-11T02:59:59Z"));
    partner.assert_exhausted(&server, 1).await;

    // 00:00:30 on 2026-03-11: a new day with the whole quota.
    clock.set(utc("2026-03-11T03:00:30Z"));
    partner.assert_admitted(&server).await;
    partner.assert_admitted(&server).await;
    partner.assert_exhausted(&server, 24 * 3600 - 30).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_ignores_utc_midnight() {
    // 20:59 on 2026-03-10 in Santiago, a minute before UTC midnight.
    let (server, clock) = server_at("2026-03-10T23:59:00Z").await;
    let partner = QuotaPartner::create(&server, "chile", 1, None).await;

    partner.assert_admitted(&server).await;
    partner.assert_exhausted(&server, 3 * 3600 + 60).await;

    // A new UTC day, but still 21:00:30 on March 10 in Santiago.
    clock.set(utc("2026-03-11T00:00:30Z"));
    partner.assert_exhausted(&server, 3 * 3600 - 30).await;

    clock.set(utc("2026-03-11T03:00:30Z"));
    partner.assert_admitted(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_day_spans_april_repeated_hour() {
    // Summer time ends at 2026-04-05 03:00 UTC, when Santiago's clocks go
    // from 23:59:59 -03 back to 23:00 -04 on April 4. This is the first
    // 23:59 of April 4, and April 5 starts at 04:00 UTC.
    let (server, clock) = server_at("2026-04-05T02:59:00Z").await;
    let partner = QuotaPartner::create(&server, "chile", 1, None).await;

    partner.assert_admitted(&server).await;
    partner.assert_exhausted(&server, 3600 + 60).await;

    // Midnight of the -03 offset has passed, but the clocks read 23:00:30
    // -04, still April 4.
    clock.set(utc("2026-04-05T03:00:30Z"));
    partner.assert_exhausted(&server, 3600 - 30).await;

    clock.set(utc("2026-04-05T04:00:30Z"));
    partner.assert_admitted(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_day_skips_september_midnight() {
    // Summer time starts at 2026-09-06 04:00 UTC, when Santiago's clocks go
    // from 23:59:59 -04 on September 5 to 01:00 -03 on September 6, so
    // that day starts at 01:00.
    let (server, clock) = server_at("2026-09-06T03:59:00Z").await;
    let partner = QuotaPartner::create(&server, "chile", 1, None).await;

    partner.assert_admitted(&server).await;
    partner.assert_exhausted(&server, 60).await;

    // 01:00:30 -03 on September 6.
    clock.set(utc("2026-09-06T04:00:30Z"));
    partner.assert_admitted(&server).await;
    partner.assert_exhausted(&server, 23 * 3600 - 30).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_resets_at_partner_time_zone() {
    // 23:59 on 2026-03-10 in Tokyo (+09), 11:59 in Santiago (-03).
    let (server, clock) = server_at("2026-03-10T14:59:00Z").await;
    let tokyo = QuotaPartner::create(&server, "tokyo", 1, Some("Asia/Tokyo")).await;
    let chile = QuotaPartner::create(&server, "chile", 1, Some("America/Santiago")).await;

    tokyo.assert_admitted(&server).await;
    tokyo.assert_exhausted(&server, 60).await;
    chile.assert_admitted(&server).await;
    chile.assert_exhausted(&server, 12 * 3600 + 60).await;

    // Midnight in Tokyo, noon in Santiago.
    clock.set(utc("2026-03-10T15:00:30Z"));
    tokyo.assert_admitted(&server).await;
    chile.assert_exhausted(&server, 12 * 3600 - 30).await;

    clock.set(utc("2026-03-11T03:00:30Z"));
    chile.assert_admitted(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_retries_spend_no_quota() {
    let (server, _clock) = server_at("2026-03-11T12:00:00Z").await;
    let partner = QuotaPartner::create(&server, "chile", 2, None).await;
    let send = || {
        server
            .http
            .post(format!(
                "{}/api/chile/v1/clients/c1/evaluations",
                server.base
            ))
            .bearer_auth(&partner.token)
            .header("idempotency-key", "retry-1")
            .json(&submission("a1", "retried", "student"))
            .send()
    };

    for attempt in 0..4 {
        let (status, body) = read(send().await.unwrap()).await;
        assert_eq!(status, 201, "attempt {attempt}: {body}");
    }

    // The four attempts spent one evaluation, so one is left.
    partner.assert_admitted(&server).await;
    // 09:00 in Santiago (-03), 15 hours before its midnight.
    partner.assert_exhausted(&server, 15 * 3600).await;
    server.stop().await;
}
