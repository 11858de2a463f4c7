//! Gradings, the result an evaluator returns, and the trait every evaluator implements.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::Assignment;

/// The flag set when a submission contains text aimed at the grader.
pub const FLAG_PROMPT_INJECTION: &str = "possible_prompt_injection";

/// The flag set when the offline scorer had nothing to compare a criterion
/// with (no reference answer and no specific rubric text), so it gave that
/// criterion 0 points and a teacher must grade it.
pub const FLAG_NEEDS_TEACHER_GRADING: &str = "needs_teacher_grading";

/// The flag set when every model failed and the offline scorer answered.
pub const FLAG_OFFLINE_FALLBACK: &str = "offline_fallback";

/// Points and feedback for one rubric criterion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriterionScore {
    /// The criterion's name, as in the rubric.
    pub name: String,
    /// Points awarded, within `0..=max_points`.
    pub points: f64,
    /// The criterion's maximum points.
    pub max_points: f64,
    /// Feedback on this criterion, in the assignment's language.
    pub feedback: String,
}

/// Tokens one model call consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TokenUsage {
    /// All input tokens, including the cached ones.
    pub input_tokens: u64,
    /// Input tokens served from the provider's prompt cache.
    pub cached_input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
}

/// The result of grading one submission, before it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grading {
    /// One entry per rubric criterion, in rubric order.
    pub criteria: Vec<CriterionScore>,
    /// Overall feedback in the assignment's language.
    pub overall_feedback: String,
    /// Flags for the teacher, such as [`FLAG_PROMPT_INJECTION`].
    pub flags: Vec<String>,
    /// The model that produced the grading.
    pub model: String,
    /// The provider that served the model.
    pub provider: String,
    /// Token usage.
    pub usage: TokenUsage,
    /// Provider cost in 1e-9 USD.
    pub cost_nanos: i64,
    /// Provider attempts made, including retries and fallbacks.
    pub attempts: u32,
    /// Whether the grading came from the cache.
    pub cached: bool,
}

impl Grading {
    /// Returns the total points over all criteria.
    pub fn total_points(&self) -> f64 {
        self.criteria.iter().map(|c| c.points).sum()
    }

    /// Adds `flag` unless it is present already.
    pub fn add_flag(&mut self, flag: &str) {
        if !self.flags.iter().any(|f| f == flag) {
            self.flags.push(flag.to_owned());
        }
    }
}

/// The tenant an evaluation is for. The router uses it for strategy, cache
/// keys, bulkheads and logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TenantRef {
    /// The partner's slug.
    pub partner: String,
    /// The client's identifier.
    pub client: String,
}

/// One submission to grade against one assignment.
#[derive(Debug, Clone, Copy)]
pub struct GradingRequest<'a> {
    /// The tenant the work belongs to.
    pub tenant: &'a TenantRef,
    /// The assignment with its rubric.
    pub assignment: &'a Assignment,
    /// The student's text.
    pub submission: &'a str,
    /// Time left for the whole grading, across retries and fallbacks.
    pub deadline: Option<Duration>,
}

/// The reason an evaluator could not grade a submission.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{provider}: {message}")]
pub struct EvaluatorError {
    /// The provider or evaluator that failed.
    pub provider: String,
    /// The failure, described without secrets.
    pub message: String,
}

/// Something that grades a submission against an assignment's rubric: the
/// offline scorer, one model provider, or the router over several.
#[async_trait]
pub trait Evaluator: Send + Sync + std::fmt::Debug {
    /// Grades one submission.
    ///
    /// # Errors
    /// [`EvaluatorError`] when no grading could be produced.
    async fn grade(&self, request: GradingRequest<'_>) -> Result<Grading, EvaluatorError>;
}
