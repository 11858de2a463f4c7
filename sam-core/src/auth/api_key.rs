//! API keys: `sam_<prefix>_<secret>`, generated once, stored as a hash and
//! checked with a constant-time comparison.

use chrono::{DateTime, Utc};
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::principal::check_scopes;
use super::{
    ApiKeyPrincipal, ApiKeyRecord, ApiKeyStore, AuthError, Permission, Principal,
    PrincipalDirectory,
};
use crate::tenancy::{validate_id, validate_name, PartnerSlug, TenancyError};

/// The text every API key starts with.
pub const API_KEY_PREFIX: &str = "sam_";

/// Length of the public prefix, in characters of `[a-z0-9]` (about 52 bits).
pub const KEY_PREFIX_LEN: usize = 10;

/// Random bytes in the secret part; it is written as twice as many
/// lower-case hex digits.
pub const KEY_SECRET_BYTES: usize = 32;

const PREFIX_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Attempts at finding an unused prefix before giving up.
const INSERT_ATTEMPTS: usize = 3;

/// The fields of an API key to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// The partner the key belongs to.
    pub partner: PartnerSlug,
    /// The client to limit the key to, if any.
    pub client_id: Option<String>,
    /// A label for the partner, naming the key's purpose.
    pub name: String,
    /// The permissions to grant.
    pub scopes: Vec<Permission>,
    /// Time from which the key is rejected, if any.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A key just created: the full key text, shown to the partner once, and
/// the record stored for it.
#[derive(Debug)]
pub struct GeneratedApiKey {
    /// The full key, `sam_<prefix>_<secret>`.
    pub key: SecretString,
    /// The stored record, which contains only the hash of the secret.
    pub record: ApiKeyRecord,
}

