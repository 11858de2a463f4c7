//! The LLM router: provider clients for the OpenAI-compatible and Anthropic
//! wire formats, the grading prompt and its parser, prices, retries,
//! circuit breakers, bulkheads and routing strategies.

mod breaker;
mod bulkhead;
mod error;
mod guard;
mod policy;
mod presets;
mod price;
mod prompt;
mod provider;
mod retry;
mod router;
mod secret;

#[cfg(test)]
mod tests;

pub(crate) use breaker::duration_secs;
pub use breaker::{BreakerConfig, BreakerState};
pub use error::RouterError;
pub use policy::{
    strategy_order, PartnerPolicy, RouterConfig, DEFAULT_MAX_CONCURRENT, DEFAULT_TIMEOUT,
};
pub use presets::provider_preset;
pub use price::{Prices, MAX_PRICE_DECIMALS};
pub use prompt::{
    build_prompt, escape_submission, parse_reply, GradingPrompt, ParsedReply, ReplyError,
    PROMPT_TEMPLATE_VERSION, SUBMISSION_END, SUBMISSION_START,
};
pub use provider::{
    ProviderConfig, ProviderKind, ANTHROPIC_VERSION, CLAUDE, DEEPSEEK, LLAMA_SELF_HOSTED,
    PROVIDER_NAMES,
};
pub use retry::RetryPolicy;
pub use router::Router;
pub use secret::SecretSource;
