//! Batch evaluation: the request returns a job id at once, and a background
//! task evaluates the items.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use futures::stream::{self, StreamExt};
use sam_core::auth::Action;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::evaluations::{authorize_submission, run_evaluation, EvaluateRequest, OwnedAssignment};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::jobs::{Job, JobItem, JobState};
use crate::json::ApiJson;
use crate::state::AppState;

/// Most submissions accepted in one batch.
pub const MAX_BATCH_ITEMS: usize = 1000;

/// Submissions to evaluate in the background.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The submissions, evaluated in any order.
    pub items: Vec<EvaluateRequest>,
}

/// The job created for a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchAccepted {
    /// The job id for `GET /jobs/{id}`.
    pub job_id: Uuid,
    /// The number of submissions in the job.
    pub items: usize,
}

/// Starts a batch evaluation and returns its job id with 202. Every item
/// is authorized before the job starts, so no item fails authorization later.
#[utoipa::path(post, path = "/api/{partner}/v1/clients/{client}/evaluations/batch", tag = "evaluations",
    params(("partner" = String, Path, description = "Partner slug"), ("client" = String, Path, description = "Client id")),
    request_body = BatchRequest,
    responses((status = 202, body = BatchAccepted),
        (status = 400, description = "An invalid JSON body, or not 1 to 1000 items"),
        (status = 403, description = "The caller may not evaluate, such as a student or client admin"),
        (status = 429, description = "The request rate or the partner's daily evaluation quota is exceeded")))]
pub async fn start_batch(
    State(state): State<AppState>,
    caller: Caller,
    Path((_partner, client)): Path<(String, String)>,
    ApiJson(body): ApiJson<BatchRequest>,
) -> Result<(StatusCode, Json<BatchAccepted>), ApiError> {
    if body.items.is_empty() || body.items.len() > MAX_BATCH_ITEMS {
        return Err(ApiError::BadRequest(format!(
            "invalid items: send 1 to {MAX_BATCH_ITEMS} submissions, not {}",
            body.items.len()
        )));
    }
    caller.db.client(&client).await?;
    let mut known = HashMap::new();
    let mut assignments = Vec::with_capacity(body.items.len());
    for item in &body.items {
        assignments.push(authorize_submission(&caller, &client, item, &mut known).await?);
    }
    let items = u64::try_from(body.items.len()).unwrap_or(u64::MAX);
    crate::middleware::consume_quota(&state, caller.db.partner(), items).await?;
    let job = Job {
        id: Uuid::now_v7(),
        client_id: client.clone(),
        state: JobState::Running,
        created_at: chrono::Utc::now(),
        items: body
            .items
            .iter()
            .map(|item| JobItem {
                submission_id: item.submission_id.clone(),
                state: JobState::Running,
                evaluation_id: None,
                error: None,
            })
            .collect(),
        partner: Some(caller.partner.clone()),
        teacher_id: caller.teacher_id().map(str::to_owned),
    };
    let job_id = job.id;
    let count = body.items.len();
    state.jobs().insert(job);
    tracing::info!(partner = %caller.partner, client = %client, job = %job_id, items = count, "batch job started");
    tokio::spawn(run_batch(
        state,
        Arc::new(caller),
        client,
        job_id,
        body.items.into_iter().zip(assignments).collect(),
    ));
    Ok((
        StatusCode::ACCEPTED,
        Json(BatchAccepted {
            job_id,
            items: count,
        }),
    ))
}

/// Evaluates a job's items, a few at a time, recording each result.
async fn run_batch(
    state: AppState,
    caller: Arc<Caller>,
    client: String,
    job_id: Uuid,
    items: Vec<(EvaluateRequest, Arc<OwnedAssignment>)>,
) {
    let concurrency = state.limits().batch_concurrency.max(1);
    stream::iter(items.into_iter().enumerate())
        .for_each_concurrent(concurrency, |(index, (item, loaded))| {
            let state = state.clone();
            let caller = Arc::clone(&caller);
            let client = client.clone();
            async move {
                let result = run_evaluation(&state, &caller, &client, &loaded.assignment, item)
                    .await
                    .map(|outcome| outcome.evaluation().id)
                    .map_err(|err| {
                        tracing::warn!(partner = %caller.partner, job = %job_id, item = index, error = %err, "batch item failed");
                        err.to_string()
                    });
                state.jobs().finish_item(job_id, index, result);
            }
        })
        .await;
    tracing::info!(partner = %caller.partner, job = %job_id, "batch job finished");
}

/// Returns a batch job and the state of each item.
#[utoipa::path(get, path = "/api/{partner}/v1/jobs/{id}", tag = "evaluations",
    params(("partner" = String, Path, description = "Partner slug"), ("id" = Uuid, Path, description = "Job id")),
    responses((status = 200, body = Job),
        (status = 400, description = "The id is not a UUID"),
        (status = 403, description = "The caller may not list evaluations, such as a student or an API key without the scope"),
        (status = 404, description = "No such job")))]
pub async fn get_job(
    State(state): State<AppState>,
    caller: Caller,
    Path((_partner, id)): Path<(String, Uuid)>,
) -> Result<Json<Job>, ApiError> {
    let job = state
        .jobs()
        .get(id)
        .filter(|job| job.partner.as_ref() == Some(&caller.partner))
        .ok_or(ApiError::NotFound)?;
    let mut target = caller.client_target(&job.client_id);
    if let Some(teacher) = &job.teacher_id {
        target = target.with_owner_teacher(teacher);
    }
    caller.authorize(Action::ListEvaluations, &target)?;
    Ok(Json(job))
}
