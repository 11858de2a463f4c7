//! The error type of the embedding API: one enum that integrators branch
//! on, with the area errors (`TenancyError`, `EvalError`, ...) mapped into it.

use chrono::{DateTime, Utc};

use crate::cache::CacheError;
use crate::eval::EvalError;
use crate::llm::RouterError;
use crate::tenancy::TenancyError;

/// An error from a [`Sam`](crate::Sam) operation.
///
/// Each variant tells the caller what to do next: fix the input, look up
/// another id, retry later, or report a bug. Messages show a database by
/// its redacted URL and an API key by its reference, not the secret itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No such partner, client, user, assignment or evaluation is visible to
    /// the caller. A row of another partner or client is reported the same way.
    #[error("{kind} {id:?} not found")]
    NotFound {
        /// The kind of row looked up: `partner`, `client`, `user`, `assignment` or `evaluation`.
        kind: String,
        /// The identifier looked up.
        id: String,
    },
    /// The action is not allowed: the partner is suspended, or the user is
    /// not an active teacher of the client.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// An input field has a value that cannot be used.
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidInput {
        /// The field, as a path such as `rubric.criteria[0].points`.
        field: String,
        /// The rejected value, cut to 80 characters; never a secret.
        value: String,
        /// A description of a valid value.
        reason: String,
    },
    /// The request conflicts with stored data: the id is taken by other
    /// content, or the evaluation was already reviewed.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The partner's daily evaluation quota is used up.
    ///
    /// NOTE: no `Sam` method checks the daily quota yet, so none returns
    /// this variant today.
    #[error("the daily evaluation quota is used up; it resets at {resets_at}")]
    QuotaExceeded {
        /// When the quota resets.
        resets_at: DateTime<Utc>,
    },
    /// No evaluator could grade the submission. Retrying later may succeed.
    #[error("no evaluator could grade the submission: {0}")]
    ProviderUnavailable(String),
    /// The store cannot be reached or opened. Retrying later may succeed.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupt stored data. The message names the cause.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Builds an [`Error::InvalidInput`], cutting the value to 80 characters.
    pub fn invalid_input(
        field: impl Into<String>,
        value: impl std::fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        Self::InvalidInput {
            field: field.into(),
            value: value.to_string().chars().take(80).collect(),
            reason: reason.into(),
        }
    }

    /// Returns whether the same call may succeed when retried later
    /// without changes.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::QuotaExceeded { .. } | Self::ProviderUnavailable(_) | Self::Unavailable(_)
        )
    }
}

impl From<TenancyError> for Error {
    fn from(err: TenancyError) -> Self {
        match err {
            TenancyError::InvalidSlug { slug, reason } => Self::InvalidInput {
                field: "partner".to_owned(),
                value: slug,
                reason,
            },
            TenancyError::InvalidInput {
                field,
                value,
                reason,
            } => Self::InvalidInput {
                field: field.to_owned(),
                value,
                reason,
            },
            TenancyError::NotFound { kind, id } => Self::NotFound {
                kind: kind.to_owned(),
                id,
            },
            err @ TenancyError::AlreadyExists { .. } => Self::Conflict(err.to_string()),
            err @ TenancyError::PartnerUnavailable { .. } => Self::Forbidden(err.to_string()),
            err @ (TenancyError::InvalidLocation { .. } | TenancyError::Io { .. }) => {
                Self::Unavailable(err.to_string())
            }
            TenancyError::Database(err) => from_database(err),
            err @ (TenancyError::Migration(_) | TenancyError::Corrupt { .. }) => {
                Self::Internal(err.to_string())
            }
        }
    }
}

/// Maps a database error: lost connections and exhausted pools are
/// [`Error::Unavailable`], anything else is a bug or a schema mismatch.
fn from_database(err: sqlx::Error) -> Error {
    let message = format!("database error: {err}");
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Error::Unavailable(message),
        _ => Error::Internal(message),
    }
}

impl From<EvalError> for Error {
    fn from(err: EvalError) -> Self {
        match err {
            EvalError::InvalidField {
                field,
                value,
                reason,
            } => Self::InvalidInput {
                field,
                value,
                reason,
            },
            EvalError::SubmissionTooLarge {
                submission_id,
                size,
                max,
            } => Self::InvalidInput {
                field: "text".to_owned(),
                value: format!("{size} bytes in submission {submission_id}"),
                reason: format!("a submission may have at most {max} bytes"),
            },
            err @ (EvalError::DuplicateSubmission { .. } | EvalError::InvalidState { .. }) => {
                Self::Conflict(err.to_string())
            }
            EvalError::EvaluatorFailed(message) => Self::ProviderUnavailable(message),
            EvalError::Tenancy(err) => err.into(),
        }
    }
}

