//! Evaluating submissions, listing and reading evaluations, and teacher review.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use sam_core::auth::{Action, Target};
use sam_core::engine::Outcome;
use sam_core::eval::{Assignment, Evaluation, EvaluationStatus, SubmissionInput};
use sam_core::store::{EvaluationFilter, ReviewAction};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::json::{parse_json, ApiJson};
use crate::state::AppState;

/// Default page size of evaluation lists.
const DEFAULT_PAGE: u32 = 50;
/// Largest page size of evaluation lists.
const MAX_PAGE: u32 = 200;

/// A submission to evaluate.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    /// The assignment the submission responds to.
    pub assignment_id: String,
    /// The caller's id of the submission, unique per assignment.
    pub submission_id: String,
    /// The student who wrote it.
    pub student_id: String,
    /// The student's text.
    pub text: String,
}

/// A stored evaluation, as sam-core serializes it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(value_type = Object)]
#[serde(transparent)]
pub struct EvaluationView(pub Evaluation);

/// A page of evaluations.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvaluationPage {
    /// The evaluations, oldest first.
    pub items: Vec<EvaluationView>,
    /// The `after` value of the next page, or `null` on the last page.
    pub next_cursor: Option<Uuid>,
}

/// Filters and paging of an evaluation list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this assignment's evaluations.
    pub assignment_id: Option<String>,
    /// Only this student's.
    pub student_id: Option<String>,
    /// Only this teacher's.
    pub teacher_id: Option<String>,
    /// Only in this status: `draft`, `approved` or `overridden`.
    pub status: Option<String>,
    /// The `next_cursor` of the previous page.
    pub after: Option<Uuid>,
    /// Page size, 1 to 200; 50 when not given.
    pub limit: Option<u32>,
}

/// A teacher's approval.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// Optional comment.
    #[serde(default)]
    pub comment: Option<String>,
}

/// A teacher's own score replacing the AI's.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideRequest {
    /// The teacher's score in points, from 0 to the assignment's maximum.
    pub score: f64,
    /// The reason for the change.
    pub comment: String,
}

/// Feedback released to a student.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackView {
    /// The evaluation.
    pub evaluation_id: Uuid,
    /// The assignment.
    pub assignment_id: String,
    /// The submission.
    pub submission_id: String,
    /// `approved` or `overridden`.
    pub status: String,
    /// The score in force, in points.
    pub score: f64,
    /// The assignment's maximum points.
    pub max_points: f64,
    /// The Chilean grade (1.0-7.0) of the score in force.
    pub grade: f64,
    /// Points and feedback per criterion.
    #[schema(value_type = Object)]
    pub criteria: serde_json::Value,
    /// Overall feedback.
    pub overall_feedback: String,
    /// The teacher's comment.
    pub teacher_comment: Option<String>,
}

/// Builds the authorization target of an evaluation.
pub(crate) async fn evaluation_target(
    caller: &Caller,
    evaluation: &Evaluation,
) -> Result<Target, ApiError> {
    let owner = caller
        .db
        .assignment_owner(&evaluation.client_id, &evaluation.assignment_id)
        .await?;
    let mut target = caller
        .client_target(&evaluation.client_id)
        .with_student(&evaluation.student_id)
        .with_feedback_released(evaluation.status.visible_to_student());
    if let Some(owner) = owner {
        target = target.with_owner_teacher(owner);
    }
    Ok(target)
}

/// An assignment and the user who created it, loaded once per request.
#[derive(Debug)]
pub(crate) struct OwnedAssignment {
    /// The assignment.
    pub assignment: Assignment,
    /// Its creator, or `None` when an API key or an operator tool created it.
    pub owner: Option<String>,
}

/// Loads the assignment a submission responds to, with its owner, and
/// authorizes the submission's evaluation. `known` contains the assignments
/// already loaded for the same request, so a batch reads each one once.
pub(crate) async fn authorize_submission(
    caller: &Caller,
    client: &str,
    body: &EvaluateRequest,
    known: &mut HashMap<String, Arc<OwnedAssignment>>,
) -> Result<Arc<OwnedAssignment>, ApiError> {
    let loaded = match known.get(&body.assignment_id) {
        Some(loaded) => Arc::clone(loaded),
        None => {
            let (assignment, owner) = caller
                .db
                .assignment_with_owner(client, &body.assignment_id)
                .await?;
            let loaded = Arc::new(OwnedAssignment { assignment, owner });
            known.insert(body.assignment_id.clone(), Arc::clone(&loaded));
            loaded
        }
    };
    let mut target = caller.client_target(client).with_student(&body.student_id);
    if let Some(owner) = &loaded.owner {
        target = target.with_owner_teacher(owner);
    }
    caller.authorize(Action::Evaluate, &target)?;
    Ok(loaded)
}

