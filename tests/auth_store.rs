//! Store-backed authentication: API keys and platform operators in the
//! control tables, and the directory lookups, on PostgreSQL and on SQLite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Duration, Utc};
use sam_core::auth::{
    authenticate_api_key, create_api_key, ApiKeyStore, AuthError, NewApiKey, Permission, Principal,
    PrincipalDirectory,
};
use sam_core::store::Store;
use sam_core::tenancy::{
    GradeScale, InstitutionType, LlmStrategy, NewClient, NewPartner, NewUser, PartnerSlug, Role,
    SubscriptionStatus, Tier,
};
use sam_tests::{on_both_stores, TestLocation};
use secrecy::ExposeSecret;

fn slug(text: &str) -> PartnerSlug {
    PartnerSlug::parse(text).unwrap()
}

async fn store_with_partner(location: &TestLocation, partner: &str) -> Store {
    let store = location.init().await;
    store
        .create_partner(NewPartner {
            slug: slug(partner),
            name: format!("Partner {partner}"),
            tier: Tier::Premium,
            strategy: LlmStrategy::CostOptimized,
            daily_quota: None,
            monthly_fee: None,
            time_zone: None,
        })
        .await
        .unwrap();
    let db = store.partner_db(&slug(partner)).await.unwrap();
    db.create_client(NewClient {
        client_id: "c1".to_owned(),
        name: "Client one".to_owned(),
        institution_type: InstitutionType::K12,
        students_count: 10,
        teachers_count: 2,
        grade_scale: GradeScale::default(),
    })
    .await
    .unwrap();
    db.create_user(NewUser {
        user_id: "prof".to_owned(),
        client_id: "c1".to_owned(),
        role: Role::Teacher,
        email: None,
    })
    .await
    .unwrap();
    store
}

fn new_key(partner: &str) -> NewApiKey {
    NewApiKey {
        partner: slug(partner),
        client_id: Some("c1".to_owned()),
        name: "grading robot".to_owned(),
        scopes: vec![Permission::CreateEvaluation],
        expires_at: None,
    }
}

async fn api_keys_round_trip(location: &TestLocation) {
    let store = store_with_partner(location, "aptus").await;
    let now = Utc::now();
    let generated = create_api_key(&store, &new_key("aptus"), now)
        .await
        .unwrap();
    let prefix = generated.record.prefix.clone();

    let found = store.find_by_prefix(&prefix).await.unwrap().unwrap();
    assert_eq!(found.prefix, prefix);
    assert_eq!(found.partner, slug("aptus"));
    assert_eq!(found.client_id.as_deref(), Some("c1"));
    assert_eq!(found.scopes, vec![Permission::CreateEvaluation]);
    assert_eq!(found.secret_hash, generated.record.secret_hash);
    assert!(found.revoked_at.is_none());
    assert!(store.find_by_prefix("nosuchkey0").await.unwrap().is_none());

    let principal = authenticate_api_key(&store, &store, generated.key.expose_secret(), now)
        .await
        .unwrap();
    assert!(matches!(principal, Principal::ApiKey(_)));
    assert_eq!(principal.client(), Some("c1"));

    let duplicate = store.insert(&generated.record).await;
    assert!(matches!(duplicate, Err(AuthError::Store(_))));

    store.mark_used(&prefix, now).await.unwrap();
    let used = store.find_by_prefix(&prefix).await.unwrap().unwrap();
    assert!(used.last_used_at.is_some());

    assert!(!store.revoke(&slug("other"), &prefix, now).await.unwrap());
    assert!(store.revoke(&slug("aptus"), &prefix, now).await.unwrap());
    let later = now + Duration::seconds(5);
    assert!(store.revoke(&slug("aptus"), &prefix, later).await.unwrap());
    let revoked = store.find_by_prefix(&prefix).await.unwrap().unwrap();
    assert_eq!(
        revoked.revoked_at.map(|t| t.timestamp_micros()),
        Some(now.timestamp_micros())
    );
    let rejected = authenticate_api_key(&store, &store, generated.key.expose_secret(), later).await;
    assert!(matches!(rejected, Err(AuthError::InvalidApiKey)));

    let second = create_api_key(&store, &new_key("aptus"), later)
        .await
        .unwrap();
    let listed = store.list_by_partner(&slug("aptus")).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].prefix, second.record.prefix);
    assert!(store
        .list_by_partner(&slug("other"))
        .await
        .unwrap()
        .is_empty());
}
on_both_stores!(api_keys_round_trip);

