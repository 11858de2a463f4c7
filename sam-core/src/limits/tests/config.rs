//! Limit settings: parsing, validation, tier defaults and partner overrides.

use chrono_tz::America::Santiago;

use super::partner_row as partner;
use crate::limits::{LimitError, LimitsConfig, Rate};
use crate::tenancy::{PartnerSlug, Tier};

#[test]
fn config_overrides_tier_per_partner() {
    let config: LimitsConfig = toml::from_str(
        r#"
        retry_interval_secs = 10

        [tiers.basic]
        requests_per_minute = 30
        burst = 5

        [partners.acme]
        requests_per_minute = 600
        burst = 100
        "#,
    )
    .unwrap();
    let policy = config.validate().unwrap();
    let acme = PartnerSlug::parse("acme").unwrap();
    let globex = PartnerSlug::parse("globex").unwrap();

    assert_eq!(
        policy.partner_rate(&acme, Tier::Basic),
        Rate::per_minute(600, 100).unwrap()
    );
    assert_eq!(
        policy.partner_rate(&globex, Tier::Basic),
        Rate::per_minute(30, 5).unwrap()
    );
    // Tiers not in the file keep their defaults.
    assert_eq!(
        policy.partner_rate(&globex, Tier::Enterprise),
        Rate::per_minute(6_000, 1_000).unwrap()
    );
    assert_eq!(policy.default_time_zone(), Santiago);
}

#[test]
fn config_rejects_unknown_keys() {
    let top = toml::from_str::<LimitsConfig>("retry_interval = 5").unwrap_err();
    assert!(top.to_string().contains("retry_interval"), "{top}");
    let nested = toml::from_str::<LimitsConfig>(
        "[tiers.basic]\nrequests_per_minute = 30\nburst = 5\nrequests_per_hour = 1",
    )
    .unwrap_err();
    assert!(nested.to_string().contains("requests_per_hour"), "{nested}");
    let bad_slug =
        toml::from_str::<LimitsConfig>("[partners.Acme]\nrequests_per_minute = 30\nburst = 5");
    assert!(bad_slug.is_err());
}

#[test]
fn config_validation_names_bad_setting() {
    let mut config = LimitsConfig::default();
    config.tiers.premium.burst = 0;
    let error = config.validate().unwrap_err();
    assert!(matches!(error, LimitError::InvalidConfig(_)), "{error}");
    assert!(error.to_string().contains("tiers.premium"), "{error}");

    let config = LimitsConfig {
        default_time_zone: "America/Santiag".to_owned(),
        ..LimitsConfig::default()
    };
    let error = config.validate().unwrap_err();
    assert!(
        matches!(error, LimitError::InvalidTimeZone { .. }),
        "{error}"
    );

    let config = LimitsConfig {
        redis_timeout_ms: 0,
        ..LimitsConfig::default()
    };
    assert!(config.validate().is_err());
}

#[test]
fn partner_quota_reads_partner_row() {
    let policy = LimitsConfig::default().validate().unwrap();

    let quota = policy.partner_quota(&partner("acme", 500, "")).unwrap();
    assert_eq!(quota.daily_limit, 500);
    assert_eq!(quota.time_zone, Santiago);

    let madrid = policy
        .partner_quota(&partner("acme", 500, "Europe/Madrid"))
        .unwrap();
    assert_eq!(madrid.time_zone, chrono_tz::Europe::Madrid);

    let negative = policy.partner_quota(&partner("acme", -1, "")).unwrap_err();
    assert!(matches!(
        negative,
        LimitError::InvalidQuota { value: -1, .. }
    ));
    let unknown = policy
        .partner_quota(&partner("acme", 5, "Mars/Olympus"))
        .unwrap_err();
    assert!(matches!(unknown, LimitError::InvalidTimeZone { .. }));
}

#[test]
fn redis_link_outside_runtime_is_an_error() {
    let policy = LimitsConfig::default().validate().unwrap();
    let error = policy.redis_link("redis://127.0.0.1:6379").unwrap_err();
    assert!(matches!(error, LimitError::InvalidConfig(_)), "{error}");
}
