//! Errors of the evaluation engine.

use std::fmt::Display;

use crate::tenancy::TenancyError;

/// An error from defining assignments or evaluating submissions.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// An input field has a value that cannot be used.
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidField {
        /// The field, as a path such as `rubric.criteria[0].points`.
        field: String,
        /// The rejected value, cut to 80 characters.
        value: String,
        /// The rule a valid value follows.
        reason: String,
    },
    /// A submission is larger than the engine accepts.
    #[error("submission {submission_id:?} is {size} bytes; the maximum is {max} bytes")]
    SubmissionTooLarge {
        /// The submission's identifier.
        submission_id: String,
        /// Its size in bytes.
        size: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A submission with this identifier exists for the assignment with other content.
    #[error("submission {submission_id:?} already exists for assignment {assignment_id:?} with different content")]
    DuplicateSubmission {
        /// The assignment.
        assignment_id: String,
        /// The duplicated submission identifier.
        submission_id: String,
    },
    /// The review action does not fit the evaluation's state.
    #[error("evaluation {id} is {status}; {reason}")]
    InvalidState {
        /// The evaluation.
        id: String,
        /// Its current status.
        status: String,
        /// The reason the action is not allowed.
        reason: String,
    },
    /// No evaluator produced a grading.
    #[error("no evaluator produced a grading: {0}")]
    EvaluatorFailed(String),
    /// A storage or tenancy error.
    #[error(transparent)]
    Tenancy(#[from] TenancyError),
}

impl EvalError {
    /// Builds an [`EvalError::InvalidField`].
    pub fn invalid_field(field: impl Into<String>, value: impl Display, reason: &str) -> Self {
        Self::InvalidField {
            field: field.into(),
            value: value.to_string().chars().take(80).collect(),
            reason: reason.to_owned(),
        }
    }

    /// Converts a tenancy validation error into a field error, keeping others as they are.
    pub fn from_tenancy(err: TenancyError) -> Self {
        match err {
            TenancyError::InvalidInput {
                field,
                value,
                reason,
            } => Self::InvalidField {
                field: field.to_owned(),
                value,
                reason,
            },
            other => Self::Tenancy(other),
        }
    }

    /// Returns whether the error means the row does not exist for the caller.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Tenancy(err) if err.is_not_found())
    }
}