async fn directory_reads_partners_and_users(location: &TestLocation) {
    let store = store_with_partner(location, "aptus").await;
    let standing = store
        .partner_standing(&slug("aptus"))
        .await
        .unwrap()
        .unwrap();
    assert!(standing.is_usable());
    assert!(store
        .partner_standing(&slug("nobody"))
        .await
        .unwrap()
        .is_none());

    let teacher = store
        .user_standing(Some(&slug("aptus")), "prof")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(teacher.role, Role::Teacher);
    assert_eq!(teacher.client_id.as_deref(), Some("c1"));
    assert!(teacher.active);
    let missing = store.user_standing(Some(&slug("aptus")), "ghost").await;
    assert!(missing.unwrap().is_none());
    let other_partner = store.user_standing(Some(&slug("nobody")), "prof").await;
    assert!(other_partner.unwrap().is_none());
    // A partner's user is not an operator.
    assert!(store.user_standing(None, "prof").await.unwrap().is_none());

    store
        .set_partner_status(&slug("aptus"), SubscriptionStatus::Suspended)
        .await
        .unwrap();
    let suspended = store
        .partner_standing(&slug("aptus"))
        .await
        .unwrap()
        .unwrap();
    assert!(!suspended.is_usable());
}
on_both_stores!(directory_reads_partners_and_users);

async fn platform_admins_are_listed(location: &TestLocation) {
    let store = location.init().await;
    assert!(store.platform_admins().await.unwrap().is_empty());
    let root = store
        .create_platform_admin("root", Some("ops@example.org"))
        .await
        .unwrap();
    assert!(root.active);
    assert_eq!(root.email.as_deref(), Some("ops@example.org"));
    store.create_platform_admin("backup", None).await.unwrap();
    let duplicate = store.create_platform_admin("root", None).await;
    assert!(duplicate.is_err());
    let bad_id = store.create_platform_admin("has space", None).await;
    assert!(bad_id.is_err());

    let listed: Vec<String> = store
        .platform_admins()
        .await
        .unwrap()
        .into_iter()
        .map(|admin| admin.user_id)
        .collect();
    assert_eq!(listed, ["backup", "root"]);

    let standing = store.user_standing(None, "root").await.unwrap().unwrap();
    assert_eq!(standing.role, Role::SuperAdmin);
    assert!(standing.active);
    assert_eq!(standing.client_id, None);

    assert!(store
        .set_platform_admin_active("root", false)
        .await
        .unwrap());
    assert!(!store
        .set_platform_admin_active("ghost", false)
        .await
        .unwrap());
    let standing = store.user_standing(None, "root").await.unwrap().unwrap();
    assert!(!standing.active);
}
on_both_stores!(platform_admins_are_listed);

