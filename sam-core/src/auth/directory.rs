//! The stored state that a token is checked against on every request.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use async_trait::async_trait;

use super::AuthError;
use crate::tenancy::{Partner, PartnerSlug, Role, SubscriptionStatus, User};

/// The current state of a partner, as far as authentication cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartnerStanding {
    /// Subscription status.
    pub status: SubscriptionStatus,
    /// Whether the partner's schema or database exists and is migrated.
    pub provisioned: bool,
}

impl PartnerStanding {
    /// Returns whether the partner may serve requests now.
    pub fn is_usable(&self) -> bool {
        self.provisioned && self.status == SubscriptionStatus::Active
    }
}

impl From<&Partner> for PartnerStanding {
    fn from(partner: &Partner) -> Self {
        Self {
            status: partner.status,
            provisioned: partner.provisioned,
        }
    }
}

/// The current role, client and active flag of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserStanding {
    /// The user's role now.
    pub role: Role,
    /// The client the user belongs to now. Compared with the token only for
    /// roles bound to a client.
    pub client_id: Option<String>,
    /// Whether the user may act.
    pub active: bool,
}

impl From<&User> for UserStanding {
    fn from(user: &User) -> Self {
        Self {
            role: user.role,
            client_id: Some(user.client_id.clone()),
            active: user.active,
        }
    }
}

/// Looks up partners and users so that a token loses its power as soon as
/// its partner is suspended or its user is deleted, deactivated or moved.
///
/// The database store implements this; [`InMemoryDirectory`] serves tests.
#[async_trait]
pub trait PrincipalDirectory: Send + Sync {
    /// Returns the partner's current standing, or `None` when no partner
    /// has this slug.
    ///
    /// # Errors
    /// [`AuthError::Store`] when the lookup fails.
    async fn partner_standing(
        &self,
        partner: &PartnerSlug,
    ) -> Result<Option<PartnerStanding>, AuthError>;

    /// Returns the user's current standing, or `None` when the user does
    /// not exist. `partner` is `None` for platform operators (super admins),
    /// who belong to no partner; user ids are unique only within their
    /// partner or among operators.
    ///
    /// # Errors
    /// [`AuthError::Store`] when the lookup fails.
    async fn user_standing(
        &self,
        partner: Option<&PartnerSlug>,
        user_id: &str,
    ) -> Result<Option<UserStanding>, AuthError>;
}

type UserKey = (Option<PartnerSlug>, String);

/// A [`PrincipalDirectory`] held in memory, for tests and examples.
#[derive(Debug, Default)]
pub struct InMemoryDirectory {
    partners: RwLock<HashMap<PartnerSlug, PartnerStanding>>,
    users: RwLock<HashMap<UserKey, UserStanding>>,
}

impl InMemoryDirectory {
    /// Builds an empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a partner.
    pub fn set_partner(&self, partner: PartnerSlug, standing: PartnerStanding) {
        self.partners
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(partner, standing);
    }

    /// Adds or replaces a user. `partner` is `None` for a super admin.
    pub fn set_user(&self, partner: Option<PartnerSlug>, user_id: &str, standing: UserStanding) {
        self.users
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((partner, user_id.to_owned()), standing);
    }

    /// Removes a user, as a delete in the store would.
    pub fn remove_user(&self, partner: Option<PartnerSlug>, user_id: &str) {
        self.users
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(partner, user_id.to_owned()));
    }
}

#[async_trait]
impl PrincipalDirectory for InMemoryDirectory {
    async fn partner_standing(
        &self,
        partner: &PartnerSlug,
    ) -> Result<Option<PartnerStanding>, AuthError> {
        let partners = self.partners.read().unwrap_or_else(PoisonError::into_inner);
        Ok(partners.get(partner).copied())
    }

    async fn user_standing(
        &self,
        partner: Option<&PartnerSlug>,
        user_id: &str,
    ) -> Result<Option<UserStanding>, AuthError> {
        let users = self.users.read().unwrap_or_else(PoisonError::into_inner);
        Ok(users.get(&(partner.cloned(), user_id.to_owned())).cloned())
    }
}
