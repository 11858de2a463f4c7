//! Stored evaluations and their teacher review.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CriterionScore, EvalError};

/// The stage of an evaluation in teacher review. Students see only
/// [`Approved`](Self::Approved) and [`Overridden`](Self::Overridden) results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvaluationStatus {
    /// Written by the evaluator, not yet reviewed.
    Draft,
    /// A teacher accepted the AI result as it is.
    Approved,
    /// A teacher set their own score; the AI result is kept beside it.
    Overridden,
}

impl EvaluationStatus {
    /// Returns the stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Approved => "approved",
            Self::Overridden => "overridden",
        }
    }

    /// Parses a stored name.
    ///
    /// # Errors
    /// [`EvalError::InvalidField`] for an unknown name.
    pub fn parse(text: &str) -> Result<Self, EvalError> {
        match text {
            "draft" => Ok(Self::Draft),
            "approved" => Ok(Self::Approved),
            "overridden" => Ok(Self::Overridden),
            _ => Err(EvalError::invalid_field(
                "status",
                text,
                "expected draft, approved or overridden",
            )),
        }
    }

    /// Returns whether a student may see the result.
    pub fn visible_to_student(self) -> bool {
        matches!(self, Self::Approved | Self::Overridden)
    }
}

/// A teacher's review of an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    /// The reviewing teacher's user id.
    pub reviewed_by: String,
    /// When the review was recorded.
    pub reviewed_at: DateTime<Utc>,
    /// The teacher's score in points, for an override.
    pub teacher_score: Option<f64>,
    /// The teacher's comment.
    pub teacher_comment: Option<String>,
}

/// A stored evaluation of one submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Identifier.
    pub id: Uuid,
    /// The client the work belongs to.
    pub client_id: String,
    /// The assignment.
    pub assignment_id: String,
    /// The caller's submission id, unique per assignment.
    pub submission_id: String,
    /// The student.
    pub student_id: String,
    /// The teacher responsible, if known.
    pub teacher_id: Option<String>,
    /// The AI score in points.
    pub score: f64,
    /// The assignment's maximum points.
    pub max_points: f64,
    /// The AI score as a fraction of the maximum, in `0..=1`.
    pub score_fraction: f64,
    /// Chilean grade (1.0-7.0) for the score in force: the teacher's after
    /// an override, otherwise the AI's.
    pub grade: f64,
    /// Points and feedback per criterion.
    pub criteria: Vec<CriterionScore>,
    /// Overall feedback.
    pub overall_feedback: String,
    /// Flags for the teacher.
    pub flags: Vec<String>,
    /// The model that produced the AI result.
    pub model: String,
    /// The provider that served it.
    pub provider: String,
    /// Whether the AI result came from the cache.
    pub cached: bool,
    /// Provider attempts made.
    pub attempts: u32,
    /// Input tokens, including cached ones.
    pub input_tokens: u64,
    /// Cached input tokens.
    pub cached_input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Provider cost in 1e-9 USD.
    pub cost_nanos: i64,
    /// Time spent grading, in milliseconds.
    pub latency_ms: u64,
    /// Review status.
    pub status: EvaluationStatus,
    /// The teacher's review, once there is one.
    pub review: Option<Review>,
    /// When the evaluation was written.
    pub created_at: DateTime<Utc>,
}

impl Evaluation {
    /// Returns the score in force: the teacher's after an override, otherwise the AI's.
    pub fn final_score(&self) -> f64 {
        self.review
            .as_ref()
            .and_then(|r| r.teacher_score)
            .unwrap_or(self.score)
    }
}

/// A submission to evaluate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmissionInput {
    /// The caller's id, unique per assignment.
    pub submission_id: String,
    /// The assignment it answers.
    pub assignment_id: String,
    /// The student.
    pub student_id: String,
    /// The student's text.
    pub text: String,
}
