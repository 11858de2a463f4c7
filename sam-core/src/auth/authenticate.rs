//! Turning a presented credential into a [`Principal`], checked against the
//! current state of the store.

use std::fmt;
use std::sync::Arc;

use chrono::Utc;

use super::{
    authenticate_api_key, ApiKeyStore, AuthError, Claims, Principal, PrincipalDirectory,
    TokenVerifier, UserPrincipal, API_KEY_PREFIX,
};
use crate::tenancy::Role;

/// A credential taken from an `Authorization` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// A signed bearer token.
    Token(&'a str),
    /// An API key, `sam_<prefix>_<secret>`.
    ApiKey(&'a str),
}

impl<'a> Credential<'a> {
    /// Reads the credential from an `Authorization` header value:
    /// `Bearer <token>` or `Bearer sam_<prefix>_<secret>`. The scheme name
    /// is case-insensitive.
    ///
    /// # Errors
    /// [`AuthError::Unauthenticated`] when the header is missing, empty or
    /// not a bearer credential.
    pub fn from_authorization_header(header: Option<&'a str>) -> Result<Self, AuthError> {
        let value = header.map(str::trim).unwrap_or_default();
        let Some((scheme, credential)) = value.split_once(' ') else {
            return Err(AuthError::Unauthenticated);
        };
        let credential = credential.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || credential.is_empty() {
            return Err(AuthError::Unauthenticated);
        }
        if credential.starts_with(API_KEY_PREFIX) {
            Ok(Self::ApiKey(credential))
        } else {
            Ok(Self::Token(credential))
        }
    }
}

/// Authenticates requests from their `Authorization` header, with a bearer
/// token or an API key.
pub struct Authenticator {
    verifier: TokenVerifier,
    directory: Arc<dyn PrincipalDirectory>,
    api_keys: Arc<dyn ApiKeyStore>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Builds an authenticator over a verifier and the stores it checks.
    pub fn new(
        verifier: TokenVerifier,
        directory: Arc<dyn PrincipalDirectory>,
        api_keys: Arc<dyn ApiKeyStore>,
    ) -> Self {
        Self {
            verifier,
            directory,
            api_keys,
        }
    }

    /// Authenticates the caller of a request from its `Authorization`
    /// header value.
    ///
    /// # Errors
    /// [`AuthError::Unauthenticated`] without a bearer credential,
    /// [`AuthError::InvalidToken`] or [`AuthError::InvalidApiKey`] when the
    /// credential fails a check, and [`AuthError::Store`] when a lookup
    /// fails.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, AuthError> {
        match Credential::from_authorization_header(authorization)? {
            Credential::Token(token) => {
                authenticate_token(&self.verifier, self.directory.as_ref(), token).await
            }
            Credential::ApiKey(key) => {
                authenticate_api_key(
                    self.api_keys.as_ref(),
                    self.directory.as_ref(),
                    key,
                    Utc::now(),
                )
                .await
            }
        }
    }
}

/// Verifies a bearer token and checks it against the store: the partner
/// must be active and provisioned, and the user must exist, be active and
/// still have the token's role and client.
///
/// So a suspended partner, a deleted or deactivated user, or a changed role
/// takes a token's power away on the next request, before it expires.
///
/// # Errors
/// [`AuthError::InvalidToken`] for every verification or store-check
/// failure, with the reason logged at debug level. [`AuthError::Store`]
/// when the store lookup itself fails.
pub async fn authenticate_token(
    verifier: &TokenVerifier,
    directory: &dyn PrincipalDirectory,
    token: &str,
) -> Result<Principal, AuthError> {
    let claims = verifier.verify(token)?;
    let hierarchy = &claims.tenant_hierarchy;
    let reject = |reason: &'static str| {
        tracing::debug!(
            reason,
            user_id = %claims.sub,
            partner = hierarchy.partner_id.as_ref().map_or("-", |p| p.as_str()),
            "bearer token rejected by store check"
        );
        AuthError::InvalidToken
    };

    let partner = hierarchy.partner_id.as_ref();
    if let Some(slug) = partner {
        match directory.partner_standing(slug).await? {
            Some(standing) if standing.is_usable() => {}
            Some(_) => return Err(reject("partner suspended, cancelled or not provisioned")),
            None => return Err(reject("partner not found")),
        }
    }

    let Some(standing) = directory.user_standing(partner, &claims.sub).await? else {
        return Err(reject("user not found"));
    };
    if !standing.active {
        return Err(reject("user deactivated"));
    }
    if standing.role != hierarchy.level {
        return Err(reject("role changed"));
    }
    if client_bound(hierarchy.level) && standing.client_id != hierarchy.client_id {
        return Err(reject("client changed"));
    }

    principal_from_claims(&claims).map_err(|_| reject("tenant hierarchy does not fit the role"))
}

fn client_bound(role: Role) -> bool {
    matches!(role, Role::ClientAdmin | Role::Teacher | Role::Student)
}

fn principal_from_claims(claims: &Claims) -> Result<Principal, AuthError> {
    let hierarchy = &claims.tenant_hierarchy;
    let user = UserPrincipal::new(
        claims.sub.clone(),
        hierarchy.level,
        hierarchy.partner_id.clone(),
        hierarchy.client_id.clone(),
    )?;
    Ok(Principal::User(user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_without_bearer_is_unauthenticated() {
        for header in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer   "),
            Some("Basic abc"),
        ] {
            assert!(
                matches!(
                    Credential::from_authorization_header(header),
                    Err(AuthError::Unauthenticated)
                ),
                "{header:?}"
            );
        }
    }

    #[test]
    fn header_selects_token_or_api_key() {
        assert_eq!(
            Credential::from_authorization_header(Some("Bearer eyJ.a.b")).unwrap(),
            Credential::Token("eyJ.a.b")
        );
        assert_eq!(
            Credential::from_authorization_header(Some("bearer sam_abc_def")).unwrap(),
            Credential::ApiKey("sam_abc_def")
        );
    }
}
