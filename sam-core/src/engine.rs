//! The evaluation pipeline: validate a submission, grade it with an
//! evaluator, compute the grade, and store the result with its usage event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use uuid::Uuid;

use crate::eval::{
    chilean_grade, grade_to_f64, Assignment, EvalError, Evaluation, EvaluationStatus, Evaluator,
    GradingRequest, SubmissionInput, TenantRef,
};
use crate::store::{EvaluationRecord, PartnerDb, Stored};
use crate::tenancy::{validate_id, Client, Role};

/// The default largest submission accepted, in bytes (64 KiB, about 10,000 words).
pub const DEFAULT_MAX_SUBMISSION_BYTES: usize = 64 * 1024;

/// How a request to evaluate a submission ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The submission was graded now and its evaluation stored.
    Evaluated(Evaluation),
    /// The submission had been evaluated before; nothing was graded or billed.
    AlreadyEvaluated(Evaluation),
}

impl Outcome {
    /// Returns the evaluation, new or existing.
    pub fn evaluation(&self) -> &Evaluation {
        match self {
            Self::Evaluated(e) | Self::AlreadyEvaluated(e) => e,
        }
    }
}

/// The evaluation engine. Cheap to clone; clones share the evaluator.
#[derive(Debug, Clone)]
pub struct Engine {
    evaluator: Arc<dyn Evaluator>,
    max_submission_bytes: usize,
    deadline: Option<Duration>,
}

impl Engine {
    /// Creates an engine that grades with `evaluator`.
    pub fn new(evaluator: Arc<dyn Evaluator>) -> Self {
        Self {
            evaluator,
            max_submission_bytes: DEFAULT_MAX_SUBMISSION_BYTES,
            deadline: None,
        }
    }

    /// Sets the largest submission accepted, in bytes.
    #[must_use]
    pub fn with_max_submission_bytes(mut self, bytes: usize) -> Self {
        self.max_submission_bytes = bytes;
        self
    }

    /// Sets the time allowed for grading one submission, across retries and fallbacks.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Checks a submission before any grading happens.
    ///
    /// # Errors
    /// [`EvalError::InvalidField`] or [`EvalError::SubmissionTooLarge`].
    pub fn validate(&self, input: &SubmissionInput) -> Result<(), EvalError> {
        validate_id("submission_id", &input.submission_id).map_err(EvalError::from_tenancy)?;
        validate_id("student_id", &input.student_id).map_err(EvalError::from_tenancy)?;
        validate_id("assignment_id", &input.assignment_id).map_err(EvalError::from_tenancy)?;
        if input.text.len() > self.max_submission_bytes {
            return Err(EvalError::SubmissionTooLarge {
                submission_id: input.submission_id.clone(),
                size: input.text.len(),
                max: self.max_submission_bytes,
            });
        }
        Ok(())
    }