impl From<RouterError> for Error {
    fn from(err: RouterError) -> Self {
        match err {
            RouterError::InvalidConfig {
                field,
                value,
                reason,
            } => Self::InvalidInput {
                field: format!("llm.{field}"),
                value,
                reason,
            },
            RouterError::InvalidPrice {
                field,
                value,
                reason,
            } => Self::InvalidInput {
                field: format!("llm.providers.prices.{field}"),
                value,
                reason: reason.to_owned(),
            },
            RouterError::Secret { reference, reason } => Self::InvalidInput {
                field: "llm.providers.api_key".to_owned(),
                value: reference,
                reason,
            },
            err @ (RouterError::CostOverflow { .. } | RouterError::HttpClient(_)) => {
                Self::Internal(err.to_string())
            }
        }
    }
}

impl From<CacheError> for Error {
    /// Cache errors reach `Sam` only while it builds the cache backend from
    /// the `cache` settings, so each one is reported as invalid configuration.
    fn from(err: CacheError) -> Self {
        Self::invalid_input("cache", "", err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenancy_not_found_keeps_kind_and_id() {
        let err = Error::from(TenancyError::not_found("client", "colegio1"));
        match err {
            Error::NotFound { kind, id } => {
                assert_eq!(kind, "client");
                assert_eq!(id, "colegio1");
            }
            other => panic!("expected NotFound, got {other:?}"),
        }
    }

    #[test]
    fn tenancy_already_exists_is_conflict() {
        let err = Error::from(TenancyError::AlreadyExists {
            kind: "partner",
            id: "aptus".to_owned(),
        });
        assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    }

    #[test]
    fn suspended_partner_is_forbidden() {
        let err = Error::from(TenancyError::PartnerUnavailable {
            slug: "aptus".to_owned(),
            state: "suspended".to_owned(),
        });
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
    }

    #[test]
    fn pool_timeout_is_unavailable_and_retryable() {
        let err = Error::from(TenancyError::Database(sqlx::Error::PoolTimedOut));
        assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
        assert!(err.is_retryable());
    }

    #[test]
    fn corrupt_value_is_internal() {
        let err = Error::from(TenancyError::Corrupt {
            column: "evaluations.flags",
            reason: "not JSON".to_owned(),
        });
        assert!(matches!(err, Error::Internal(_)), "{err:?}");
        assert!(!err.is_retryable());
    }

    #[test]
    fn invalid_slug_names_partner_field() {
        let err = Error::from(TenancyError::InvalidSlug {
            slug: "Bad Slug".to_owned(),
            reason: "upper case".to_owned(),
        });
        match err {
            Error::InvalidInput { field, value, .. } => {
                assert_eq!(field, "partner");
                assert_eq!(value, "Bad Slug");
            }
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn eval_errors_map_by_variant() {
        let invalid = Error::from(EvalError::invalid_field("max_points", 0, "must be above 0"));
        assert!(matches!(invalid, Error::InvalidInput { ref field, .. } if field == "max_points"));
        let too_large = Error::from(EvalError::SubmissionTooLarge {
            submission_id: "s1".to_owned(),
            size: 10,
            max: 5,
        });
        assert!(matches!(too_large, Error::InvalidInput { ref field, .. } if field == "text"));
        let duplicate = Error::from(EvalError::DuplicateSubmission {
            assignment_id: "a1".to_owned(),
            submission_id: "s1".to_owned(),
        });
        assert!(matches!(duplicate, Error::Conflict(_)));
        let reviewed = Error::from(EvalError::InvalidState {
            id: "e1".to_owned(),
            status: "approved".to_owned(),
            reason: "only a draft can be approved".to_owned(),
        });
        assert!(matches!(reviewed, Error::Conflict(_)));
        let failed = Error::from(EvalError::EvaluatorFailed("timeout".to_owned()));
        assert!(matches!(failed, Error::ProviderUnavailable(_)));
        assert!(failed.is_retryable());
        let nested = Error::from(EvalError::Tenancy(TenancyError::not_found(
            "assignment",
            "a1",
        )));
        assert!(matches!(nested, Error::NotFound { .. }));
    }

    #[test]
    fn router_field_is_prefixed_with_llm() {
        let err = Error::from(RouterError::InvalidConfig {
            field: "providers[0].base_url".to_owned(),
            value: "ftp://x".to_owned(),
            reason: "expected http or https".to_owned(),
        });
        assert!(
            matches!(err, Error::InvalidInput { ref field, .. } if field == "llm.providers[0].base_url"),
            "{err:?}"
        );
    }
}
