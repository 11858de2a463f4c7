//! The state every handler shares: store, engine, authenticator, metrics,
//! batch jobs, billing and limits.

use std::sync::Arc;
use std::time::Duration;

use sam_core::auth::Authenticator;
use sam_core::billing::Billing;
use sam_core::engine::Engine;
use sam_core::limits::{Clock, SystemClock};
use sam_core::llm::Router;
use sam_core::store::Store;

use crate::jobs::Jobs;
use crate::metrics::Metrics;

/// Request limits applied by the middleware.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Deepest nesting of arrays and objects in a JSON body.
    pub max_json_depth: usize,
    /// Time allowed for one request.
    pub request_timeout: Duration,
    /// Items evaluated at once in a batch job.
    pub batch_concurrency: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_json_depth: 32,
            request_timeout: Duration::from_secs(120),
            batch_concurrency: 8,
        }
    }
}

/// Shared server state. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
    router: Option<Arc<Router>>,
    redis: Option<redis::Client>,
    rate_limits: Option<sam_core::limits::Limits>,
    billing: Arc<Billing>,
    clock: Arc<dyn Clock>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    engine: Engine,
    authenticator: Authenticator,
    metrics: Metrics,
    jobs: Jobs,
    limits: Limits,
}

impl AppState {
    /// Builds the state from its parts, without an LLM router or Redis
    /// server to report on, and billing with the built-in price plans.
    pub fn new(
        store: Store,
        engine: Engine,
        authenticator: Authenticator,
        metrics: Metrics,
        limits: Limits,
    ) -> Self {
        let billing = Arc::new(Billing::with_built_in_plans(store.clone()));
        Self {
            inner: Arc::new(Inner {
                store,
                engine,
                authenticator,
                metrics,
                jobs: Jobs::default(),
                limits,
            }),
            router: None,
            redis: None,
            rate_limits: None,
            billing,
            clock: Arc::new(SystemClock),
        }
    }

    /// Sets the billing service, built from the configuration's price plans.
    #[must_use]
    pub fn with_billing(mut self, billing: Billing) -> Self {
        self.billing = Arc::new(billing);
        self
    }

    /// Returns the billing service that computes invoices.
    pub fn billing(&self) -> &Billing {
        &self.billing
    }

    /// Sets the LLM router whose breaker states the partner health reports.
    #[must_use]
    pub fn with_router(mut self, router: Arc<Router>) -> Self {
        self.router = Some(router);
        self
    }

    /// Sets the rate limiter and daily quota applied to tenant requests.
    #[must_use]
    pub fn with_rate_limits(mut self, limits: sam_core::limits::Limits) -> Self {
        self.rate_limits = Some(limits);
        self
    }

    /// Returns the rate limiter and daily quota, if the server applies them.
    pub fn rate_limits(&self) -> Option<&sam_core::limits::Limits> {
        self.rate_limits.as_ref()
    }

    /// Sets the clock that measures the time until a daily quota resets,
    /// which should be the clock the rate limits were built with. Without
    /// this call it is the system clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Returns the clock of the daily quota.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Sets the Redis server that `/readyz` checks.
    #[must_use]
    pub fn with_redis(mut self, client: redis::Client) -> Self {
        self.redis = Some(client);
        self
    }

    /// Returns the store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Returns the evaluation engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Returns the authenticator.
    pub fn authenticator(&self) -> &Authenticator {
        &self.inner.authenticator
    }

    /// Returns the metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Returns the batch jobs.
    pub fn jobs(&self) -> &Jobs {
        &self.inner.jobs
    }

    /// Returns the request limits.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Returns the LLM router, if the engine grades with one.
    pub fn router(&self) -> Option<&Router> {
        self.router.as_deref()
    }

    /// Returns the Redis client, if one is configured.
    pub fn redis(&self) -> Option<&redis::Client> {
        self.redis.as_ref()
    }
}
