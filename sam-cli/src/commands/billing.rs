//! `samctl billing ...`: invoice previews, closing months and exports.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use sam_core::billing::{export, Billing, BillingError, Invoice};
use sam_core::metering::Month;
use sam_core::tenancy::PartnerSlug;

use crate::app::{Context, UsageError};
use crate::cli::OutputFormat;
use crate::output::{self, Listing};

#[derive(Debug, Subcommand)]
pub enum BillingCommand {
    /// Show a partner's invoice for a month: a draft while the month is
    /// open, the stored invoice once it is closed
    Preview {
        /// Partner slug; required on the database [default in remote mode: the logged-in token's partner]
        #[arg(long, short = 'p', value_name = "SLUG")]
        partner: Option<String>,
        /// Billing month, YYYY-MM, in the partner's time zone
        #[arg(long, value_name = "YYYY-MM")]
        month: String,
        /// Also show the platform's provider cost and margin (for operators, on the database only)
        #[arg(long)]
        platform: bool,
    },
    /// Close a month that has ended and store its invoices, which never
    /// change again. Usage recorded for it later is billed as an adjustment
    /// on the next open month
    Close {
        /// Billing month, YYYY-MM
        #[arg(long, value_name = "YYYY-MM")]
        month: String,
        /// Only this partner [default: every partner]
        #[arg(long, short = 'p', value_name = "SLUG")]
        partner: Option<String>,
        /// Confirm; without it the invoices are only shown
        #[arg(long)]
        yes: bool,
    },
    /// Export the invoices of a month with their per-client lines
    Export(ExportArgs),
}

/// Export file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One row per partner line, client line and total; spreadsheet-safe
    Csv,
    /// One JSON array of invoices
    Json,
}

/// Options of `samctl billing export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Billing month, YYYY-MM
    #[arg(long, value_name = "YYYY-MM")]
    pub month: String,
    /// Only this partner [default: every partner]
    #[arg(long, short = 'p', value_name = "SLUG")]
    pub partner: Option<String>,
    /// File format
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Write to this file instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Include the platform's provider cost and margin (for operators only)
    #[arg(long)]
    pub platform: bool,
}

pub fn money(amount: rust_decimal::Decimal) -> String {
    amount.to_string()
}

fn line_rows(invoice: &Invoice) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = invoice
        .lines
        .iter()
        .map(|line| {
            vec![
                line.kind.as_str().to_owned(),
                line.description.clone(),
                line.quantity.to_string(),
                line.unit_price.map(money).unwrap_or_default(),
                money(line.amount),
            ]
        })
        .collect();
    rows.push(vec![
        "total".to_owned(),
        format!("{} evaluations", invoice.evaluations),
        String::new(),
        String::new(),
        money(invoice.total),
    ]);
    rows
}

fn client_rows(invoice: &Invoice) -> Vec<Vec<String>> {
    invoice
        .clients
        .iter()
        .map(|client| {
            vec![
                client.client_id.clone(),
                client.client_name.clone(),
                client.evaluations.to_string(),
                money(client.usage_total()),
                money(client.total - client.usage_total()),
                money(client.total),
            ]
        })
        .collect()
}

/// Prints one invoice: JSON as is, CSV in the export format, and for
/// people its lines, its per-client breakdown and, if present, the
/// platform's cost and margin.
pub fn print_invoice(context: &Context, invoice: &Invoice) -> anyhow::Result<()> {
    match context.output {
        OutputFormat::Json => {
            let listing = Listing {
                columns: vec![],
                rows: vec![],
                json: serde_json::to_value(invoice)?,
            };
            output::print(&listing, context.output)
        }
        OutputFormat::Csv => {
            export::write_csv(std::io::stdout().lock(), std::slice::from_ref(invoice))?;
            Ok(())
        }
        OutputFormat::Table => {
            let header = format!(
                "Invoice of {} ({}) for {}: {}, {}",
                invoice.partner_name,
                invoice.partner_id,
                invoice.month,
                invoice.status.as_str(),
                invoice.currency
            );
            let lines = Listing {
                columns: vec!["line", "description", "quantity", "unit price", "amount"],
                rows: line_rows(invoice),
                json: serde_json::Value::Null,
            };
            let clients = Listing {
                columns: vec![
                    "client",
                    "name",
                    "evaluations",
                    "month",
                    "adjustments",
                    "total",
                ],
                rows: client_rows(invoice),
                json: serde_json::Value::Null,
            };
            let mut text = format!(
                "{header}\n{}\nPer client:\n{}",
                output::table(&lines),
                output::table(&clients)
            );
            if let Some(platform) = &invoice.platform {
                let optional = |value: Option<rust_decimal::Decimal>| {
                    value.map_or_else(|| "unknown".to_owned(), money)
                };
                text.push_str(&format!(
                    "\nPlatform (operators only): provider cost {} USD = {} {}, margin {} ({}%)",
                    platform.provider_cost_usd,
                    optional(platform.provider_cost),
                    invoice.currency,
                    optional(platform.margin),
                    optional(platform.margin_percent),
                ));
            }
            output::line(&text)
        }
    }
}