    /// Evaluates one submission to `assignment` and stores the result.
    ///
    /// A submission that already has an evaluation is not graded again:
    /// the stored evaluation is returned as [`Outcome::AlreadyEvaluated`],
    /// so an interrupted batch resumes without billing twice. The same
    /// submission id with different text is rejected.
    ///
    /// # Errors
    /// A validation error, [`EvalError::DuplicateSubmission`],
    /// [`EvalError::EvaluatorFailed`], or a storage error.
    pub async fn evaluate(
        &self,
        db: &PartnerDb,
        client: &Client,
        assignment: &Assignment,
        teacher_id: Option<&str>,
        input: &SubmissionInput,
    ) -> Result<Outcome, EvalError> {
        self.validate(input)?;
        if assignment.client_id != client.client_id
            || assignment.assignment_id != input.assignment_id
        {
            return Err(EvalError::invalid_field(
                "assignment_id",
                &input.assignment_id,
                "the submission's assignment does not belong to this client",
            ));
        }
        if let Some(existing) = db
            .evaluation_of_submission(
                &client.client_id,
                &assignment.assignment_id,
                &input.submission_id,
            )
            .await?
        {
            return self.check_same_text(db, input, existing).await;
        }

        let started = Instant::now();
        let tenant = TenantRef {
            partner: db.partner().slug.to_string(),
            client: client.client_id.clone(),
        };
        let request = GradingRequest {
            tenant: &tenant,
            assignment,
            submission: &input.text,
            deadline: self.deadline,
        };
        let mut grading = self
            .evaluator
            .grade(request)
            .await
            .map_err(|err| EvalError::EvaluatorFailed(err.to_string()))?;
        if crate::eval::looks_like_prompt_injection(&input.text) {
            grading.add_flag(crate::eval::FLAG_PROMPT_INJECTION);
        }
        let score = grading.total_points().clamp(0.0, assignment.max_points);
        let grade = chilean_grade(score, assignment.max_points, &client.grade_scale);
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let now = Utc::now();
        let evaluation = Evaluation {
            id: Uuid::now_v7(),
            client_id: client.client_id.clone(),
            assignment_id: assignment.assignment_id.clone(),
            submission_id: input.submission_id.clone(),
            student_id: input.student_id.clone(),
            teacher_id: teacher_id.map(str::to_owned),
            score,
            max_points: assignment.max_points,
            score_fraction: score / assignment.max_points,
            grade: grade_to_f64(grade),
            criteria: grading.criteria,
            overall_feedback: grading.overall_feedback,
            flags: grading.flags,
            model: grading.model,
            provider: grading.provider,
            cached: grading.cached,
            attempts: grading.attempts,
            input_tokens: grading.usage.input_tokens,
            cached_input_tokens: grading.usage.cached_input_tokens,
            output_tokens: grading.usage.output_tokens,
            cost_nanos: grading.cost_nanos,
            latency_ms,
            status: EvaluationStatus::Draft,
            review: None,
            created_at: now,
        };
        let record = EvaluationRecord {
            evaluation,
            text: input.text.clone(),
            received_at: now,
            user_id: teacher_id.map(str::to_owned),
            local_day: local_day(db, now),
        };
        match db.store_evaluation(record).await? {
            Stored::New(evaluation) => {
                tracing::debug!(
                    partner = %db.partner().slug,
                    client = %client.client_id,
                    assignment = %assignment.assignment_id,
                    submission = %input.submission_id,
                    provider = %evaluation.provider,
                    score = evaluation.score,
                    "submission evaluated"
                );
                Ok(Outcome::Evaluated(evaluation))
            }
            Stored::Existing(existing) => self.check_same_text(db, input, existing).await,
        }
    }

    async fn check_same_text(
        &self,
        db: &PartnerDb,
        input: &SubmissionInput,
        existing: Evaluation,
    ) -> Result<Outcome, EvalError> {
        let stored = db
            .submission_text(
                &existing.client_id,
                &existing.assignment_id,
                &existing.submission_id,
            )
            .await?;
        if stored.as_deref() != Some(input.text.as_str()) {
            return Err(EvalError::DuplicateSubmission {
                assignment_id: existing.assignment_id,
                submission_id: existing.submission_id,
            });
        }
        Ok(Outcome::AlreadyEvaluated(existing))
    }
}

/// Returns the partner-local calendar day of `time`, as `YYYY-MM-DD`.
fn local_day(db: &PartnerDb, time: chrono::DateTime<Utc>) -> String {
    match db.partner().time_zone.parse::<chrono_tz::Tz>() {
        Ok(zone) => crate::metering::local_day(time, zone).to_string(),
        Err(_) => time.format("%Y-%m-%d").to_string(),
    }
}

/// Checks that `user_id` is an active teacher (or client admin) of `client_id`.
///
/// # Errors
/// [`EvalError::InvalidField`] naming the user when it is not.
pub async fn check_teacher(
    db: &PartnerDb,
    client_id: &str,
    user_id: &str,
) -> Result<(), EvalError> {
    let user = db.user(user_id).await.map_err(|err| {
        if err.is_not_found() {
            EvalError::invalid_field("teacher", user_id, "no such user in this partner")
        } else {
            err.into()
        }
    })?;
    if user.client_id != client_id
        || !user.active
        || !matches!(user.role, Role::Teacher | Role::ClientAdmin)
    {
        return Err(EvalError::invalid_field(
            "teacher",
            user_id,
            &format!("must be an active teacher or client admin of client {client_id}"),
        ));
    }
    Ok(())
}

pub use crate::sdk::ConfiguredEvaluator;
