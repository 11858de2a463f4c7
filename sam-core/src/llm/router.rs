//! The router: tries a tenant's providers in strategy order with retries,
//! circuit breakers and a bulkhead per partner, then the last-resort
//! evaluator.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::breaker::CircuitBreaker;
use super::bulkhead::Bulkheads;
use super::guard::{apply_cap, remove_flagged_lines};
use super::policy::strategy_order;
use super::prompt::{build_prompt, parse_reply, GradingPrompt, ParsedReply};
use super::provider::{AttemptError, ProviderClient, ProviderConfig};
use super::{BreakerState, PartnerPolicy, RetryPolicy, RouterConfig, RouterError};
use crate::eval::looks_like_prompt_injection;
use crate::eval::{
    Evaluator, EvaluatorError, Grading, GradingRequest, TenantRef, TokenUsage,
    FLAG_OFFLINE_FALLBACK, FLAG_PROMPT_INJECTION,
};
use crate::tenancy::LlmStrategy;

/// A provider with its breaker.
#[derive(Debug)]
struct ProviderSlot {
    client: ProviderClient,
    breaker: CircuitBreaker,
}

/// The LLM router. It implements [`Evaluator`] and grades with the first
/// provider of the tenant's strategy that returns a valid reply, falling
/// back to the last-resort evaluator with [`FLAG_OFFLINE_FALLBACK`].
pub struct Router {
    providers: HashMap<String, ProviderSlot>,
    default_policy: PartnerPolicy,
    partners: RwLock<HashMap<String, PartnerPolicy>>,
    bulkheads: Bulkheads,
    retry: RetryPolicy,
    last_resort: Arc<dyn Evaluator>,
    injection_detector: fn(&str) -> bool,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("providers", &self.providers)
            .field("default_policy", &self.default_policy)
            .field("retry", &self.retry)
            .field("last_resort", &self.last_resort)
            .finish_non_exhaustive()
    }
}

impl Router {
    /// Builds the router, resolving every provider's API key.
    ///
    /// # Errors
    /// [`RouterError`] for an invalid provider, price, policy or an API key
    /// that cannot be read.
    pub fn new(config: RouterConfig, last_resort: Arc<dyn Evaluator>) -> Result<Self, RouterError> {
        let http = reqwest::Client::builder()
            .build()
            .map_err(|err| RouterError::HttpClient(err.to_string()))?;
        let mut providers = HashMap::new();
        for (index, provider) in config.providers.into_iter().enumerate() {
            let name = provider.name.clone();
            let client = ProviderClient::new(index, provider, http.clone())?;
            if providers.contains_key(&name) {
                return Err(RouterError::invalid(
                    format!("providers[{index}].name"),
                    &name,
                    "another provider has the same name",
                ));
            }
            providers.insert(
                name,
                ProviderSlot {
                    client,
                    breaker: CircuitBreaker::new(config.breaker),
                },
            );
        }
        validate_policy("default_policy", &config.default_policy)?;
        for (partner, policy) in &config.partners {
            validate_policy(&format!("partners.{partner}"), policy)?;
        }
        if config.retry.max_attempts_per_provider == 0 {
            return Err(RouterError::invalid(
                "retry.max_attempts_per_provider",
                "0",
                "must be at least 1",
            ));
        }
        Ok(Self {
            providers,
            default_policy: config.default_policy,
            partners: RwLock::new(config.partners),
            bulkheads: Bulkheads::default(),
            retry: config.retry,
            last_resort,
            injection_detector: looks_like_prompt_injection,
        })
    }

    /// Replaces the detector of text aimed at the grader. It is applied to
    /// the whole submission and then to each line, to remove the lines that
    /// fire before the neutralised re-grade.
    pub fn with_injection_detector(mut self, detector: fn(&str) -> bool) -> Self {
        self.injection_detector = detector;
        self
    }

    /// Sets or replaces a partner's settings at run time.
    ///
    /// # Errors
    /// [`RouterError::InvalidConfig`] for a zero timeout or bulkhead limit.
    pub fn set_partner_policy(
        &self,
        partner: &str,
        policy: PartnerPolicy,
    ) -> Result<(), RouterError> {
        validate_policy(&format!("partners.{partner}"), &policy)?;
        let mut partners = self
            .partners
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        partners.insert(partner.to_owned(), policy);
        Ok(())
    }

