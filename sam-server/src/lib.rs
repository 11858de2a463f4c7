//! The SAM HTTP API: tenant routes under `/api/{partner}/v1/`, health,
//! metrics and the OpenAPI document, over the `sam-core` library.

pub mod auth;
pub mod error;
pub mod handlers;
pub mod idempotency;
pub mod jobs;
pub mod json;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod run;
pub mod state;

use axum::extract::DefaultBodyLimit;
use axum::http::HeaderName;
use axum::routing::{get, post};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnFailure, TraceLayer};

pub use error::ApiError;
pub use state::{AppState, Limits};

use handlers::{assignments, batch, billing, evaluations, health, keys, tenants};

/// Builds the whole API over `state`.
pub fn app(state: AppState) -> Router {
    let request_id = HeaderName::from_static(middleware::REQUEST_ID_HEADER);
    let max_body = state.limits().max_body_bytes;
    Router::new()
        .merge(tenant_routes(state.clone()))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/api/openapi.json", get(openapi::openapi_json))
        .fallback(middleware::not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        // ApiError logs each failure once with its cause.
                        .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
                )
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    middleware::track,
                )),
        )
        .with_state(state)
}

/// Opens the span of one request. The query string stays out of it, and
/// the auth middleware records the partner and client once validated.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get(middleware::REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id,
        partner = tracing::field::Empty,
        client = tracing::field::Empty,
    )
}

/// Builds the tenant routes, each behind authentication, the rate-limit slot and
/// idempotency, in that order. The API key routes skip idempotency, because
/// a stored response would keep a new key's secret in the database.
fn tenant_routes(state: AppState) -> Router<AppState> {
    const BASE: &str = "/api/{partner}/v1";
    let path = |suffix: &str| format!("{BASE}{suffix}");
    let key_routes = Router::new()
        .route(&path("/keys"), get(keys::list_keys).post(keys::create_key))
        .route(&path("/keys/{prefix}/revoke"), post(keys::revoke_key));
    Router::new()
        .route(&path("/health"), get(health::partner_health))
        .route(
            &path("/clients"),
            get(tenants::list_clients).post(tenants::create_client),
        )
        .route(
            &path("/clients/{client}/users"),
            get(tenants::list_users).post(tenants::create_user),
        )
        .route(
            &path("/clients/{client}/assignments"),
            get(assignments::list_assignments).post(assignments::create_assignment),
        )
        .route(
            &path("/clients/{client}/assignments/{id}"),
            get(assignments::get_assignment),
        )
        .route(
            &path("/clients/{client}/evaluations"),
            get(evaluations::list_evaluations).post(evaluations::evaluate),
        )
        .route(
            &path("/clients/{client}/evaluations/batch"),
            post(batch::start_batch),
        )
        .route(
            &path("/clients/{client}/students/{student}/feedback"),
            get(evaluations::student_feedback),
        )
        .route(&path("/evaluations/{id}"), get(evaluations::get_evaluation))
        .route(
            &path("/evaluations/{id}/approve"),
            post(evaluations::approve),
        )
        .route(
            &path("/evaluations/{id}/override"),
            post(evaluations::override_score),
        )
        .route(&path("/jobs/{id}"), get(batch::get_job))
        .route(&path("/usage"), get(billing::usage))
        .route(&path("/invoices/{month}"), get(billing::invoice))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency::idempotency,
        ))
        .merge(key_routes)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::rate_limit,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            auth::authenticate,
        ))
}
