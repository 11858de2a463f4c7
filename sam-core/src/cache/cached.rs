//! An evaluator wrapper that reads and writes the two cache levels.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use tracing::{debug, warn};

use super::{cache_key, global_key, tenant_key, CacheBackend, CacheError};
use crate::eval::{
    Evaluator, EvaluatorError, Grading, GradingRequest, TenantRef, FLAG_OFFLINE_FALLBACK,
};
use crate::llm::{duration_secs, Router};

/// An evaluator that can name the route it grades a tenant's work with, so
/// gradings from different strategies or models get different cache keys.
pub trait RouteKey: Evaluator {
    /// Returns the route identity for `tenant`, such as its strategy and models.
    fn route_key(&self, tenant: &TenantRef) -> String;
}

impl RouteKey for Router {
    fn route_key(&self, tenant: &TenantRef) -> String {
        Router::route_key(self, tenant)
    }
}

/// Cache settings. In a config file the lifetimes are given in seconds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Lifetime of tenant (L1) entries; 7 days by default.
    #[serde(with = "duration_secs")]
    pub tenant_ttl: Duration,
    /// Lifetime of global (L2) entries; 1 day by default.
    #[serde(with = "duration_secs")]
    pub global_ttl: Duration,
    /// Partners whose gradings are read from and written to the global level.
    pub global_partners: HashSet<String>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            tenant_ttl: Duration::from_secs(7 * 24 * 3600),
            global_ttl: Duration::from_secs(24 * 3600),
            global_partners: HashSet::new(),
        }
    }
}

/// Wraps an evaluator with the two-level cache.
///
/// A lookup reads the tenant's key `{partner}:{client}:llm:{key}`, then, for
/// partners in [`CacheConfig::global_partners`], `global:llm:{key}`. A hit
/// returns the stored grading with `cached = true`; its usage and cost are
/// those of the call that produced it. A miss grades with the inner
/// evaluator and stores the result, except gradings from the last-resort
/// evaluator, which are retried with the models next time. A backend error
/// is logged and treated as a miss.
#[derive(Debug)]
pub struct CachedEvaluator<E> {
    inner: Arc<E>,
    backend: Arc<dyn CacheBackend>,
    config: CacheConfig,
}

impl<E: RouteKey> CachedEvaluator<E> {
    /// Wraps `inner` with `backend`.
    pub fn new(inner: Arc<E>, backend: Arc<dyn CacheBackend>, config: CacheConfig) -> Self {
        Self {
            inner,
            backend,
            config,
        }
    }

    /// Reads and decodes one key; errors become a miss.
    async fn lookup(&self, key: &str) -> Option<Grading> {
        let result = match self.backend.get(key).await {
            Ok(Some(text)) => serde_json::from_str::<Grading>(&text)
                .map(Some)
                .map_err(CacheError::from),
            Ok(None) => Ok(None),
            Err(err) => Err(err),
        };
        result.unwrap_or_else(|err| {
            warn!(key, error = %err, "cache read failed, treated as a miss");
            None
        })
    }

    /// Encodes and writes one key; errors are logged.
    async fn store(&self, key: &str, grading: &Grading, ttl: Duration) {
        let result = match serde_json::to_string(grading) {
            Ok(text) => self.backend.set(key, &text, ttl).await,
            Err(err) => Err(CacheError::from(err)),
        };
        if let Err(err) = result {
            warn!(key, error = %err, "cache write failed");
        }
    }
}

#[async_trait]
impl<E: RouteKey> Evaluator for CachedEvaluator<E> {
    async fn grade(&self, request: GradingRequest<'_>) -> Result<Grading, EvaluatorError> {
        let tenant = request.tenant;
        let key = cache_key(
            &self.inner.route_key(tenant),
            request.assignment,
            request.submission,
        );
        let tenant_key = tenant_key(tenant, &key);
        let global = self.config.global_partners.contains(&tenant.partner);

        if let Some(mut grading) = self.lookup(&tenant_key).await {
            debug!(partner = %tenant.partner, client = %tenant.client, level = "tenant", "cache hit");
            grading.cached = true;
            return Ok(grading);
        }
        if global {
            if let Some(mut grading) = self.lookup(&global_key(&key)).await {
                debug!(partner = %tenant.partner, client = %tenant.client, level = "global", "cache hit");
                self.store(&tenant_key, &grading, self.config.tenant_ttl)
                    .await;
                grading.cached = true;
                return Ok(grading);
            }
        }

        let grading = self.inner.grade(request).await?;
        if !grading.flags.iter().any(|f| f == FLAG_OFFLINE_FALLBACK) {
            self.store(&tenant_key, &grading, self.config.tenant_ttl)
                .await;
            if global {
                self.store(&global_key(&key), &grading, self.config.global_ttl)
                    .await;
            }
        }
        Ok(grading)
    }
}
