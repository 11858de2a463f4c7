//! Chooses what grades submissions under a configuration: the LLM router
//! over the configured providers, behind the cache, or the offline scorer
//! alone. `samctl` and [`Sam`](crate::Sam) both build their engines here.

use std::collections::HashSet;
use std::sync::Arc;

use crate::cache::{CachedEvaluator, MemoryBackend, RedisBackend, RedisClusterBackend};
use crate::config::{CacheBackendKind, CacheSettings, SamConfig};
use crate::engine::Engine;
use crate::eval::{looks_like_prompt_injection, Evaluator, OfflineScorer};
use crate::llm::{PartnerPolicy, Router};
use crate::tenancy::Partner;
use crate::Error;

/// An evaluator built from a configuration, with the LLM router inside it
/// when providers are configured.
pub type ConfiguredEvaluator = (Arc<dyn Evaluator>, Option<Arc<Router>>);

/// The evaluator of a configuration, shared by every partner's engine.
#[derive(Debug, Clone)]
pub(crate) struct Grader {
    evaluator: Arc<dyn Evaluator>,
    /// The router inside `evaluator`, when providers are configured.
    router: Option<Arc<Router>>,
    /// Partners whose policy the configuration sets under `llm.partners`.
    configured_partners: HashSet<String>,
    /// The policy of the other partners, before their own strategy is applied.
    default_policy: PartnerPolicy,
    max_submission_bytes: usize,
}

impl Grader {
    /// Builds the evaluator that `config` describes.
    pub(crate) fn from_config(config: &SamConfig) -> Result<Self, Error> {
        let offline: Arc<dyn Evaluator> = Arc::new(OfflineScorer::new());
        let max_submission_bytes = config.evaluation.max_submission_bytes;
        let llm = &config.llm;
        if llm.providers.is_empty() {
            return Ok(Self::with_evaluator(offline, max_submission_bytes));
        }
        let router =
            Router::new(llm.clone(), offline)?.with_injection_detector(looks_like_prompt_injection);
        let router = Arc::new(router);
        Ok(Self {
            evaluator: cached(Arc::clone(&router), &config.cache)?,
            router: Some(router),
            configured_partners: llm.partners.keys().cloned().collect(),
            default_policy: llm.default_policy.clone(),
            max_submission_bytes,
        })
    }

    /// Wraps an evaluator chosen by the caller; no router policy applies.
    pub(crate) fn with_evaluator(
        evaluator: Arc<dyn Evaluator>,
        max_submission_bytes: usize,
    ) -> Self {
        Self {
            evaluator,
            router: None,
            configured_partners: HashSet::new(),
            default_policy: PartnerPolicy::default(),
            max_submission_bytes,
        }
    }

    /// Returns an engine for `partner`. A partner without a policy in the
    /// configuration gets the default policy with its own LLM strategy,
    /// updated whenever the partner's stored strategy changes.
    pub(crate) fn engine_for(&self, partner: &Partner) -> Result<Engine, Error> {
        if let Some(router) = &self.router {
            let slug = partner.slug.as_str();
            if !self.configured_partners.contains(slug)
                && router.policy(slug).strategy != partner.strategy
            {
                router.set_partner_policy(
                    slug,
                    PartnerPolicy {
                        strategy: partner.strategy,
                        ..self.default_policy.clone()
                    },
                )?;
            }
        }
        Ok(Engine::new(Arc::clone(&self.evaluator))
            .with_max_submission_bytes(self.max_submission_bytes))
    }
}

/// Puts the cache that `settings` selects in front of the router.
fn cached(router: Arc<Router>, settings: &CacheSettings) -> Result<Arc<dyn Evaluator>, Error> {
    let levels = settings.levels.clone();
    let evaluator: Arc<dyn Evaluator> = match settings.backend {
        CacheBackendKind::None => router,
        CacheBackendKind::Memory => Arc::new(CachedEvaluator::new(
            router,
            Arc::new(MemoryBackend::new(settings.max_entries)),
            levels,
        )),
        CacheBackendKind::Redis if !settings.cluster_nodes.is_empty() => {
            let nodes: Vec<&str> = settings.cluster_nodes.iter().map(String::as_str).collect();
            let backend = RedisClusterBackend::new(&nodes, &settings.key_prefix)?;
            Arc::new(CachedEvaluator::new(router, Arc::new(backend), levels))
        }
        CacheBackendKind::Redis => {
            let url = settings.redis_url.as_deref().ok_or_else(|| {
                Error::invalid_input(
                    "cache.redis_url",
                    "",
                    "must be set when cache.backend is \"redis\"",
                )
            })?;
            let backend = RedisBackend::new(url, &settings.key_prefix)?;
            Arc::new(CachedEvaluator::new(router, Arc::new(backend), levels))
        }
    };
    Ok(evaluator)
}

impl Engine {
    /// Builds the engine that `config` describes for `partner`: the LLM
    /// router over `llm.providers` behind the `cache` backend, with the
    /// offline scorer as last resort, or the offline scorer alone when no
    /// provider is configured. Submissions larger than
    /// `evaluation.max_submission_bytes` are rejected.
    ///
    /// Each call builds a new router and cache, so callers that grade for
    /// many partners should build one [`Sam`](crate::Sam) instead, which
    /// shares them.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the `llm.*` or `cache.*` setting that
    /// cannot be used, such as an API key variable that is not set.
    pub fn from_config(config: &SamConfig, partner: &Partner) -> Result<Self, Error> {
        Grader::from_config(config)?.engine_for(partner)
    }

    /// Builds the evaluator that `config` describes, shared by every partner,
    /// and returns it with the LLM router inside it when providers are
    /// configured (a server reports the router's breaker states). Partners
    /// without a policy under `llm.partners` route by `llm.default_policy`
    /// until [`Router::set_partner_policy`] gives them their own strategy.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the `llm.*` or `cache.*` setting that
    /// cannot be used.
    pub fn evaluator_from_config(config: &SamConfig) -> Result<ConfiguredEvaluator, Error> {
        let grader = Grader::from_config(config)?;
        Ok((grader.evaluator, grader.router))
    }

    /// Describes in one line what grades under `config`, for logs and
    /// command output.
    pub fn describe_config(config: &SamConfig) -> String {
        if config.llm.providers.is_empty() {
            return "offline rubric scorer".to_owned();
        }
        let providers: Vec<String> = config
            .llm
            .providers
            .iter()
            .map(|p| format!("{} ({})", p.name, p.model))
            .collect();
        format!(
            "LLM router over {}, offline scorer last",
            providers.join(", ")
        )
    }
}