/// Generates a key for `new` and inserts it into `store`, retrying with a
/// fresh prefix if one is taken.
///
/// # Errors
/// [`AuthError::InvalidInput`] when a field of `new` is invalid, and
/// [`AuthError::Store`] when the insert fails.
pub async fn create_api_key(
    store: &dyn ApiKeyStore,
    new: &NewApiKey,
    now: DateTime<Utc>,
) -> Result<GeneratedApiKey, AuthError> {
    let mut attempt = 1;
    loop {
        let generated = generate_api_key(new, now)?;
        match store.insert(&generated.record).await {
            Ok(()) => return Ok(generated),
            Err(AuthError::Store(TenancyError::AlreadyExists { .. }))
                if attempt < INSERT_ATTEMPTS =>
            {
                tracing::debug!(attempt, "API key prefix taken; generating another");
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

/// Generates a key for `new` without storing it.
///
/// # Errors
/// [`AuthError::InvalidInput`] when the name or client id is invalid, the
/// scopes do not fit the binding, or the expiry is not after `now`.
pub fn generate_api_key(new: &NewApiKey, now: DateTime<Utc>) -> Result<GeneratedApiKey, AuthError> {
    validate_name("name", &new.name).map_err(tenancy_input)?;
    if let Some(client_id) = &new.client_id {
        validate_id("client_id", client_id).map_err(tenancy_input)?;
    }
    check_scopes(&new.scopes, new.client_id.is_some())?;
    if new.expires_at.is_some_and(|expiry| expiry <= now) {
        return Err(AuthError::invalid_input(
            "expires_at",
            "it is not in the future",
        ));
    }
    let mut scopes = new.scopes.clone();
    scopes.sort();
    scopes.dedup();

    let prefix = random_prefix();
    let secret = random_secret();
    let record = ApiKeyRecord {
        id: Uuid::new_v4(),
        secret_hash: hash_secret(&secret),
        prefix: prefix.clone(),
        partner: new.partner.clone(),
        client_id: new.client_id.clone(),
        name: new.name.clone(),
        scopes,
        created_at: now,
        expires_at: new.expires_at,
        last_used_at: None,
        revoked_at: None,
    };
    Ok(GeneratedApiKey {
        key: SecretString::from(format!("{API_KEY_PREFIX}{prefix}_{secret}")),
        record,
    })
}

fn tenancy_input(err: TenancyError) -> AuthError {
    match err {
        TenancyError::InvalidInput { field, reason, .. } => AuthError::invalid_input(field, reason),
        other => AuthError::Store(other),
    }
}

fn random_prefix() -> String {
    let mut rng = OsRng;
    (0..KEY_PREFIX_LEN)
        .map(|_| char::from(PREFIX_ALPHABET[rng.gen_range(0..PREFIX_ALPHABET.len())]))
        .collect()
}

fn random_secret() -> String {
    let mut bytes = [0_u8; KEY_SECRET_BYTES];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Returns the lower-case hex SHA-256 of a key's secret part, as stored.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two hashes in time that depends only on their lengths, so the
/// position of the first differing byte does not leak.
pub fn hashes_match(left: &str, right: &str) -> bool {
    left.as_bytes().ct_eq(right.as_bytes()).into()
}

/// Splits a key into its prefix and secret, or returns `None` when it is not
/// `sam_` + [`KEY_PREFIX_LEN`] characters of `[a-z0-9]` + `_` + 64 lower-case
/// hex digits.
pub fn parse_api_key(key: &str) -> Option<(&str, &str)> {
    let (prefix, secret) = key.strip_prefix(API_KEY_PREFIX)?.split_once('_')?;
    let prefix_ok = prefix.len() == KEY_PREFIX_LEN
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let secret_ok = secret.len() == 2 * KEY_SECRET_BYTES
        && secret
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (prefix_ok && secret_ok).then_some((prefix, secret))
}

/// The age of a key's recorded last use after which a use writes it again.
pub const LAST_USED_RESOLUTION: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// Checks a presented API key and returns the principal it stands for.
///
/// The key is looked up by prefix, and its secret's hash is compared with
/// the stored hash in constant time. The key must not be revoked or
/// expired, and its partner must be active and provisioned. A successful
/// use is recorded when the stored last use is older than
/// [`LAST_USED_RESOLUTION`], so a busy key costs one write a minute rather
/// than one per request. A failure to record it is logged and does not fail
/// the request. The caller then checks the key's partner against the request
/// path with [`Principal::require_partner`].
///
/// # Errors
/// [`AuthError::InvalidApiKey`] for every check that fails, with the reason
/// logged at debug level without the key. [`AuthError::Store`] when a
/// lookup fails.
pub async fn authenticate_api_key(
    store: &dyn ApiKeyStore,
    directory: &dyn PrincipalDirectory,
    presented: &str,
    now: DateTime<Utc>,
) -> Result<Principal, AuthError> {
    let reject = |reason: &'static str, prefix: &str| {
        tracing::debug!(reason, key_prefix = prefix, "API key rejected");
        AuthError::InvalidApiKey
    };
    let Some((prefix, secret)) = parse_api_key(presented) else {
        return Err(reject("malformed key", "-"));
    };
    let Some(record) = store.find_by_prefix(prefix).await? else {
        return Err(reject("unknown prefix", prefix));
    };
    if !hashes_match(&hash_secret(secret), &record.secret_hash) {
        return Err(reject("wrong secret", prefix));
    }
    if record.revoked_at.is_some() {
        return Err(reject("revoked", prefix));
    }
    if !record.is_live(now) {
        return Err(reject("expired", prefix));
    }
    match directory.partner_standing(&record.partner).await? {
        Some(standing) if standing.is_usable() => {}
        _ => return Err(reject("partner not active", prefix)),
    }
    let principal = ApiKeyPrincipal::new(
        record.prefix.clone(),
        record.partner.clone(),
        record.client_id.clone(),
        record.scopes.clone(),
    )
    .map_err(|_| reject("stored scopes do not fit the binding", prefix))?;

    let recorded_recently = record
        .last_used_at
        .is_some_and(|used| now - used < LAST_USED_RESOLUTION);
    if !recorded_recently {
        if let Err(err) = store.mark_used(prefix, now).await {
            tracing::warn!(key_prefix = prefix, error = %err, "recording API key use failed");
        }
    }
    Ok(Principal::ApiKey(principal))
}
