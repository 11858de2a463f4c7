//! The daily quota: counting, local midnight in America/Santiago across the
//! 2026 daylight-saving changes, isolation and atomicity.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::America::Santiago;
use futures::future::join_all;

use super::{keys_under, link, TestPrefix};
use crate::limits::{
    start_of_local_day, DailyQuota, DecisionSource, ManualClock, PartnerQuota, QuotaDecision,
};
use crate::tenancy::PartnerSlug;

const RETRY: Duration = Duration::from_secs(5);

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

fn slug(text: &str) -> PartnerSlug {
    PartnerSlug::parse(text).unwrap()
}

/// Builds a quota counter on the shared Redis with a manual clock at `now`.
fn redis_quota(prefix: &str, now: &str) -> (DailyQuota, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(utc(now)));
    let quota = DailyQuota::new(link(prefix, RETRY), clock.clone());
    (quota, clock)
}

async fn consume_one(quota: &DailyQuota, limit: u64) -> QuotaDecision {
    let partner_quota = PartnerQuota::new(limit, Santiago);
    quota
        .check_and_consume(&slug("acme"), &partner_quota, 1)
        .await
}

#[test]
fn chrono_tz_has_chile_2026_transitions() {
    // Daylight saving ends at 2026-04-05 03:00 UTC: local clocks go from
    // 23:59:59 -03 back to 23:00 -04 on April 4.
    let before_april = Santiago.offset_from_utc_datetime(&utc("2026-04-05T02:59:59Z").naive_utc());
    let after_april = Santiago.offset_from_utc_datetime(&utc("2026-04-05T03:00:00Z").naive_utc());
    assert_eq!(before_april.fix().local_minus_utc(), -3 * 3600);
    assert_eq!(after_april.fix().local_minus_utc(), -4 * 3600);
    // Daylight saving starts at 2026-09-06 04:00 UTC: local clocks go from
    // 23:59:59 -04 on September 5 to 01:00 -03 on September 6.
    let before_september =
        Santiago.offset_from_utc_datetime(&utc("2026-09-06T03:59:59Z").naive_utc());
    let after_september =
        Santiago.offset_from_utc_datetime(&utc("2026-09-06T04:00:00Z").naive_utc());
    assert_eq!(before_september.fix().local_minus_utc(), -4 * 3600);
    assert_eq!(after_september.fix().local_minus_utc(), -3 * 3600);
}

#[test]
fn local_day_starts_follow_santiago_offsets() {
    let cases = [
        // Summer time, -03.
        (date(2026, 3, 11), "2026-03-11T03:00:00Z"),
        // April 4 starts in summer time and lasts 25 hours.
        (date(2026, 4, 4), "2026-04-04T03:00:00Z"),
        (date(2026, 4, 5), "2026-04-05T04:00:00Z"),
        // Midnight of September 6 does not exist; the day starts at 01:00 -03.
        (date(2026, 9, 6), "2026-09-06T04:00:00Z"),
        (date(2026, 9, 7), "2026-09-07T03:00:00Z"),
    ];
    for (day, expected) in cases {
        assert_eq!(start_of_local_day(day, Santiago), utc(expected), "{day}");
    }
}

#[tokio::test]
async fn quota_admits_up_to_limit() {
    let prefix = TestPrefix::new();
    let (quota, _clock) = redis_quota(&prefix, "2026-03-10T15:00:00Z");
    let partner_quota = PartnerQuota::new(3, Santiago);

    for expected_used in 1..=2 {
        let decision = consume_one(&quota, 3).await;
        assert!(decision.allowed);
        assert_eq!(decision.used, expected_used);
        assert_eq!(decision.source, DecisionSource::Redis);
    }
    // Two more do not fit in the one left, so neither is counted.
    let batch = quota
        .check_and_consume(&slug("acme"), &partner_quota, 2)
        .await;
    assert!(!batch.allowed);
    assert_eq!(batch.used, 2);

    let last = consume_one(&quota, 3).await;
    assert!(last.allowed);
    assert_eq!(last.used, 3);
    assert_eq!(last.remaining(), 0);
    assert_eq!(last.limit, 3);
    assert_eq!(last.day, date(2026, 3, 10));
    assert_eq!(last.resets_at, utc("2026-03-11T03:00:00Z"));

    let over = consume_one(&quota, 3).await;
    assert!(!over.allowed);
    assert_eq!(over.used, 3);
}

#[tokio::test]
async fn quota_resets_at_local_midnight() {
    let prefix = TestPrefix::new();
    // 23:59:59 on March 10 in Santiago (-03).
    let (quota, clock) = redis_quota(&prefix, "2026-03-11T02:59:59Z");
    assert!(consume_one(&quota, 1).await.allowed);
    let full = consume_one(&quota, 1).await;
    assert!(!full.allowed);
    assert_eq!(full.day, date(2026, 3, 10));
    assert_eq!(full.resets_at, utc("2026-03-11T03:00:00Z"));

    clock.advance(TimeDelta::seconds(1));
    let next_day = consume_one(&quota, 1).await;
    assert!(next_day.allowed);
    assert_eq!(next_day.used, 1);
    assert_eq!(next_day.day, date(2026, 3, 11));
    assert_eq!(next_day.resets_at, utc("2026-03-12T03:00:00Z"));

    let mut keys = keys_under(&prefix).await;
    keys.sort();
    assert_eq!(
        keys,
        [
            format!("{prefix}quota:acme:2026-03-10"),
            format!("{prefix}quota:acme:2026-03-11"),
        ]
    );
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&keys[1])
        .query_async(&mut super::admin().await)
        .await
        .unwrap();
    // The next local midnight plus one hour of grace, by the manual clock.
    assert!(ttl > 24 * 3_600_000, "PTTL was {ttl}");
    assert!(ttl <= 25 * 3_600_000, "PTTL was {ttl}");
}

