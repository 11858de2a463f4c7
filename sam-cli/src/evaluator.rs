//! Chooses what grades `samctl` evaluations: the LLM router over the
//! configured providers, behind the cache, or the offline scorer alone.

use std::sync::Arc;

use anyhow::Context as _;
use sam_core::cache::{CachedEvaluator, MemoryBackend, RedisBackend, RedisClusterBackend};
use sam_core::config::CacheBackendKind;
use sam_core::engine::Engine;
use sam_core::eval::{looks_like_prompt_injection, Evaluator, OfflineScorer};
use sam_core::llm::{provider_preset, PartnerPolicy, Router};
use sam_core::tenancy::Partner;

use crate::app::{Context, UsageError};

/// Parses a `--provider NAME[=BASE_URL]` value into a name and an optional URL.
fn parse_provider_flag(flag: &str) -> (&str, Option<&str>) {
    match flag.split_once('=') {
        Some((name, url)) => (name, Some(url)),
        None => (flag, None),
    }
}

/// Builds the engine for `partner`. `provider_flags` add or replace
/// providers from the built-in presets on top of the configuration.
pub async fn build_engine(
    context: &Context,
    partner: &Partner,
    provider_flags: &[String],
) -> anyhow::Result<(Engine, String)> {
    let offline: Arc<dyn Evaluator> = Arc::new(OfflineScorer::new());
    let mut llm = context.config.llm.clone();
    for flag in provider_flags {
        let (name, url) = parse_provider_flag(flag);
        let preset = provider_preset(name, url)
            .map_err(|err| UsageError(format!("invalid --provider {flag:?}: {err}")))?;
        llm.providers.retain(|p| p.name != preset.name);
        llm.providers.push(preset);
    }
    let max_bytes = context.config.evaluation.max_submission_bytes;
    if llm.providers.is_empty() {
        let engine = Engine::new(offline).with_max_submission_bytes(max_bytes);
        return Ok((engine, "offline rubric scorer".to_owned()));
    }

    let providers: Vec<String> = llm
        .providers
        .iter()
        .map(|p| format!("{} ({})", p.name, p.model))
        .collect();
    let configured_policy = llm.partners.get(partner.slug.as_str()).cloned();
    let default_policy = llm.default_policy.clone();
    let router = Router::new(llm, Arc::clone(&offline))
        .context("cannot set up the LLM providers")?
        .with_injection_detector(looks_like_prompt_injection);
    if configured_policy.is_none() {
        router.set_partner_policy(
            partner.slug.as_str(),
            PartnerPolicy {
                strategy: partner.strategy,
                ..default_policy
            },
        )?;
    }
    let router = Arc::new(router);
    let settings = &context.config.cache;
    let evaluator: Arc<dyn Evaluator> = match settings.backend {
        CacheBackendKind::None => router,
        CacheBackendKind::Memory => Arc::new(CachedEvaluator::new(
            router,
            Arc::new(MemoryBackend::new(settings.max_entries)),
            settings.levels.clone(),
        )),
        CacheBackendKind::Redis if !settings.cluster_nodes.is_empty() => {
            let nodes: Vec<&str> = settings.cluster_nodes.iter().map(String::as_str).collect();
            let backend = RedisClusterBackend::new(&nodes, &settings.key_prefix)?;
            Arc::new(CachedEvaluator::new(
                router,
                Arc::new(backend),
                settings.levels.clone(),
            ))
        }
        CacheBackendKind::Redis => {
            let url = settings.redis_url.as_deref().ok_or_else(|| {
                UsageError("cache.backend is \"redis\" but cache.redis_url is not set".to_owned())
            })?;
            let backend = RedisBackend::new(url, &settings.key_prefix)?;
            Arc::new(CachedEvaluator::new(
                router,
                Arc::new(backend),
                settings.levels.clone(),
            ))
        }
    };
    let engine = Engine::new(evaluator).with_max_submission_bytes(max_bytes);
    Ok((
        engine,
        format!(
            "LLM router over {}, offline scorer last",
            providers.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_flag_splits_url() {
        assert_eq!(parse_provider_flag("deepseek"), ("deepseek", None));
        assert_eq!(
            parse_provider_flag("llama_self_hosted=http://127.0.0.1:8001/v1"),
            ("llama_self_hosted", Some("http://127.0.0.1:8001/v1"))
        );
    }
}
