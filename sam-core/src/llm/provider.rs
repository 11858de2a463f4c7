//! Provider configuration and the HTTP clients for the two wire formats:
//! OpenAI-compatible chat completions and Anthropic Messages.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::prompt::GradingPrompt;
use super::{Prices, RouterError, SecretSource};
use crate::eval::TokenUsage;

/// Name of the DeepSeek provider in strategies and logs.
pub const DEEPSEEK: &str = "deepseek";
/// Name of the self-hosted Llama provider (vLLM, Ollama or llama.cpp).
pub const LLAMA_SELF_HOSTED: &str = "llama_self_hosted";
/// Name of the Anthropic Claude provider.
pub const CLAUDE: &str = "claude";
/// Every provider name a strategy can refer to.
pub const PROVIDER_NAMES: [&str; 3] = [DEEPSEEK, LLAMA_SELF_HOSTED, CLAUDE];

/// The version sent in the `anthropic-version` header.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// `POST {base_url}/chat/completions` with a bearer key: DeepSeek, vLLM,
    /// Ollama and llama.cpp servers.
    OpenAiCompatible,
    /// `POST {base_url}/v1/messages` with `x-api-key`.
    Anthropic,
}

/// One provider the router can call.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// `deepseek`, `llama_self_hosted` or `claude`.
    pub name: String,
    /// Wire format.
    pub kind: ProviderKind,
    /// Base URL without the endpoint path, such as `https://api.deepseek.com`.
    pub base_url: String,
    /// Model identifier sent to the provider and recorded in gradings.
    pub model: String,
    /// Source of the API key, or `None` for a self-hosted server without
    /// authentication.
    #[serde(default)]
    pub api_key: Option<SecretSource>,
    /// Prices of the model.
    pub prices: Prices,
    /// Maximum output tokens requested per call.
    #[serde(default = "default_max_output_tokens")]
    pub max_output_tokens: u32,
}

fn default_max_output_tokens() -> u32 {
    2_048
}

impl<'de> Deserialize<'de> for SecretSource {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse("api_key", &text).map_err(serde::de::Error::custom)
    }
}

/// The text and usage of one call, before the text is checked against the rubric.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProviderReply {
    pub(crate) text: String,
    pub(crate) usage: TokenUsage,
}

/// The failure of one provider call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum AttemptError {
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("timed out")]
    Timeout,
    #[error("HTTP status {status}")]
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("invalid response: {0}")]
    Malformed(String),
}

impl AttemptError {
    /// Returns whether the same provider may be tried again: connection
    /// errors, 5xx and 429.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            Self::Connect(_) => true,
            Self::Status { status, .. } => *status == 429 || *status >= 500,
            Self::Timeout | Self::Malformed(_) => false,
        }
    }

    /// Returns a short label for logs.
    pub(crate) fn outcome(&self) -> &'static str {
        match self {
            Self::Connect(_) => "connect_error",
            Self::Timeout => "timeout",
            Self::Status { status: 429, .. } => "rate_limited",
            Self::Status { .. } => "http_error",
            Self::Malformed(_) => "invalid_reply",
        }
    }
}

/// A configured provider with its resolved key.
pub(crate) struct ProviderClient {
    pub(crate) config: ProviderConfig,
    endpoint: String,
    api_key: Option<SecretString>,
    http: reqwest::Client,
}

impl std::fmt::Debug for ProviderClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderClient")
            .field("name", &self.config.name)
            .field("endpoint", &self.endpoint)
            .field("model", &self.config.model)
            .finish_non_exhaustive()
    }
}

