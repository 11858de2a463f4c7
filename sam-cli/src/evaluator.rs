//! Chooses what grades `samctl` evaluations: the configuration's evaluator
//! (see [`Engine::from_config`]) with `--provider` presets added on top.

use sam_core::engine::Engine;
use sam_core::llm::provider_preset;
use sam_core::tenancy::Partner;

use crate::app::{Context, UsageError};

/// Parses a `--provider NAME[=BASE_URL]` value into a name and an optional URL.
fn parse_provider_flag(flag: &str) -> (&str, Option<&str>) {
    match flag.split_once('=') {
        Some((name, url)) => (name, Some(url)),
        None => (flag, None),
    }
}

/// Builds the engine for `partner` and a one-line description of what
/// grades. `provider_flags` add or replace providers from the built-in
/// presets on top of the configuration.
pub async fn build_engine(
    context: &Context,
    partner: &Partner,
    provider_flags: &[String],
) -> anyhow::Result<(Engine, String)> {
    let mut config = context.config.clone();
    for flag in provider_flags {
        let (name, url) = parse_provider_flag(flag);
        let preset = provider_preset(name, url)
            .map_err(|err| UsageError(format!("invalid --provider {flag:?}: {err}")))?;
        config.llm.providers.retain(|p| p.name != preset.name);
        config.llm.providers.push(preset);
    }
    let engine = Engine::from_config(&config, partner)?;
    Ok((engine, Engine::describe_config(&config)))
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
