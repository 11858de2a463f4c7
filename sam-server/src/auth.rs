//! Authentication of tenant API requests and the [`Caller`] extractor that
//! handlers authorize with.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sam_core::auth::{authorize, Action, Principal, Target};
use sam_core::store::PartnerDb;
use sam_core::tenancy::{PartnerSlug, Role};

use crate::error::ApiError;
use crate::metrics::TenantLabels;
use crate::state::AppState;

/// The header that carries an API key, as an alternative to
/// `Authorization: Bearer sam_...`.
pub const API_KEY_HEADER: &str = "x-api-key";

/// The authenticated caller of a tenant API request and the data of the
/// partner named in its path.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The authenticated principal.
    pub principal: Principal,
    /// The partner named in the path, which the caller may act on.
    pub partner: PartnerSlug,
    /// That partner's data.
    pub db: PartnerDb,
    labels: TenantLabels,
}

impl Caller {
    /// Authorizes `action` on `target`, and on success records the target's
    /// client as the request's metric label.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] for a target outside the caller's scope, and
    /// [`ApiError::Forbidden`] for an action the caller lacks.
    pub fn authorize(&self, action: Action, target: &Target) -> Result<(), ApiError> {
        authorize(&self.principal, action, target)?;
        if let Some(client) = target.client_id() {
            self.labels.set_client(client);
        }
        Ok(())
    }

    /// Returns the target of one client of the caller's partner.
    pub fn client_target(&self, client: &str) -> Target {
        Target::client(self.partner.clone(), client)
    }

    /// Returns the user id of a calling teacher, whose scope is the
    /// assignments they own.
    pub fn teacher_id(&self) -> Option<&str> {
        match self.principal.role() {
            Some(Role::Teacher) => self.principal.user_id(),
            _ => None,
        }
    }

    /// Returns whether the caller is a student.
    pub fn is_student(&self) -> bool {
        self.principal.role() == Some(Role::Student)
    }

    /// Returns the name recorded as the author of a review or assignment:
    /// the user id, or `api_key:<prefix>` for an API key.
    pub fn actor(&self) -> String {
        match &self.principal {
            Principal::User(user) => user.user_id().to_owned(),
            Principal::ApiKey(key) => format!("api_key:{}", key.prefix()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::Internal("tenant route without the auth middleware".into()))
    }
}

/// Returns the partner slug of a `/api/{partner}/v1/...` path.
fn path_partner(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/api/")?;
    let (partner, rest) = rest.split_once('/')?;
    rest.starts_with("v1").then_some(partner)
}

/// Returns the credential as an `Authorization` header value: the
/// `X-Api-Key` header wins over `Authorization`.
fn authorization_value(headers: &HeaderMap) -> Option<String> {
    if let Some(key) = headers.get(API_KEY_HEADER) {
        return key
            .to_str()
            .ok()
            .map(|key| format!("Bearer {}", key.trim()));
    }
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// Authenticates the caller, checks that the path's partner is the
/// caller's, and stores the [`Caller`] for the handler.
///
/// A partner other than the caller's, a partner that does not exist and
/// a suspended partner all get the same 404, so a caller cannot tell them
/// apart.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let labels = request
        .extensions()
        .get::<TenantLabels>()
        .cloned()
        .unwrap_or_default();
    let header = authorization_value(request.headers());
    let path = request.uri().path().to_owned();
    match authenticated_caller(&state, header.as_deref(), &path, labels).await {
        Ok(caller) => {
            let client = caller.principal.client().unwrap_or("all").to_owned();
            let _in_flight = state.metrics().in_flight(caller.partner.as_str(), &client);
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(err) => err.into_response(),
    }
}

async fn authenticated_caller(
    state: &AppState,
    header: Option<&str>,
    path: &str,
    labels: TenantLabels,
) -> Result<Caller, ApiError> {
    let principal = state.authenticator().authenticate(header).await?;
    let partner = path_partner(path)
        .and_then(|text| PartnerSlug::parse(text).ok())
        .ok_or(ApiError::NotFound)?;
    if principal.partner().is_some_and(|own| own != &partner) {
        tracing::debug!(principal = %principal, path_partner = %partner, "caller rejected for another partner's path");
        return Err(ApiError::NotFound);
    }
    let db = state.store().partner_db(&partner).await?;
    labels.set_partner(partner.as_str());
    let span = tracing::Span::current();
    span.record("partner", partner.as_str());
    if let Some(client) = principal.client() {
        labels.set_client(client);
        span.record("client", client);
    }
    Ok(Caller {
        principal,
        partner,
        db,
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_partner_reads_api_paths() {
        assert_eq!(path_partner("/api/aptus/v1/clients"), Some("aptus"));
        assert_eq!(path_partner("/api/aptus/v2/clients"), None);
        assert_eq!(path_partner("/api/openapi.json"), None);
        assert_eq!(path_partner("/metrics"), None);
    }
}
