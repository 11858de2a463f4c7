//! The in-process cache backend on moka, with a time-to-live per entry.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::future::Cache;
use moka::Expiry;

use super::{CacheBackend, CacheError};

/// Expires each entry after the TTL stored with it.
struct PerEntryTtl;

impl Expiry<String, (String, Duration)> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &(String, Duration),
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.1)
    }
}

/// An in-process cache bounded by entry count; entries expire after the TTL
/// they were stored with.
#[derive(Debug, Clone)]
pub struct MemoryBackend {
    cache: Cache<String, (String, Duration)>,
}

impl MemoryBackend {
    /// Builds a cache holding at most `max_entries` gradings.
    pub fn new(max_entries: u64) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(max_entries)
                .expire_after(PerEntryTtl)
                .build(),
        }
    }
}

#[async_trait]
impl CacheBackend for MemoryBackend {
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        Ok(self.cache.get(key).await.map(|(value, _)| value))
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        self.cache
            .insert(key.to_owned(), (value.to_owned(), ttl))
            .await;
        Ok(())
    }
}