fn partner_for(text: Option<&str>) -> anyhow::Result<Option<PartnerSlug>> {
    Ok(text.map(PartnerSlug::parse).transpose()?)
}

pub async fn run(context: &Context, command: BillingCommand) -> anyhow::Result<ExitCode> {
    let store = context.store().await?;
    let billing = Billing::new(store.clone(), context.config.billing.clone())?;
    match command {
        BillingCommand::Preview {
            partner,
            month,
            platform,
        } => {
            let partner = partner.ok_or_else(|| {
                UsageError(
                    "missing --partner SLUG: the partner whose invoice to preview".to_owned(),
                )
            })?;
            let slug = PartnerSlug::parse(&partner)?;
            let mut invoice = billing.invoice(&slug, month.parse()?).await?;
            if !platform {
                invoice = invoice.without_platform();
            }
            print_invoice(context, &invoice)?;
        }
        BillingCommand::Close {
            month,
            partner,
            yes,
        } => close(context, &billing, month.parse()?, partner.as_deref(), yes).await?,
        BillingCommand::Export(args) => export_invoices(&billing, &args).await?,
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

const CLOSE_COLUMNS: [&str; 6] = [
    "partner",
    "month",
    "status",
    "evaluations",
    "total",
    "currency",
];

fn close_row(invoice: &Invoice, status: &str) -> Vec<String> {
    vec![
        invoice.partner_id.clone(),
        invoice.month.to_string(),
        status.to_owned(),
        invoice.evaluations.to_string(),
        money(invoice.total),
        invoice.currency.to_string(),
    ]
}

/// Closes `month` for one partner or all. With every partner, a month that
/// is closed already is reported and skipped, and partners created after
/// the month are skipped; with one partner, both are errors.
async fn close(
    context: &Context,
    billing: &Billing,
    month: Month,
    partner: Option<&str>,
    yes: bool,
) -> anyhow::Result<()> {
    let only = partner_for(partner)?;
    let slugs = billing.partner_slugs(only.as_ref()).await?;
    let mut rows = Vec::new();
    let mut closed = Vec::new();
    for slug in &slugs {
        if !yes {
            match billing.invoice(slug, month).await {
                Ok(invoice) => rows.push(close_row(&invoice, invoice.status.as_str())),
                Err(BillingError::BeforePartnerCreated { .. }) if only.is_none() => {}
                Err(err) => return Err(err.into()),
            }
            continue;
        }
        match billing.close(slug, month).await {
            Ok(invoice) => {
                let invoice = invoice.without_platform();
                rows.push(close_row(&invoice, "closed now"));
                closed.push(invoice);
            }
            Err(BillingError::AlreadyClosed { .. }) if only.is_none() => {
                let invoice = billing.invoice(slug, month).await?.without_platform();
                rows.push(close_row(&invoice, "closed before"));
            }
            Err(BillingError::BeforePartnerCreated { .. }) if only.is_none() => {}
            Err(err) => {
                return Err(anyhow::Error::new(err)
                    .context(format!("cannot close {month} for partner {slug}")));
            }
        }
    }
    let listing = Listing {
        columns: CLOSE_COLUMNS.to_vec(),
        rows,
        json: serde_json::to_value(&closed)?,
    };
    if !yes {
        output::print(&listing, OutputFormat::Table)?;
        return Err(UsageError(format!(
            "closing {month} freezes these invoices for good; re-run with --yes to close"
        ))
        .into());
    }
    output::print(&listing, context.output)
}

async fn export_invoices(billing: &Billing, args: &ExportArgs) -> anyhow::Result<()> {
    let month: Month = args.month.parse()?;
    let only = partner_for(args.partner.as_deref())?;
    let mut invoices = billing.invoices(month, only.as_ref()).await?;
    if !args.platform {
        invoices = invoices
            .into_iter()
            .map(Invoice::without_platform)
            .collect();
    }
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    match args.format {
        ExportFormat::Csv => export::write_csv(&mut out, &invoices)?,
        ExportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &invoices)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(())
}
