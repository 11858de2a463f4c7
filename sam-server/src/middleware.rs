//! Middleware shared by every route: the request timeout, request metrics,
//! the error envelope with the request id, and the rate-limit slot.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::{ApiError, ErrorReport};
use crate::metrics::TenantLabels;
use crate::state::AppState;

/// The header that carries the request id, set by tower-http.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Returns the error envelope `{"error": {"code", "message", "request_id"}}`.
pub(crate) fn error_body(report: &ErrorReport, request_id: Option<&str>) -> serde_json::Value {
    json!({
        "error": {
            "code": report.code,
            "message": report.message,
            "request_id": request_id,
        }
    })
}

/// Runs the request under the timeout, counts it in the request metrics,
/// and writes the body of an error response with the request id.
pub async fn track(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let labels = TenantLabels::default();
    request.extensions_mut().insert(labels.clone());
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let timeout = state.limits().request_timeout;
    let response = match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout {
            secs: timeout.as_secs(),
        }
        .into_response(),
    };
    state
        .metrics()
        .record_request(&labels, response.status().as_u16());
    write_error_body(response, request_id.as_deref())
}

fn write_error_body(response: Response, request_id: Option<&str>) -> Response {
    let Some(report) = response.extensions().get::<ErrorReport>().cloned() else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    parts.extensions.remove::<ErrorReport>();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = error_body(&report, request_id).to_string();
    Response::from_parts(parts, Body::from(body))
}

/// The slot for per-partner rate limiting and daily quotas, run after
/// authentication so the caller's partner and client are known.
///
/// NOTE: this passes every request through. The Redis GCRA limiter and
/// daily quota of `sam_core::limits` plug in here, returning 429 with
/// `Retry-After` through a new `ApiError` variant.
pub async fn rate_limit(request: Request, next: Next) -> Response {
    next.run(request).await
}

/// Returns the 404 error envelope for a route that does not exist.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}
