//! Partners, clients and users: the tenant hierarchy and its enumerations.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{PartnerSlug, TenancyError};

/// Declares a closed set of lower-case names that round-trip through
/// `Display`, `FromStr` and serde, with an error listing the valid names.
macro_rules! name_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// Returns the name stored in the database and shown to users.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = TenancyError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(TenancyError::InvalidInput {
                        field: $field,
                        value: text.chars().take(80).collect(),
                        reason: format!(
                            "expected one of: {}",
                            [$($text),+].join(", ")
                        ),
                    }),
                }
            }
        }
    };
}

name_enum!(
    /// A partner's commercial tier, which sets its default price plan and limits.
    Tier, "tier" {
        /// Entry tier.
        Basic => "basic",
        /// Standard tier.
        Standard => "standard",
        /// Premium tier.
        Premium => "premium",
        /// Enterprise tier.
        Enterprise => "enterprise",
    }
);

name_enum!(
    /// Whether a partner may use the platform.
    SubscriptionStatus, "subscription_status" {
        /// Requests are served.
        Active => "active",
        /// Requests are rejected until the partner is resumed; data is kept.
        Suspended => "suspended",
        /// The subscription ended; data is kept until an explicit delete.
        Cancelled => "cancelled",
    }
);

name_enum!(
    /// The order in which the LLM router tries providers for a tenant.
    LlmStrategy, "strategy" {
        /// Self-hosted Llama, then DeepSeek, then Claude.
        CostOptimized => "cost_optimized",
        /// DeepSeek, then self-hosted Llama, then Claude.
        Performance => "performance",
        /// DeepSeek, then Claude, then self-hosted Llama.
        Redundancy => "redundancy",
    }
);

name_enum!(
    /// The kind of institution a client is.
    InstitutionType, "institution_type" {
        /// Primary and secondary school.
        K12 => "k12",
        /// University or faculty.
        University => "university",
        /// Technical or vocational institute.
        Technical => "technical",
        /// Municipal education authority.
        Municipal => "municipal",
    }
);

name_enum!(
    /// A user's role. Its permissions and scope are decided by the auth module.
    Role, "role" {
        /// Platform operator: every partner.
        SuperAdmin => "super_admin",
        /// Administers one partner and its clients.
        PartnerAdmin => "partner_admin",
        /// Administers one client (institution).
        ClientAdmin => "client_admin",
        /// Creates assignments and reviews evaluations.
        Teacher => "teacher",
        /// Submits work and reads approved feedback.
        Student => "student",
    }
);

/// A partner (tenant) as recorded in the control tables.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Partner {
    /// Surrogate key.
    pub id: Uuid,
    /// The partner's slug, which also names its schema or database file.
    pub slug: PartnerSlug,
    /// Display name.
    pub name: String,
    /// Commercial tier.
    pub tier: Tier,
    /// Subscription status.
    pub status: SubscriptionStatus,
    /// Monthly base fee in the partner's billing currency.
    pub monthly_fee: Decimal,
    /// Evaluations allowed per day, in the partner's time zone.
    pub daily_quota: i64,
    /// LLM routing strategy.
    pub strategy: LlmStrategy,
    /// IANA time zone for quota days and billing months.
    pub time_zone: String,
    /// Whether the partner's schema or database exists and is migrated.
    /// A partner that is not provisioned serves no requests.
    pub provisioned: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl Partner {
    /// Returns whether the partner may serve requests now.
    pub fn is_usable(&self) -> bool {
        self.provisioned && self.status == SubscriptionStatus::Active
    }
}

/// Fields of a partner to create.
#[derive(Debug, Clone)]
pub struct NewPartner {
    /// The slug, already validated.
    pub slug: PartnerSlug,
    /// Display name.
    pub name: String,
    /// Commercial tier.
    pub tier: Tier,
    /// LLM routing strategy; `cost_optimized` when not given.
    pub strategy: LlmStrategy,
    /// Daily quota; the tier's default when not given.
    pub daily_quota: Option<i64>,
    /// Monthly base fee; the tier's default when not given.
    pub monthly_fee: Option<Decimal>,
    /// IANA time zone; `America/Santiago` when not given.
    pub time_zone: Option<String>,
}

impl Tier {
    /// Returns the daily evaluation quota a partner of this tier gets by default.
    pub fn default_daily_quota(self) -> i64 {
        match self {
            Self::Basic => 1_000,
            Self::Standard => 5_000,
            Self::Premium => 10_000,
            Self::Enterprise => 100_000,
        }
    }

    /// Returns the default monthly base fee in USD.
    pub fn default_monthly_fee(self) -> Decimal {
        match self {
            Self::Basic => Decimal::new(500, 0),
            Self::Standard => Decimal::new(1_500, 0),
            Self::Premium => Decimal::new(4_000, 0),
            Self::Enterprise => Decimal::new(10_000, 0),
        }
    }
}

/// Grading settings of a client for the Chilean 1.0-7.0 scale.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GradeScale {
    /// Fraction of the maximum points needed for the passing grade (the
    /// "exigencia"), strictly between 0 and 1.
    pub exigencia: Decimal,
    /// Lowest grade, given for zero points.
    pub min_grade: Decimal,
    /// Grade given at exactly the exigencia.
    pub passing_grade: Decimal,
    /// Highest grade, given for full points.
    pub max_grade: Decimal,
}

