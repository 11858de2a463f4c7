//! The operations of sam-core and the place in the tenant hierarchy that an
//! operation touches.

use std::fmt;

use crate::tenancy::PartnerSlug;

/// An operation that [`authorize`](super::authorize) decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Create a partner.
    CreatePartner,
    /// List every partner.
    ListPartners,
    /// Suspend, resume or change the settings of a partner.
    UpdatePartner,
    /// Read a partner's record.
    ViewPartner,
    /// Read a partner's prices, usage charges and invoices.
    ViewBilling,
    /// Change a partner's prices or invoices.
    ManageBilling,
    /// Create a client of a partner.
    CreateClient,
    /// List a partner's clients.
    ListClients,
    /// Read a client's record.
    ViewClient,
    /// Change a client's settings or grade scale.
    UpdateClient,
    /// Create a user of a client.
    CreateUser,
    /// List the users of a client or partner.
    ListUsers,
    /// Deactivate a user or change a user's role.
    UpdateUser,
    /// Read usage counters of a client or partner.
    ViewUsage,
    /// Produce a usage or grade report of a client or partner.
    GenerateReport,
    /// Create, list or revoke a partner's API keys.
    ManageApiKeys,
    /// Create an assignment. The target's owner teacher is the new owner.
    CreateAssignment,
    /// List assignments.
    ListAssignments,
    /// Read an assignment.
    ViewAssignment,
    /// Submit work to an assignment. The target's student is the author.
    SubmitWork,
    /// Read a submission.
    ViewSubmission,
    /// Run the LLM evaluation of a submission.
    Evaluate,
    /// List evaluations.
    ListEvaluations,
    /// Read an evaluation with its scores and flags.
    ViewEvaluation,
    /// Approve an evaluation, which releases its feedback to the student.
    ApproveEvaluation,
    /// Replace an evaluation's score or comment with the teacher's own.
    OverrideEvaluation,
    /// Read the feedback of an evaluation.
    ViewFeedback,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: &'static [Self] = &[
        Self::CreatePartner,
        Self::ListPartners,
        Self::UpdatePartner,
        Self::ViewPartner,
        Self::ViewBilling,
        Self::ManageBilling,
        Self::CreateClient,
        Self::ListClients,
        Self::ViewClient,
        Self::UpdateClient,
        Self::CreateUser,
        Self::ListUsers,
        Self::UpdateUser,
        Self::ViewUsage,
        Self::GenerateReport,
        Self::ManageApiKeys,
        Self::CreateAssignment,
        Self::ListAssignments,
        Self::ViewAssignment,
        Self::SubmitWork,
        Self::ViewSubmission,
        Self::Evaluate,
        Self::ListEvaluations,
        Self::ViewEvaluation,
        Self::ApproveEvaluation,
        Self::OverrideEvaluation,
        Self::ViewFeedback,
    ];

    /// Returns the action's snake_case name, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreatePartner => "create_partner",
            Self::ListPartners => "list_partners",
            Self::UpdatePartner => "update_partner",
            Self::ViewPartner => "view_partner",
            Self::ViewBilling => "view_billing",
            Self::ManageBilling => "manage_billing",
            Self::CreateClient => "create_client",
            Self::ListClients => "list_clients",
            Self::ViewClient => "view_client",
            Self::UpdateClient => "update_client",
            Self::CreateUser => "create_user",
            Self::ListUsers => "list_users",
            Self::UpdateUser => "update_user",
            Self::ViewUsage => "view_usage",
            Self::GenerateReport => "generate_report",
            Self::ManageApiKeys => "manage_api_keys",
            Self::CreateAssignment => "create_assignment",
            Self::ListAssignments => "list_assignments",
            Self::ViewAssignment => "view_assignment",
            Self::SubmitWork => "submit_work",
            Self::ViewSubmission => "view_submission",
            Self::Evaluate => "evaluate",
            Self::ListEvaluations => "list_evaluations",
            Self::ViewEvaluation => "view_evaluation",
            Self::ApproveEvaluation => "approve_evaluation",
            Self::OverrideEvaluation => "override_evaluation",
            Self::ViewFeedback => "view_feedback",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The location of an operation's resource in the tenant hierarchy.
///
/// Fill in every level the resource has: an evaluation names its partner,
/// client, the teacher who owns the assignment and the student who wrote
/// the submission. A level left empty means the operation covers all of
/// it, for example every assignment of the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    partner: Option<PartnerSlug>,
    client: Option<String>,
    owner_teacher: Option<String>,
    student: Option<String>,
    feedback_released: bool,
}

impl Target {
    /// Builds the target of a platform-wide resource, such as the list of
    /// partners.
    pub fn platform() -> Self {
        Self::default()
    }

    /// Builds the target of a partner as a whole, such as its billing.
    pub fn partner(partner: PartnerSlug) -> Self {
        Self {
            partner: Some(partner),
            ..Self::default()
        }
    }

    /// Builds the target of one client of a partner.
    pub fn client(partner: PartnerSlug, client: impl Into<String>) -> Self {
        Self {
            partner: Some(partner),
            client: Some(client.into()),
            ..Self::default()
        }
    }

    /// Sets the teacher who owns the assignment the resource belongs to.
    #[must_use]
    pub fn with_owner_teacher(mut self, teacher_id: impl Into<String>) -> Self {
        self.owner_teacher = Some(teacher_id.into());
        self
    }

    /// Sets the student who wrote the submission the resource belongs to.
    #[must_use]
    pub fn with_student(mut self, student_id: impl Into<String>) -> Self {
        self.student = Some(student_id.into());
        self
    }

    /// Sets whether a teacher approved the evaluation, which releases its
    /// feedback to the student. Unset means not released.
    #[must_use]
    pub fn with_feedback_released(mut self, released: bool) -> Self {
        self.feedback_released = released;
        self
    }

    /// Returns the partner, or `None` for a platform-wide resource.
    pub fn partner_slug(&self) -> Option<&PartnerSlug> {
        self.partner.as_ref()
    }

    /// Returns the client, if the resource belongs to one.
    pub fn client_id(&self) -> Option<&str> {
        self.client.as_deref()
    }

    /// Returns the teacher who owns the assignment, if known.
    pub fn owner_teacher(&self) -> Option<&str> {
        self.owner_teacher.as_deref()
    }

    /// Returns the student who wrote the submission, if any.
    pub fn student(&self) -> Option<&str> {
        self.student.as_deref()
    }

    /// Returns whether the evaluation's feedback is released to the student.
    pub fn feedback_released(&self) -> bool {
        self.feedback_released
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(partner) = &self.partner else {
            return f.write_str("platform");
        };
        write!(f, "{partner}")?;
        if let Some(client) = &self.client {
            write!(f, "/{client}")?;
        }
        if let Some(teacher) = &self.owner_teacher {
            write!(f, " teacher={teacher}")?;
        }
        if let Some(student) = &self.student {
            write!(f, " student={student}")?;
        }
        if self.feedback_released {
            f.write_str(" released")?;
        }
        Ok(())
    }
}
