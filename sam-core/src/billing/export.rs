//! Invoice exports as spreadsheet-safe CSV.

use std::io::Write;

use rust_decimal::Decimal;

use super::{Invoice, InvoiceLine};
use crate::export::{spreadsheet_safe, spreadsheet_text};

/// The CSV header of [`write_csv`].
pub const CSV_COLUMNS: [&str; 14] = [
    "partner_id",
    "partner_name",
    "month",
    "status",
    "currency",
    "scope",
    "client_id",
    "client_name",
    "kind",
    "adjusts_month",
    "description",
    "quantity",
    "unit_price",
    "amount",
];

fn decimal(value: Option<Decimal>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// Writes `invoices` as CSV: per invoice, one `partner` row per line, one
/// `partner` total row, one `client` row per client line and client total,
/// and, when the invoice carries it, `platform` rows with the provider cost
/// and margin. Text cells pass through [`spreadsheet_text`] and number
/// cells through [`spreadsheet_safe`], so names such as `=HYPERLINK(..)`
/// or `+1` get a leading `'` while amounts such as `-12.50` stay numbers.
///
/// # Errors
/// A CSV or I/O error.
pub fn write_csv<W: Write>(out: W, invoices: &[Invoice]) -> Result<(), csv::Error> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(CSV_COLUMNS)?;
    for invoice in invoices {
        let mut row = |scope: &str,
                       client: Option<(&str, &str)>,
                       kind: &str,
                       line: Option<&InvoiceLine>,
                       description: &str,
                       amount: String|
         -> Result<(), csv::Error> {
            let (client_id, client_name) = client.unwrap_or(("", ""));
            let cells = [
                invoice.partner_id.clone(),
                invoice.partner_name.clone(),
                invoice.month.to_string(),
                invoice.status.as_str().to_owned(),
                invoice.currency.code().to_owned(),
                scope.to_owned(),
                client_id.to_owned(),
                client_name.to_owned(),
                kind.to_owned(),
                line.and_then(|l| l.adjusts_month)
                    .map(|m| m.to_string())
                    .unwrap_or_default(),
                description.to_owned(),
                decimal(line.map(|l| l.quantity)),
                decimal(line.and_then(|l| l.unit_price)),
                amount,
            ];
            // The last three columns are numbers; the others are always text.
            let numeric_from = cells.len() - 3;
            writer.write_record(cells.iter().enumerate().map(|(index, cell)| {
                if index >= numeric_from {
                    spreadsheet_safe(cell).into_owned()
                } else {
                    spreadsheet_text(cell).into_owned()
                }
            }))
        };
        for line in &invoice.lines {
            row(
                "partner",
                None,
                line.kind.as_str(),
                Some(line),
                &line.description,
                line.amount.to_string(),
            )?;
        }
        row(
            "partner",
            None,
            "total",
            None,
            "Invoice total",
            invoice.total.to_string(),
        )?;
        for client in &invoice.clients {
            let id = Some((client.client_id.as_str(), client.client_name.as_str()));
            for part in &client.lines {
                let line = invoice
                    .lines
                    .iter()
                    .find(|l| l.kind == part.kind && l.adjusts_month == part.adjusts_month);
                row(
                    "client",
                    id,
                    part.kind.as_str(),
                    line,
                    line.map_or("", |l| l.description.as_str()),
                    part.amount.to_string(),
                )?;
            }
            row(
                "client",
                id,
                "total",
                None,
                "Client total",
                client.total.to_string(),
            )?;
        }
        if let Some(platform) = &invoice.platform {
            row(
                "platform",
                None,
                "provider_cost_usd",
                None,
                "Provider cost of the month's evaluations in USD",
                platform.provider_cost_usd.to_string(),
            )?;
            row(
                "platform",
                None,
                "provider_cost",
                None,
                "Provider cost in the invoice currency",
                decimal(platform.provider_cost),
            )?;
            row(
                "platform",
                None,
                "margin",
                None,
                "Invoice total minus provider cost",
                decimal(platform.margin),
            )?;
        }
    }
    writer.flush()?;
    Ok(())
}
