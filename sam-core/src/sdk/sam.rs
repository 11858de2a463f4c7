//! [`Sam`]: tenancy, assignments, evaluation and teacher review through one handle.

use std::sync::Arc;

use chrono::SubsecRound as _;
use uuid::Uuid;

use super::grader::Grader;
use super::SamBuilder;
use crate::engine::{check_teacher, Outcome};
use crate::eval::{Assignment, AssignmentInput, EvalError, Evaluation, SubmissionInput};
use crate::store::{EvaluationFilter, PartnerDb, ReviewAction, Store};
use crate::tenancy::{Client, NewClient, NewPartner, NewUser, Partner, PartnerSlug, User};
use crate::Error;

/// A handle on SAM for an application that embeds it: one store (embedded
/// SQLite or PostgreSQL) and one evaluator.
///
/// Cheap to clone; clones share the store's pools and the evaluator. The
/// handle keeps no global state, so handles on different stores coexist in
/// one process and never see each other's data.
///
/// Every operation names the partner by its slug and reads or writes only
/// that partner's data.
#[derive(Debug, Clone)]
pub struct Sam {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    grader: Grader,
}

impl Sam {
    /// Starts building a handle.
    pub fn builder() -> SamBuilder {
        SamBuilder::default()
    }

    pub(super) fn from_parts(store: Store, grader: Grader) -> Self {
        Self {
            inner: Arc::new(Inner { store, grader }),
        }
    }

    /// Returns the underlying store, for operations this API does not wrap
    /// (partner status, users of a client, migrations). Its methods return
    /// the area errors, which convert into [`Error`] with `?`.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Closes the store's pools, waiting for checked-out connections to
    /// return. Clones of this handle stop working too.
    pub async fn close(&self) {
        self.inner.store.close().await;
    }

    /// Creates and provisions a partner.
    ///
    /// # Errors
    /// [`Error::Conflict`] when the slug is taken, or [`Error::InvalidInput`]
    /// for an invalid field.
    pub async fn create_partner(&self, new: NewPartner) -> Result<Partner, Error> {
        Ok(self.inner.store.create_partner(new).await?)
    }

    /// Returns a partner, whatever its subscription status.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown slug, or [`Error::InvalidInput`]
    /// for text that is not a valid slug.
    pub async fn partner(&self, partner: &str) -> Result<Partner, Error> {
        let slug = PartnerSlug::parse(partner)?;
        Ok(self.inner.store.partner(&slug).await?)
    }

