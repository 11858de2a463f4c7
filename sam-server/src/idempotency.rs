//! `Idempotency-Key` on POST requests: a retry with the same key and the
//! same request gets the first response, without running the request again.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sam_core::store::IdempotencyClaim;
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The request header that carries the key.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// The response header set on a replayed response.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Maximum key length, in bytes.
pub const MAX_KEY_LEN: usize = 255;

/// Largest response body stored for a replay, in bytes.
const MAX_STORED_RESPONSE: usize = 4 * 1024 * 1024;

/// Runs a POST request at most once per partner and `Idempotency-Key`.
///
/// The key is claimed in the partner's `idempotency_keys` table before the
/// handler runs, so of two concurrent requests with one key only the first
/// runs and the second gets 409. A finished response below 500 is stored
/// and replayed to every retry with the same request. A 5xx response
/// releases the key so that a retry runs again, and so does a request that
/// is dropped before it finishes, because the client disconnected or the
/// request timed out. A claim left by a server that stopped is taken over
/// after twice the request timeout. The same key with another method,
/// path, body or caller gets 422.
pub async fn idempotency(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(IDEMPOTENCY_HEADER) else {
        return next.run(request).await;
    };
    match run_once(&state, key.clone(), request, next).await {
        Ok(response) | Err(response) => response,
    }
}

async fn run_once(
    state: &AppState,
    key: HeaderValue,
    request: Request,
    next: Next,
) -> Result<Response, Response> {
    let key = validate_key(&key).map_err(IntoResponse::into_response)?;
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| {
            ApiError::Internal("idempotency middleware without the auth middleware".into())
                .into_response()
        })?;
    let (parts, body) = request.into_parts();
    let max = state.limits().max_body_bytes;
    let bytes = to_bytes(body, max)
        .await
        .map_err(|_| ApiError::PayloadTooLarge { max }.into_response())?;
    let hash = request_hash(&caller, parts.method.as_str(), parts.uri.path(), &bytes);

    let claim = caller
        .db
        .claim_idempotency(&key, &hash, stale_after(state))
        .await
        .map_err(|err| ApiError::from(err).into_response())?;
    match claim {
        IdempotencyClaim::Claimed => {}
        IdempotencyClaim::Completed { status, body } => return Ok(replay(status, body)),
        IdempotencyClaim::InProgress => {
            return Err(ApiError::Conflict(
                "a request with this Idempotency-Key is still running; retry later".into(),
            )
            .into_response())
        }
        IdempotencyClaim::Mismatch => return Err(ApiError::IdempotencyMismatch.into_response()),
    }

    let mut claim = ClaimGuard {
        caller: Some(caller.clone()),
        key: key.clone(),
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let response = finish(&caller, &key, response).await;
    claim.disarm();
    Ok(response)
}

/// Releases a claim whose request was dropped before it finished, such as
/// when the client disconnected or the request timed out, so that a retry
/// runs at once and does not get 409 until the claim turns stale.
struct ClaimGuard {
    caller: Option<Caller>,
    key: String,
}

impl ClaimGuard {
    /// Keeps the claim: the request finished and stored or released it.
    fn disarm(&mut self) {
        self.caller = None;
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        let Some(caller) = self.caller.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let key = std::mem::take(&mut self.key);
        runtime.spawn(async move {
            tracing::debug!(partner = %caller.partner, "releasing the idempotency claim of a dropped request");
            if let Err(err) = caller.db.release_idempotency(&key).await {
                tracing::error!(partner = %caller.partner, error = %err, "releasing an idempotency key failed");
            }
        });
    }
}

/// Returns the age after which an unfinished claim is taken over: twice
/// the request timeout, because the timeout middleware has cancelled the
/// first request by then.
fn stale_after(state: &AppState) -> std::time::Duration {
    state.limits().request_timeout.saturating_mul(2)
}

fn validate_key(value: &HeaderValue) -> Result<String, ApiError> {
    let key = value
        .to_str()
        .ok()
        .filter(|key| !key.is_empty() && key.len() <= MAX_KEY_LEN)
        .filter(|key| key.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "invalid Idempotency-Key: use 1 to {MAX_KEY_LEN} printable ASCII characters"
            ))
        })?;
    Ok(key.to_owned())
}

/// Returns the hex SHA-256 of the caller, method, path and body, so that a
/// key reused by another caller or for another request is a mismatch.
fn request_hash(caller: &Caller, method: &str, path: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    for part in [
        caller.principal.to_string().as_bytes(),
        method.as_bytes(),
        path.as_bytes(),
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// Stores a finished response for replay, or releases the key after a
/// server error, and returns the response.
async fn finish(caller: &Caller, key: &str, response: Response) -> Response {
    let status = response.status();
    if status.is_server_error() {
        if let Err(err) = caller.db.release_idempotency(key).await {
            tracing::error!(partner = %caller.partner, error = %err, "releasing an idempotency key failed");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match to_bytes(body, MAX_STORED_RESPONSE).await {
        Ok(bytes) => bytes,
        Err(err) => {
            tracing::error!(partner = %caller.partner, error = %err, "reading a response for idempotency failed");
            if let Err(err) = caller.db.release_idempotency(key).await {
                tracing::error!(partner = %caller.partner, error = %err, "releasing an idempotency key failed");
            }
            return ApiError::Internal(format!("response body unreadable: {err}")).into_response();
        }
    };
    // An error response carries its report in an extension, not in the
    // body, so store the envelope body that the caller will see.
    let stored_body = match parts.extensions.get::<crate::error::ErrorReport>() {
        Some(report) => crate::middleware::error_body(report, None).to_string(),
        None => String::from_utf8_lossy(&bytes).into_owned(),
    };
    if let Err(err) = caller
        .db
        .complete_idempotency(key, status.as_u16(), &stored_body)
        .await
    {
        tracing::error!(partner = %caller.partner, error = %err, "storing an idempotent response failed");
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn replay(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}
