//! The API's one error type, and the single place where each error gets its
//! HTTP status, its code and its log level.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sam_core::auth::AuthError;
use sam_core::billing::BillingError;
use sam_core::eval::EvalError;
use sam_core::tenancy::TenancyError;

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No credential, or one that failed verification.
    #[error("missing or invalid credentials: send `Authorization: Bearer <token>` or `X-Api-Key`")]
    Unauthenticated,
    /// The caller may see the resource but not perform the operation.
    #[error("permission denied")]
    Forbidden,
    /// The resource does not exist or lies outside the caller's scope; both
    /// get the same body.
    #[error("not found")]
    NotFound,
    /// The caller's own partner has no such resource, with a message that
    /// names only the caller's own data, such as a month before the
    /// partner was created.
    #[error("{0}")]
    NotFoundDetail(String),
    /// The request is malformed or a field is invalid.
    #[error("{0}")]
    BadRequest(String),
    /// The request conflicts with stored state.
    #[error("{0}")]
    Conflict(String),
    /// An `Idempotency-Key` was reused with a different request.
    #[error("Idempotency-Key was already used with a different request; use a new key")]
    IdempotencyMismatch,
    /// The request body exceeds the limit.
    #[error("request body is larger than {max} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        max: usize,
    },
    /// The request did not finish in time.
    #[error("request timed out after {secs} s")]
    Timeout {
        /// The limit in seconds.
        secs: u64,
    },
    /// The caller's partner or API key sent requests faster than its rate.
    #[error("rate limit exceeded; retry after {retry_after_secs} s")]
    RateLimited {
        /// Seconds until a request would be admitted.
        retry_after_secs: u64,
        /// The `x-ratelimit-*` and `retry-after` headers to send.
        headers: Vec<(&'static str, String)>,
    },
    /// The partner's daily evaluation quota is used up.
    #[error("daily evaluation quota of {limit} is used up; it resets at {resets_at}")]
    QuotaExceeded {
        /// Evaluations allowed per partner-local day.
        limit: u64,
        /// When the quota resets (the partner's next local midnight).
        resets_at: chrono::DateTime<chrono::Utc>,
        /// Seconds until then.
        retry_after_secs: u64,
    },
    /// No evaluator could grade the submission; the cause is logged.
    #[error("grading failed: {0}")]
    Upstream(String),
    /// A failure inside the server or its database; the cause is logged.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The status, stable code and log level of an error.
struct Mapping {
    status: StatusCode,
    code: &'static str,
    level: tracing::Level,
}

impl ApiError {
    fn mapping(&self) -> Mapping {
        use tracing::Level;
        let (status, code, level) = match self {
            Self::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated", Level::DEBUG),
            // A caller with a valid credential was denied: logged at info, so
            // the request id that samctl prints finds the line.
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden", Level::INFO),
            Self::NotFound | Self::NotFoundDetail(_) => {
                (StatusCode::NOT_FOUND, "not_found", Level::DEBUG)
            }
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request", Level::DEBUG),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict", Level::INFO),
            Self::IdempotencyMismatch => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                Level::INFO,
            ),
            Self::PayloadTooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                Level::INFO,
            ),
            Self::Timeout { .. } => (StatusCode::REQUEST_TIMEOUT, "timeout", Level::WARN),
            Self::RateLimited { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "rate_limited", Level::DEBUG)
            }
            Self::QuotaExceeded { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", Level::INFO)
            }
            Self::Upstream(_) => (StatusCode::BAD_GATEWAY, "upstream_failed", Level::ERROR),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", Level::ERROR),
        };
        Mapping {
            status,
            code,
            level,
        }
    }

    /// Returns the HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        self.mapping().status
    }

    /// Returns the message sent to the caller: the error itself for 4xx,
    /// and a generic sentence for 5xx, whose cause may name internals.
    fn public_message(&self) -> String {
        if self.status().is_server_error() {
            "the server failed to process the request; retry later or report the request id"
                .to_owned()
        } else {
            self.to_string()
        }
    }
}

/// The error as it travels from `IntoResponse` to the envelope middleware,
/// which adds the request id and writes the body.
#[derive(Debug, Clone)]
pub(crate) struct ErrorReport {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mapping = self.mapping();
        log_error(&self, mapping.level);
        let report = ErrorReport {
            code: mapping.code,
            message: self.public_message(),
        };
        let mut response = mapping.status.into_response();
        let headers: Vec<(&'static str, String)> = match &self {
            Self::RateLimited { headers, .. } => headers.clone(),
            Self::QuotaExceeded {
                retry_after_secs, ..
            } => vec![("retry-after", retry_after_secs.to_string())],
            _ => Vec::new(),
        };
        for (name, value) in headers {
            if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response.extensions_mut().insert(report);
        response
    }
}