    /// Returns the client `new.client_id` of a partner, creating it from
    /// `new` when it does not exist. An existing client is returned as
    /// stored; its fields are not updated from `new`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an invalid field of a client to create,
    /// [`Error::NotFound`] for an unknown partner, or [`Error::Forbidden`]
    /// for a suspended one.
    pub async fn ensure_client(&self, partner: &str, new: NewClient) -> Result<Client, Error> {
        let db = self.partner_db(partner).await?;
        match db.client(&new.client_id).await {
            Ok(client) => return Ok(client),
            Err(err) if err.is_not_found() => {}
            Err(err) => return Err(err.into()),
        }
        let client_id = new.client_id.clone();
        match db.create_client(new).await {
            Ok(client) => Ok(client),
            // Another caller created it between the lookup and the insert.
            Err(crate::tenancy::TenancyError::AlreadyExists { .. }) => {
                Ok(db.client(&client_id).await?)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Returns one client of a partner.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown partner or client.
    pub async fn client(&self, partner: &str, client: &str) -> Result<Client, Error> {
        let db = self.partner_db(partner).await?;
        Ok(db.client(client).await?)
    }

    /// Returns the user `new.user_id` of a partner, creating it from `new`
    /// when it does not exist. An existing user is returned as stored, with
    /// its role and active flag unchanged.
    ///
    /// # Errors
    /// [`Error::Conflict`] when the user exists in another client,
    /// [`Error::NotFound`] for an unknown partner or client, or
    /// [`Error::InvalidInput`] for an invalid field.
    pub async fn ensure_user(&self, partner: &str, new: NewUser) -> Result<User, Error> {
        let db = self.partner_db(partner).await?;
        let existing = match db.user(&new.user_id).await {
            Ok(user) => Some(user),
            Err(err) if err.is_not_found() => None,
            Err(err) => return Err(err.into()),
        };
        let user = match existing {
            Some(user) => user,
            None => match db.create_user(new.clone()).await {
                Ok(user) => user,
                Err(crate::tenancy::TenancyError::AlreadyExists { .. }) => {
                    db.user(&new.user_id).await?
                }
                Err(err) => return Err(err.into()),
            },
        };
        if user.client_id != new.client_id {
            return Err(Error::Conflict(format!(
                "user {:?} belongs to client {:?}, not {:?}",
                user.user_id, user.client_id, new.client_id
            )));
        }
        Ok(user)
    }

    /// Validates an assignment and stores it for a client. Registering the
    /// same content again returns the stored assignment, so an adapter may
    /// call this on every submission it receives.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the first invalid field,
    /// [`Error::Conflict`] when the client has an assignment with this id
    /// and different content, or [`Error::NotFound`] for an unknown partner
    /// or client.
    pub async fn register_assignment(
        &self,
        partner: &str,
        client: &str,
        input: AssignmentInput,
    ) -> Result<Assignment, Error> {
        let db = self.partner_db(partner).await?;
        let client = db.client(client).await?;
        let assignment = input.into_assignment(&client.client_id)?;
        match db.create_assignment(&assignment, None).await {
            Ok(()) => return Ok(assignment),
            Err(EvalError::Tenancy(crate::tenancy::TenancyError::AlreadyExists { .. })) => {}
            Err(err) => return Err(err.into()),
        }
        let stored = db
            .assignment(&client.client_id, &assignment.assignment_id)
            .await?;
        if stored != assignment {
            return Err(Error::Conflict(format!(
                "assignment {:?} of client {:?} exists with different content; \
                 register the new version under another id",
                assignment.assignment_id, client.client_id
            )));
        }
        Ok(stored)
    }

    /// Returns one assignment of a client.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown partner, client or assignment.
    pub async fn assignment(
        &self,
        partner: &str,
        client: &str,
        assignment: &str,
    ) -> Result<Assignment, Error> {
        let db = self.partner_db(partner).await?;
        Ok(db.assignment(client, assignment).await?)
    }

    /// Grades a submission to one of the client's assignments and stores
    /// the result as a draft for teacher review.
    ///
    /// Submitting the same submission id with the same text again returns
    /// the stored evaluation without grading or billing it twice. `teacher`,
    /// when given, is recorded as responsible and must be an active teacher
    /// or client admin of the client.
    ///
    /// # Errors
    /// - [`Error::InvalidInput`] for an invalid id or a submission that is too large.
    /// - [`Error::NotFound`] for an unknown partner, client or assignment.
    /// - [`Error::Forbidden`] for a suspended partner or a teacher who may
    ///   not act for the client.
    /// - [`Error::Conflict`] when the submission id was used with other text.
    /// - [`Error::ProviderUnavailable`] when no evaluator could grade it.
    pub async fn evaluate(
        &self,
        partner: &str,
        client: &str,
        teacher: Option<&str>,
        submission: SubmissionInput,
    ) -> Result<Evaluation, Error> {
        let db = self.partner_db(partner).await?;
        let engine = self.inner.grader.engine_for(db.partner())?;
        engine.validate(&submission)?;
        let client = db.client(client).await?;
        if let Some(teacher) = teacher {
            check_reviewer(&db, &client.client_id, teacher).await?;
        }
        let assignment = db
            .assignment(&client.client_id, &submission.assignment_id)
            .await?;
        let outcome = engine
            .evaluate(&db, &client, &assignment, teacher, &submission)
            .await?;
        Ok(match outcome {
            Outcome::Evaluated(mut evaluation) => {
                // The store keeps timestamps to the microsecond, so a new
                // evaluation is returned as later reads will return it.
                evaluation.created_at = evaluation.created_at.trunc_subsecs(6);
                evaluation
            }
            Outcome::AlreadyEvaluated(evaluation) => evaluation,
        })
    }

    /// Returns one evaluation of a partner.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown partner or evaluation.
    pub async fn evaluation(&self, partner: &str, id: Uuid) -> Result<Evaluation, Error> {
        let db = self.partner_db(partner).await?;
        Ok(db.evaluation(id, None).await?)
    }

    /// Lists a partner's evaluations that match `filter`, oldest first.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown partner or an unknown `after` cursor.
    pub async fn evaluations(
        &self,
        partner: &str,
        filter: &EvaluationFilter,
    ) -> Result<Vec<Evaluation>, Error> {
        let db = self.partner_db(partner).await?;
        Ok(db.evaluations(filter).await?)
    }

    /// Records a teacher's approval of a draft evaluation: the AI result
    /// becomes the result in force and visible to the student.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown evaluation, [`Error::Forbidden`]
    /// when `teacher` is not an active teacher or client admin of the
    /// evaluation's client, and [`Error::Conflict`] when it was already reviewed.
    pub async fn approve(
        &self,
        partner: &str,
        id: Uuid,
        teacher: &str,
        comment: Option<&str>,
    ) -> Result<Evaluation, Error> {
        let action = ReviewAction::Approve {
            comment: comment.map(str::to_owned),
        };
        self.review(partner, id, teacher, action).await
    }

    /// Records a teacher's own score, in points, in place of the AI score.
    /// The AI result is kept beside it, and the grade is recomputed.
    ///
    /// # Errors
    /// As [`approve`](Self::approve), and [`Error::InvalidInput`] for a
    /// score outside `0..=max_points` or a blank comment.
    pub async fn override_score(
        &self,
        partner: &str,
        id: Uuid,
        teacher: &str,
        score: f64,
        comment: &str,
    ) -> Result<Evaluation, Error> {
        let action = ReviewAction::Override {
            score,
            comment: comment.to_owned(),
        };
        self.review(partner, id, teacher, action).await
    }

    async fn review(
        &self,
        partner: &str,
        id: Uuid,
        teacher: &str,
        action: ReviewAction,
    ) -> Result<Evaluation, Error> {
        let db = self.partner_db(partner).await?;
        let current = db.evaluation(id, None).await?;
        check_reviewer(&db, &current.client_id, teacher).await?;
        Ok(db
            .review_evaluation(id, Some(&current.client_id), teacher, action)
            .await?)
    }

    /// Opens a handle on the data of a partner that may serve requests.
    async fn partner_db(&self, partner: &str) -> Result<PartnerDb, Error> {
        let slug = PartnerSlug::parse(partner)?;
        Ok(self.inner.store.partner_db(&slug).await?)
    }
}

/// Checks that `teacher` may act for `client_id`, as [`Error::Forbidden`] when not.
async fn check_reviewer(db: &PartnerDb, client_id: &str, teacher: &str) -> Result<(), Error> {
    match check_teacher(db, client_id, teacher).await {
        Ok(()) => Ok(()),
        Err(EvalError::InvalidField { reason, .. }) => Err(Error::Forbidden(format!(
            "user {teacher:?} may not act for client {client_id:?}: {reason}"
        ))),
        Err(err) => Err(err.into()),
    }
}
