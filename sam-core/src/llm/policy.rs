//! Routing strategies and per-tenant settings.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;

use super::breaker::duration_secs;
use super::provider::{CLAUDE, DEEPSEEK, LLAMA_SELF_HOSTED};
use super::{BreakerConfig, ProviderConfig, RetryPolicy};
use crate::tenancy::LlmStrategy;

/// Returns the providers a strategy tries, in order. The last-resort
/// evaluator follows them.
pub fn strategy_order(strategy: LlmStrategy) -> [&'static str; 3] {
    match strategy {
        LlmStrategy::CostOptimized => [LLAMA_SELF_HOSTED, DEEPSEEK, CLAUDE],
        LlmStrategy::Performance => [DEEPSEEK, LLAMA_SELF_HOSTED, CLAUDE],
        LlmStrategy::Redundancy => [DEEPSEEK, CLAUDE, LLAMA_SELF_HOSTED],
    }
}

/// The default time one provider attempt may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The default number of gradings one partner may run at once.
pub const DEFAULT_MAX_CONCURRENT: usize = 16;

/// A partner's routing settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerPolicy {
    /// The partner's strategy.
    pub strategy: LlmStrategy,
    /// Strategies that override the partner's for some clients, by client id.
    #[serde(default)]
    pub client_strategies: HashMap<String, LlmStrategy>,
    /// Time one provider attempt may take, and the budget for retrying one
    /// provider: a retry whose wait would end past it moves to the next
    /// provider instead.
    #[serde(with = "duration_secs", default = "default_timeout")]
    pub timeout: Duration,
    /// Gradings of this partner that may call providers at once (bulkhead).
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: usize,
}

fn default_timeout() -> Duration {
    DEFAULT_TIMEOUT
}

fn default_max_concurrent() -> usize {
    DEFAULT_MAX_CONCURRENT
}

impl Default for PartnerPolicy {
    fn default() -> Self {
        Self {
            strategy: LlmStrategy::CostOptimized,
            client_strategies: HashMap::new(),
            timeout: DEFAULT_TIMEOUT,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
        }
    }
}

impl PartnerPolicy {
    /// Returns the strategy for `client`: its override, or the partner's.
    pub fn strategy_for(&self, client: &str) -> LlmStrategy {
        self.client_strategies
            .get(client)
            .copied()
            .unwrap_or(self.strategy)
    }
}

/// Everything the router needs besides the last-resort evaluator.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterConfig {
    /// Configured providers; strategies skip the ones not listed.
    pub providers: Vec<ProviderConfig>,
    /// Settings of partners not listed in `partners`.
    #[serde(default)]
    pub default_policy: PartnerPolicy,
    /// Settings per partner slug.
    #[serde(default)]
    pub partners: HashMap<String, PartnerPolicy>,
    /// Retry policy.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Circuit breaker settings.
    #[serde(default)]
    pub breaker: BreakerConfig,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_order_providers() {
        assert_eq!(
            strategy_order(LlmStrategy::CostOptimized),
            ["llama_self_hosted", "deepseek", "claude"]
        );
        assert_eq!(
            strategy_order(LlmStrategy::Performance),
            ["deepseek", "llama_self_hosted", "claude"]
        );
        assert_eq!(
            strategy_order(LlmStrategy::Redundancy),
            ["deepseek", "claude", "llama_self_hosted"]
        );
    }

    #[test]
    fn client_override_wins() {
        let mut policy = PartnerPolicy {
            strategy: LlmStrategy::Performance,
            ..PartnerPolicy::default()
        };
        policy
            .client_strategies
            .insert("colegio_a".to_owned(), LlmStrategy::Redundancy);
        assert_eq!(policy.strategy_for("colegio_a"), LlmStrategy::Redundancy);
        assert_eq!(policy.strategy_for("colegio_b"), LlmStrategy::Performance);
    }

    #[test]
    fn config_parses_from_toml() {
        let config: RouterConfig = toml::from_str(
            r#"
            [[providers]]
            name = "deepseek"
            kind = "open_ai_compatible"
            base_url = "https://api.deepseek.com"
            model = "deepseek-chat"
            api_key = "env:DEEPSEEK_API_KEY"
            prices = { input_per_million = "0.27", cached_input_per_million = "0.07", output_per_million = "1.10" }

            [default_policy]
            strategy = "performance"
            timeout = 20

            [partners.acme]
            strategy = "redundancy"
            client_strategies = { colegio_a = "cost_optimized" }
            max_concurrent = 4
            "#,
        )
        .unwrap();
        assert_eq!(config.providers[0].name, "deepseek");
        assert_eq!(config.default_policy.timeout, Duration::from_secs(20));
        assert_eq!(config.partners["acme"].max_concurrent, 4);
        assert_eq!(config.partners["acme"].timeout, DEFAULT_TIMEOUT);
    }
}
