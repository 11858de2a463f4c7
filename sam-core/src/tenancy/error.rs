//! Errors of tenancy and storage operations.

/// An error from a tenancy or storage operation.
///
/// Callers branch on the variant; the server maps each one to an HTTP status.
/// A row that belongs to another partner or client is reported exactly like
/// a row that does not exist.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TenancyError {
    /// A partner slug broke the naming rules.
    #[error("invalid partner slug {slug:?}: {reason}")]
    InvalidSlug {
        /// The rejected text, cut to 80 characters.
        slug: String,
        /// The rule it breaks.
        reason: String,
    },
    /// A field had a value that cannot be used.
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidInput {
        /// The field name as the user typed it.
        field: &'static str,
        /// The rejected value, cut to 80 characters.
        value: String,
        /// The rule a valid value follows.
        reason: String,
    },
    /// No such row is visible to the caller.
    #[error("{kind} {id:?} not found")]
    NotFound {
        /// The kind of row looked up: `partner`, `client`, `user`, ...
        kind: &'static str,
        /// The identifier looked up.
        id: String,
    },
    /// A row with the same identifier exists already.
    #[error("{kind} {id:?} already exists")]
    AlreadyExists {
        /// The kind of row created: `partner`, `client`, `user`, ...
        kind: &'static str,
        /// The identifier that is taken.
        id: String,
    },
    /// The partner exists but may not serve requests now.
    #[error("partner {slug:?} is {state}; run `samctl partner resume {slug}` to serve it again")]
    PartnerUnavailable {
        /// The partner's slug.
        slug: String,
        /// `suspended`, `cancelled` or `not provisioned`.
        state: String,
    },
    /// The database URL or home folder cannot be used.
    #[error("invalid store location {location:?}: {reason}")]
    InvalidLocation {
        /// The URL (without credentials) or folder.
        location: String,
        /// The reason it cannot be used.
        reason: String,
    },
    /// The database rejected or failed a statement.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A file of the embedded store could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// The action that failed.
        action: &'static str,
        /// The path involved.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A stored value could not be decoded; the database was edited by hand
    /// or written by an incompatible version.
    #[error("corrupt stored value in {column}: {reason}")]
    Corrupt {
        /// The column.
        column: &'static str,
        /// The problem found.
        reason: String,
    },
}

impl TenancyError {
    /// Builds a [`TenancyError::NotFound`].
    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            kind,
            id: id.into(),
        }
    }

    /// Returns whether the error means the row does not exist for the caller.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}

/// Converts a database error into [`TenancyError::AlreadyExists`] for `kind`
/// and `id` when it is a unique-constraint violation, or a database error otherwise.
pub(crate) fn exists_or_database(kind: &'static str, id: &str, err: sqlx::Error) -> TenancyError {
    if is_unique_violation(&err) {
        TenancyError::AlreadyExists {
            kind,
            id: id.to_owned(),
        }
    } else {
        err.into()
    }
}

/// Returns whether a database error is a unique-constraint violation.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}
