//! The authenticated caller: a user with a role, or a partner's API key.

use std::fmt;

use super::{role_permissions, AuthError, Permission};
use crate::tenancy::{PartnerSlug, Role};

/// An authenticated caller, the input of [`authorize`](super::authorize).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A person who signed in and presents a bearer token.
    User(UserPrincipal),
    /// A program calling with a partner's API key.
    ApiKey(ApiKeyPrincipal),
}

/// A signed-in user and the place in the tenant hierarchy the role binds to.
///
/// The binding always matches the role: a super admin has no partner and no
/// client, a partner admin has a partner and no client, and every other role
/// has both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPrincipal {
    user_id: String,
    role: Role,
    partner: Option<PartnerSlug>,
    client: Option<String>,
}

/// An API key's identity: its public prefix, binding and scopes.
///
/// A key is always bound to a partner, and optionally to one of its clients.
/// It never has a super admin permission, and a client-bound key never
/// has a partner admin permission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyPrincipal {
    prefix: String,
    partner: PartnerSlug,
    client: Option<String>,
    scopes: Vec<Permission>,
}

impl UserPrincipal {
    /// Builds a user principal after checking that the binding fits the role.
    ///
    /// # Errors
    /// [`AuthError::InvalidInput`] when the user id is empty or the partner
    /// and client do not fit the role.
    pub fn new(
        user_id: impl Into<String>,
        role: Role,
        partner: Option<PartnerSlug>,
        client: Option<String>,
    ) -> Result<Self, AuthError> {
        let user_id = user_id.into();
        if user_id.is_empty() {
            return Err(AuthError::invalid_input("user_id", "it is empty"));
        }
        check_binding(role, partner.is_some(), client.is_some())?;
        Ok(Self {
            user_id,
            role,
            partner,
            client,
        })
    }

    /// Returns the user's identifier (the token's `sub`).
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// Returns the user's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Returns the user's partner, or `None` for a super admin.
    pub fn partner(&self) -> Option<&PartnerSlug> {
        self.partner.as_ref()
    }

    /// Returns the user's client, or `None` for super and partner admins.
    pub fn client(&self) -> Option<&str> {
        self.client.as_deref()
    }
}

/// Checks that a role's binding has exactly the levels the role needs.
pub(crate) fn check_binding(
    role: Role,
    has_partner: bool,
    has_client: bool,
) -> Result<(), AuthError> {
    let (needs_partner, needs_client) = match role {
        Role::SuperAdmin => (false, false),
        Role::PartnerAdmin => (true, false),
        Role::ClientAdmin | Role::Teacher | Role::Student => (true, true),
    };
    if has_partner != needs_partner || has_client != needs_client {
        return Err(AuthError::invalid_input(
            "tenant_hierarchy",
            format!(
                "a {role} needs {} partner and {} client",
                if needs_partner { "a" } else { "no" },
                if needs_client { "a" } else { "no" },
            ),
        ));
    }
    Ok(())
}

impl ApiKeyPrincipal {
    /// Builds a key principal after checking its scopes against its binding.
    ///
    /// # Errors
    /// [`AuthError::InvalidInput`] when the scopes are empty, include a
    /// super admin permission, or include a partner admin permission on a
    /// client-bound key.
    pub fn new(
        prefix: impl Into<String>,
        partner: PartnerSlug,
        client: Option<String>,
        scopes: Vec<Permission>,
    ) -> Result<Self, AuthError> {
        check_scopes(&scopes, client.is_some())?;
        Ok(Self {
            prefix: prefix.into(),
            partner,
            client,
            scopes,
        })
    }

    /// Returns the key's public prefix, which identifies it in logs and
    /// listings.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Returns the key's partner.
    pub fn partner(&self) -> &PartnerSlug {
        &self.partner
    }

    /// Returns the client the key is limited to, if any.
    pub fn client(&self) -> Option<&str> {
        self.client.as_deref()
    }

    /// Returns the permissions granted to the key.
    pub fn scopes(&self) -> &[Permission] {
        &self.scopes
    }
}

/// Checks the scopes of an API key: at least one, no super admin permission,
/// and no partner admin permission on a key bound to a client.
pub(crate) fn check_scopes(scopes: &[Permission], client_bound: bool) -> Result<(), AuthError> {
    if scopes.is_empty() {
        return Err(AuthError::invalid_input(
            "scopes",
            "give at least one permission, for example create_evaluation",
        ));
    }
    for scope in scopes {
        let allowed = match scope.role() {
            Role::SuperAdmin => false,
            Role::PartnerAdmin => !client_bound,
            Role::ClientAdmin | Role::Teacher | Role::Student => true,
        };
        if !allowed {
            let binding = if client_bound {
                "a client-bound key"
            } else {
                "an API key"
            };
            return Err(AuthError::invalid_input(
                "scopes",
                format!("{scope} cannot be granted to {binding}"),
            ));
        }
    }
    Ok(())
}

impl Principal {
    /// Returns the caller's partner, or `None` for a super admin.
    pub fn partner(&self) -> Option<&PartnerSlug> {
        match self {
            Self::User(user) => user.partner(),
            Self::ApiKey(key) => Some(key.partner()),
        }
    }

