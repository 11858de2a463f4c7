//! Assignments of a client. Students read them without the reference answer.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use sam_core::auth::{Action, Target};
use sam_core::eval::{Assignment, AssignmentInput};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::json::ApiJson;

/// An assignment as returned by the API.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssignmentView {
    /// Identifier, unique within the client.
    pub assignment_id: String,
    /// The client that owns it.
    pub client_id: String,
    /// Title.
    pub title: String,
    /// The question or task.
    pub prompt: String,
    /// The instructor's answer; never shown to students.
    pub reference_answer: Option<String>,
    /// Maximum points.
    pub max_points: f64,
    /// `es` or `en`.
    pub language: String,
    /// The criteria with their points and levels.
    #[schema(value_type = Object)]
    pub rubric: serde_json::Value,
    /// The user who created it, if a user did.
    pub created_by: Option<String>,
}

impl AssignmentView {
    fn new(assignment: Assignment, created_by: Option<String>, for_student: bool) -> Self {
        Self {
            rubric: serde_json::to_value(&assignment.rubric).unwrap_or_default(),
            assignment_id: assignment.assignment_id,
            client_id: assignment.client_id,
            title: assignment.title,
            prompt: assignment.prompt,
            reference_answer: if for_student {
                None
            } else {
                assignment.reference_answer
            },
            max_points: assignment.max_points,
            language: assignment.language.as_str().to_owned(),
            created_by,
        }
    }
}

/// The target of an assignment: its client and, when known, its owner.
fn assignment_target(caller: &Caller, client: &str, owner: Option<&str>) -> Target {
    let target = caller.client_target(client);
    match owner {
        Some(owner) => target.with_owner_teacher(owner),
        None => target,
    }
}

/// Creates an assignment of a client. A teacher becomes its owner.
#[utoipa::path(post, path = "/api/{partner}/v1/clients/{client}/assignments", tag = "assignments",
    params(("partner" = String, Path, description = "Partner slug"), ("client" = String, Path, description = "Client id")),
    request_body(content = Object, description = "An assignment: id, prompt, max_points, and optionally title, reference_answer, language and rubric"),
    responses((status = 201, body = AssignmentView),
        (status = 400, description = "An invalid JSON body or assignment"),
        (status = 403, description = "The caller may not create assignments, such as a student or client admin"),
        (status = 409, description = "The assignment id is taken")))]
pub async fn create_assignment(
    caller: Caller,
    Path((_partner, client)): Path<(String, String)>,
    ApiJson(input): ApiJson<AssignmentInput>,
) -> Result<(StatusCode, Json<AssignmentView>), ApiError> {
    let owner = caller.principal.user_id();
    caller.authorize(
        Action::CreateAssignment,
        &assignment_target(&caller, &client, caller.teacher_id()),
    )?;
    let assignment = input.into_assignment(&client)?;
    caller.db.create_assignment(&assignment, owner).await?;
    tracing::info!(partner = %caller.partner, client = %client, assignment = %assignment.assignment_id, "assignment created");
    let view = AssignmentView::new(assignment, owner.map(str::to_owned), false);
    Ok((StatusCode::CREATED, Json(view)))
}

/// Lists a client's assignments; a teacher sees the ones they own.
#[utoipa::path(get, path = "/api/{partner}/v1/clients/{client}/assignments", tag = "assignments",
    params(("partner" = String, Path, description = "Partner slug"), ("client" = String, Path, description = "Client id")),
    responses((status = 200, body = [AssignmentView])))]
pub async fn list_assignments(
    caller: Caller,
    Path((_partner, client)): Path<(String, String)>,
) -> Result<Json<Vec<AssignmentView>>, ApiError> {
    let teacher = caller.teacher_id().map(str::to_owned);
    caller.authorize(
        Action::ListAssignments,
        &assignment_target(&caller, &client, teacher.as_deref()),
    )?;
    let mut views = Vec::new();
    for assignment in caller.db.assignments(&client).await? {
        let owner = caller
            .db
            .assignment_owner(&client, &assignment.assignment_id)
            .await?;
        if teacher.is_some() && owner != teacher {
            continue;
        }
        views.push(AssignmentView::new(assignment, owner, caller.is_student()));
    }
    Ok(Json(views))
}

/// Returns one assignment; students get it without the reference answer.
#[utoipa::path(get, path = "/api/{partner}/v1/clients/{client}/assignments/{id}", tag = "assignments",
    params(("partner" = String, Path, description = "Partner slug"), ("client" = String, Path, description = "Client id"), ("id" = String, Path, description = "Assignment id")),
    responses((status = 200, body = AssignmentView), (status = 404, description = "No such assignment")))]
pub async fn get_assignment(
    caller: Caller,
    Path((_partner, client, id)): Path<(String, String, String)>,
) -> Result<Json<AssignmentView>, ApiError> {
    let owner = caller.db.assignment_owner(&client, &id).await?;
    caller.authorize(
        Action::ViewAssignment,
        &assignment_target(&caller, &client, owner.as_deref()),
    )?;
    let assignment = caller.db.assignment(&client, &id).await?;
    Ok(Json(AssignmentView::new(
        assignment,
        owner,
        caller.is_student(),
    )))
}
