//! The two-level grading cache: L1 per tenant and an opt-in global L2, over
//! an in-process (moka) or Redis backend.

mod cached;
mod key;
mod memory;
mod redis_backend;

#[cfg(test)]
mod tests;

use std::time::Duration;

use async_trait::async_trait;

pub use cached::{CacheConfig, CachedEvaluator, RouteKey};
pub use key::{cache_key, global_key, normalise_submission, tenant_key};
pub use memory::MemoryBackend;
pub use redis_backend::{RedisBackend, RedisClusterBackend};

/// An error from a cache backend. The cached evaluator logs each one as a
/// warning and treats a failed read as a miss, so it never fails a grading.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// Redis rejected a command or could not be reached.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// The backend cannot be built as configured.
    #[error("invalid cache configuration: {0}")]
    InvalidConfig(String),
    /// A stored value is not a valid grading.
    #[error("cached value is not a valid grading: {0}")]
    Decode(#[from] serde_json::Error),
}

/// A key-value store for cached gradings, stored as JSON text.
#[async_trait]
pub trait CacheBackend: Send + Sync + std::fmt::Debug {
    /// Returns the value stored under `key`, or `None` when there is none.
    ///
    /// # Errors
    /// [`CacheError`] when the store cannot be read.
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError>;

    /// Stores `value` under `key` for `ttl`.
    ///
    /// # Errors
    /// [`CacheError`] when the store cannot be written.
    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError>;
}
