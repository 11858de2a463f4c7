//! A short-lived cache of the records every API request reads: partners by
//! slug, API keys by prefix, and a partner's clients and assignments by id.
//! Clients and assignments are never changed once created, so only a
//! partner deleted and created again can make their entries stale.
//!
//! A record changed through this [`Store`](super::Store) is dropped from its
//! cache at once, so this process reads the change on its next request. A
//! change made elsewhere (another server replica, `samctl` in another
//! process, SQL by hand) is seen once the entry expires, within the
//! configured lifetime.

use std::time::Duration;

use moka::future::Cache;

use std::sync::Arc;

use crate::auth::ApiKeyRecord;
use crate::eval::Assignment;
use crate::tenancy::{Client, Partner, PartnerSlug};

/// An assignment and the user who created it.
pub(crate) type OwnedAssignment = Arc<(Assignment, Option<String>)>;

/// Entries each cache keeps at most.
const MAX_ENTRIES: u64 = 10_000;

/// The cached records, when the store was opened with a lookup lifetime.
#[derive(Debug, Clone)]
pub(crate) struct Lookups {
    pub(crate) partners: Cache<PartnerSlug, Partner>,
    pub(crate) api_keys: Cache<String, ApiKeyRecord>,
    /// Clients by partner and client id.
    pub(crate) clients: Cache<(PartnerSlug, String), Client>,
    /// Assignments by partner, client id and assignment id.
    pub(crate) assignments: Cache<(PartnerSlug, String, String), OwnedAssignment>,
}

impl Lookups {
    /// Builds the caches, or returns `None` for a zero lifetime.
    pub(crate) fn new(ttl: Duration) -> Option<Self> {
        if ttl.is_zero() {
            return None;
        }
        Some(Self {
            partners: cache(ttl),
            api_keys: cache(ttl),
            clients: cache(ttl),
            assignments: cache(ttl),
        })
    }
}

fn cache<K, V>(ttl: Duration) -> Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(MAX_ENTRIES)
        .time_to_live(ttl)
        .build()
}
