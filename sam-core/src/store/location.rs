//! Store locations: a PostgreSQL URL or a SAM home folder for SQLite.

use std::path::{Path, PathBuf};

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use crate::tenancy::TenancyError;

/// The location of a [`Store`](super::Store)'s data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A PostgreSQL server, as a `postgres://` URL.
    Postgres(String),
    /// The embedded default: a SAM home folder holding `control.db` and
    /// one `partners/<slug>.db` file per partner.
    Sqlite(PathBuf),
}

impl StoreLocation {
    /// Parses a `postgres://`, `postgresql://` or `sqlite://HOME_DIR` URL.
    ///
    /// # Errors
    /// [`TenancyError::InvalidLocation`] for any other scheme.
    pub fn parse(url: &str) -> Result<Self, TenancyError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            url::Url::parse(url).map_err(|err| TenancyError::InvalidLocation {
                location: redact_url(url),
                reason: format!("not a valid URL: {err}"),
            })?;
            return Ok(Self::Postgres(url.to_owned()));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(TenancyError::InvalidLocation {
                    location: url.to_owned(),
                    reason: "give the SAM home folder after sqlite://, for example sqlite:///var/lib/sam"
                        .to_owned(),
                });
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        Err(TenancyError::InvalidLocation {
            location: redact_url(url),
            reason: "expected a postgres:// or sqlite:// URL".to_owned(),
        })
    }

    /// Returns the location with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        match self {
            Self::Postgres(url) => redact_url(url),
            Self::Sqlite(home) => format!("sqlite://{}", home.display()),
        }
    }

    /// Builds the error for a failed connection, without credentials.
    pub(crate) fn connect_error(&self, err: &sqlx::Error) -> TenancyError {
        TenancyError::InvalidLocation {
            location: self.redacted(),
            reason: format!("cannot connect: {err}"),
        }
    }
}

/// Replaces the password of a URL with `***`; unparsable text is dropped
/// entirely because it might contain one.
fn redact_url(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut url) => {
            if url.password().is_some() {
                // Setting a password only fails for URLs that cannot have one.
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

/// Characters that sqlx's SQLite URL parser would read as syntax.
const SQLITE_PATH_ESCAPES: &AsciiSet = &CONTROLS.add(b'%').add(b'?').add(b'#').add(b' ');

/// Builds the `sqlite://` URL of an existing database file.
pub(crate) fn sqlite_url(path: &Path) -> String {
    let text = path.to_string_lossy();
    format!(
        "sqlite://{}",
        utf8_percent_encode(&text, SQLITE_PATH_ESCAPES)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_parses_both_schemes() {
        assert_eq!(
            StoreLocation::parse("sqlite:///tmp/sam").unwrap(),
            StoreLocation::Sqlite(PathBuf::from("/tmp/sam"))
        );
        assert!(matches!(
            StoreLocation::parse("postgres://u@localhost/sam").unwrap(),
            StoreLocation::Postgres(_)
        ));
        assert!(StoreLocation::parse("mysql://x").is_err());
        assert!(StoreLocation::parse("sqlite://").is_err());
    }

    #[test]
    fn redaction_hides_password() {
        let location = StoreLocation::parse("postgres://sam:hunter2@db:5432/sam").unwrap();
        let shown = location.redacted();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }

    #[test]
    fn sqlite_url_escapes_special_characters() {
        let url = sqlite_url(Path::new("/tmp/my sam?#/control.db"));
        assert_eq!(url, "sqlite:///tmp/my%20sam%3F%23/control.db");
    }
}
