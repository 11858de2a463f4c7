//! Creating, checking and revoking API keys.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use secrecy::ExposeSecret;

use super::support::{active_partner, directory, slug};
use crate::auth::{
    authenticate_api_key, create_api_key, generate_api_key, hash_secret, hashes_match,
    parse_api_key, ApiKeyRecord, ApiKeyStore, AuthError, InMemoryApiKeyStore, NewApiKey,
    PartnerStanding, Permission, Principal, KEY_PREFIX_LEN, LAST_USED_RESOLUTION,
};
use crate::tenancy::{PartnerSlug, SubscriptionStatus, TenancyError};

fn new_key(partner: &str) -> NewApiKey {
    NewApiKey {
        partner: slug(partner),
        client_id: Some("c1".to_owned()),
        name: "LMS sync".to_owned(),
        scopes: vec![Permission::CreateEvaluation, Permission::ViewOwnEvaluations],
        expires_at: None,
    }
}

async fn stored_key(store: &InMemoryApiKeyStore, new: &NewApiKey) -> String {
    let generated = create_api_key(store, new, Utc::now()).await.unwrap();
    generated.key.expose_secret().to_owned()
}

#[track_caller]
fn assert_invalid(result: Result<Principal, AuthError>) {
    match result {
        Err(err @ AuthError::InvalidApiKey) => assert_eq!(err.to_string(), "invalid API key"),
        other => panic!("expected InvalidApiKey, got {other:?}"),
    }
}

#[tokio::test]
async fn created_key_authenticates() {
    let store = InMemoryApiKeyStore::new();
    let directory = directory();
    let generated = create_api_key(&store, &new_key("aptus"), Utc::now())
        .await
        .unwrap();
    let key = generated.key.expose_secret();

    let (prefix, secret) = parse_api_key(key).unwrap();
    assert_eq!(prefix.len(), KEY_PREFIX_LEN);
    assert_eq!(secret.len(), 64);
    assert_eq!(generated.record.prefix, prefix);
    assert_eq!(generated.record.secret_hash, hash_secret(secret));
    assert!(!generated.record.secret_hash.contains(secret));

    let now = Utc::now();
    let principal = authenticate_api_key(&store, &directory, key, now)
        .await
        .unwrap();
    let Principal::ApiKey(identity) = &principal else {
        panic!("expected an API key principal, got {principal:?}");
    };
    assert_eq!(identity.prefix(), prefix);
    assert_eq!(identity.partner(), &slug("aptus"));
    assert_eq!(identity.client(), Some("c1"));
    assert!(principal.has_permission(Permission::CreateEvaluation));
    assert!(!principal.has_permission(Permission::ViewFeedback));

    let record = store.find_by_prefix(prefix).await.unwrap().unwrap();
    assert_eq!(record.last_used_at, Some(now));
}

#[tokio::test]
async fn last_use_is_written_once_per_resolution() {
    let store = InMemoryApiKeyStore::new();
    let directory = directory();
    let generated = create_api_key(&store, &new_key("aptus"), Utc::now())
        .await
        .unwrap();
    let key = generated.key.expose_secret();
    let prefix = generated.record.prefix.as_str();
    let first = Utc::now();
    let last_used = || async {
        store
            .find_by_prefix(prefix)
            .await
            .unwrap()
            .unwrap()
            .last_used_at
    };

    authenticate_api_key(&store, &directory, key, first)
        .await
        .unwrap();
    assert_eq!(last_used().await, Some(first));

    let soon = first + LAST_USED_RESOLUTION - Duration::seconds(1);
    authenticate_api_key(&store, &directory, key, soon)
        .await
        .unwrap();
    assert_eq!(last_used().await, Some(first));

    let later = first + LAST_USED_RESOLUTION;
    authenticate_api_key(&store, &directory, key, later)
        .await
        .unwrap();
    assert_eq!(last_used().await, Some(later));
}

#[tokio::test]
async fn generated_keys_differ() {
    let first = generate_api_key(&new_key("aptus"), Utc::now()).unwrap();
    let second = generate_api_key(&new_key("aptus"), Utc::now()).unwrap();
    assert_ne!(first.record.prefix, second.record.prefix);
    assert_ne!(first.key.expose_secret(), second.key.expose_secret());
    assert!(!format!("{first:?}").contains(first.key.expose_secret()));
}

