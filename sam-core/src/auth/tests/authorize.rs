//! Every role against every action, inside and outside its scope, over two
//! partners with two clients each.

use super::support::slug;
use crate::auth::{
    authorize, Action, ApiKeyPrincipal, AuthError, Permission, Principal, Target, UserPrincipal,
};
use crate::tenancy::Role;

/// Expected outcome of an action on the caller's own resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Allow,
    Forbidden,
    NotFound,
}
use Outcome::{Allow as A, Forbidden as F};

/// How deep in the hierarchy an action's resource sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Platform,
    Partner,
    Client,
    /// Under an assignment, which a teacher owns.
    Assignment,
    /// Under a submission, which a student wrote.
    Submission,
}

/// The outcome of each action for each role on a resource inside the
/// role's own scope: the role's partner, client, own assignment (teacher)
/// and own submission with released feedback (student).
///
/// Columns: super admin, partner admin, client admin, teacher, student.
const HOME: &[(Action, Level, [Outcome; 5])] = &[
    (Action::CreatePartner, Level::Platform, [A, F, F, F, F]),
    (Action::ListPartners, Level::Platform, [A, F, F, F, F]),
    (Action::UpdatePartner, Level::Partner, [A, F, F, F, F]),
    (Action::ViewPartner, Level::Partner, [A, A, F, F, F]),
    (Action::ViewBilling, Level::Partner, [A, A, F, F, F]),
    (Action::ManageBilling, Level::Partner, [A, F, F, F, F]),
    (Action::CreateClient, Level::Partner, [F, A, F, F, F]),
    (Action::ListClients, Level::Partner, [A, A, F, F, F]),
    (Action::ManageApiKeys, Level::Partner, [A, A, F, F, F]),
    (Action::ViewClient, Level::Client, [A, A, A, F, F]),
    (Action::UpdateClient, Level::Client, [F, A, F, F, F]),
    (Action::CreateUser, Level::Client, [F, A, A, F, F]),
    (Action::ListUsers, Level::Client, [A, A, A, F, F]),
    (Action::UpdateUser, Level::Client, [F, A, A, F, F]),
    (Action::ViewUsage, Level::Client, [A, A, A, F, F]),
    (Action::GenerateReport, Level::Client, [A, A, A, F, F]),
    (Action::CreateAssignment, Level::Assignment, [F, F, F, A, F]),
    (Action::ListAssignments, Level::Assignment, [A, F, A, A, A]),
    (Action::ViewAssignment, Level::Assignment, [A, F, A, A, A]),
    (Action::ListEvaluations, Level::Assignment, [A, F, A, A, F]),
    (Action::SubmitWork, Level::Submission, [F, F, F, F, A]),
    (Action::ViewSubmission, Level::Submission, [A, F, A, A, A]),
    (Action::Evaluate, Level::Submission, [F, F, F, A, F]),
    (Action::ViewEvaluation, Level::Submission, [A, F, A, A, F]),
    (
        Action::ApproveEvaluation,
        Level::Submission,
        [F, F, F, A, F],
    ),
    (
        Action::OverrideEvaluation,
        Level::Submission,
        [F, F, F, A, F],
    ),
    (Action::ViewFeedback, Level::Submission, [A, F, A, A, A]),
];

const ROLES: [Role; 5] = [
    Role::SuperAdmin,
    Role::PartnerAdmin,
    Role::ClientAdmin,
    Role::Teacher,
    Role::Student,
];

const PARTNERS: [&str; 2] = ["aptus", "bravo"];
const CLIENTS: [&str; 2] = ["c1", "c2"];

/// Where a principal sits. The teacher of a client is `t1` and its student
/// `s1`; `t2` and `s2` are their colleagues.
#[derive(Debug, Clone)]
struct Caller {
    role: Role,
    partner: Option<&'static str>,
    client: Option<&'static str>,
    user_id: &'static str,
}

impl Caller {
    fn principal(&self) -> Principal {
        let user = UserPrincipal::new(
            self.user_id,
            self.role,
            self.partner.map(slug),
            self.client.map(str::to_owned),
        )
        .unwrap();
        Principal::User(user)
    }
}

fn callers() -> Vec<Caller> {
    let mut callers = vec![Caller {
        role: Role::SuperAdmin,
        partner: None,
        client: None,
        user_id: "root",
    }];
    for partner in PARTNERS {
        callers.push(Caller {
            role: Role::PartnerAdmin,
            partner: Some(partner),
            client: None,
            user_id: "pa",
        });
        for client in CLIENTS {
            for (role, user_id) in [
                (Role::ClientAdmin, "ca"),
                (Role::Teacher, "t1"),
                (Role::Student, "s1"),
            ] {
                callers.push(Caller {
                    role,
                    partner: Some(partner),
                    client: Some(client),
                    user_id,
                });
            }
        }
    }
    callers
}