/// Logs the error once, at its level, with the full cause.
fn log_error(error: &ApiError, level: tracing::Level) {
    let status = error.status().as_u16();
    match level {
        tracing::Level::ERROR => tracing::error!(status, error = %error, "request failed"),
        tracing::Level::WARN => tracing::warn!(status, error = %error, "request failed"),
        tracing::Level::INFO => tracing::info!(status, error = %error, "request rejected"),
        _ => tracing::debug!(status, error = %error, "request rejected"),
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Unauthenticated | AuthError::InvalidToken | AuthError::InvalidApiKey => {
                Self::Unauthenticated
            }
            AuthError::Forbidden => Self::Forbidden,
            AuthError::NotFound => Self::NotFound,
            AuthError::InvalidInput { .. } => Self::BadRequest(err.to_string()),
            AuthError::Store(err) => err.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<TenancyError> for ApiError {
    fn from(err: TenancyError) -> Self {
        match err {
            TenancyError::NotFound { .. } => Self::NotFound,
            // A suspended partner's data is hidden exactly like a missing one.
            TenancyError::PartnerUnavailable { .. } => Self::NotFound,
            TenancyError::InvalidInput { .. } | TenancyError::InvalidSlug { .. } => {
                Self::BadRequest(err.to_string())
            }
            TenancyError::AlreadyExists { .. } => Self::Conflict(err.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<EvalError> for ApiError {
    fn from(err: EvalError) -> Self {
        match err {
            EvalError::InvalidField { .. } => Self::BadRequest(err.to_string()),
            EvalError::SubmissionTooLarge { max, .. } => Self::PayloadTooLarge { max },
            EvalError::DuplicateSubmission { .. } | EvalError::InvalidState { .. } => {
                Self::Conflict(err.to_string())
            }
            EvalError::EvaluatorFailed(cause) => Self::Upstream(cause),
            EvalError::Tenancy(err) => err.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<BillingError> for ApiError {
    fn from(err: BillingError) -> Self {
        match err {
            BillingError::InvalidMonth { .. } | BillingError::InvalidRange { .. } => {
                Self::BadRequest(err.to_string())
            }
            // A month before the partner existed has no invoice. The
            // message names only the caller's own partner, which the auth
            // middleware has checked already.
            BillingError::BeforePartnerCreated { .. } => Self::NotFoundDetail(err.to_string()),
            BillingError::MonthNotEnded { .. }
            | BillingError::AlreadyClosed { .. }
            | BillingError::CurrencyChanged { .. } => Self::Conflict(err.to_string()),
            BillingError::Tenancy(err) => err.into(),
            // An invalid plan, a missing exchange rate or a stored time zone
            // that is unknown are the operator's configuration to fix.
            other => Self::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_statuses() {
        let cases = [
            (ApiError::from(AuthError::InvalidToken), 401),
            (ApiError::from(AuthError::InvalidApiKey), 401),
            (ApiError::from(AuthError::Forbidden), 403),
            (ApiError::from(AuthError::NotFound), 404),
            (ApiError::from(TenancyError::not_found("client", "c9")), 404),
            (
                ApiError::from(TenancyError::AlreadyExists {
                    kind: "client",
                    id: "c1".to_owned(),
                }),
                409,
            ),
            (
                ApiError::from(EvalError::invalid_field("score", 9, "too high")),
                400,
            ),
            (
                ApiError::from(EvalError::EvaluatorFailed("down".to_owned())),
                502,
            ),
            (ApiError::IdempotencyMismatch, 422),
            (ApiError::Timeout { secs: 1 }, 408),
        ];
        for (error, status) in cases {
            assert_eq!(error.status().as_u16(), status, "{error}");
        }
    }

    #[test]
    fn server_errors_hide_their_cause() {
        let error = ApiError::Internal("password=hunter2 in connection string".to_owned());
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let report = response.extensions().get::<ErrorReport>().cloned();
        let report = report.unwrap_or(ErrorReport {
            code: "missing",
            message: String::new(),
        });
        assert_eq!(report.code, "internal");
        assert!(!report.message.contains("hunter2"), "{}", report.message);
    }
}