impl ProviderClient {
    /// Validates `config`, resolves its key and builds the client.
    pub(crate) fn new(
        index: usize,
        config: ProviderConfig,
        http: reqwest::Client,
    ) -> Result<Self, RouterError> {
        let field = |name: &str| format!("providers[{index}].{name}");
        if !PROVIDER_NAMES.contains(&config.name.as_str()) {
            return Err(RouterError::invalid(
                field("name"),
                &config.name,
                format!("expected one of: {}", PROVIDER_NAMES.join(", ")),
            ));
        }
        let base = config.base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(RouterError::invalid(
                field("base_url"),
                &config.base_url,
                "expected an http:// or https:// URL",
            ));
        }
        if config.model.trim().is_empty() {
            return Err(RouterError::invalid(
                field("model"),
                "",
                "must not be empty",
            ));
        }
        config.prices.validate()?;
        let endpoint = match config.kind {
            ProviderKind::OpenAiCompatible => format!("{base}/chat/completions"),
            ProviderKind::Anthropic => format!("{base}/v1/messages"),
        };
        let api_key = config
            .api_key
            .as_ref()
            .map(SecretSource::resolve)
            .transpose()?;
        Ok(Self {
            config,
            endpoint,
            api_key,
            http,
        })
    }

    /// Sends one grading request and waits at most `timeout` for the whole
    /// response.
    pub(crate) async fn complete(
        &self,
        prompt: &GradingPrompt,
        timeout: Duration,
    ) -> Result<ProviderReply, AttemptError> {
        match tokio::time::timeout(timeout, self.send(prompt)).await {
            Ok(result) => result,
            Err(_) => Err(AttemptError::Timeout),
        }
    }

    async fn send(&self, prompt: &GradingPrompt) -> Result<ProviderReply, AttemptError> {
        let mut request = self.http.post(&self.endpoint);
        let body = match self.config.kind {
            ProviderKind::OpenAiCompatible => {
                if let Some(key) = &self.api_key {
                    request = request.bearer_auth(key.expose_secret());
                }
                json!({
                    "model": self.config.model,
                    "messages": [
                        {"role": "system", "content": prompt.system},
                        {"role": "user", "content": prompt.user},
                    ],
                    "temperature": 0,
                    "max_tokens": self.config.max_output_tokens,
                    "response_format": {"type": "json_object"},
                })
            }
            ProviderKind::Anthropic => {
                if let Some(key) = &self.api_key {
                    request = request.header("x-api-key", key.expose_secret());
                }
                request = request.header("anthropic-version", ANTHROPIC_VERSION);
                // The Messages API has no JSON mode, so the system prompt
                // requests JSON and the parser finds the object in the text.
                json!({
                    "model": self.config.model,
                    "max_tokens": self.config.max_output_tokens,
                    "temperature": 0,
                    "system": prompt.system,
                    "messages": [{"role": "user", "content": prompt.user}],
                })
            }
        };
        let response = request.json(&body).send().await.map_err(classify)?;
        let status = response.status();
        if !status.is_success() {
            return Err(AttemptError::Status {
                status: status.as_u16(),
                retry_after: retry_after(response.headers()),
            });
        }
        let value: Value = response.json().await.map_err(classify)?;
        match self.config.kind {
            ProviderKind::OpenAiCompatible => parse_openai(&value),
            ProviderKind::Anthropic => parse_anthropic(&value),
        }
    }
}

/// Maps a reqwest error to an attempt error without its URL, which may
/// carry query parameters.
fn classify(err: reqwest::Error) -> AttemptError {
    if err.is_timeout() {
        AttemptError::Timeout
    } else if err.is_decode() || err.is_body() {
        AttemptError::Malformed(err.without_url().to_string())
    } else {
        AttemptError::Connect(err.without_url().to_string())
    }
}

