//! The single authorization decision for every operation of sam-core.

use super::{Action, AuthError, Permission, Principal, Target};
use crate::tenancy::Role;

/// How far from the caller's own place a permission reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Every partner, and platform-wide resources.
    Anywhere,
    /// The caller's partner, or its client when the caller is bound to one.
    Binding,
    /// As `Binding`, for signed-in users only: an API key never qualifies.
    BindingUsersOnly,
    /// Assignments the calling teacher owns, and everything under them. An
    /// API key reaches its whole binding.
    OwnAssignments,
    /// Submissions the calling student wrote. An API key reaches its whole
    /// binding.
    OwnSubmissions,
    /// As `OwnSubmissions`, and only after the feedback is released.
    OwnReleasedFeedback,
}

/// Returns the permissions that allow `action` and how far each reaches.
/// An action is allowed when the caller has one of them and the target
/// lies within its reach.
fn grants(action: Action) -> &'static [(Permission, Reach)] {
    use Permission as P;
    use Reach as R;
    match action {
        Action::CreatePartner | Action::UpdatePartner => &[(P::CreatePartner, R::Anywhere)],
        Action::ListPartners => &[(P::ViewAll, R::Anywhere)],
        Action::ViewPartner => &[
            (P::ViewAll, R::Anywhere),
            (P::ViewOwnClients, R::Binding),
            (P::ViewBilling, R::Binding),
        ],
        Action::ViewBilling => &[
            (P::ViewAll, R::Anywhere),
            (P::ManageBilling, R::Anywhere),
            (P::ViewBilling, R::Binding),
        ],
        Action::ManageBilling => &[(P::ManageBilling, R::Anywhere)],
        Action::CreateClient | Action::UpdateClient => &[(P::CreateClient, R::Binding)],
        Action::ListClients => &[(P::ViewAll, R::Anywhere), (P::ViewOwnClients, R::Binding)],
        Action::ViewClient => &[
            (P::ViewAll, R::Anywhere),
            (P::ViewOwnClients, R::Binding),
            (P::ViewInstitution, R::Binding),
        ],
        // A partner admin creates a new client's first users; after that the
        // client admin manages them.
        Action::CreateUser | Action::UpdateUser => &[
            (P::CreateClient, R::Binding),
            (P::ManageTeachers, R::Binding),
        ],
        Action::ListUsers => &[
            (P::ViewAll, R::Anywhere),
            (P::ViewOwnClients, R::Binding),
            (P::ManageTeachers, R::Binding),
            (P::ViewInstitution, R::Binding),
        ],
        Action::ViewUsage => &[
            (P::ViewAll, R::Anywhere),
            (P::ManageBilling, R::Anywhere),
            (P::ViewOwnClients, R::Binding),
            (P::ViewBilling, R::Binding),
            (P::ViewInstitution, R::Binding),
            (P::GenerateReports, R::Binding),
        ],
        Action::GenerateReport => &[
            (P::ViewAll, R::Anywhere),
            (P::ViewOwnClients, R::Binding),
            (P::GenerateReports, R::Binding),
        ],
        // A leaked key must not be able to mint keys that outlive it.
        Action::ManageApiKeys => &[
            (P::CreatePartner, R::Anywhere),
            (P::CreateClient, R::BindingUsersOnly),
        ],
        Action::CreateAssignment
        | Action::Evaluate
        | Action::ApproveEvaluation
        | Action::OverrideEvaluation => &[(P::CreateEvaluation, R::OwnAssignments)],
        // Students read the assignments of their client to write submissions.
        // NOTE: the reference answer is part of an assignment; the handler
        // must strip it before showing an assignment to a student.
        Action::ListAssignments | Action::ViewAssignment => &[
            (P::ViewAll, R::Anywhere),
            (P::ViewInstitution, R::Binding),
            (P::ViewOwnEvaluations, R::OwnAssignments),
            (P::CreateEvaluation, R::OwnAssignments),
            (P::UploadSubmission, R::Binding),
        ],
        Action::SubmitWork => &[(P::UploadSubmission, R::OwnSubmissions)],
        Action::ViewSubmission => &[
            (P::ViewAll, R::Anywhere),
            (P::ViewInstitution, R::Binding),
            (P::ViewOwnEvaluations, R::OwnAssignments),
            (P::UploadSubmission, R::OwnSubmissions),
        ],
        Action::ListEvaluations | Action::ViewEvaluation => &[
            (P::ViewAll, R::Anywhere),
            (P::ViewInstitution, R::Binding),
            (P::ViewOwnEvaluations, R::OwnAssignments),
        ],
        Action::ViewFeedback => &[
            (P::ViewAll, R::Anywhere),
            (P::ViewInstitution, R::Binding),
            (P::ViewOwnEvaluations, R::OwnAssignments),
            (P::ViewFeedback, R::OwnReleasedFeedback),
        ],
    }
}

