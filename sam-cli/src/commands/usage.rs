//! `samctl usage`: usage reports from the daily rollups, and their rebuild.

use std::process::ExitCode;

use chrono::{NaiveDate, Utc};
use clap::{Args, Subcommand, ValueEnum};
use sam_core::metering::{
    nanos_to_usd, parse_zone, DateRange, Month, UsageGroup, UsageQuery, UsageSummary, UsageTotals,
};
use sam_core::store::Store;
use sam_core::tenancy::PartnerSlug;

use crate::app::{Context, UsageError};
use crate::cli::PartnerArg;
use crate::commands::remote::remote_partner;
use crate::output::{self, Listing};
use crate::remote::{not_remote, Remote};

/// Options of `samctl usage`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct UsageArgs {
    #[command(subcommand)]
    pub command: Option<UsageCommand>,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Subcommand)]
pub enum UsageCommand {
    /// Recompute a partner's daily usage rollups from its raw usage events
    Rebuild {
        #[command(flatten)]
        partner: PartnerArg,
    },
}

/// The dimension of the report's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupArg {
    /// One row per partner-local day
    Day,
    /// One row per client
    Client,
    /// One row per model
    Model,
    /// One row per provider
    Provider,
}

impl GroupArg {
    fn group(self) -> UsageGroup {
        match self {
            Self::Day => UsageGroup::Day,
            Self::Client => UsageGroup::Client,
            Self::Model => UsageGroup::Model,
            Self::Provider => UsageGroup::Provider,
        }
    }

    /// Returns the value of the server's `by` query parameter.
    fn query_value(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Client => "client",
            Self::Model => "model",
            Self::Provider => "provider",
        }
    }
}

/// The partners, clients, days and grouping of a usage report.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Partner slug [default: every partner on the database; in remote mode, the logged-in token's partner]
    #[arg(long, short = 'p', value_name = "SLUG")]
    pub partner: Option<String>,
    /// Only this client's usage; on the database it needs --partner
    #[arg(long, short = 'c', value_name = "CLIENT_ID")]
    pub client: Option<String>,
    /// First partner-local day, YYYY-MM-DD
    #[arg(long, value_name = "DATE", requires = "to", conflicts_with = "month")]
    pub from: Option<NaiveDate>,
    /// Last partner-local day, included, YYYY-MM-DD
    #[arg(long, value_name = "DATE", requires = "from")]
    pub to: Option<NaiveDate>,
    /// A whole month, YYYY-MM [default: the current month in each partner's time zone]
    #[arg(long, value_name = "YYYY-MM")]
    pub month: Option<String>,
    /// The dimension of the rows
    #[arg(long, value_enum, default_value_t = GroupArg::Day)]
    pub by: GroupArg,
}

const COLUMNS: [&str; 9] = [
    "partner",
    "key",
    "events",
    "input tokens",
    "cached input tokens",
    "output tokens",
    "cache hits",
    "cost nanos",
    "cost USD",
];

fn cells(partner: &str, key: &str, totals: &UsageTotals) -> Vec<String> {
    vec![
        partner.to_owned(),
        key.to_owned(),
        totals.events.to_string(),
        totals.input_tokens.to_string(),
        totals.cached_input_tokens.to_string(),
        totals.output_tokens.to_string(),
        totals.cache_hits.to_string(),
        totals.cost_nanos.to_string(),
        nanos_to_usd(totals.cost_nanos).to_string(),
    ]
}

pub async fn run(context: &Context, args: UsageArgs) -> anyhow::Result<ExitCode> {
    let store = context.store().await?;
    match args.command {
        Some(UsageCommand::Rebuild { partner }) => rebuild(context, &store, &partner).await?,
        None => report(context, &store, &args.report).await?,
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn rebuild(context: &Context, store: &Store, partner: &PartnerArg) -> anyhow::Result<()> {
    let slug = PartnerSlug::parse(&partner.partner)?;
    let db = store.partner_db_any_status(&slug).await?;
    let summary = db.rebuild_usage_rollups().await?;
    let fields = vec![
        ("partner", slug.to_string()),
        ("rollup rows", summary.rows.to_string()),
        ("events before", summary.before.events.to_string()),
        ("events after", summary.after.events.to_string()),
        ("cost nanos before", summary.before.cost_nanos.to_string()),
        ("cost nanos after", summary.after.cost_nanos.to_string()),
    ];
    output::print(&Listing::record(fields, &summary)?, context.output)
}

/// Returns the days a report covers for a partner in time zone `zone`.
fn range(args: &ReportArgs, zone: &str) -> anyhow::Result<DateRange> {
    if let (Some(from), Some(to)) = (args.from, args.to) {
        return Ok(DateRange::new(from, to)?);
    }
    let month = match &args.month {
        Some(month) => month.parse::<Month>()?,
        None => Month::of_time(Utc::now(), parse_zone(zone)?),
    };
    Ok(month.days())
}

async fn report(context: &Context, store: &Store, args: &ReportArgs) -> anyhow::Result<()> {
    let partners = match (&args.partner, &args.client) {
        (Some(slug), _) => vec![store.partner(&PartnerSlug::parse(slug)?).await?],
        (None, Some(client)) => {
            return Err(UsageError(format!(
            "--client {client} needs --partner SLUG: client ids are unique only within a partner"
        ))
            .into())
        }
        (None, None) => store.partners().await?,
    };
    let mut summary = UsageSummary::default();
    for partner in partners.into_iter().filter(|p| p.provisioned) {
        let db = store.partner_db_any_status(&partner.slug).await?;
        let query = UsageQuery {
            range: range(args, &partner.time_zone)?,
            client_id: args.client.clone(),
            group: args.by.group(),
        };
        let report = db.usage(&query).await?;
        summary.push(partner.slug.as_str(), report)?;
    }
    print_summary(context, &summary)
}

/// Prints a usage summary: one row per partner and key, then the total.
fn print_summary(context: &Context, summary: &UsageSummary) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for partner in &summary.reports {
        for row in &partner.report.rows {
            rows.push(cells(&partner.partner, &row.key, &row.totals));
        }
    }
    rows.push(cells("", "total", &summary.totals));
    let listing = Listing {
        columns: COLUMNS.to_vec(),
        rows,
        json: serde_json::to_value(summary)?,
    };
    output::print(&listing, context.output)
}

/// Prints a usage report of one partner from `GET /api/{partner}/v1/usage`.
/// The server picks the current month in the partner's time zone when no
/// days are given, as the database mode does.
pub async fn run_remote(
    context: &Context,
    remote: &Remote,
    args: UsageArgs,
) -> anyhow::Result<ExitCode> {
    if args.command.is_some() {
        return Err(not_remote("usage rebuild"));
    }
    let report = &args.report;
    let partner = remote_partner(remote, report.partner.as_deref())?;
    let mut query = vec![("by", report.by.query_value().to_owned())];
    if let (Some(from), Some(to)) = (report.from, report.to) {
        query.push(("from", from.to_string()));
        query.push(("to", to.to_string()));
    }
    if let Some(month) = &report.month {
        query.push(("month", month.clone()));
    }
    if let Some(client) = &report.client {
        query.push(("client", client.clone()));
    }
    let summary: UsageSummary = remote.get(&partner, &["usage"], &query).await?;
    print_summary(context, &summary)?;
    Ok(ExitCode::SUCCESS)
}