async fn idempotency_claims_run_once(location: &TestLocation) {
    use sam_core::store::IdempotencyClaim;
    use std::time::Duration as StdDuration;

    let store = store_with_partner(location, "aptus").await;
    let db = store.partner_db(&slug("aptus")).await.unwrap();
    let long = StdDuration::from_secs(600);

    let first = db.claim_idempotency("k1", "hash-a", long).await.unwrap();
    assert_eq!(first, IdempotencyClaim::Claimed);
    let running = db.claim_idempotency("k1", "hash-a", long).await.unwrap();
    assert_eq!(running, IdempotencyClaim::InProgress);
    let other = db.claim_idempotency("k1", "hash-b", long).await.unwrap();
    assert_eq!(other, IdempotencyClaim::Mismatch);

    db.complete_idempotency("k1", 201, "{\"id\":1}")
        .await
        .unwrap();
    let done = db.claim_idempotency("k1", "hash-a", long).await.unwrap();
    assert_eq!(
        done,
        IdempotencyClaim::Completed {
            status: 201,
            body: "{\"id\":1}".to_owned()
        }
    );
    // A completed key is never released or taken over.
    db.release_idempotency("k1").await.unwrap();
    let still = db
        .claim_idempotency("k1", "hash-a", StdDuration::ZERO)
        .await;
    assert!(matches!(still.unwrap(), IdempotencyClaim::Completed { .. }));

    assert_eq!(
        db.claim_idempotency("k2", "hash-a", long).await.unwrap(),
        IdempotencyClaim::Claimed
    );
    db.release_idempotency("k2").await.unwrap();
    assert_eq!(
        db.claim_idempotency("k2", "hash-a", long).await.unwrap(),
        IdempotencyClaim::Claimed
    );
    tokio::time::sleep(StdDuration::from_millis(5)).await;
    let stale = db
        .claim_idempotency("k2", "hash-a", StdDuration::from_millis(1))
        .await
        .unwrap();
    assert_eq!(stale, IdempotencyClaim::Claimed);
    let fresh = db.claim_idempotency("k2", "hash-a", long).await.unwrap();
    assert_eq!(fresh, IdempotencyClaim::InProgress);
}
on_both_stores!(idempotency_claims_run_once);

/// Opens another handle on the same data that reuses partner and API key
/// records for `ttl`, as a server replica does.
async fn caching_store(location: &TestLocation, ttl: std::time::Duration) -> Store {
    let options = sam_core::store::StoreOptions {
        lookup_ttl: ttl,
        ..sam_core::store::StoreOptions::default()
    };
    Store::open(&location.location, options).await.unwrap()
}

async fn cached_lookups_follow_changes(location: &TestLocation) {
    let elsewhere = store_with_partner(location, "aptus").await;
    let ttl = std::time::Duration::from_secs(1);
    let replica = caching_store(location, ttl).await;
    let now = Utc::now();

    // A key revoked through the caching store is refused at once.
    let key = create_api_key(&elsewhere, &new_key("aptus"), now)
        .await
        .unwrap();
    let key = key.key.expose_secret();
    authenticate_api_key(&replica, &replica, key, now)
        .await
        .unwrap();
    let prefix = sam_core::auth::parse_api_key(key).unwrap().0;
    assert!(replica.revoke(&slug("aptus"), prefix, now).await.unwrap());
    assert!(authenticate_api_key(&replica, &replica, key, now)
        .await
        .is_err());

    // A key revoked through another handle is refused once the cached
    // record expires.
    let other = create_api_key(&elsewhere, &new_key("aptus"), now)
        .await
        .unwrap();
    let other = other.key.expose_secret();
    authenticate_api_key(&replica, &replica, other, now)
        .await
        .unwrap();
    let other_prefix = sam_core::auth::parse_api_key(other).unwrap().0;
    assert!(elsewhere
        .revoke(&slug("aptus"), other_prefix, now)
        .await
        .unwrap());
    tokio::time::sleep(ttl + std::time::Duration::from_millis(200)).await;
    assert!(authenticate_api_key(&replica, &replica, other, now)
        .await
        .is_err());

    // A partner suspended through the caching store is unavailable at once;
    // resumed through another handle, it is available once the entry expires.
    replica
        .set_partner_status(&slug("aptus"), SubscriptionStatus::Suspended)
        .await
        .unwrap();
    assert!(replica.partner_db(&slug("aptus")).await.is_err());
    elsewhere
        .set_partner_status(&slug("aptus"), SubscriptionStatus::Active)
        .await
        .unwrap();
    tokio::time::sleep(ttl + std::time::Duration::from_millis(200)).await;
    assert!(replica.partner_db(&slug("aptus")).await.is_ok());
}
on_both_stores!(cached_lookups_follow_changes);