#[tokio::test]
async fn quota_day_spans_april_repeated_hour() {
    let prefix = TestPrefix::new();
    // 23:30 -03 on April 4, half an hour before clocks go back.
    let (quota, clock) = redis_quota(&prefix, "2026-04-05T02:30:00Z");
    let first = consume_one(&quota, 2).await;
    assert!(first.allowed);
    assert_eq!(first.day, date(2026, 4, 4));
    assert_eq!(first.resets_at, utc("2026-04-05T04:00:00Z"));

    // 23:30 -04 on April 4 again: the same day, so the count goes on.
    clock.set(utc("2026-04-05T03:30:00Z"));
    let repeated = consume_one(&quota, 2).await;
    assert!(repeated.allowed);
    assert_eq!(repeated.day, date(2026, 4, 4));
    assert_eq!(repeated.used, 2);
    assert!(!consume_one(&quota, 2).await.allowed);

    // Midnight -04 starts April 5.
    clock.set(utc("2026-04-05T04:00:00Z"));
    let next_day = consume_one(&quota, 2).await;
    assert!(next_day.allowed);
    assert_eq!(next_day.used, 1);
    assert_eq!(next_day.day, date(2026, 4, 5));
    assert_eq!(next_day.resets_at, utc("2026-04-06T04:00:00Z"));
}

#[tokio::test]
async fn quota_day_skips_september_midnight() {
    let prefix = TestPrefix::new();
    // 23:59 -04 on September 5; the next local time is 01:00 -03.
    let (quota, clock) = redis_quota(&prefix, "2026-09-06T03:59:00Z");
    assert!(consume_one(&quota, 1).await.allowed);
    let full = consume_one(&quota, 1).await;
    assert!(!full.allowed);
    assert_eq!(full.day, date(2026, 9, 5));
    assert_eq!(full.resets_at, utc("2026-09-06T04:00:00Z"));

    clock.set(utc("2026-09-06T04:00:00Z"));
    let next_day = consume_one(&quota, 1).await;
    assert!(next_day.allowed);
    assert_eq!(next_day.day, date(2026, 9, 6));
    // September 6 lasts 23 hours.
    assert_eq!(next_day.resets_at, utc("2026-09-07T03:00:00Z"));
}

#[tokio::test]
async fn quota_partners_counted_apart() {
    let prefix = TestPrefix::new();
    let (quota, _clock) = redis_quota(&prefix, "2026-03-10T15:00:00Z");
    let partner_quota = PartnerQuota::new(1, Santiago);

    assert!(
        quota
            .check_and_consume(&slug("acme"), &partner_quota, 1)
            .await
            .allowed
    );
    assert!(
        !quota
            .check_and_consume(&slug("acme"), &partner_quota, 1)
            .await
            .allowed
    );
    let other = quota
        .check_and_consume(&slug("globex"), &partner_quota, 1)
        .await;
    assert!(other.allowed);
    assert_eq!(other.used, 1);
}

#[tokio::test]
async fn quota_partner_time_zones_differ() {
    let prefix = TestPrefix::new();
    // 02:00 UTC on March 11 is still March 10 in Santiago but March 11 in
    // Madrid.
    let (quota, _clock) = redis_quota(&prefix, "2026-03-11T02:00:00Z");
    let santiago = quota
        .check_and_consume(&slug("acme"), &PartnerQuota::new(5, Santiago), 1)
        .await;
    let madrid = quota
        .check_and_consume(
            &slug("globex"),
            &PartnerQuota::new(5, chrono_tz::Europe::Madrid),
            1,
        )
        .await;
    assert_eq!(santiago.day, date(2026, 3, 10));
    assert_eq!(madrid.day, date(2026, 3, 11));
    assert_eq!(madrid.resets_at, utc("2026-03-11T23:00:00Z"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_concurrent_consumes_exact() {
    let prefix = TestPrefix::new();
    let (quota, _clock) = redis_quota(&prefix, "2026-03-10T15:00:00Z");

    let tasks = (0..50).map(|_| {
        let quota = quota.clone();
        tokio::spawn(async move { consume_one(&quota, 10).await })
    });
    let decisions: Vec<QuotaDecision> = join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();

    assert_eq!(
        decisions.iter().filter(|decision| decision.allowed).count(),
        10
    );
    let mut used: Vec<u64> = decisions
        .iter()
        .filter(|decision| decision.allowed)
        .map(|decision| decision.used)
        .collect();
    used.sort_unstable();
    assert_eq!(used, (1..=10).collect::<Vec<u64>>());
}

#[tokio::test]
async fn local_quota_resets_at_local_midnight() {
    let clock = Arc::new(ManualClock::new(utc("2026-09-06T03:59:00Z")));
    let quota = DailyQuota::local_only(clock.clone());
    assert!(consume_one(&quota, 1).await.allowed);
    let full = consume_one(&quota, 1).await;
    assert!(!full.allowed);
    assert_eq!(full.source, DecisionSource::Local);

    clock.set(utc("2026-09-06T04:00:00Z"));
    let next_day = consume_one(&quota, 1).await;
    assert!(next_day.allowed);
    assert_eq!(next_day.day, date(2026, 9, 6));
}
