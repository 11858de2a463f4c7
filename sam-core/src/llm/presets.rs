//! Ready-made provider settings for `samctl evaluate --provider NAME`.

use rust_decimal::Decimal;

use super::{
    Prices, ProviderConfig, ProviderKind, RouterError, SecretSource, CLAUDE, DEEPSEEK,
    LLAMA_SELF_HOSTED,
};

/// Builds a price table from prices per million tokens given in thousandths of a dollar.
fn prices(input_milli: i64, cached_milli: i64, output_milli: i64) -> Prices {
    Prices {
        input_per_million: Decimal::new(input_milli, 3),
        cached_input_per_million: Decimal::new(cached_milli, 3),
        output_per_million: Decimal::new(output_milli, 3),
    }
}

/// Returns the preset for a provider name, with `base_url` replacing the
/// preset's URL when given.
///
/// - `deepseek`: `https://api.deepseek.com`, model `deepseek-chat`, key from
///   `DEEPSEEK_API_KEY`, USD 0.27 / 0.07 (cached) / 1.10 per million tokens.
/// - `claude`: `https://api.anthropic.com`, model `claude-sonnet-4-20250514`,
///   key from `ANTHROPIC_API_KEY`, USD 3.00 / 0.30 (cache read) / 15.00.
/// - `llama_self_hosted`: an Ollama server at `http://127.0.0.1:11434/v1`,
///   model `llama3.1:8b`, no key, no provider cost.
///
/// NOTE: the preset prices are the providers' published list prices for
/// these models when this table was written; providers change them, so a
/// deployment that bills from them sets its own `prices` in the config file.
///
/// # Errors
/// [`RouterError`] for an unknown provider name.
pub fn provider_preset(name: &str, base_url: Option<&str>) -> Result<ProviderConfig, RouterError> {
    let (kind, default_url, model, key, prices) = match name {
        DEEPSEEK => (
            ProviderKind::OpenAiCompatible,
            "https://api.deepseek.com",
            "deepseek-chat",
            Some("DEEPSEEK_API_KEY"),
            prices(270, 70, 1_100),
        ),
        CLAUDE => (
            ProviderKind::Anthropic,
            "https://api.anthropic.com",
            "claude-sonnet-4-20250514",
            Some("ANTHROPIC_API_KEY"),
            prices(3_000, 300, 15_000),
        ),
        LLAMA_SELF_HOSTED => (
            ProviderKind::OpenAiCompatible,
            "http://127.0.0.1:11434/v1",
            "llama3.1:8b",
            None,
            prices(0, 0, 0),
        ),
        other => {
            return Err(RouterError::invalid(
                "provider",
                other,
                "expected deepseek, claude or llama_self_hosted",
            ))
        }
    };
    Ok(ProviderConfig {
        name: name.to_owned(),
        kind,
        base_url: base_url
            .unwrap_or(default_url)
            .trim_end_matches('/')
            .to_owned(),
        model: model.to_owned(),
        api_key: key.map(|k| SecretSource::Env(k.to_owned())),
        prices,
        max_output_tokens: 2_048,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_cover_every_provider() {
        for name in super::super::PROVIDER_NAMES {
            let preset = provider_preset(name, None).unwrap();
            assert_eq!(preset.name, name);
            assert!(preset.prices.validate().is_ok());
        }
    }

    #[test]
    fn base_url_override_is_used() {
        let preset = provider_preset(LLAMA_SELF_HOSTED, Some("http://127.0.0.1:8001/v1/")).unwrap();
        assert_eq!(preset.base_url, "http://127.0.0.1:8001/v1");
    }

    #[test]
    fn unknown_preset_is_rejected() {
        assert!(provider_preset("gpt", None).is_err());
    }
}