impl Default for GradeScale {
    fn default() -> Self {
        Self {
            exigencia: Decimal::new(6, 1),
            min_grade: Decimal::new(10, 1),
            passing_grade: Decimal::new(40, 1),
            max_grade: Decimal::new(70, 1),
        }
    }
}

impl GradeScale {
    /// Checks that the scale is usable.
    ///
    /// # Errors
    /// [`TenancyError::InvalidInput`] naming the setting that is out of range.
    pub fn validate(&self) -> Result<(), TenancyError> {
        let invalid = |field: &'static str, value: Decimal, reason: &str| {
            Err(TenancyError::InvalidInput {
                field,
                value: value.to_string(),
                reason: reason.to_owned(),
            })
        };
        if self.exigencia <= Decimal::ZERO || self.exigencia >= Decimal::ONE {
            return invalid(
                "exigencia",
                self.exigencia,
                "must be strictly between 0 and 1, for example 0.6",
            );
        }
        if self.passing_grade <= self.min_grade {
            return invalid(
                "passing_grade",
                self.passing_grade,
                "must be above the minimum grade",
            );
        }
        if self.max_grade <= self.passing_grade {
            return invalid(
                "max_grade",
                self.max_grade,
                "must be above the passing grade",
            );
        }
        Ok(())
    }
}

/// A partner's client: a school, faculty or municipality.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Client {
    /// Surrogate key.
    pub id: Uuid,
    /// The partner-chosen identifier, unique within the partner.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Kind of institution.
    pub institution_type: InstitutionType,
    /// Number of students, as declared.
    pub students_count: i64,
    /// Number of teachers, as declared.
    pub teachers_count: i64,
    /// Grading scale.
    pub grade_scale: GradeScale,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// Fields of a client to create.
#[derive(Debug, Clone)]
pub struct NewClient {
    /// Identifier, unique within the partner.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Kind of institution.
    pub institution_type: InstitutionType,
    /// Number of students.
    pub students_count: i64,
    /// Number of teachers.
    pub teachers_count: i64,
    /// Grading scale; the Chilean default when not given.
    pub grade_scale: GradeScale,
}

/// A user of a client.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    /// Surrogate key.
    pub id: Uuid,
    /// The partner-chosen identifier, unique within the partner.
    pub user_id: String,
    /// The client the user belongs to.
    pub client_id: String,
    /// Role.
    pub role: Role,
    /// Contact e-mail, if known.
    pub email: Option<String>,
    /// Whether the user may act. A deactivated user's tokens lose their power.
    pub active: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// Fields of a user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Identifier, unique within the partner.
    pub user_id: String,
    /// The client the user belongs to.
    pub client_id: String,
    /// Role.
    pub role: Role,
    /// Contact e-mail.
    pub email: Option<String>,
}

/// Maximum length of a client, user, assignment or submission identifier.
pub const MAX_ID_LEN: usize = 100;

/// Checks a caller-chosen identifier (client, user, assignment, submission):
/// 1 to [`MAX_ID_LEN`] bytes of ASCII letters, digits, `_`, `-`, `.`, `@` or `:`.
///
/// # Errors
/// [`TenancyError::InvalidInput`] naming `field` and the offending value.
pub fn validate_id(field: &'static str, value: &str) -> Result<(), TenancyError> {
    let invalid = |reason: String| TenancyError::InvalidInput {
        field,
        value: value.chars().take(80).collect(),
        reason,
    };
    if value.is_empty() {
        return Err(invalid("it is empty".to_owned()));
    }
    if value.len() > MAX_ID_LEN {
        return Err(invalid(format!(
            "it is {} bytes long and the maximum is {MAX_ID_LEN}",
            value.len()
        )));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_-.@:".contains(*c)))
    {
        return Err(invalid(format!(
            "it contains {bad:?}; use ASCII letters, digits, '_', '-', '.', '@' or ':'"
        )));
    }
    Ok(())
}

/// Checks a display name: not blank and at most 255 characters.
///
/// # Errors
/// [`TenancyError::InvalidInput`] naming `field`.
pub fn validate_name(field: &'static str, value: &str) -> Result<(), TenancyError> {
    if value.trim().is_empty() || value.chars().count() > 255 || value.chars().any(char::is_control)
    {
        return Err(TenancyError::InvalidInput {
            field,
            value: value.chars().take(80).collect(),
            reason: "must be 1 to 255 characters with no control characters".to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_text() {
        for tier in Tier::ALL {
            assert_eq!(tier.as_str().parse::<Tier>().unwrap(), *tier);
        }
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), *role);
        }
    }

    #[test]
    fn unknown_enum_value_lists_choices() {
        let err = "gold".parse::<Tier>().unwrap_err().to_string();
        assert!(err.contains("gold"), "{err}");
        assert!(
            err.contains("basic, standard, premium, enterprise"),
            "{err}"
        );
    }

    #[test]
    fn ids_reject_spaces_and_quotes() {
        assert!(validate_id("client_id", "colegio_san_jose").is_ok());
        assert!(validate_id("client_id", "a b").is_err());
        assert!(validate_id("client_id", "a'b").is_err());
        assert!(validate_id("client_id", "").is_err());
        assert!(validate_id("client_id", &"x".repeat(101)).is_err());
    }

    #[test]
    fn grade_scale_rejects_exigencia_out_of_range() {
        let scale = GradeScale {
            exigencia: Decimal::ONE,
            ..GradeScale::default()
        };
        assert!(scale.validate().is_err());
        assert!(GradeScale::default().validate().is_ok());
    }
}
