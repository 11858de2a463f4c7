//! Validated partner slugs and the one place that turns them into SQL identifiers.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::TenancyError;

/// Maximum length of a partner slug, in bytes.
///
/// `partner_` plus 40 bytes stays well under PostgreSQL's 63-byte identifier
/// limit, so two distinct slugs can never be truncated to the same schema.
pub const MAX_SLUG_LEN: usize = 40;

/// Slugs that would collide with system schemas, the control schema, or
/// names an operator would mistake for one.
const RESERVED_SLUGS: &[&str] = &[
    "public",
    "control",
    "information_schema",
    "sam",
    "sam_control",
    "admin",
    "global",
    "default",
    "template",
    "postgres",
    "main",
    "temp",
];

/// A partner's identifier: a lower-case ASCII letter, then letters, digits
/// or `_`, at most [`MAX_SLUG_LEN`] bytes, and not a reserved name.
///
/// Constructing one is the only way to obtain a [`SchemaName`], so a schema
/// name can never be built from unvalidated text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PartnerSlug(String);

impl PartnerSlug {
    /// Validates `text` as a partner slug.
    ///
    /// # Errors
    /// [`TenancyError::InvalidSlug`] naming the slug and the rule it breaks.
    pub fn parse(text: &str) -> Result<Self, TenancyError> {
        let invalid = |reason: &str| TenancyError::InvalidSlug {
            slug: text.chars().take(80).collect(),
            reason: reason.to_owned(),
        };
        if text.is_empty() {
            return Err(invalid("it is empty"));
        }
        if text.len() > MAX_SLUG_LEN {
            return Err(invalid(&format!(
                "it is {} bytes long and the maximum is {MAX_SLUG_LEN}",
                text.len()
            )));
        }
        if !text.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(invalid("it must start with a lower-case ASCII letter"));
        }
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
        {
            return Err(invalid(&format!(
                "it contains {bad:?}; only lower-case ASCII letters, digits and '_' are allowed"
            )));
        }
        if RESERVED_SLUGS.contains(&text) || text.starts_with("pg_") {
            return Err(invalid("it is a reserved name"));
        }
        Ok(Self(text.to_owned()))
    }

    /// Returns the slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the partner's PostgreSQL schema, `partner_<slug>`.
    pub fn schema(&self) -> SchemaName {
        SchemaName(format!("partner_{}", self.0))
    }
}

impl fmt::Display for PartnerSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for PartnerSlug {
    type Err = TenancyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl<'de> Deserialize<'de> for PartnerSlug {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A PostgreSQL schema name derived from a [`PartnerSlug`] or a fixed
/// platform name. Its [`quoted`](Self::quoted) form is the only text that is
/// ever spliced into SQL as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SchemaName(String);

impl SchemaName {
    /// The schema that holds the platform's control tables.
    pub fn control() -> Self {
        Self("sam_control".to_owned())
    }

    /// Returns the unquoted name, for bind parameters and messages.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the name as a double-quoted SQL identifier.
    ///
    /// The name contains only `[a-z0-9_]` by construction, so quoting cannot
    /// be escaped; the quotes also stop PostgreSQL from folding case.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

impl fmt::Display for SchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_accepts_valid_names() {
        for slug in ["aptus", "a", "colegio_2024", "puc", "x".repeat(40).as_str()] {
            assert!(PartnerSlug::parse(slug).is_ok(), "{slug} should be valid");
        }
    }

    #[test]
    fn slug_rejects_hostile_names() {
        let long = "a".repeat(41);
        let cases = [
            "",
            "Aptus",
            "1abc",
            "_abc",
            "a'b",
            "a\"b",
            "a;drop schema public",
            "a-b",
            "a b",
            "public",
            "control",
            "information_schema",
            "pg_catalog",
            "pg_x",
            "ñandu",
            long.as_str(),
        ];
        for slug in cases {
            assert!(
                PartnerSlug::parse(slug).is_err(),
                "{slug:?} should be rejected"
            );
        }
    }

    #[test]
    fn schema_name_is_prefixed_and_quoted() {
        let slug = PartnerSlug::parse("aptus").unwrap();
        assert_eq!(slug.schema().as_str(), "partner_aptus");
        assert_eq!(slug.schema().quoted(), "\"partner_aptus\"");
    }

    #[test]
    fn longest_slug_schema_fits_postgres_identifier() {
        let slug = PartnerSlug::parse(&"z".repeat(MAX_SLUG_LEN)).unwrap();
        assert!(slug.schema().as_str().len() <= 63);
    }
}
