//! Permissions and the fixed set each role has.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::AuthError;
use crate::tenancy::Role;

/// A permission held by a role or granted to an API key as a scope.
///
/// The set and the names are fixed by the customer's role model; what each
/// permission allows is decided by [`authorize`](super::authorize).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Create and administer partners (super admin).
    CreatePartner,
    /// Read every partner's data (super admin).
    ViewAll,
    /// Change prices and invoices of any partner (super admin).
    ManageBilling,
    /// Create and administer the partner's clients (partner admin).
    CreateClient,
    /// Read the partner's clients, users and usage (partner admin).
    ViewOwnClients,
    /// Read the partner's billing (partner admin).
    ViewBilling,
    /// Create and administer the client's users (client admin).
    ManageTeachers,
    /// Read everything inside the client (client admin).
    ViewInstitution,
    /// Produce usage and grade reports of the client (client admin).
    GenerateReports,
    /// Create assignments and run, approve or override evaluations of them
    /// (teacher).
    CreateEvaluation,
    /// Read the teacher's own assignments, submissions and evaluations
    /// (teacher).
    ViewOwnEvaluations,
    /// Read one's own approved feedback (student).
    ViewFeedback,
    /// Submit work to an assignment of one's client (student).
    UploadSubmission,
}

impl Permission {
    /// Every permission, in declaration order.
    pub const ALL: &'static [Self] = &[
        Self::CreatePartner,
        Self::ViewAll,
        Self::ManageBilling,
        Self::CreateClient,
        Self::ViewOwnClients,
        Self::ViewBilling,
        Self::ManageTeachers,
        Self::ViewInstitution,
        Self::GenerateReports,
        Self::CreateEvaluation,
        Self::ViewOwnEvaluations,
        Self::ViewFeedback,
        Self::UploadSubmission,
    ];

    /// Returns the permission's name as used in scopes and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreatePartner => "create_partner",
            Self::ViewAll => "view_all",
            Self::ManageBilling => "manage_billing",
            Self::CreateClient => "create_client",
            Self::ViewOwnClients => "view_own_clients",
            Self::ViewBilling => "view_billing",
            Self::ManageTeachers => "manage_teachers",
            Self::ViewInstitution => "view_institution",
            Self::GenerateReports => "generate_reports",
            Self::CreateEvaluation => "create_evaluation",
            Self::ViewOwnEvaluations => "view_own_evaluations",
            Self::ViewFeedback => "view_feedback",
            Self::UploadSubmission => "upload_submission",
        }
    }

    /// Returns the role that has this permission. Each permission belongs
    /// to exactly one role.
    pub fn role(self) -> Role {
        match self {
            Self::CreatePartner | Self::ViewAll | Self::ManageBilling => Role::SuperAdmin,
            Self::CreateClient | Self::ViewOwnClients | Self::ViewBilling => Role::PartnerAdmin,
            Self::ManageTeachers | Self::ViewInstitution | Self::GenerateReports => {
                Role::ClientAdmin
            }
            Self::CreateEvaluation | Self::ViewOwnEvaluations => Role::Teacher,
            Self::ViewFeedback | Self::UploadSubmission => Role::Student,
        }
    }
}

/// Returns the permissions a role has.
pub fn role_permissions(role: Role) -> &'static [Permission] {
    use Permission as P;
    match role {
        Role::SuperAdmin => &[P::CreatePartner, P::ViewAll, P::ManageBilling],
        Role::PartnerAdmin => &[P::CreateClient, P::ViewOwnClients, P::ViewBilling],
        Role::ClientAdmin => &[P::ManageTeachers, P::ViewInstitution, P::GenerateReports],
        Role::Teacher => &[P::CreateEvaluation, P::ViewOwnEvaluations],
        Role::Student => &[P::ViewFeedback, P::UploadSubmission],
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = AuthError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|permission| permission.as_str() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|p| p.as_str()).collect();
                AuthError::invalid_input(
                    "permission",
                    format!(
                        "{:?} is not a permission; expected one of: {}",
                        text.chars().take(80).collect::<String>(),
                        names.join(", ")
                    ),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_names_round_trip() {
        for permission in Permission::ALL {
            let parsed: Permission = permission.as_str().parse().unwrap();
            assert_eq!(parsed, *permission);
            let json = serde_json::to_string(permission).unwrap();
            assert_eq!(json, format!("\"{}\"", permission.as_str()));
        }
    }

    #[test]
    fn unknown_permission_lists_choices() {
        let err = "evaluate".parse::<Permission>().unwrap_err().to_string();
        assert!(err.contains("\"evaluate\""), "{err}");
        assert!(err.contains("upload_submission"), "{err}");
    }

    #[test]
    fn roles_hold_the_customer_permissions() {
        let names =
            |role| -> Vec<&str> { role_permissions(role).iter().map(|p| p.as_str()).collect() };
        assert_eq!(
            names(Role::SuperAdmin),
            ["create_partner", "view_all", "manage_billing"]
        );
        assert_eq!(
            names(Role::PartnerAdmin),
            ["create_client", "view_own_clients", "view_billing"]
        );
        assert_eq!(
            names(Role::ClientAdmin),
            ["manage_teachers", "view_institution", "generate_reports"]
        );
        assert_eq!(
            names(Role::Teacher),
            ["create_evaluation", "view_own_evaluations"]
        );
        assert_eq!(names(Role::Student), ["view_feedback", "upload_submission"]);
    }

    #[test]
    fn each_permission_names_its_role() {
        for role in Role::ALL {
            for permission in role_permissions(*role) {
                assert_eq!(permission.role(), *role);
            }
        }
    }
}
