//! The `Limits` handle: partner and API key rates from the policy, and
//! quotas from the partner row.

use std::sync::Arc;

use super::{partner_row, system_clock, TestPrefix, REDIS_URL};
use crate::limits::{
    DecisionSource, LimitError, Limits, LimitsConfig, ManualClock, RateLimitConfig,
};
use crate::tenancy::PartnerSlug;

/// Builds limits whose partner `acme` may make 2 requests per minute.
fn limits(prefix: &str, redis_url: Option<&str>) -> Limits {
    let mut config = LimitsConfig {
        key_prefix: prefix.to_owned(),
        ..LimitsConfig::default()
    };
    config.partners.insert(
        PartnerSlug::parse("acme").unwrap(),
        RateLimitConfig::new(2, 2),
    );
    Limits::new(config.validate().unwrap(), redis_url, system_clock()).unwrap()
}

#[tokio::test]
async fn limits_apply_partner_override() {
    let prefix = TestPrefix::new();
    let limits = limits(&prefix, Some(REDIS_URL));
    let acme = partner_row("acme", 1, "");
    let globex = partner_row("globex", 1, "");

    for _ in 0..2 {
        let decision = limits.check_partner(&acme).await;
        assert!(decision.allowed);
        assert_eq!(decision.source, DecisionSource::Redis);
    }
    assert!(!limits.check_partner(&acme).await.allowed);

    // globex has the standard tier's rate.
    let other = limits.check_partner(&globex).await;
    assert!(other.allowed);
    assert_eq!(other.limit, 50);

    // An API key of acme has its own budget at acme's rate.
    let api_key = limits.check_api_key(&acme, "sam_live_ab12").await;
    assert!(api_key.allowed);
    assert_eq!(api_key.limit, 2);
}

#[tokio::test]
async fn limits_consume_partner_quota() {
    let prefix = TestPrefix::new();
    let limits = limits(&prefix, Some(REDIS_URL));
    let acme = partner_row("acme", 1, "Europe/Madrid");

    let first = limits.consume_quota(&acme, 1).await.unwrap();
    assert!(first.allowed);
    assert_eq!(first.limit, 1);
    assert_eq!(first.source, DecisionSource::Redis);
    assert!(!limits.consume_quota(&acme, 1).await.unwrap().allowed);

    let invalid = partner_row("acme", 1, "Europe/Madird");
    let error = limits.consume_quota(&invalid, 1).await.unwrap_err();
    assert!(
        matches!(error, LimitError::InvalidTimeZone { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn limits_without_redis_decide_locally() {
    let clock = Arc::new(ManualClock::new("2026-03-10T15:00:00Z".parse().unwrap()));
    let config = LimitsConfig::default().validate().unwrap();
    let limits = Limits::new(config, None, clock).unwrap();
    let acme = partner_row("acme", 1, "");

    let decision = limits.check_partner(&acme).await;
    assert!(decision.allowed);
    assert_eq!(decision.source, DecisionSource::Local);
    let quota = limits.consume_quota(&acme, 1).await.unwrap();
    assert!(quota.allowed);
    assert_eq!(quota.source, DecisionSource::Local);
}