/// A concrete resource location used to build a [`Target`].
#[derive(Debug, Clone, Copy)]
struct Place {
    partner: &'static str,
    client: &'static str,
    teacher: &'static str,
    student: &'static str,
    released: bool,
}

fn places(level: Level) -> Vec<Option<Place>> {
    if level == Level::Platform {
        return vec![None];
    }
    let mut places = Vec::new();
    for partner in PARTNERS {
        for client in CLIENTS {
            for teacher in ["t1", "t2"] {
                for student in ["s1", "s2"] {
                    for released in [true, false] {
                        places.push(Some(Place {
                            partner,
                            client,
                            teacher,
                            student,
                            released,
                        }));
                    }
                }
            }
        }
    }
    places
}

fn target(level: Level, place: Option<Place>) -> Target {
    let Some(place) = place else {
        return Target::platform();
    };
    match level {
        Level::Platform => Target::platform(),
        Level::Partner => Target::partner(slug(place.partner)),
        Level::Client => Target::client(slug(place.partner), place.client),
        Level::Assignment => {
            Target::client(slug(place.partner), place.client).with_owner_teacher(place.teacher)
        }
        Level::Submission => Target::client(slug(place.partner), place.client)
            .with_owner_teacher(place.teacher)
            .with_student(place.student)
            .with_feedback_released(place.released),
    }
}

/// The expected outcome, written from the scope rules independently of
/// the implementation: a resource of another partner, client, teacher
/// (for a teacher) or student (for a student) is not found, and so is
/// unreleased feedback for its student. Otherwise the home outcome applies.
fn expected(
    caller: &Caller,
    action: Action,
    level: Level,
    place: Option<Place>,
    home: Outcome,
) -> Outcome {
    let Some(place) = place else {
        return home;
    };
    if caller.role == Role::SuperAdmin {
        return home;
    }
    if caller.partner != Some(place.partner) {
        return Outcome::NotFound;
    }
    let has_client = !matches!(level, Level::Platform | Level::Partner);
    if let Some(client) = caller.client {
        if has_client && client != place.client {
            return Outcome::NotFound;
        }
    }
    let has_teacher = matches!(level, Level::Assignment | Level::Submission);
    if caller.role == Role::Teacher && has_teacher && place.teacher != caller.user_id {
        return Outcome::NotFound;
    }
    if caller.role == Role::Student && level == Level::Submission {
        if place.student != caller.user_id {
            return Outcome::NotFound;
        }
        if action == Action::ViewFeedback && !place.released {
            return Outcome::NotFound;
        }
    }
    home
}

fn outcome(result: Result<(), AuthError>) -> Outcome {
    match result {
        Ok(()) => Outcome::Allow,
        Err(AuthError::Forbidden) => Outcome::Forbidden,
        Err(AuthError::NotFound) => Outcome::NotFound,
        Err(other) => panic!("authorize returned {other:?}"),
    }
}

#[test]
fn table_covers_every_action() {
    for action in Action::ALL {
        let rows = HOME.iter().filter(|(a, _, _)| a == action).count();
        assert_eq!(rows, 1, "{action} must have exactly one row");
    }
}

#[test]
fn every_role_every_action_every_place() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for caller in callers() {
        let principal = caller.principal();
        let column = ROLES.iter().position(|r| *r == caller.role).unwrap();
        for (action, level, homes) in HOME {
            for place in places(*level) {
                let want = expected(&caller, *action, *level, place, homes[column]);
                let target = target(*level, place);
                let got = outcome(authorize(&principal, *action, &target));
                checked += 1;
                if got != want {
                    failures.push(format!(
                        "{principal} {action} on {target}: expected {want:?}, got {got:?}"
                    ));
                }
            }
        }
    }
    assert!(checked > 5_000, "only {checked} cases ran");
    assert!(
        failures.is_empty(),
        "{} of {checked} cases wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn user(role: Role, user_id: &str) -> Principal {
    let (partner, client) = match role {
        Role::SuperAdmin => (None, None),
        Role::PartnerAdmin => (Some(slug("aptus")), None),
        _ => (Some(slug("aptus")), Some("c1".to_owned())),
    };
    Principal::User(UserPrincipal::new(user_id, role, partner, client).unwrap())
}