/// Evaluates one submission with the engine, returning whether it was new.
pub(crate) async fn run_evaluation(
    state: &AppState,
    caller: &Caller,
    client: &str,
    assignment: &Assignment,
    body: EvaluateRequest,
) -> Result<Outcome, ApiError> {
    let client_record = caller.db.client(client).await?;
    let input = SubmissionInput {
        submission_id: body.submission_id,
        assignment_id: body.assignment_id,
        student_id: body.student_id,
        text: body.text,
    };
    let teacher = caller.principal.user_id().map(str::to_owned);
    let outcome = state
        .engine()
        .evaluate(
            &caller.db,
            &client_record,
            assignment,
            teacher.as_deref(),
            &input,
        )
        .await?;
    if let Outcome::Evaluated(evaluation) = &outcome {
        state
            .metrics()
            .record_evaluation(caller.partner.as_str(), evaluation);
        tracing::info!(
            partner = %caller.partner,
            client = %client,
            evaluation = %evaluation.id,
            model = %evaluation.model,
            cached = evaluation.cached,
            "submission evaluated"
        );
    }
    Ok(outcome)
}

/// Evaluates one submission now and returns its evaluation: 201 when it
/// was graded now, 200 when the submission had been evaluated before.
#[utoipa::path(post, path = "/api/{partner}/v1/clients/{client}/evaluations", tag = "evaluations",
    params(("partner" = String, Path, description = "Partner slug"), ("client" = String, Path, description = "Client id")),
    request_body = EvaluateRequest,
    responses((status = 201, body = EvaluationView), (status = 200, body = EvaluationView, description = "Evaluated before"),
        (status = 400, description = "An invalid JSON body or field"),
        (status = 403, description = "The caller may not evaluate, such as a student or client admin"),
        (status = 409, description = "Same submission id with different text"),
        (status = 429, description = "The request rate or the partner's daily evaluation quota is exceeded")))]
pub async fn evaluate(
    State(state): State<AppState>,
    caller: Caller,
    Path((_partner, client)): Path<(String, String)>,
    ApiJson(body): ApiJson<EvaluateRequest>,
) -> Result<(StatusCode, Json<EvaluationView>), ApiError> {
    let loaded = authorize_submission(&caller, &client, &body, &mut HashMap::new()).await?;
    // The quota is spent here, behind the idempotency layer, so a replayed
    // retry does not spend it again.
    crate::middleware::consume_quota(&state, caller.db.partner(), 1).await?;
    match run_evaluation(&state, &caller, &client, &loaded.assignment, body).await? {
        Outcome::Evaluated(evaluation) => {
            Ok((StatusCode::CREATED, Json(EvaluationView(evaluation))))
        }
        Outcome::AlreadyEvaluated(evaluation) => {
            Ok((StatusCode::OK, Json(EvaluationView(evaluation))))
        }
    }
}

/// Lists a client's evaluations, oldest first, a page at a time. A teacher
/// gets only the evaluations they requested.
#[utoipa::path(get, path = "/api/{partner}/v1/clients/{client}/evaluations", tag = "evaluations",
    params(("partner" = String, Path, description = "Partner slug"), ("client" = String, Path, description = "Client id"), ListQuery),
    responses((status = 200, body = EvaluationPage),
        (status = 400, description = "An invalid query parameter"),
        (status = 403, description = "The caller may not list evaluations, such as a student or an API key without the scope")))]
pub async fn list_evaluations(
    caller: Caller,
    Path((_partner, client)): Path<(String, String)>,
    Query(query): Query<ListQuery>,
) -> Result<Json<EvaluationPage>, ApiError> {
    let teacher = caller.teacher_id().map(str::to_owned);
    let mut target = caller.client_target(&client);
    if let Some(teacher) = &teacher {
        target = target.with_owner_teacher(teacher);
    }
    caller.authorize(Action::ListEvaluations, &target)?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "invalid limit {limit}: use 1 to {MAX_PAGE}"
        )));
    }
    let status = query
        .status
        .as_deref()
        .map(EvaluationStatus::parse)
        .transpose()?;
    let filter = EvaluationFilter {
        client_id: Some(client),
        assignment_id: query.assignment_id,
        student_id: query.student_id,
        teacher_id: teacher.or(query.teacher_id),
        status,
        after: query.after,
        limit: Some(limit + 1),
    };
    let mut items = caller.db.evaluations(&filter).await?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|e| e.id)
    } else {
        None
    };
    Ok(Json(EvaluationPage {
        items: items.into_iter().map(EvaluationView).collect(),
        next_cursor,
    }))
}

/// Returns one evaluation.
#[utoipa::path(get, path = "/api/{partner}/v1/evaluations/{id}", tag = "evaluations",
    params(("partner" = String, Path, description = "Partner slug"), ("id" = Uuid, Path, description = "Evaluation id")),
    responses((status = 200, body = EvaluationView),
        (status = 400, description = "The id is not a UUID"),
        (status = 403, description = "The caller may not read evaluations, such as a student or an API key without the scope"),
        (status = 404, description = "No such evaluation")))]
