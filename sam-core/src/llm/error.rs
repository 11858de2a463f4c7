//! Errors of building the LLM router from its configuration.

/// An error in the router's configuration: providers, prices or secrets.
///
/// Grading itself never returns this type: a failed provider is logged and
/// the router moves on, and only the last-resort evaluator's error reaches the
/// caller as an [`EvaluatorError`](crate::eval::EvaluatorError).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RouterError {
    /// A configuration field has a value that cannot be used.
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidConfig {
        /// The field, such as `providers[1].base_url`.
        field: String,
        /// The rejected value, cut to 80 characters; never a secret.
        value: String,
        /// A description of a valid value.
        reason: String,
    },
    /// A price cannot be converted to whole nanos of USD per token.
    #[error("invalid price {field} = {value}: {reason}")]
    InvalidPrice {
        /// The price field, such as `input_per_million`.
        field: &'static str,
        /// The rejected price in USD per million tokens.
        value: String,
        /// The reason for the rejection.
        reason: &'static str,
    },
    /// A cost does not fit in an `i64` of nanos.
    #[error("cost overflows i64 nanos of USD for {tokens} tokens")]
    CostOverflow {
        /// The token count that overflowed.
        tokens: u64,
    },
    /// An API key reference could not be resolved to a key.
    #[error("cannot resolve API key {reference}: {reason}")]
    Secret {
        /// The reference, such as `env:DEEPSEEK_API_KEY`; never the key.
        reference: String,
        /// The failure and how to fix it.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
}

impl RouterError {
    /// Builds a [`RouterError::InvalidConfig`].
    pub(crate) fn invalid(
        field: impl Into<String>,
        value: &str,
        reason: impl Into<String>,
    ) -> Self {
        Self::InvalidConfig {
            field: field.into(),
            value: value.chars().take(80).collect(),
            reason: reason.into(),
        }
    }
}