#[tokio::test]
async fn wrong_secret_is_rejected() {
    let store = InMemoryApiKeyStore::new();
    let key = stored_key(&store, &new_key("aptus")).await;
    let (prefix, secret) = parse_api_key(&key).unwrap();

    let mut last_flipped = secret.to_owned().into_bytes();
    let last = last_flipped.len() - 1;
    last_flipped[last] = if last_flipped[last] == b'0' {
        b'1'
    } else {
        b'0'
    };
    let last_flipped = String::from_utf8(last_flipped).unwrap();
    let other_secret = "0".repeat(64);

    for secret in [last_flipped.as_str(), other_secret.as_str()] {
        let presented = format!("sam_{prefix}_{secret}");
        assert_invalid(authenticate_api_key(&store, &directory(), &presented, Utc::now()).await);
    }
}

#[tokio::test]
async fn unknown_or_malformed_key_is_rejected() {
    let store = InMemoryApiKeyStore::new();
    let key = stored_key(&store, &new_key("aptus")).await;
    let secret = "a".repeat(64);
    let cases = [
        format!("sam_zzzzzzzzzz_{secret}"),
        format!("sam_ZZZZZZZZZZ_{secret}"),
        format!("sam_short_{secret}"),
        format!("{key}0"),
        key[..key.len() - 1].to_owned(),
        key.to_uppercase(),
        key.replacen("sam_", "sak_", 1),
        "sam_".to_owned(),
        "sam__".to_owned(),
        String::new(),
        "garbage".to_owned(),
    ];
    for case in &cases {
        assert_invalid(authenticate_api_key(&store, &directory(), case, Utc::now()).await);
    }
}

#[tokio::test]
async fn revoked_key_is_rejected() {
    let store = InMemoryApiKeyStore::new();
    let key = stored_key(&store, &new_key("aptus")).await;
    let (prefix, _) = parse_api_key(&key).unwrap();

    assert!(!store
        .revoke(&slug("bravo"), prefix, Utc::now())
        .await
        .unwrap());
    assert!(authenticate_api_key(&store, &directory(), &key, Utc::now())
        .await
        .is_ok());

    assert!(store
        .revoke(&slug("aptus"), prefix, Utc::now())
        .await
        .unwrap());
    assert_invalid(authenticate_api_key(&store, &directory(), &key, Utc::now()).await);
}

#[tokio::test]
async fn expired_key_is_rejected() {
    let store = InMemoryApiKeyStore::new();
    let now = Utc::now();
    let mut new = new_key("aptus");
    new.expires_at = Some(now + Duration::hours(1));
    let key = stored_key(&store, &new).await;

    assert!(authenticate_api_key(&store, &directory(), &key, now)
        .await
        .is_ok());
    let later = now + Duration::hours(1);
    assert_invalid(authenticate_api_key(&store, &directory(), &key, later).await);
}

#[tokio::test]
async fn suspended_partner_key_is_rejected() {
    let store = InMemoryApiKeyStore::new();
    let key = stored_key(&store, &new_key("aptus")).await;
    let directory = directory();
    directory.set_partner(
        slug("aptus"),
        PartnerStanding {
            status: SubscriptionStatus::Suspended,
            ..active_partner()
        },
    );
    assert_invalid(authenticate_api_key(&store, &directory, &key, Utc::now()).await);
}

#[tokio::test]
async fn other_partners_key_fails_like_unknown_key() {
    let store = InMemoryApiKeyStore::new();
    let bravo_key = stored_key(&store, &new_key("bravo")).await;
    let principal = authenticate_api_key(&store, &directory(), &bravo_key, Utc::now())
        .await
        .unwrap();

    let on_aptus_path = principal.require_partner(&slug("aptus"));
    let unknown = authenticate_api_key(&store, &directory(), "sam_x", Utc::now()).await;
    let (Err(path_error), Err(unknown_error)) = (on_aptus_path, unknown) else {
        panic!("both must fail");
    };
    assert!(matches!(path_error, AuthError::InvalidApiKey));
    assert_eq!(path_error.to_string(), unknown_error.to_string());
    assert!(principal.require_partner(&slug("bravo")).is_ok());
}

