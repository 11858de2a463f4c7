//! The adapter's HTTP routes: the LMS webhook and the teacher's approval.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use sam_core::eval::{AssignmentInput, Evaluation, SubmissionInput};
use sam_core::{Error, Sam};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ags::{GradePassback, Score};
use crate::links::{Link, Links};

/// The state every handler shares.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) sam: Sam,
    pub(crate) partner: String,
    pub(crate) client: String,
    pub(crate) links: Links,
    pub(crate) passback: GradePassback,
    /// The only LMS origin scores may be posted to, when restricted.
    pub(crate) lms_origin: Option<url::Origin>,
}

/// Builds the router.
///
/// NOTE: neither route authenticates its caller. A production adapter
/// checks the LMS's webhook signature, and accepts an approval only from a
/// teacher the LMS launched it for (an LTI 1.3 id token with an instructor role).
pub(crate) fn app(state: AppState) -> Router {
    Router::new()
        .route("/webhooks/submission-created", post(submission_created))
        .route("/evaluations/{id}/approve", post(approve))
        .with_state(state)
}

/// A "submission created" webhook, in the shape Moodle and Canvas
/// integrations send: the course, the assignment, the student, the
/// submitted text, and the AGS line item that receives the grade.
#[derive(Debug, Deserialize)]
pub(crate) struct SubmissionCreated {
    course: Course,
    assignment: LmsAssignment,
    user: LmsUser,
    submission: LmsSubmission,
    lineitem_url: String,
}

#[derive(Debug, Deserialize)]
struct Course {
    id: String,
}

#[derive(Debug, Deserialize)]
struct LmsAssignment {
    id: String,
    #[serde(default)]
    title: Option<String>,
    /// The task given to students.
    description: String,
    points_possible: f64,
    #[serde(default)]
    reference_answer: Option<String>,
    /// `es` or `en`; Spanish when missing.
    #[serde(default)]
    language: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LmsUser {
    id: String,
}

#[derive(Debug, Deserialize)]
struct LmsSubmission {
    id: String,
    text: String,
}

/// A teacher's approval of a draft.
#[derive(Debug, Deserialize)]
pub(crate) struct Approval {
    teacher_id: String,
    #[serde(default)]
    comment: Option<String>,
}

/// The adapter's reply: the evaluation's id, status and score in force.
#[derive(Debug, Serialize)]
struct EvaluationReply {
    evaluation_id: Uuid,
    status: &'static str,
    score: f64,
    max_points: f64,
    grade: f64,
    grading_progress: &'static str,
}

impl EvaluationReply {
    fn new(evaluation: &Evaluation, score: &Score) -> Self {
        Self {
            evaluation_id: evaluation.id,
            status: evaluation.status.as_str(),
            score: evaluation.final_score(),
            max_points: evaluation.max_points,
            grade: evaluation.grade,
            grading_progress: score.grading_progress,
        }
    }
}

/// Evaluates a submission, records its line item and posts the draft score.
///
/// A retried webhook gets the stored evaluation and posts its score again,
/// so a failed passback is repaired by the LMS's own retry.
async fn submission_created(
    State(state): State<AppState>,
    Json(event): Json<SubmissionCreated>,
) -> Result<Json<EvaluationReply>, AppError> {
    let lineitem = state.lineitem(&event.lineitem_url)?;
    // Assignment ids are unique per client in SAM but only per course in
    // the LMS, so the SAM id carries the course id too.
    let assignment_id = format!("{}:{}", event.course.id, event.assignment.id);
    let input = AssignmentInput {
        id: assignment_id.clone(),
        title: event.assignment.title,
        prompt: event.assignment.description,
        reference_answer: event.assignment.reference_answer,
        max_points: event.assignment.points_possible,
        language: event.assignment.language,
        rubric: None,
    };
    state
        .sam
        .register_assignment(&state.partner, &state.client, input)
        .await?;

    let submission = SubmissionInput {
        submission_id: event.submission.id,
        assignment_id,
        student_id: event.user.id.clone(),
        text: event.submission.text,
    };
    let evaluation = state
        .sam
        .evaluate(&state.partner, &state.client, None, submission)
        .await?;

    let link = Link {
        evaluation_id: evaluation.id,
        lineitem_url: lineitem.to_string(),
        lms_user_id: event.user.id,
    };
    state.links.save(&link).await.map_err(AppError::Links)?;
    let score = Score::of(&evaluation, &link.lms_user_id);
    state.post_score(&lineitem, &score, evaluation.id).await?;
    Ok(Json(EvaluationReply::new(&evaluation, &score)))
}

/// Records a teacher's approval and posts the final score.
async fn approve(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(approval): Json<Approval>,
) -> Result<Json<EvaluationReply>, AppError> {
    let link = state
        .links
        .get(id)
        .await
        .map_err(AppError::Links)?
        .ok_or(AppError::Sam(Error::NotFound {
            kind: "evaluation".to_owned(),
            id: id.to_string(),
        }))?;
    let evaluation = state
        .sam
        .approve(
            &state.partner,
            id,
            &approval.teacher_id,
            approval.comment.as_deref(),
        )
        .await?;
    let lineitem = state.lineitem(&link.lineitem_url)?;
    let score = Score::of(&evaluation, &link.lms_user_id);
    state.post_score(&lineitem, &score, evaluation.id).await?;
    Ok(Json(EvaluationReply::new(&evaluation, &score)))
}

impl AppState {
    /// Parses a line item URL and checks it against `--lms-origin`.
    fn lineitem(&self, text: &str) -> Result<url::Url, AppError> {
        let invalid = |reason: &str| {
            AppError::Sam(Error::invalid_input(
                "lineitem_url",
                text,
                reason.to_owned(),
            ))
        };
        let url = url::Url::parse(text).map_err(|_| invalid("expected an absolute http(s) URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("expected an absolute http(s) URL"));
        }
        if let Some(origin) = &self.lms_origin {
            if url.origin() != *origin {
                return Err(invalid("the line item is not on the configured LMS"));
            }
        }
        Ok(url)
    }

    async fn post_score(
        &self,
        lineitem: &url::Url,
        score: &Score,
        evaluation_id: Uuid,
    ) -> Result<(), AppError> {
        self.passback
            .post(lineitem, score)
            .await
            .map_err(|err| AppError::Passback {
                evaluation_id,
                message: format!("{err:#}"),
            })
    }
}

/// A failed request, mapped to one HTTP status in `into_response`.
#[derive(Debug)]
pub(crate) enum AppError {
    /// SAM rejected or failed the operation.
    Sam(Error),
    /// The links file could not be read or written.
    Links(anyhow::Error),
    /// The evaluation is stored but the LMS did not take its score.
    Passback {
        evaluation_id: Uuid,
        message: String,
    },
}

impl From<Error> for AppError {
    fn from(err: Error) -> Self {
        Self::Sam(err)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            Self::Sam(err) => (sam_status(err), err.to_string()),
            Self::Links(err) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read or write the links file: {err:#}"),
            ),
            Self::Passback {
                evaluation_id,
                message,
            } => (
                StatusCode::BAD_GATEWAY,
                format!(
                    "evaluation {evaluation_id} is stored, but posting its score failed: \
                     {message}; send the webhook again to retry"
                ),
            ),
        };
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), error = %message, "request failed");
        } else {
            tracing::info!(status = status.as_u16(), error = %message, "request rejected");
        }
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

/// Maps each SAM error to one HTTP status.
fn sam_status(err: &Error) -> StatusCode {
    match err {
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::InvalidInput { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::QuotaExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::ProviderUnavailable(_) | Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
