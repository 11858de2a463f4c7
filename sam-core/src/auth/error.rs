//! Errors of authentication and authorization.

use crate::tenancy::TenancyError;

/// An error from authenticating a caller or authorizing an operation.
///
/// The credential variants never name the check that failed, so a caller cannot
/// probe a token or key one check at a time. The reason is logged at debug
/// level instead. The server maps `InvalidToken`, `InvalidApiKey` and
/// `Unauthenticated` to 401, `Forbidden` to 403, `NotFound` to 404,
/// `InvalidInput` to 400 and the rest to 500.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No credential was presented.
    #[error("authentication required: send `Authorization: Bearer <token or API key>`")]
    Unauthenticated,
    /// The bearer token failed verification or no longer matches the stored
    /// partner or user.
    #[error("invalid or expired token")]
    InvalidToken,
    /// The API key is unknown, wrong, revoked, expired or belongs to another
    /// partner.
    #[error("invalid API key")]
    InvalidApiKey,
    /// The caller may see the resource but lacks the permission for the
    /// operation.
    #[error("permission denied")]
    Forbidden,
    /// The resource is outside the caller's scope, and is reported exactly
    /// like a resource that does not exist.
    #[error("not found")]
    NotFound,
    /// A value given to create a token or API key cannot be used.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The field name.
        field: &'static str,
        /// The rule a valid value follows.
        reason: String,
    },
    /// A signing or verification key from the configuration cannot be used.
    /// The message names the key id and never contains key material.
    #[error("invalid key {kid:?}: {reason}")]
    InvalidKey {
        /// The key id from the configuration.
        kid: String,
        /// The reason the key was rejected.
        reason: String,
    },
    /// A key file could not be read.
    #[error("cannot read key file {path}: {source}")]
    KeyFile {
        /// The path from the configuration.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Signing a token failed.
    #[error("signing token failed: {0}")]
    Signing(jsonwebtoken::errors::Error),
    /// The partner, user or API key store failed. This is not a credential
    /// failure, so the server returns 500 and the client may retry.
    #[error("auth store failed: {0}")]
    Store(#[from] TenancyError),
}

impl AuthError {
    /// Builds an [`AuthError::InvalidInput`].
    pub(crate) fn invalid_input(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            field,
            reason: reason.into(),
        }
    }
}