/// Decides whether `principal` may perform `action` on `target`.
///
/// Scope follows the hierarchy. A super admin reaches every partner with
/// its three permissions. A partner admin or partner-bound API key stays
/// inside its partner, and a client admin or client-bound key inside its
/// client. A teacher reaches the assignments it owns in its client, and
/// a student its own submissions and their released feedback, plus the
/// client's assignments. A role's permissions come from
/// [`role_permissions`](super::role_permissions), never from the token's
/// `permissions` claim.
///
/// # Errors
/// - [`AuthError::NotFound`] when the target names another partner, client,
///   owner teacher or student than the caller's own, or is feedback not yet
///   released to the calling student, so the caller cannot tell it from
///   missing data.
/// - [`AuthError::Forbidden`] when the target is inside the caller's scope
///   but none of the caller's permissions allows the action there.
///
/// Every denial is logged at debug level with the principal, action and
/// target.
pub fn authorize(principal: &Principal, action: Action, target: &Target) -> Result<(), AuthError> {
    let Err(denial) = decide(principal, action, target) else {
        return Ok(());
    };
    let (outcome, error) = match denial.kind {
        DenialKind::Hidden => ("not_found", AuthError::NotFound),
        DenialKind::Forbidden => ("forbidden", AuthError::Forbidden),
    };
    tracing::debug!(
        principal = %principal,
        action = %action,
        target = %target,
        outcome,
        reason = denial.reason,
        "authorization denied"
    );
    Err(error)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DenialKind {
    /// The target belongs to someone else: report it as missing.
    Hidden,
    /// The target is the caller's to see, but the action is not allowed.
    Forbidden,
}

#[derive(Debug)]
struct Denial {
    kind: DenialKind,
    reason: &'static str,
}

fn hidden(reason: &'static str) -> Denial {
    Denial {
        kind: DenialKind::Hidden,
        reason,
    }
}

fn decide(principal: &Principal, action: Action, target: &Target) -> Result<(), Denial> {
    check_not_foreign(principal, target)?;

    let mut unreleased = false;
    for (permission, reach) in grants(action) {
        if !principal.has_permission(*permission) {
            continue;
        }
        match reaches(principal, *reach, target) {
            Reached::Yes => return Ok(()),
            Reached::Unreleased => unreleased = true,
            Reached::No => {}
        }
    }
    if unreleased {
        return Err(hidden("feedback not released"));
    }
    Err(Denial {
        kind: DenialKind::Forbidden,
        reason: "no permission reaches the target",
    })
}

/// Rejects a target that names a partner, client, owner teacher or student
/// other than the caller's own.
fn check_not_foreign(principal: &Principal, target: &Target) -> Result<(), Denial> {
    if let (Some(own), Some(theirs)) = (principal.partner(), target.partner_slug()) {
        if own != theirs {
            return Err(hidden("target in another partner"));
        }
    }
    if let (Some(own), Some(theirs)) = (principal.client(), target.client_id()) {
        if own != theirs {
            return Err(hidden("target in another client"));
        }
    }
    let Principal::User(user) = principal else {
        return Ok(());
    };
    let owner = match user.role() {
        Role::Teacher => target.owner_teacher(),
        Role::Student => target.student(),
        Role::SuperAdmin | Role::PartnerAdmin | Role::ClientAdmin => None,
    };
    match owner {
        Some(owner) if owner != user.user_id() => Err(hidden("target owned by another user")),
        _ => Ok(()),
    }
}

enum Reached {
    Yes,
    No,
    /// Everything matches except that the feedback is not released yet.
    Unreleased,
}

fn reaches(principal: &Principal, reach: Reach, target: &Target) -> Reached {
    let yes_if = |condition: bool| if condition { Reached::Yes } else { Reached::No };
    let user_id = principal.user_id();
    match reach {
        Reach::Anywhere => Reached::Yes,
        Reach::Binding => yes_if(within_binding(principal, target)),
        Reach::BindingUsersOnly => yes_if(user_id.is_some() && within_binding(principal, target)),
        Reach::OwnAssignments => yes_if(
            within_binding(principal, target)
                && (user_id.is_none() || target.owner_teacher() == user_id),
        ),
        Reach::OwnSubmissions => yes_if(owns_submission(principal, target)),
        Reach::OwnReleasedFeedback => match owns_submission(principal, target) {
            false => Reached::No,
            true if target.feedback_released() => Reached::Yes,
            true => Reached::Unreleased,
        },
    }
}

/// Returns whether the target lies inside the caller's partner, and inside
/// its client when the caller is bound to one. A target broader than the
/// binding, such as a whole partner for a client admin, does not.
fn within_binding(principal: &Principal, target: &Target) -> bool {
    let Some(partner) = principal.partner() else {
        return false;
    };
    if target.partner_slug() != Some(partner) {
        return false;
    }
    match principal.client() {
        Some(client) => target.client_id() == Some(client),
        None => true,
    }
}

fn owns_submission(principal: &Principal, target: &Target) -> bool {
    let user_id = principal.user_id();
    within_binding(principal, target) && (user_id.is_none() || target.student() == user_id)
}
