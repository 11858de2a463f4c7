//! A partner's API keys: creation, listing and revocation, for the
//! partner's admins signed in as users. An API key cannot manage keys, so
//! a leaked key cannot mint keys that outlive it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use sam_core::auth::{
    create_api_key, Action, ApiKeyRecord, ApiKeyStore, NewApiKey, Permission, Target,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;

/// An API key to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// The key's purpose, such as "Moodle production".
    pub name: String,
    /// The client to limit the key to; the whole partner when absent.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Permissions to grant, such as `create_evaluation`; each must be one
    /// the caller has. `create_evaluation` and `view_own_evaluations` when
    /// absent or empty.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Time from which the key is rejected; never when absent.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// An API key as listed: its public prefix and settings, never the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    /// The public prefix, unique across the platform; the id of the key in
    /// the API's paths.
    pub prefix: String,
    /// The key's purpose.
    pub name: String,
    /// The client the key is limited to, if any.
    pub client_id: Option<String>,
    /// The granted permissions.
    pub scopes: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Time from which the key is rejected, if any.
    pub expires_at: Option<DateTime<Utc>>,
    /// Time of the last successful use, if any.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Time of the revocation, if the key was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRecord> for KeyView {
    fn from(record: ApiKeyRecord) -> Self {
        Self {
            prefix: record.prefix,
            name: record.name,
            client_id: record.client_id,
            scopes: record
                .scopes
                .iter()
                .map(|scope| scope.as_str().to_owned())
                .collect(),
            created_at: record.created_at,
            expires_at: record.expires_at,
            last_used_at: record.last_used_at,
            revoked_at: record.revoked_at,
        }
    }
}

/// A key just created: the full key, returned only in this response.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    /// The full key, `sam_<prefix>_<secret>`. SAM stores only its hash, so
    /// it cannot be shown again.
    pub key: String,
    /// The stored key.
    #[serde(flatten)]
    pub record: KeyView,
}

/// Parses the requested scopes, or returns the default pair. Only the
/// platform operator may grant the platform's own permissions; a partner
/// admin may grant every permission inside its partner.
fn granted_scopes(caller: &Caller, requested: &[String]) -> Result<Vec<Permission>, ApiError> {
    if requested.is_empty() {
        return Ok(vec![
            Permission::CreateEvaluation,
            Permission::ViewOwnEvaluations,
        ]);
    }
    let operator = caller.principal.has_permission(Permission::CreatePartner);
    let mut scopes = Vec::with_capacity(requested.len());
    for text in requested {
        let scope: Permission = text
            .parse()
            .map_err(|err: sam_core::auth::AuthError| ApiError::BadRequest(err.to_string()))?;
        let platform_scope = matches!(
            scope,
            Permission::CreatePartner | Permission::ViewAll | Permission::ManageBilling
        );
        if platform_scope && !operator {
            tracing::debug!(principal = %caller.principal, scope = %scope.as_str(), "platform scope requested by a partner admin");
            return Err(ApiError::Forbidden);
        }
        scopes.push(scope);
    }
    Ok(scopes)
}

/// Creates an API key of the partner and returns it once, with the secret.
#[utoipa::path(post, path = "/api/{partner}/v1/keys", tag = "keys",
    params(("partner" = String, Path, description = "Partner slug")),
    request_body = CreateKeyRequest,
    responses(
        (status = 201, body = CreatedKey, description = "The key; its secret is never shown again"),
        (status = 400, description = "An invalid JSON body, name, client id, scope or expiry"),
        (status = 403, description = "The caller is not a partner admin, or a scope exceeds its permissions"),
        (status = 404, description = "No such client")))]
pub async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateKeyRequest>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    caller.authorize(
        Action::ManageApiKeys,
        &Target::partner(caller.partner.clone()),
    )?;
    let scopes = granted_scopes(&caller, &body.scopes)?;
    if let Some(client) = &body.client_id {
        caller.db.client(client).await?;
    }
    let new = NewApiKey {
        partner: caller.partner.clone(),
        client_id: body.client_id,
        name: body.name,
        scopes,
        expires_at: body.expires_at,
    };
    let keys: &dyn ApiKeyStore = state.store();
    let generated = create_api_key(keys, &new, Utc::now()).await?;
    tracing::info!(partner = %caller.partner, key_prefix = %generated.record.prefix, actor = %caller.actor(), "API key created");
    let created = CreatedKey {
        key: generated.key.expose_secret().to_owned(),
        record: generated.record.into(),
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// Lists the partner's API keys, revoked and expired ones included, newest
/// first. Secrets are never listed.
#[utoipa::path(get, path = "/api/{partner}/v1/keys", tag = "keys",
    params(("partner" = String, Path, description = "Partner slug")),
    responses(
        (status = 200, body = [KeyView]),
        (status = 403, description = "The caller is not a partner admin")))]
pub async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<KeyView>>, ApiError> {
    caller.authorize(
        Action::ManageApiKeys,
        &Target::partner(caller.partner.clone()),
    )?;
    let keys = state.store().list_by_partner(&caller.partner).await?;
    Ok(Json(keys.into_iter().map(KeyView::from).collect()))
}

/// Revokes one of the partner's API keys by its prefix; requests with it
/// fail from then on. Revoking a revoked key keeps the first revocation time.
#[utoipa::path(post, path = "/api/{partner}/v1/keys/{prefix}/revoke", tag = "keys",
    params(("partner" = String, Path, description = "Partner slug"), ("prefix" = String, Path, description = "The key's public prefix")),
    responses(
        (status = 200, body = KeyView, description = "The revoked key"),
        (status = 403, description = "The caller is not a partner admin"),
        (status = 404, description = "The partner has no key with this prefix")))]
pub async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((_partner, prefix)): Path<(String, String)>,
) -> Result<Json<KeyView>, ApiError> {
    caller.authorize(
        Action::ManageApiKeys,
        &Target::partner(caller.partner.clone()),
    )?;
    let store = state.store();
    if !store.revoke(&caller.partner, &prefix, Utc::now()).await? {
        return Err(ApiError::NotFound);
    }
    let record = store
        .find_by_prefix(&prefix)
        .await?
        .filter(|record| record.partner == caller.partner)
        .ok_or(ApiError::NotFound)?;
    tracing::info!(partner = %caller.partner, key_prefix = %prefix, actor = %caller.actor(), "API key revoked");
    Ok(Json(record.into()))
}
