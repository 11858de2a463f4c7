//! Clients and users inside the caller's partner.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use rust_decimal::Decimal;
use sam_core::auth::{Action, Target};
use sam_core::tenancy::{Client, GradeScale, InstitutionType, NewClient, NewUser, Role, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::json::ApiJson;

/// A client to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClientRequest {
    /// Identifier, unique within the partner.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// `k12`, `university`, `technical` or `municipal`.
    pub institution_type: String,
    /// Number of students.
    #[serde(default)]
    pub students_count: i64,
    /// Number of teachers.
    #[serde(default)]
    pub teachers_count: i64,
    /// The fraction of the points that earns the passing grade 4.0, such as
    /// `"0.6"`; the default grade scale's when absent.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub exigencia: Option<Decimal>,
}

/// A client as returned by the API.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    /// Identifier, unique within the partner.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Kind of institution.
    pub institution_type: String,
    /// Number of students.
    pub students_count: i64,
    /// Number of teachers.
    pub teachers_count: i64,
    /// The grade scale's exigencia: the fraction of the points that earns the passing grade.
    #[schema(value_type = String)]
    pub exigencia: Decimal,
    /// Creation time.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<Client> for ClientView {
    fn from(client: Client) -> Self {
        Self {
            client_id: client.client_id,
            name: client.name,
            institution_type: client.institution_type.to_string(),
            students_count: client.students_count,
            teachers_count: client.teachers_count,
            exigencia: client.grade_scale.exigencia,
            created_at: client.created_at,
        }
    }
}

/// A user to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// Identifier, unique within the partner.
    pub user_id: String,
    /// `client_admin`, `teacher` or `student`.
    pub role: String,
    /// Contact e-mail.
    #[serde(default)]
    pub email: Option<String>,
}

/// A user as returned by the API.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Identifier, unique within the partner.
    pub user_id: String,
    /// The client the user belongs to.
    pub client_id: String,
    /// Role.
    pub role: String,
    /// Contact e-mail.
    pub email: Option<String>,
    /// Whether the user may act.
    pub active: bool,
    /// Creation time.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            user_id: user.user_id,
            client_id: user.client_id,
            role: user.role.to_string(),
            email: user.email,
            active: user.active,
            created_at: user.created_at,
        }
    }
}

/// Creates a client of the partner.
#[utoipa::path(post, path = "/api/{partner}/v1/clients", tag = "clients",
    params(("partner" = String, Path, description = "Partner slug")),
    request_body = CreateClientRequest,
    responses((status = 201, body = ClientView),
        (status = 400, description = "An invalid JSON body, client id or institution type"),
        (status = 403, description = "The caller is not a partner admin"),
        (status = 409, description = "The client id is taken")))]
pub async fn create_client(
    caller: Caller,
    ApiJson(body): ApiJson<CreateClientRequest>,
) -> Result<(StatusCode, Json<ClientView>), ApiError> {
    caller.authorize(Action::CreateClient, &caller.client_target(&body.client_id))?;
    let institution_type: InstitutionType = body.institution_type.parse()?;
    let client = caller
        .db
        .create_client(NewClient {
            client_id: body.client_id,
            name: body.name,
            institution_type,
            students_count: body.students_count,
            teachers_count: body.teachers_count,
            grade_scale: match body.exigencia {
                Some(exigencia) => GradeScale {
                    exigencia,
                    ..GradeScale::default()
                },
                None => GradeScale::default(),
            },
        })
        .await?;
    tracing::info!(partner = %caller.partner, client = %client.client_id, "client created");
    Ok((StatusCode::CREATED, Json(client.into())))
}

/// Lists the clients the caller may see: all of the partner's for a
/// partner admin, the caller's own for a client-bound caller.
#[utoipa::path(get, path = "/api/{partner}/v1/clients", tag = "clients",
    params(("partner" = String, Path, description = "Partner slug")),
    responses((status = 200, body = [ClientView]),
        (status = 403, description = "The caller may not list clients, such as a teacher, student or API key")))]
pub async fn list_clients(caller: Caller) -> Result<Json<Vec<ClientView>>, ApiError> {
    if let Some(own) = caller.principal.client().map(str::to_owned) {
        caller.authorize(Action::ViewClient, &caller.client_target(&own))?;
        let client = caller.db.client(&own).await?;
        return Ok(Json(vec![client.into()]));
    }
    caller.authorize(
        Action::ListClients,
        &Target::partner(caller.partner.clone()),
    )?;
    let clients = caller.db.clients().await?;
    Ok(Json(clients.into_iter().map(ClientView::from).collect()))
}

/// Creates a user of a client. A partner admin may create client admins,
/// teachers and students; a client admin teachers and students.
#[utoipa::path(post, path = "/api/{partner}/v1/clients/{client}/users", tag = "users",
    params(("partner" = String, Path, description = "Partner slug"), ("client" = String, Path, description = "Client id")),
    request_body = CreateUserRequest,
    responses((status = 201, body = UserView),
        (status = 400, description = "An invalid JSON body, user id or role"),
        (status = 403, description = "The caller may not create users, or not with this role"),
        (status = 409, description = "The user id is taken")))]
pub async fn create_user(
    caller: Caller,
    Path((_partner, client)): Path<(String, String)>,
    ApiJson(body): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    caller.authorize(Action::CreateUser, &caller.client_target(&client))?;
    let role: Role = body.role.parse()?;
    let allowed = match caller.principal.role() {
        Some(Role::ClientAdmin) => matches!(role, Role::Teacher | Role::Student),
        _ => matches!(role, Role::ClientAdmin | Role::Teacher | Role::Student),
    };
    if !allowed {
        return Err(ApiError::BadRequest(format!(
            "invalid role {role}: this caller may create only {}",
            if caller.principal.role() == Some(Role::ClientAdmin) {
                "teacher and student users"
            } else {
                "client_admin, teacher and student users"
            }
        )));
    }
    let user = caller
        .db
        .create_user(NewUser {
            user_id: body.user_id,
            client_id: client,
            role,
            email: body.email,
        })
        .await?;
    tracing::info!(partner = %caller.partner, user = %user.user_id, role = %user.role, "user created");
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Lists the users of a client.
#[utoipa::path(get, path = "/api/{partner}/v1/clients/{client}/users", tag = "users",
    params(("partner" = String, Path, description = "Partner slug"), ("client" = String, Path, description = "Client id")),
    responses((status = 200, body = [UserView]),
        (status = 403, description = "The caller may not list users, such as a teacher, student or API key")))]
pub async fn list_users(
    caller: Caller,
    Path((_partner, client)): Path<(String, String)>,
) -> Result<Json<Vec<UserView>>, ApiError> {
    caller.authorize(Action::ListUsers, &caller.client_target(&client))?;
    caller.db.client(&client).await?;
    let users = caller.db.users(Some(&client)).await?;
    Ok(Json(users.into_iter().map(UserView::from).collect()))
}
