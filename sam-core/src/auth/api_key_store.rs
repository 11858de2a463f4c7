//! Stored API keys and the store interface for them.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AuthError, Permission};
use crate::tenancy::{PartnerSlug, TenancyError};

/// An API key as stored. The secret itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Surrogate key.
    pub id: Uuid,
    /// The public prefix, unique across the platform, used for lookup.
    pub prefix: String,
    /// Lower-case hex SHA-256 of the secret part of the key.
    pub secret_hash: String,
    /// The partner the key belongs to.
    pub partner: PartnerSlug,
    /// The client the key is limited to, if any.
    pub client_id: Option<String>,
    /// A label for the partner, naming the key's purpose.
    pub name: String,
    /// The permissions the key grants.
    pub scopes: Vec<Permission>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Time from which the key is rejected, if any.
    pub expires_at: Option<DateTime<Utc>>,
    /// Time of the last successful use, if any.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Time the key was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKeyRecord {
    /// Returns whether the key may be used at `now`: not revoked and not
    /// expired.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|expiry| now < expiry)
    }
}

/// Stores API keys. The database store implements this in the control
/// tables, because a key is looked up by prefix before its partner is
/// known. [`InMemoryApiKeyStore`] serves tests.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Inserts a new key.
    ///
    /// # Errors
    /// [`AuthError::Store`] with [`TenancyError::AlreadyExists`] when the
    /// prefix is taken, so the caller can retry with a new one, or another
    /// store error.
    async fn insert(&self, record: &ApiKeyRecord) -> Result<(), AuthError>;

    /// Returns the key with this prefix, whatever its state.
    ///
    /// # Errors
    /// [`AuthError::Store`] when the lookup fails.
    async fn find_by_prefix(&self, prefix: &str) -> Result<Option<ApiKeyRecord>, AuthError>;

    /// Records a successful use at `at`. An unknown prefix is not an error.
    ///
    /// # Errors
    /// [`AuthError::Store`] when the write fails.
    async fn mark_used(&self, prefix: &str, at: DateTime<Utc>) -> Result<(), AuthError>;

    /// Revokes the partner's key with this prefix. Revoking a revoked key
    /// keeps the first revocation time. Returns `false` when the partner
    /// has no key with this prefix, so a partner cannot revoke another
    /// partner's key.
    ///
    /// # Errors
    /// [`AuthError::Store`] when the write fails.
    async fn revoke(
        &self,
        partner: &PartnerSlug,
        prefix: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, AuthError>;

    /// Lists the partner's keys, revoked and expired ones included, newest
    /// first.
    ///
    /// # Errors
    /// [`AuthError::Store`] when the lookup fails.
    async fn list_by_partner(&self, partner: &PartnerSlug) -> Result<Vec<ApiKeyRecord>, AuthError>;
}

/// An [`ApiKeyStore`] held in memory, for tests and examples.
#[derive(Debug, Default)]
pub struct InMemoryApiKeyStore {
    keys: RwLock<HashMap<String, ApiKeyRecord>>,
}

impl InMemoryApiKeyStore {
    /// Builds an empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl ApiKeyStore for InMemoryApiKeyStore {
    async fn insert(&self, record: &ApiKeyRecord) -> Result<(), AuthError> {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        if keys.contains_key(&record.prefix) {
            return Err(TenancyError::AlreadyExists {
                kind: "api key",
                id: record.prefix.clone(),
            }
            .into());
        }
        keys.insert(record.prefix.clone(), record.clone());
        Ok(())
    }

    async fn find_by_prefix(&self, prefix: &str) -> Result<Option<ApiKeyRecord>, AuthError> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        Ok(keys.get(prefix).cloned())
    }

    async fn mark_used(&self, prefix: &str, at: DateTime<Utc>) -> Result<(), AuthError> {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(record) = keys.get_mut(prefix) {
            record.last_used_at = Some(at);
        }
        Ok(())
    }

    async fn revoke(
        &self,
        partner: &PartnerSlug,
        prefix: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, AuthError> {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        match keys.get_mut(prefix) {
            Some(record) if &record.partner == partner => {
                record.revoked_at.get_or_insert(at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn list_by_partner(&self, partner: &PartnerSlug) -> Result<Vec<ApiKeyRecord>, AuthError> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        let mut listed: Vec<ApiKeyRecord> = keys
            .values()
            .filter(|record| &record.partner == partner)
            .cloned()
            .collect();
        listed.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then(a.prefix.cmp(&b.prefix))
        });
        Ok(listed)
    }
}
