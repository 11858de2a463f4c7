//! Prometheus metrics of the API, served as text at `/metrics`.
//!
//! Tenant label values come only from validated ids: the partner of an
//! authenticated caller and a client that the caller was authorized for.
//! Requests outside the tenant API, or rejected before that point, carry
//! the value `unknown`, so a caller cannot create series at will. The
//! in-flight gauge labels a caller bound to a whole partner with client
//! `all`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// The label value of a tenant that was not validated.
pub const UNKNOWN: &str = "unknown";

/// The registry and every series the server records.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    llm_latency: HistogramVec,
    concurrent: IntGaugeVec,
    usage_tokens: IntGaugeVec,
    cache_hits: IntCounter,
    usage_days: Arc<Mutex<HashMap<(String, String), String>>>,
}

/// The tenant labels of one request, filled in as the request is
/// authenticated and authorized.
#[derive(Debug, Clone, Default)]
pub struct TenantLabels {
    inner: Arc<Mutex<(Option<String>, Option<String>)>>,
}

impl TenantLabels {
    /// Records the validated partner.
    pub fn set_partner(&self, partner: &str) {
        let mut labels = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        labels.0 = Some(partner.to_owned());
    }

    /// Records a client the caller was authorized for.
    pub fn set_client(&self, client: &str) {
        let mut labels = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        labels.1 = Some(client.to_owned());
    }

    /// Returns the partner and client labels, `unknown` where unset.
    pub fn values(&self) -> (String, String) {
        let labels = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        (
            labels.0.clone().unwrap_or_else(|| UNKNOWN.to_owned()),
            labels.1.clone().unwrap_or_else(|| UNKNOWN.to_owned()),
        )
    }
}

/// Decrements the in-flight gauge of a tenant when the request ends,
/// including when its future is dropped by a timeout.
#[derive(Debug)]
pub struct InFlight {
    gauge: prometheus::IntGauge,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

impl Metrics {
    /// Builds the registry and registers every series.
    ///
    /// # Errors
    /// A prometheus error when a series is defined twice, which is a bug.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "sam_api_requests_total",
                "API requests by tenant and status.",
            ),
            &["partner", "client", "status"],
        )?;
        let llm_latency = HistogramVec::new(
            HistogramOpts::new(
                "sam_llm_latency_seconds",
                "Time spent grading one submission, in seconds.",
            )
            .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]),
            &["partner", "model"],
        )?;
        let concurrent = IntGaugeVec::new(
            Opts::new("sam_concurrent_users", "API requests in flight per tenant."),
            &["partner", "client"],
        )?;
        let usage_tokens = IntGaugeVec::new(
            Opts::new(
                "sam_usage_tokens",
                "LLM tokens (input and output) used by a tenant in the current UTC day.",
            ),
            &["partner", "client", "period"],
        )?;
        let cache_hits = IntCounter::new(
            "sam_cache_hits_total",
            "Evaluations whose grading came from the cache.",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(llm_latency.clone()))?;
        registry.register(Box::new(concurrent.clone()))?;
        registry.register(Box::new(usage_tokens.clone()))?;
        registry.register(Box::new(cache_hits.clone()))?;
        Ok(Self {
            registry,
            requests,
            llm_latency,
            concurrent,
            usage_tokens,
            cache_hits,
            usage_days: Arc::default(),
        })
    }

    /// Counts one finished request.
    pub fn record_request(&self, labels: &TenantLabels, status: u16) {
        let (partner, client) = labels.values();
        self.requests
            .with_label_values(&[partner.as_str(), client.as_str(), &status.to_string()])
            .inc();
    }

    /// Counts a request in flight for a tenant until the guard is dropped.
    pub fn in_flight(&self, partner: &str, client: &str) -> InFlight {
        let gauge = self.concurrent.with_label_values(&[partner, client]);
        gauge.inc();
        InFlight { gauge }
    }

    /// Records a new evaluation: its grading time, cache use and tokens.
    pub fn record_evaluation(&self, partner: &str, evaluation: &sam_core::eval::Evaluation) {
        let seconds = std::time::Duration::from_millis(evaluation.latency_ms).as_secs_f64();
        self.llm_latency
            .with_label_values(&[partner, evaluation.model.as_str()])
            .observe(seconds);
        if evaluation.cached {
            self.cache_hits.inc();
        }
        let tokens = evaluation
            .input_tokens
            .saturating_add(evaluation.output_tokens);
        self.add_usage_tokens(partner, &evaluation.client_id, tokens);
    }

    /// Adds tokens to a tenant's gauge for the current UTC day, resetting
    /// it when the day changes.
    fn add_usage_tokens(&self, partner: &str, client: &str, tokens: u64) {
        let gauge = self
            .usage_tokens
            .with_label_values(&[partner, client, "day"]);
        let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
        let mut days = self
            .usage_days
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let day = days
            .entry((partner.to_owned(), client.to_owned()))
            .or_insert_with(|| today.clone());
        if *day != today {
            gauge.set(0);
            *day = today;
        }
        gauge.add(i64::try_from(tokens).unwrap_or(i64::MAX));
    }

    /// Renders every series in the Prometheus text format.
    ///
    /// # Errors
    /// A prometheus error when encoding fails.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        String::from_utf8(buffer).map_err(|err| prometheus::Error::Msg(err.to_string()))
    }
}