    /// Returns the settings in force for `partner`.
    pub fn policy(&self, partner: &str) -> PartnerPolicy {
        let partners = self.partners.read().unwrap_or_else(PoisonError::into_inner);
        partners
            .get(partner)
            .cloned()
            .unwrap_or_else(|| self.default_policy.clone())
    }

    /// Returns the strategy for a tenant: the client's override or the partner's.
    pub fn strategy(&self, tenant: &TenantRef) -> LlmStrategy {
        self.policy(&tenant.partner).strategy_for(&tenant.client)
    }

    /// Returns the configured providers a tenant's strategy tries, in order.
    pub fn route(&self, tenant: &TenantRef) -> Vec<&str> {
        strategy_order(self.strategy(tenant))
            .into_iter()
            .filter(|name| self.providers.contains_key(*name))
            .collect()
    }

    /// Returns the identity of a tenant's route for cache keys: the strategy
    /// and the `provider/model` list it tries.
    pub fn route_key(&self, tenant: &TenantRef) -> String {
        let models: Vec<String> = self
            .route(tenant)
            .into_iter()
            .filter_map(|name| {
                let slot = self.providers.get(name)?;
                Some(format!("{name}/{}", slot.client.config.model))
            })
            .collect();
        format!("{}:{}", self.strategy(tenant), models.join(","))
    }

    /// Returns the state of a provider's circuit breaker, or `None` when the
    /// provider is not configured.
    pub fn breaker_state(&self, provider: &str) -> Option<BreakerState> {
        self.providers
            .get(provider)
            .map(|slot| slot.breaker.state())
    }

    /// Grades `text` with the tenant's providers, then the last resort.
    async fn grade_text(
        &self,
        request: &GradingRequest<'_>,
        text: &str,
        policy: &PartnerPolicy,
        deadline: Option<Instant>,
    ) -> Result<Grading, EvaluatorError> {
        let prompt = build_prompt(request.assignment, text);
        let mut attempts = 0;
        for name in self.route(request.tenant) {
            let Some(slot) = self.providers.get(name) else {
                continue;
            };
            if let Some(grading) = self
                .try_provider(slot, &prompt, request, policy, deadline, &mut attempts)
                .await
            {
                return Ok(grading);
            }
        }
        self.grade_last_resort(request, text, deadline, attempts)
            .await
    }

    /// Calls the last-resort evaluator and flags its grading.
    async fn grade_last_resort(
        &self,
        request: &GradingRequest<'_>,
        text: &str,
        deadline: Option<Instant>,
        attempts: u32,
    ) -> Result<Grading, EvaluatorError> {
        let fallback_request = GradingRequest {
            submission: text,
            deadline: deadline.map(|d| d.saturating_duration_since(Instant::now())),
            ..*request
        };
        let mut grading = self.last_resort.grade(fallback_request).await?;
        grading.add_flag(FLAG_OFFLINE_FALLBACK);
        grading.attempts += attempts;
        warn!(
            partner = %request.tenant.partner,
            client = %request.tenant.client,
            attempts,
            "providers failed, graded with the last-resort evaluator"
        );
        Ok(grading)
    }

