//! The claims of a SAM bearer token and the subject they are issued for.

use serde::{Deserialize, Serialize};

use super::principal::check_binding;
use super::{role_permissions, AuthError, Permission};
use crate::tenancy::{Client, InstitutionType, Partner, PartnerSlug, Role, Tier, User};

/// The issuer (`iss`) written into tokens unless the settings name another.
pub const DEFAULT_ISSUER: &str = "sam.v3.0";

/// The payload of a SAM bearer token.
///
/// Timestamps are seconds since the Unix epoch. Every field except `email`
/// and `rate_limit` is required, so a token missing one fails verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's identifier.
    pub sub: String,
    /// The user's e-mail, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The issuer.
    pub iss: String,
    /// The audience: the API the token is for.
    pub aud: String,
    /// Expiry time.
    pub exp: u64,
    /// Issue time.
    pub iat: u64,
    /// Time before which the token is not valid.
    pub nbf: u64,
    /// Unique token id.
    pub jti: String,
    /// The user's role and place in the tenant hierarchy.
    pub tenant_hierarchy: TenantHierarchy,
    /// Coarse capabilities for user interfaces.
    pub permissions: TokenPermissions,
    /// The partner's tier and daily request limit; absent for a super admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
}

/// The user's role and the partner and client it is bound to.
///
/// A super admin has no partner and no client, a partner admin has no
/// client, and every other role has both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantHierarchy {
    /// The role.
    pub level: Role,
    /// The partner's slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<PartnerSlug>,
    /// The partner's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_name: Option<String>,
    /// The client's identifier within the partner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The client's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// The kind of institution the client is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub institution_type: Option<InstitutionType>,
}

/// Coarse capabilities derived from the role, so a user interface can show
/// or hide features. [`authorize`](super::authorize) ignores them and
/// decides from the role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPermissions {
    /// Whether the user can create assignments and run evaluations.
    pub evaluate: bool,
    /// Whether the user can read usage, billing or institution reports.
    pub view_analytics: bool,
    /// Whether the user can create or change users.
    pub manage_users: bool,
}

impl TokenPermissions {
    /// Derives the capabilities of a role from its permissions.
    pub fn for_role(role: Role) -> Self {
        let has_any = |wanted: &[Permission]| {
            role_permissions(role)
                .iter()
                .any(|permission| wanted.contains(permission))
        };
        Self {
            evaluate: has_any(&[Permission::CreateEvaluation]),
            view_analytics: has_any(&[
                Permission::ViewAll,
                Permission::ViewOwnClients,
                Permission::ViewBilling,
                Permission::ViewInstitution,
                Permission::GenerateReports,
            ]),
            manage_users: has_any(&[Permission::CreateClient, Permission::ManageTeachers]),
        }
    }
}

/// The partner's tier and request limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// The partner's commercial tier.
    pub tier: Tier,
    /// Requests allowed per day.
    pub requests_per_day: i64,
}

/// The user a token is issued for, with the names copied into the claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSubject {
    /// The user's identifier, written to `sub`.
    pub user_id: String,
    /// The user's e-mail.
    pub email: Option<String>,
    /// The role and binding.
    pub hierarchy: TenantHierarchy,
    /// The partner's limit; `None` for a super admin.
    pub rate_limit: Option<RateLimit>,
}

impl TokenSubject {
    /// Builds the subject of a platform operator, who has no partner.
    pub fn super_admin(user_id: impl Into<String>, email: Option<String>) -> Self {
        Self {
            user_id: user_id.into(),
            email,
            hierarchy: TenantHierarchy {
                level: Role::SuperAdmin,
                partner_id: None,
                partner_name: None,
                client_id: None,
                client_name: None,
                institution_type: None,
            },
            rate_limit: None,
        }
    }

