//! The evaluation engine: assignments with rubrics, evaluators, grades,
//! and the stored evaluations that teachers review.

mod error;
mod grade;
mod grading;
mod guard;
mod rubric;
pub mod scorer;

pub use error::EvalError;
pub use grade::{chilean_grade, grade_to_f64};
pub use grading::{
    CriterionScore, Evaluator, EvaluatorError, Grading, GradingRequest, TenantRef, TokenUsage,
    FLAG_NEEDS_TEACHER_GRADING, FLAG_OFFLINE_FALLBACK, FLAG_PROMPT_INJECTION,
};
pub use guard::looks_like_prompt_injection;
pub use rubric::{
    Assignment, AssignmentInput, Criterion, Language, Level, Rubric, RubricInput,
    MAX_ASSIGNMENT_TEXT,
};
pub use scorer::OfflineScorer;

mod evaluation;
pub use evaluation::{Evaluation, EvaluationStatus, Review, SubmissionInput};
