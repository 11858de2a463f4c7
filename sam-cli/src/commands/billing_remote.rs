//! `samctl billing preview` in remote mode: the invoice of a month from
//! `GET /api/{partner}/v1/invoices/{month}`, which returns the whole
//! invoice to partner-wide callers and a client statement to client admins.

use std::process::ExitCode;

use sam_core::billing::{ClientStatement, Invoice};
use serde::Deserialize;

use crate::app::{Context, UsageError};
use crate::cli::OutputFormat;
use crate::commands::billing::{money, print_invoice};
use crate::commands::remote::remote_partner;
use crate::output::{self, Listing};
use crate::remote::Remote;

/// The invoice view the server returns for the caller.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum InvoiceReply {
    /// The whole invoice, without the platform's cost and margin.
    Partner(Box<Invoice>),
    /// The caller's client's part of the invoice.
    Client(ClientStatement),
}

/// Prints the invoice of `month` as the server shows it to the logged-in
/// caller.
pub async fn preview(
    context: &Context,
    remote: &Remote,
    partner: Option<&str>,
    month: &str,
    platform: bool,
) -> anyhow::Result<ExitCode> {
    if platform {
        return Err(UsageError(
            "--platform is not available in remote mode: the server never sends the platform's \
             provider cost and margin, so run `samctl billing preview --platform` against the \
             database, or drop the option"
                .to_owned(),
        )
        .into());
    }
    let partner = remote_partner(remote, partner)?;
    let reply: InvoiceReply = remote.get(&partner, &["invoices", month], &[]).await?;
    match reply {
        InvoiceReply::Partner(invoice) => print_invoice(context, &invoice)?,
        InvoiceReply::Client(statement) => print_statement(context, &statement)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Returns one row per line of the statement and a total row.
fn statement_rows(statement: &ClientStatement) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = statement
        .lines
        .iter()
        .map(|line| {
            vec![
                line.kind.as_str().to_owned(),
                line.adjusts_month
                    .map(|month| month.to_string())
                    .unwrap_or_default(),
                money(line.amount),
            ]
        })
        .collect();
    rows.push(vec![
        "total".to_owned(),
        String::new(),
        money(statement.total),
    ]);
    rows
}

/// Prints a client's statement: JSON as the server sent it, CSV as one row
/// per line and the total, and for people a header and the lines.
fn print_statement(context: &Context, statement: &ClientStatement) -> anyhow::Result<()> {
    let listing = Listing {
        columns: vec!["line", "adjusts month", "amount"],
        rows: statement_rows(statement),
        json: serde_json::to_value(statement)?,
    };
    match context.output {
        OutputFormat::Json | OutputFormat::Csv => output::print(&listing, context.output),
        OutputFormat::Table => {
            let header = format!(
                "Statement of client {} ({}) of partner {} for {}: {}, {}, {} evaluations",
                statement.client_name,
                statement.client_id,
                statement.partner_id,
                statement.month,
                statement.status.as_str(),
                statement.currency,
                statement.evaluations
            );
            output::line(&format!("{header}\n{}", output::table(&listing)))
        }
    }
}