    /// Returns the caller's client, if it is bound to one.
    pub fn client(&self) -> Option<&str> {
        match self {
            Self::User(user) => user.client(),
            Self::ApiKey(key) => key.client(),
        }
    }

    /// Returns the user id of a signed-in user, or `None` for an API key.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Self::User(user) => Some(user.user_id()),
            Self::ApiKey(_) => None,
        }
    }

    /// Returns the role of a signed-in user, or `None` for an API key.
    pub fn role(&self) -> Option<Role> {
        match self {
            Self::User(user) => Some(user.role()),
            Self::ApiKey(_) => None,
        }
    }

    /// Returns whether the caller has `permission`, through its role or
    /// its key's scopes.
    pub fn has_permission(&self, permission: Permission) -> bool {
        match self {
            Self::User(user) => role_permissions(user.role()).contains(&permission),
            Self::ApiKey(key) => key.scopes().contains(&permission),
        }
    }

    /// Checks that the caller may act on the partner named in a request
    /// path, before any data of that partner is read.
    ///
    /// An API key of another partner fails with [`AuthError::InvalidApiKey`],
    /// exactly like an unknown key. A user of another partner gets
    /// [`AuthError::NotFound`]. A super admin passes for every partner.
    ///
    /// # Errors
    /// As above.
    pub fn require_partner(&self, path_partner: &PartnerSlug) -> Result<(), AuthError> {
        match self {
            Self::ApiKey(key) if key.partner() != path_partner => {
                tracing::debug!(
                    key_prefix = %key.prefix(),
                    key_partner = %key.partner(),
                    path_partner = %path_partner,
                    "API key rejected for another partner's path"
                );
                Err(AuthError::InvalidApiKey)
            }
            Self::User(user) => match user.partner() {
                Some(partner) if partner != path_partner => {
                    tracing::debug!(
                        user_id = %user.user_id(),
                        user_partner = %partner,
                        path_partner = %path_partner,
                        "user rejected for another partner's path"
                    );
                    Err(AuthError::NotFound)
                }
                _ => Ok(()),
            },
            Self::ApiKey(_) => Ok(()),
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let partner = self.partner().map_or("-", PartnerSlug::as_str);
        let client = self.client().unwrap_or("-");
        match self {
            Self::User(user) => write!(
                f,
                "user {partner}/{client}/{} ({})",
                user.user_id(),
                user.role()
            ),
            Self::ApiKey(key) => write!(f, "api_key {partner}/{client}/{}", key.prefix()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slug(text: &str) -> PartnerSlug {
        PartnerSlug::parse(text).unwrap()
    }

    #[test]
    fn user_binding_must_fit_role() {
        let aptus = Some(slug("aptus"));
        let c1 = Some("c1".to_owned());
        assert!(UserPrincipal::new("root", Role::SuperAdmin, None, None).is_ok());
        assert!(UserPrincipal::new("root", Role::SuperAdmin, aptus.clone(), None).is_err());
        assert!(UserPrincipal::new("pa", Role::PartnerAdmin, aptus.clone(), None).is_ok());
        assert!(UserPrincipal::new("pa", Role::PartnerAdmin, aptus.clone(), c1.clone()).is_err());
        assert!(UserPrincipal::new("pa", Role::PartnerAdmin, None, None).is_err());
        for role in [Role::ClientAdmin, Role::Teacher, Role::Student] {
            assert!(UserPrincipal::new("u", role, aptus.clone(), c1.clone()).is_ok());
            assert!(UserPrincipal::new("u", role, aptus.clone(), None).is_err());
            assert!(UserPrincipal::new("u", role, None, c1.clone()).is_err());
        }
        assert!(UserPrincipal::new("", Role::Teacher, aptus, c1).is_err());
    }

    #[test]
    fn key_scopes_must_fit_binding() {
        let key = |client: Option<&str>, scopes: Vec<Permission>| {
            ApiKeyPrincipal::new("abc", slug("aptus"), client.map(str::to_owned), scopes)
        };
        assert!(key(None, vec![]).is_err());
        assert!(key(None, vec![Permission::ViewAll]).is_err());
        assert!(key(None, vec![Permission::CreateClient]).is_ok());
        assert!(key(Some("c1"), vec![Permission::CreateClient]).is_err());
        assert!(key(Some("c1"), vec![Permission::CreateEvaluation]).is_ok());
    }

    #[test]
    fn require_partner_hides_other_partners() {
        let aptus = slug("aptus");
        let bravo = slug("bravo");
        let key = Principal::ApiKey(
            ApiKeyPrincipal::new("abc", aptus.clone(), None, vec![Permission::ViewBilling])
                .unwrap(),
        );
        assert!(key.require_partner(&aptus).is_ok());
        assert!(matches!(
            key.require_partner(&bravo),
            Err(AuthError::InvalidApiKey)
        ));

        let admin = Principal::User(
            UserPrincipal::new("pa", Role::PartnerAdmin, Some(aptus.clone()), None).unwrap(),
        );
        assert!(admin.require_partner(&aptus).is_ok());
        assert!(matches!(
            admin.require_partner(&bravo),
            Err(AuthError::NotFound)
        ));

        let root =
            Principal::User(UserPrincipal::new("root", Role::SuperAdmin, None, None).unwrap());
        assert!(root.require_partner(&bravo).is_ok());
    }
}