    /// Builds the subject of a partner's user from the stored records.
    ///
    /// A partner admin's token names no client, so `client` must be `None`.
    /// Every other role needs the user's own client.
    ///
    /// # Errors
    /// [`AuthError::InvalidInput`] when the user is a super admin or
    /// inactive, or `client` is missing, unexpected or not the user's.
    pub fn member(
        partner: &Partner,
        client: Option<&Client>,
        user: &User,
    ) -> Result<Self, AuthError> {
        if user.role == Role::SuperAdmin {
            return Err(AuthError::invalid_input(
                "role",
                "a super admin belongs to no partner; use TokenSubject::super_admin",
            ));
        }
        if !user.active {
            return Err(AuthError::invalid_input(
                "user",
                format!("user {:?} is deactivated", user.user_id),
            ));
        }
        check_binding(user.role, true, client.is_some())?;
        if let Some(client) = client {
            if client.client_id != user.client_id {
                return Err(AuthError::invalid_input(
                    "client",
                    format!(
                        "user {:?} belongs to client {:?}, not {:?}",
                        user.user_id, user.client_id, client.client_id
                    ),
                ));
            }
        }
        Ok(Self {
            user_id: user.user_id.clone(),
            email: user.email.clone(),
            hierarchy: TenantHierarchy {
                level: user.role,
                partner_id: Some(partner.slug.clone()),
                partner_name: Some(partner.name.clone()),
                client_id: client.map(|c| c.client_id.clone()),
                client_name: client.map(|c| c.name.clone()),
                institution_type: client.map(|c| c.institution_type),
            },
            rate_limit: Some(RateLimit {
                tier: partner.tier,
                requests_per_day: partner.daily_quota,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::{GradeScale, LlmStrategy, SubscriptionStatus};
    use chrono::Utc;
    use rust_decimal::Decimal;
    use uuid::Uuid;

    fn partner() -> Partner {
        Partner {
            id: Uuid::new_v4(),
            slug: PartnerSlug::parse("aptus").unwrap(),
            name: "Aptus Education".to_owned(),
            tier: Tier::Premium,
            status: SubscriptionStatus::Active,
            monthly_fee: Decimal::new(4_000, 0),
            daily_quota: 10_000,
            strategy: LlmStrategy::CostOptimized,
            time_zone: "America/Santiago".to_owned(),
            provisioned: true,
            created_at: Utc::now(),
        }
    }

    fn client(client_id: &str) -> Client {
        Client {
            id: Uuid::new_v4(),
            client_id: client_id.to_owned(),
            name: "Colegio San Jose".to_owned(),
            institution_type: InstitutionType::K12,
            students_count: 800,
            teachers_count: 40,
            grade_scale: GradeScale::default(),
            created_at: Utc::now(),
        }
    }

    fn user(role: Role) -> User {
        User {
            id: Uuid::new_v4(),
            user_id: "u1".to_owned(),
            client_id: "c1".to_owned(),
            role,
            email: Some("u1@colegio.cl".to_owned()),
            active: true,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn member_subject_copies_records() {
        let subject =
            TokenSubject::member(&partner(), Some(&client("c1")), &user(Role::Teacher)).unwrap();
        let hierarchy = &subject.hierarchy;
        assert_eq!(hierarchy.level, Role::Teacher);
        assert_eq!(
            hierarchy.partner_id.as_ref().map(PartnerSlug::as_str),
            Some("aptus")
        );
        assert_eq!(hierarchy.partner_name.as_deref(), Some("Aptus Education"));
        assert_eq!(hierarchy.client_id.as_deref(), Some("c1"));
        assert_eq!(hierarchy.client_name.as_deref(), Some("Colegio San Jose"));
        assert_eq!(hierarchy.institution_type, Some(InstitutionType::K12));
        assert_eq!(
            subject.rate_limit,
            Some(RateLimit {
                tier: Tier::Premium,
                requests_per_day: 10_000
            })
        );
    }

    #[test]
    fn member_subject_rejects_mismatches() {
        let partner = partner();
        let c1 = client("c1");
        let c2 = client("c2");
        let mut inactive = user(Role::Teacher);
        inactive.active = false;

        let cases = [
            ("teacher without client", None, user(Role::Teacher)),
            ("teacher of other client", Some(&c2), user(Role::Teacher)),
            (
                "partner admin with client",
                Some(&c1),
                user(Role::PartnerAdmin),
            ),
            ("super admin", None, user(Role::SuperAdmin)),
            ("inactive user", Some(&c1), inactive),
        ];
        for (name, client, user) in cases {
            let result = TokenSubject::member(&partner, client, &user);
            assert!(
                matches!(result, Err(AuthError::InvalidInput { .. })),
                "{name}: {result:?}"
            );
        }
        assert!(TokenSubject::member(&partner, None, &user(Role::PartnerAdmin)).is_ok());
    }

    #[test]
    fn token_permissions_follow_role() {
        let teacher = TokenPermissions::for_role(Role::Teacher);
        assert!(teacher.evaluate);
        assert!(!teacher.view_analytics);
        assert!(!teacher.manage_users);

        let client_admin = TokenPermissions::for_role(Role::ClientAdmin);
        assert!(!client_admin.evaluate);
        assert!(client_admin.view_analytics);
        assert!(client_admin.manage_users);

        let student = TokenPermissions::for_role(Role::Student);
        assert_eq!(
            student,
            TokenPermissions {
                evaluate: false,
                view_analytics: false,
                manage_users: false
            }
        );
    }

    #[test]
    fn super_admin_claims_omit_partner() {
        let subject = TokenSubject::super_admin("root", None);
        let json = serde_json::to_value(&subject.hierarchy).unwrap();
        assert_eq!(json, serde_json::json!({ "level": "super_admin" }));
    }

    #[test]
    fn claims_reject_invalid_partner_slug() {
        let json = serde_json::json!({ "level": "partner_admin", "partner_id": "../etc" });
        assert!(serde_json::from_value::<TenantHierarchy>(json).is_err());
    }
}