    /// Tries one provider with retries. Returns `None` when the router
    /// should move to the next provider.
    async fn try_provider(
        &self,
        slot: &ProviderSlot,
        prompt: &GradingPrompt,
        request: &GradingRequest<'_>,
        policy: &PartnerPolicy,
        deadline: Option<Instant>,
        attempts: &mut u32,
    ) -> Option<Grading> {
        let config = &slot.client.config;
        let tenant = request.tenant;
        let budget_end = Instant::now() + policy.timeout;
        let end = deadline.map_or(budget_end, |d| d.min(budget_end));
        for retry in 0..self.retry.max_attempts_per_provider {
            if !slot.breaker.try_acquire() {
                debug!(
                    partner = %tenant.partner,
                    client = %tenant.client,
                    provider = %config.name,
                    "circuit breaker open, provider skipped"
                );
                return None;
            }
            let started = Instant::now();
            let remaining = match deadline {
                Some(d) => d.saturating_duration_since(started),
                None => policy.timeout,
            };
            if remaining.is_zero() {
                return None;
            }
            *attempts += 1;
            let result = slot
                .client
                .complete(prompt, policy.timeout.min(remaining))
                .await
                .and_then(|reply| {
                    parse_reply(&reply.text, &request.assignment.rubric)
                        .map(|parsed| (parsed, reply.usage))
                        .map_err(|err| AttemptError::Malformed(err.to_string()))
                });
            let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            match result {
                Ok((parsed, usage)) => {
                    slot.breaker.record_success();
                    debug!(
                        partner = %tenant.partner,
                        client = %tenant.client,
                        provider = %config.name,
                        model = %config.model,
                        outcome = "ok",
                        latency_ms,
                        "provider attempt finished"
                    );
                    return Some(provider_grading(config, parsed, usage, *attempts));
                }
                Err(err) => {
                    let opened = slot.breaker.record_failure();
                    warn!(
                        partner = %tenant.partner,
                        client = %tenant.client,
                        provider = %config.name,
                        model = %config.model,
                        outcome = err.outcome(),
                        latency_ms,
                        error = %err,
                        breaker_opened = opened,
                        "provider attempt failed"
                    );
                    let wait = self.retry_wait(&err, retry)?;
                    if Instant::now() + wait >= end {
                        return None;
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
        None
    }

    /// Returns how long to wait before retrying after `err`, or `None` when
    /// the error is not retryable or the provider requests a wait above the cap.
    fn retry_wait(&self, err: &AttemptError, retry: u32) -> Option<Duration> {
        if !err.is_retryable() {
            return None;
        }
        match err {
            AttemptError::Status {
                retry_after: Some(wait),
                ..
            } => (*wait <= self.retry.max_retry_after).then_some(*wait),
            _ => Some(self.retry.backoff(retry)),
        }
    }
}

/// Builds the grading of a valid reply, with its usage and cost.
fn provider_grading(
    config: &ProviderConfig,
    parsed: ParsedReply,
    usage: TokenUsage,
    attempts: u32,
) -> Grading {
    // A cost only fails to compute when it overflows i64 nanos, about 9.2
    // billion USD, which is far above the cost of any single call.
    let cost_nanos = config.prices.cost_nanos(&usage).unwrap_or_else(|err| {
        warn!(provider = %config.name, error = %err, "cost not computed, recorded as 0");
        0
    });
    Grading {
        criteria: parsed.criteria,
        overall_feedback: parsed.overall_feedback,
        flags: Vec::new(),
        model: config.model.clone(),
        provider: config.name.clone(),
        usage,
        cost_nanos,
        attempts,
        cached: false,
    }
}

/// Checks the limits of a partner policy.
fn validate_policy(field: &str, policy: &PartnerPolicy) -> Result<(), RouterError> {
    if policy.timeout.is_zero() {
        return Err(RouterError::invalid(
            format!("{field}.timeout"),
            "0",
            "must be above 0 seconds",
        ));
    }
    if policy.max_concurrent == 0 {
        return Err(RouterError::invalid(
            format!("{field}.max_concurrent"),
            "0",
            "must be at least 1",
        ));
    }
    Ok(())
}

#[async_trait]
impl Evaluator for Router {
    /// Grades a submission.
    ///
    /// When the submission looks like it addresses the grader, the grading
    /// is flagged with [`FLAG_PROMPT_INJECTION`] and each criterion is capped
    /// by a second grading. That second grading is of the text with the
    /// flagged lines removed, or by the last-resort evaluator when no single
    /// line is flagged. The usage and cost of both gradings are added up.
    async fn grade(&self, request: GradingRequest<'_>) -> Result<Grading, EvaluatorError> {
        let deadline = request.deadline.map(|d| Instant::now() + d);
        let policy = self.policy(&request.tenant.partner);
        let suspicious = (self.injection_detector)(request.submission);
        let permit = self
            .bulkheads
            .acquire(&request.tenant.partner, policy.max_concurrent, deadline)
            .await;
        let Some(_permit) = permit else {
            warn!(
                partner = %request.tenant.partner,
                client = %request.tenant.client,
                "bulkhead permit not acquired before the deadline"
            );
            let mut grading = self
                .grade_last_resort(&request, request.submission, deadline, 0)
                .await?;
            if suspicious {
                grading.add_flag(FLAG_PROMPT_INJECTION);
            }
            return Ok(grading);
        };
        let mut grading = self
            .grade_text(&request, request.submission, &policy, deadline)
            .await?;
        if suspicious {
            grading.add_flag(FLAG_PROMPT_INJECTION);
            let cap = match remove_flagged_lines(request.submission, self.injection_detector) {
                Some(cleaned) => {
                    self.grade_text(&request, &cleaned, &policy, deadline)
                        .await?
                }
                None => {
                    self.grade_last_resort(&request, request.submission, deadline, 0)
                        .await?
                }
            };
            grading = apply_cap(grading, cap);
        }
        Ok(grading)
    }
}
