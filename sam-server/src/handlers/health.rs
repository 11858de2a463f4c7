//! Liveness, readiness, a partner's own health view, and the metrics page.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sam_core::auth::{Action, Target};
use sam_core::llm::{BreakerState, PROVIDER_NAMES};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The result of a health check.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when a check failed.
    pub status: &'static str,
    /// Each check and its result, `ok` or the reason it failed.
    pub checks: BTreeMap<String, String>,
    /// The circuit breaker state of each LLM provider: `closed`, `open` or
    /// `half_open`. Only in a partner's health view.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub breakers: BTreeMap<String, String>,
}

impl Health {
    fn from_checks(checks: BTreeMap<String, String>) -> (StatusCode, Json<Self>) {
        let healthy = checks.values().all(|value| value == "ok");
        let (status, text) = if healthy {
            (StatusCode::OK, "ok")
        } else {
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        };
        let body = Self {
            status: text,
            checks,
            breakers: BTreeMap::new(),
        };
        (status, Json(body))
    }
}

/// Reports that the process is alive.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        checks: BTreeMap::new(),
        breakers: BTreeMap::new(),
    })
}

/// Reports whether the database, and Redis when configured, are reachable.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let mut checks = BTreeMap::new();
    let database = match state.store().ping().await {
        Ok(()) => "ok".to_owned(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check of the database failed");
            "unreachable".to_owned()
        }
    };
    checks.insert("database".to_owned(), database);
    if let Some(client) = state.redis() {
        checks.insert("redis".to_owned(), redis_check(client).await);
    }
    Health::from_checks(checks)
}

async fn redis_check(client: &redis::Client) -> String {
    let ping = async {
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
    };
    match tokio::time::timeout(std::time::Duration::from_secs(2), ping).await {
        Ok(Ok(_)) => "ok".to_owned(),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check of Redis failed");
            "unreachable".to_owned()
        }
        Err(_) => {
            tracing::warn!("readiness check of Redis timed out");
            "timed out".to_owned()
        }
    }
}

/// Reports a partner's schema and the LLM providers' circuit breakers, for
/// the partner's admins.
#[utoipa::path(get, path = "/api/{partner}/v1/health", tag = "health",
    params(("partner" = String, Path, description = "Partner slug")),
    responses((status = 200, body = Health), (status = 503, body = Health),
        (status = 403, description = "The caller is not a partner admin")))]
pub async fn partner_health(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<(StatusCode, Json<Health>), ApiError> {
    caller.authorize(
        Action::ViewPartner,
        &Target::partner(caller.partner.clone()),
    )?;
    let mut checks = BTreeMap::new();
    let schema = match caller.db.clients().await {
        Ok(_) => "ok".to_owned(),
        Err(err) => {
            tracing::warn!(partner = %caller.partner, error = %err, "partner schema check failed");
            "unreachable".to_owned()
        }
    };
    checks.insert("schema".to_owned(), schema);
    let (status, Json(mut health)) = Health::from_checks(checks);
    // Breaker states are reported but do not fail the check, because the
    // router falls back to the next provider and then the offline scorer.
    if let Some(router) = state.router() {
        for provider in PROVIDER_NAMES {
            if let Some(breaker) = router.breaker_state(provider) {
                let text = match breaker {
                    BreakerState::Closed => "closed",
                    BreakerState::Open => "open",
                    BreakerState::HalfOpen => "half_open",
                };
                health.breakers.insert(provider.to_owned(), text.to_owned());
            }
        }
    }
    Ok((status, Json(health)))
}

/// Serves the Prometheus metrics.
pub async fn metrics(State(state): State<AppState>) -> Response {
    match state.metrics().render() {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(err) => ApiError::Internal(format!("rendering metrics failed: {err}")).into_response(),
    }
}
