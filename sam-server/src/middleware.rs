//! Middleware shared by every route: the request timeout, request metrics,
//! the error envelope with the request id, and the rate-limit slot.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
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
    write_error_body(response, request_id.as_deref()).await
}

/// Largest plain-text rejection body read into an error envelope, in bytes.
const MAX_REJECTION_TEXT: usize = 16 * 1024;

/// Writes the error envelope of a response that carries an [`ErrorReport`],
/// or of a plain-text error that axum wrote itself, such as a path or query
/// that does not parse or a method that the route does not serve.
async fn write_error_body(response: Response, request_id: Option<&str>) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    let (mut parts, body) = response.into_parts();
    let report = match parts.extensions.remove::<ErrorReport>() {
        Some(report) => report,
        None if parts.status.is_client_error() && !is_json => {
            let text = match to_bytes(body, MAX_REJECTION_TEXT).await {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(_) => String::new(),
            };
            rejection_report(parts.status, text)
        }
        None => return Response::from_parts(parts, body),
    };
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = error_body(&report, request_id).to_string();
    Response::from_parts(parts, Body::from(body))
}

/// Builds the report of a rejection that axum wrote as plain text.
fn rejection_report(status: StatusCode, text: String) -> ErrorReport {
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ => "invalid_request",
    };
    let message = if text.trim().is_empty() {
        status
            .canonical_reason()
            .unwrap_or("invalid request")
            .to_lowercase()
    } else {
        text.trim().to_owned()
    };
    ErrorReport { code, message }
}

/// Per-partner and per-API-key rate limiting, and the daily evaluation
/// quota, run after authentication so the caller's partner is known.
///
/// Every tenant request spends from its partner's budget (and from its API
/// key's, for key callers); a `POST` to a client's `evaluations` spends one
/// evaluation of the partner's daily quota. Batch requests spend their item
/// count in the batch handler. Allowed responses carry the
/// `x-ratelimit-*` headers; rejected ones get 429 with `retry-after`.
pub async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(caller) = request.extensions().get::<crate::auth::Caller>().cloned() else {
        return next.run(request).await;
    };
    let Some(limits) = state.rate_limits() else {
        return next.run(request).await;
    };
    let partner = caller.db.partner();
    let mut decision = limits.check_partner(partner).await;
    if decision.allowed {
        if let sam_core::auth::Principal::ApiKey(key) = &caller.principal {
            let by_key = limits.check_api_key(partner, key.prefix()).await;
            if !by_key.allowed || by_key.remaining < decision.remaining {
                decision = by_key;
            }
        }
    }
    let headers = decision.headers();
    if !decision.allowed {
        return ApiError::RateLimited {
            retry_after_secs: decision.retry_after.map_or(1, |d| d.as_secs().max(1)),
            headers,
        }
        .into_response();
    }
    let mut response = next.run(request).await;
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Spends `evaluations` of the partner's daily quota.
///
/// # Errors
/// [`ApiError::QuotaExceeded`] when the day's quota would be passed, with
/// the time until the partner's local midnight.
pub(crate) async fn consume_quota(
    state: &AppState,
    partner: &sam_core::tenancy::Partner,
    evaluations: u64,
) -> Result<(), ApiError> {
    let Some(limits) = state.rate_limits() else {
        return Ok(());
    };
    let decision = limits
        .consume_quota(partner, evaluations)
        .await
        .map_err(|err| ApiError::Internal(format!("quota check failed: {err}")))?;
    if decision.allowed {
        return Ok(());
    }
    let retry_after = (decision.resets_at - state.clock().now())
        .num_seconds()
        .max(1);
    Err(ApiError::QuotaExceeded {
        limit: decision.limit,
        resets_at: decision.resets_at,
        retry_after_secs: u64::try_from(retry_after).unwrap_or(1),
    })
}

/// Returns the 404 error envelope for a route that does not exist.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}