fn key(client: Option<&str>, scopes: &[Permission]) -> Principal {
    let key = ApiKeyPrincipal::new(
        "abcdefghij",
        slug("aptus"),
        client.map(str::to_owned),
        scopes.to_vec(),
    )
    .unwrap();
    Principal::ApiKey(key)
}

#[test]
fn targets_broader_than_binding_are_forbidden() {
    let partner_wide = Target::partner(slug("aptus"));
    let client_wide = Target::client(slug("aptus"), "c1");

    let client_admin = user(Role::ClientAdmin, "ca");
    for action in [Action::ListUsers, Action::ViewUsage, Action::GenerateReport] {
        let result = authorize(&client_admin, action, &partner_wide);
        assert!(matches!(result, Err(AuthError::Forbidden)), "{action}");
    }

    let teacher = user(Role::Teacher, "t1");
    for action in [Action::ListAssignments, Action::ListEvaluations] {
        let result = authorize(&teacher, action, &client_wide);
        assert!(matches!(result, Err(AuthError::Forbidden)), "{action}");
    }

    let student = user(Role::Student, "s1");
    assert!(authorize(&student, Action::ListAssignments, &client_wide).is_ok());
    let all_submissions = client_wide.clone().with_owner_teacher("t1");
    let result = authorize(&student, Action::ViewSubmission, &all_submissions);
    assert!(matches!(result, Err(AuthError::Forbidden)));

    let partner_admin = user(Role::PartnerAdmin, "pa");
    let result = authorize(&partner_admin, Action::ListPartners, &Target::platform());
    assert!(matches!(result, Err(AuthError::Forbidden)));
}

#[test]
fn same_ids_in_other_partner_are_not_found() {
    let bravo_own = Target::client(slug("bravo"), "c1")
        .with_owner_teacher("t1")
        .with_student("s1")
        .with_feedback_released(true);
    for role in [Role::ClientAdmin, Role::Teacher, Role::Student] {
        let user_id = if role == Role::Student { "s1" } else { "t1" };
        let principal = user(role, user_id);
        for action in Action::ALL {
            let result = authorize(&principal, *action, &bravo_own);
            assert!(
                matches!(result, Err(AuthError::NotFound)),
                "{role} {action}"
            );
        }
    }
}

#[test]
fn client_key_reaches_its_whole_client() {
    let evaluator = key(
        Some("c1"),
        &[Permission::CreateEvaluation, Permission::ViewOwnEvaluations],
    );
    let own = Target::client(slug("aptus"), "c1")
        .with_owner_teacher("t2")
        .with_student("s2");
    assert!(authorize(&evaluator, Action::Evaluate, &own).is_ok());
    assert!(authorize(&evaluator, Action::ViewEvaluation, &own).is_ok());

    let other_client = Target::client(slug("aptus"), "c2").with_owner_teacher("t1");
    let result = authorize(&evaluator, Action::Evaluate, &other_client);
    assert!(matches!(result, Err(AuthError::NotFound)));

    let other_partner = Target::client(slug("bravo"), "c1").with_owner_teacher("t1");
    let result = authorize(&evaluator, Action::Evaluate, &other_partner);
    assert!(matches!(result, Err(AuthError::NotFound)));

    let result = authorize(&evaluator, Action::SubmitWork, &own);
    assert!(matches!(result, Err(AuthError::Forbidden)));
    let result = authorize(
        &evaluator,
        Action::ListUsers,
        &Target::partner(slug("aptus")),
    );
    assert!(matches!(result, Err(AuthError::Forbidden)));
}

#[test]
fn key_sees_only_released_feedback() {
    let feedback = key(Some("c1"), &[Permission::ViewFeedback]);
    let evaluation = Target::client(slug("aptus"), "c1")
        .with_owner_teacher("t1")
        .with_student("s2");
    let released = evaluation.clone().with_feedback_released(true);
    assert!(authorize(&feedback, Action::ViewFeedback, &released).is_ok());
    let result = authorize(&feedback, Action::ViewFeedback, &evaluation);
    assert!(matches!(result, Err(AuthError::NotFound)));
}

#[test]
fn keys_cannot_manage_keys() {
    let admin_key = key(None, &[Permission::CreateClient]);
    let partner = Target::partner(slug("aptus"));
    assert!(authorize(&admin_key, Action::CreateClient, &partner).is_ok());
    let result = authorize(&admin_key, Action::ManageApiKeys, &partner);
    assert!(matches!(result, Err(AuthError::Forbidden)));
}