/// Reads `retry-after` given in seconds.
// NOTE: the HTTP-date form of retry-after is ignored and treated as absent,
// so such a 429 is retried with the normal backoff.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?;
    text.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn count(value: &Value, pointer: &str) -> u64 {
    value.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

/// Reads a chat completion. `prompt_tokens` already includes cached tokens,
/// reported as `prompt_tokens_details.cached_tokens` by OpenAI and as
/// `prompt_cache_hit_tokens` by DeepSeek.
pub(crate) fn parse_openai(value: &Value) -> Result<ProviderReply, AttemptError> {
    let text = value
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or_else(|| AttemptError::Malformed("missing choices[0].message.content".to_owned()))?;
    let cached = count(value, "/usage/prompt_tokens_details/cached_tokens")
        .max(count(value, "/usage/prompt_cache_hit_tokens"));
    Ok(ProviderReply {
        text: text.to_owned(),
        usage: TokenUsage {
            input_tokens: count(value, "/usage/prompt_tokens"),
            cached_input_tokens: cached,
            output_tokens: count(value, "/usage/completion_tokens"),
        },
    })
}

/// Reads an Anthropic message. Its `input_tokens` excludes
/// `cache_read_input_tokens` and `cache_creation_input_tokens`, so the total
/// input is the sum of the three and the cached part is the cache reads.
// NOTE: cache writes are priced as uncached input here, although Anthropic
// bills them at a higher rate. They stay at zero because the router sends
// no cache_control blocks.
pub(crate) fn parse_anthropic(value: &Value) -> Result<ProviderReply, AttemptError> {
    let blocks = value
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| AttemptError::Malformed("missing content array".to_owned()))?;
    let text: String = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    if text.is_empty() {
        return Err(AttemptError::Malformed("no text content block".to_owned()));
    }
    let cache_read = count(value, "/usage/cache_read_input_tokens");
    let cache_creation = count(value, "/usage/cache_creation_input_tokens");
    Ok(ProviderReply {
        text,
        usage: TokenUsage {
            input_tokens: count(value, "/usage/input_tokens") + cache_read + cache_creation,
            cached_input_tokens: cache_read,
            output_tokens: count(value, "/usage/output_tokens"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_usage_includes_cached_tokens() {
        let value = json!({
            "choices": [{"message": {"role": "assistant", "content": "{}"}}],
            "usage": {"prompt_tokens": 2006, "completion_tokens": 300,
                      "prompt_tokens_details": {"cached_tokens": 1920}}
        });
        let usage = parse_openai(&value).unwrap().usage;
        assert_eq!(usage.input_tokens, 2006);
        assert_eq!(usage.cached_input_tokens, 1920);
        assert_eq!(usage.output_tokens, 300);
    }

    #[test]
    fn deepseek_usage_reads_cache_hits() {
        let value = json!({
            "choices": [{"message": {"content": "{}"}}],
            "usage": {"prompt_tokens": 1500, "completion_tokens": 200,
                      "prompt_cache_hit_tokens": 500, "prompt_cache_miss_tokens": 1000}
        });
        let usage = parse_openai(&value).unwrap().usage;
        assert_eq!(usage.input_tokens, 1500);
        assert_eq!(usage.cached_input_tokens, 500);
    }

    #[test]
    fn anthropic_usage_adds_cache_tokens() {
        let value = json!({
            "content": [{"type": "text", "text": "{}"}],
            "usage": {"input_tokens": 100, "cache_read_input_tokens": 1000,
                      "cache_creation_input_tokens": 50, "output_tokens": 20}
        });
        let usage = parse_anthropic(&value).unwrap().usage;
        assert_eq!(usage.input_tokens, 1150);
        assert_eq!(usage.cached_input_tokens, 1000);
        assert_eq!(usage.output_tokens, 20);
    }

    #[test]
    fn retry_after_in_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "47".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(47)));
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn only_transient_errors_are_retryable() {
        let status = |status| AttemptError::Status {
            status,
            retry_after: None,
        };
        assert!(status(500).is_retryable());
        assert!(status(503).is_retryable());
        assert!(status(429).is_retryable());
        assert!(!status(400).is_retryable());
        assert!(!status(401).is_retryable());
        assert!(AttemptError::Connect("refused".to_owned()).is_retryable());
        assert!(!AttemptError::Timeout.is_retryable());
    }
}