#[test]
fn hash_compare_is_constant_time_helper() {
    let stored = hash_secret("secret");
    assert!(hashes_match(&stored, &stored.clone()));

    let mut first = stored.clone().into_bytes();
    first[0] = if first[0] == b'0' { b'1' } else { b'0' };
    let first = String::from_utf8(first).unwrap();
    assert_eq!(first.len(), stored.len());
    assert!(!hashes_match(&first, &stored));

    let mut last = stored.clone().into_bytes();
    let end = last.len() - 1;
    last[end] = if last[end] == b'0' { b'1' } else { b'0' };
    let last = String::from_utf8(last).unwrap();
    assert_eq!(last.len(), stored.len());
    assert!(!hashes_match(&last, &stored));

    assert!(!hashes_match(&stored[..63], &stored));
    assert!(!hashes_match("", &stored));
}

#[test]
fn hash_is_sha256_hex() {
    // SHA-256 of "abc", from FIPS 180-2 appendix B.1.
    assert_eq!(
        hash_secret("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn generate_rejects_bad_fields() {
    let now = Utc::now();
    let mut cases: Vec<(&str, NewApiKey)> = Vec::new();

    let mut new = new_key("aptus");
    new.scopes = vec![];
    cases.push(("no scopes", new));

    let mut new = new_key("aptus");
    new.scopes = vec![Permission::ViewAll];
    cases.push(("super admin scope", new));

    let mut new = new_key("aptus");
    new.scopes = vec![Permission::CreateClient];
    cases.push(("partner scope on client key", new));

    let mut new = new_key("aptus");
    new.name = "  ".to_owned();
    cases.push(("blank name", new));

    let mut new = new_key("aptus");
    new.client_id = Some("c 1".to_owned());
    cases.push(("bad client id", new));

    let mut new = new_key("aptus");
    new.expires_at = Some(now);
    cases.push(("expiry not in future", new));

    for (name, new) in &cases {
        let result = generate_api_key(new, now);
        assert!(
            matches!(result, Err(AuthError::InvalidInput { .. })),
            "{name}: {result:?}"
        );
    }
}

#[tokio::test]
async fn list_is_scoped_to_partner() {
    let store = InMemoryApiKeyStore::new();
    stored_key(&store, &new_key("aptus")).await;
    stored_key(&store, &new_key("aptus")).await;
    stored_key(&store, &new_key("bravo")).await;
    let listed = store.list_by_partner(&slug("aptus")).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|record| record.partner == slug("aptus")));
}

/// A store that reports the first insert as a prefix collision.
#[derive(Default)]
struct CollidingStore {
    inner: InMemoryApiKeyStore,
    collided: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl ApiKeyStore for CollidingStore {
    async fn insert(&self, record: &ApiKeyRecord) -> Result<(), AuthError> {
        if !self
            .collided
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(TenancyError::AlreadyExists {
                kind: "api key",
                id: record.prefix.clone(),
            }
            .into());
        }
        self.inner.insert(record).await
    }

    async fn find_by_prefix(&self, prefix: &str) -> Result<Option<ApiKeyRecord>, AuthError> {
        self.inner.find_by_prefix(prefix).await
    }

    async fn mark_used(&self, prefix: &str, at: DateTime<Utc>) -> Result<(), AuthError> {
        self.inner.mark_used(prefix, at).await
    }

    async fn revoke(
        &self,
        partner: &PartnerSlug,
        prefix: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, AuthError> {
        self.inner.revoke(partner, prefix, at).await
    }

    async fn list_by_partner(&self, partner: &PartnerSlug) -> Result<Vec<ApiKeyRecord>, AuthError> {
        self.inner.list_by_partner(partner).await
    }
}

#[tokio::test]
async fn create_retries_on_prefix_collision() {
    let store = CollidingStore::default();
    let generated = create_api_key(&store, &new_key("aptus"), Utc::now())
        .await
        .unwrap();
    let found = store
        .find_by_prefix(&generated.record.prefix)
        .await
        .unwrap();
    assert_eq!(found, Some(generated.record));
}