pub async fn get_evaluation(
    caller: Caller,
    Path((_partner, id)): Path<(String, Uuid)>,
) -> Result<Json<EvaluationView>, ApiError> {
    let evaluation = caller.db.evaluation(id, caller.principal.client()).await?;
    let target = evaluation_target(&caller, &evaluation).await?;
    caller.authorize(Action::ViewEvaluation, &target)?;
    Ok(Json(EvaluationView(evaluation)))
}

async fn review(
    caller: Caller,
    id: Uuid,
    action: Action,
    review: ReviewAction,
) -> Result<Json<EvaluationView>, ApiError> {
    let evaluation = caller.db.evaluation(id, caller.principal.client()).await?;
    let target = evaluation_target(&caller, &evaluation).await?;
    caller.authorize(action, &target)?;
    let reviewed = caller
        .db
        .review_evaluation(id, Some(&evaluation.client_id), &caller.actor(), review)
        .await?;
    tracing::info!(partner = %caller.partner, evaluation = %id, status = reviewed.status.as_str(), "evaluation reviewed");
    Ok(Json(EvaluationView(reviewed)))
}

/// Approves a draft evaluation, which releases its feedback to the student.
#[utoipa::path(post, path = "/api/{partner}/v1/evaluations/{id}/approve", tag = "evaluations",
    params(("partner" = String, Path, description = "Partner slug"), ("id" = Uuid, Path, description = "Evaluation id")),
    request_body = ApproveRequest,
    responses((status = 200, body = EvaluationView),
        (status = 400, description = "The id is not a UUID, or an invalid JSON body"),
        (status = 403, description = "The caller may not review evaluations, such as a student or client admin"),
        (status = 409, description = "Already reviewed")))]
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    Path((_partner, id)): Path<(String, Uuid)>,
    body: axum::body::Bytes,
) -> Result<Json<EvaluationView>, ApiError> {
    // The body is optional: an empty one approves without a comment.
    let comment = if body.is_empty() {
        None
    } else {
        parse_json::<ApproveRequest>(&body, state.limits().max_json_depth)?.comment
    };
    review(
        caller,
        id,
        Action::ApproveEvaluation,
        ReviewAction::Approve { comment },
    )
    .await
}

/// Replaces a draft evaluation's score with the teacher's and releases it.
#[utoipa::path(post, path = "/api/{partner}/v1/evaluations/{id}/override", tag = "evaluations",
    params(("partner" = String, Path, description = "Partner slug"), ("id" = Uuid, Path, description = "Evaluation id")),
    request_body = OverrideRequest,
    responses((status = 200, body = EvaluationView),
        (status = 400, description = "The id is not a UUID, or an invalid JSON body or score"),
        (status = 403, description = "The caller may not review evaluations, such as a student or client admin"),
        (status = 409, description = "Already reviewed")))]
pub async fn override_score(
    caller: Caller,
    Path((_partner, id)): Path<(String, Uuid)>,
    ApiJson(body): ApiJson<OverrideRequest>,
) -> Result<Json<EvaluationView>, ApiError> {
    let action = ReviewAction::Override {
        score: body.score,
        comment: body.comment,
    };
    review(caller, id, Action::OverrideEvaluation, action).await
}

/// Returns a student's released feedback: approved and overridden
/// evaluations only.
#[utoipa::path(get, path = "/api/{partner}/v1/clients/{client}/students/{student}/feedback", tag = "feedback",
    params(("partner" = String, Path, description = "Partner slug"), ("client" = String, Path, description = "Client id"), ("student" = String, Path, description = "Student id")),
    responses((status = 200, body = [FeedbackView]),
        (status = 403, description = "The caller may not read feedback, such as an API key without the scope")))]
pub async fn student_feedback(
    caller: Caller,
    Path((_partner, client, student)): Path<(String, String, String)>,
) -> Result<Json<Vec<FeedbackView>>, ApiError> {
    let teacher = caller.teacher_id().map(str::to_owned);
    let mut target = caller
        .client_target(&client)
        .with_student(&student)
        .with_feedback_released(true);
    if let Some(teacher) = &teacher {
        target = target.with_owner_teacher(teacher);
    }
    caller.authorize(Action::ViewFeedback, &target)?;
    let filter = EvaluationFilter {
        client_id: Some(client),
        student_id: Some(student),
        teacher_id: teacher,
        ..EvaluationFilter::default()
    };
    let evaluations = caller.db.evaluations(&filter).await?;
    let feedback = evaluations
        .into_iter()
        .filter(|e| e.status.visible_to_student())
        .map(|e| FeedbackView {
            evaluation_id: e.id,
            score: e.final_score(),
            criteria: serde_json::to_value(&e.criteria).unwrap_or_default(),
            teacher_comment: e.review.as_ref().and_then(|r| r.teacher_comment.clone()),
            assignment_id: e.assignment_id,
            submission_id: e.submission_id,
            status: e.status.as_str().to_owned(),
            max_points: e.max_points,
            grade: e.grade,
            overall_feedback: e.overall_feedback,
        })
        .collect();
    Ok(Json(feedback))
}
