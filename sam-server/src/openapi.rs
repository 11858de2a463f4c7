//! The OpenAPI 3 document, generated from the handlers' annotations.

use axum::Json;
use serde::Serialize;
use utoipa::openapi::header::Header;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::Response;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Object, Ref, RefOr, Type};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::handlers::{assignments, batch, billing, evaluations, health, keys, tenants};

/// The API description served at `/api/openapi.json`.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "SAM API", description = "Grading of student work with large language models, per partner and client."),
    paths(
        health::healthz,
        health::readyz,
        health::partner_health,
        tenants::create_client,
        tenants::list_clients,
        tenants::create_user,
        tenants::list_users,
        assignments::create_assignment,
        assignments::list_assignments,
        assignments::get_assignment,
        evaluations::evaluate,
        evaluations::list_evaluations,
        evaluations::get_evaluation,
        evaluations::approve,
        evaluations::override_score,
        evaluations::student_feedback,
        batch::start_batch,
        batch::get_job,
        keys::create_key,
        keys::list_keys,
        keys::revoke_key,
        billing::usage,
        billing::invoice,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&SecuritySchemes, &ErrorResponses),
    security(("bearer" = []), ("api_key" = []))
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        );
    }
}

/// The body of every error response, written by the envelope middleware.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What failed.
    pub error: ErrorDetail,
}

/// The fields of an error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable code such as `unauthenticated`, `not_found` or `rate_limited`.
    pub code: String,
    /// A sentence naming what failed, on which value, and what to do next.
    /// Server errors get a generic sentence, and their cause is logged
    /// under the request id.
    pub message: String,
    /// The `x-request-id` of the request.
    pub request_id: Option<String>,
}

/// The path prefix of the tenant routes, which all pass through
/// authentication and the rate limiter.
const TENANT_PREFIX: &str = "/api/{partner}/v1/";

const UNAUTHENTICATED: &str = "Missing or invalid credentials";
/// The reason for a 404 on every tenant route, as a clause.
const OTHER_PARTNER: &str =
    "the path names another partner than the caller's, or a partner that does not exist or is suspended";
const RATE_LIMITED: &str = "The partner's or API key's request rate is exceeded";

/// Adds the responses that the middleware returns on every tenant route
/// (401, 404 and 429) to each tenant operation, and the error envelope
/// schema to every 4xx and 5xx response documented without a body.
// NOTE: the document still lacks 408 (request timeout), 413 (body too
// large), 422 (Idempotency-Key reused with another request) and 502 (no
// evaluator could grade), and its 400 descriptions of POST routes do not
// name an invalid Idempotency-Key.
struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let tenant = path.starts_with(TENANT_PREFIX);
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                if tenant {
                    add_tenant_errors(operation);
                }
                add_error_bodies(operation);
            }
        }
    }
}

/// Adds 401, 404 and 429 to a tenant operation. A 404 the handler documents
/// for its own reasons keeps its description, followed by the middleware's.
fn add_tenant_errors(operation: &mut Operation) {
    let responses = &mut operation.responses.responses;
    responses
        .entry("401".to_owned())
        .or_insert_with(|| Response::new(UNAUTHENTICATED).into());
    match responses.get_mut("404") {
        Some(RefOr::T(response)) => {
            response.description = format!("{}, or {OTHER_PARTNER}", response.description);
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            let description = format!("Not found: {OTHER_PARTNER}");
            responses.insert("404".to_owned(), Response::new(description).into());
        }
    }
    let rate_limited = responses
        .entry("429".to_owned())
        .or_insert_with(|| Response::new(RATE_LIMITED).into());
    if let RefOr::T(response) = rate_limited {
        add_rate_limit_headers(response);
    }
}

/// Documents the headers of a 429 from the rate limiter. The daily
/// evaluation quota sends only `retry-after`.
fn add_rate_limit_headers(response: &mut Response) {
    let whole_number = || Header::new(Object::with_type(Type::Integer));
    let headers = [
        ("retry-after", "Seconds until a request would be admitted"),
        ("x-ratelimit-limit", "Requests allowed in a burst"),
        (
            "x-ratelimit-remaining",
            "Requests left in the burst, 0 on a rejection",
        ),
        ("x-ratelimit-reset", "Seconds until the burst is full again"),
    ];
    for (name, description) in headers {
        let mut header = whole_number();
        let description = match name {
            "retry-after" => description.to_owned(),
            _ => format!(
                "{description}. Absent when the daily evaluation quota rejected the request"
            ),
        };
        header.description = Some(description);
        response.headers.insert(name.to_owned(), header);
    }
}

/// Gives every 4xx and 5xx response without a documented body the error
/// envelope.
fn add_error_bodies(operation: &mut Operation) {
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let is_error = status.starts_with('4') || status.starts_with('5');
        if is_error && response.content.is_empty() {
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build();
            response
                .content
                .insert("application/json".to_owned(), content);
        }
    }
}

/// Serves the OpenAPI document.
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
