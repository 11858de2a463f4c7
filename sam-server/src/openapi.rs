//! The OpenAPI 3 document, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

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
    modifiers(&SecuritySchemes),
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

/// Serves the OpenAPI document.
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
