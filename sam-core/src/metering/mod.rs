//! Metering: usage events, their daily rollups, and usage reports over
//! partner-local days and months.
//!
//! Every billable action writes one usage event with a unique idempotency
//! key. The same transaction adds the event to its `usage_daily` row only
//! when the event row was actually inserted, so a retried action is counted
//! once in both tables. Reports read the rollups, never the raw events.

mod month;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use month::{local_day, parse_zone, DateRange, Month};

/// Nanos (1e-9 USD) in one US dollar.
pub const NANOS_PER_USD: i64 = 1_000_000_000;

/// Converts integer nanos of USD to an exact decimal amount of USD.
pub fn nanos_to_usd(nanos: i64) -> Decimal {
    Decimal::from_i128_with_scale(i128::from(nanos), 9).normalize()
}

/// One billable action to record.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageEvent {
    /// Unique key of the action; recording the same key again changes nothing.
    pub idempotency_key: String,
    /// The kind of billed action, such as `evaluation`.
    pub kind: String,
    /// When the action happened.
    pub occurred_at: DateTime<Utc>,
    /// The client billed.
    pub client_id: String,
    /// The user who asked for it, if known.
    pub user_id: Option<String>,
    /// The assignment, for an evaluation.
    pub assignment_id: Option<String>,
    /// The evaluation, for an evaluation.
    pub evaluation_id: Option<String>,
    /// The LLM provider that served it.
    pub provider: String,
    /// The model.
    pub model: String,
    /// Input tokens, including cached ones.
    pub input_tokens: u64,
    /// Input tokens served from the provider's prompt cache.
    pub cached_input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Provider cost in nanos of USD (1e-9 USD).
    pub cost_nanos: i64,
    /// Whether SAM's own result cache served it.
    pub cache_hit: bool,
}

/// The dimension a usage report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UsageGroup {
    /// One row per partner-local day.
    Day,
    /// One row per client.
    Client,
    /// One row per model.
    Model,
    /// One row per provider.
    Provider,
}

impl UsageGroup {
    /// Returns the `usage_daily` column this grouping reads; a fixed name,
    /// never user text.
    pub(crate) fn column(self) -> &'static str {
        match self {
            Self::Day => "local_day",
            Self::Client => "client_id",
            Self::Model => "model",
            Self::Provider => "provider",
        }
    }
}

/// A usage report request.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageQuery {
    /// Partner-local days to include.
    pub range: DateRange,
    /// Only this client's usage.
    pub client_id: Option<String>,
    /// The dimension of the rows.
    pub group: UsageGroup,
}

/// Usage totals over some set of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UsageTotals {
    /// Billable events (evaluations).
    pub events: i64,
    /// Input tokens, including cached ones.
    pub input_tokens: i64,
    /// Cached input tokens.
    pub cached_input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Provider cost in nanos of USD.
    pub cost_nanos: i64,
    /// Events served from SAM's result cache.
    pub cache_hits: i64,
}

impl UsageTotals {
    /// Adds `other` to these totals.
    ///
    /// # Errors
    /// [`crate::billing::BillingError::Overflow`] when a total exceeds `i64`.
    pub fn add(&mut self, other: &Self) -> Result<(), crate::billing::BillingError> {
        let sum = |a: i64, b: i64| {
            a.checked_add(b)
                .ok_or(crate::billing::BillingError::Overflow {
                    what: "usage totals",
                })
        };
        self.events = sum(self.events, other.events)?;
        self.input_tokens = sum(self.input_tokens, other.input_tokens)?;
        self.cached_input_tokens = sum(self.cached_input_tokens, other.cached_input_tokens)?;
        self.output_tokens = sum(self.output_tokens, other.output_tokens)?;
        self.cost_nanos = sum(self.cost_nanos, other.cost_nanos)?;
        self.cache_hits = sum(self.cache_hits, other.cache_hits)?;
        Ok(())
    }

    /// Returns the provider cost as an exact amount of USD.
    pub fn cost_usd(&self) -> Decimal {
        nanos_to_usd(self.cost_nanos)
    }
}

/// One row of a usage report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRow {
    /// The day (`YYYY-MM-DD`), client id, model or provider of the row.
    pub key: String,
    /// The row's totals.
    #[serde(flatten)]
    pub totals: UsageTotals,
}

/// A usage report: rows ordered by key, and their totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageReport {
    /// The dimension of the rows.
    pub group: UsageGroup,
    /// First day included.
    pub from: NaiveDate,
    /// Last day included.
    pub to: NaiveDate,
    /// One row per key with usage.
    pub rows: Vec<UsageRow>,
    /// The sum of the rows.
    pub totals: UsageTotals,
}

/// One partner's usage report, as `samctl usage` and the HTTP API print it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerUsage {
    /// The partner's slug.
    pub partner: String,
    /// The partner's report, whose fields appear next to `partner`.
    #[serde(flatten)]
    pub report: UsageReport,
}

/// Usage reports of one or more partners and their grand totals: the JSON
/// body of `samctl usage --output json` and of `GET /api/{partner}/v1/usage`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UsageSummary {
    /// One report per partner, ordered by partner slug.
    pub reports: Vec<PartnerUsage>,
    /// The sum of the reports' totals.
    pub totals: UsageTotals,
}

impl UsageSummary {
    /// Appends `report` of partner `partner` and adds its totals.
    ///
    /// # Errors
    /// [`crate::billing::BillingError::Overflow`] when a total exceeds `i64`.
    pub fn push(
        &mut self,
        partner: impl Into<String>,
        report: UsageReport,
    ) -> Result<(), crate::billing::BillingError> {
        self.totals.add(&report.totals)?;
        self.reports.push(PartnerUsage {
            partner: partner.into(),
            report,
        });
        Ok(())
    }
}

/// The rollup totals before and after a rebuild.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RebuildSummary {
    /// Rollup totals before the rebuild.
    pub before: UsageTotals,
    /// Rollup totals after it, equal to the raw events' totals.
    pub after: UsageTotals,
    /// `usage_daily` rows written.
    pub rows: i64,
}
