//! Rendering command results as tables, JSON or spreadsheet-safe CSV.

use std::io::Write;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use sam_core::export::spreadsheet_safe;
use serde::Serialize;

use crate::cli::OutputFormat;

/// Rows with named columns, and the JSON value that carries the same data.
#[derive(Debug)]
pub struct Listing {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    pub json: serde_json::Value,
}

impl Listing {
    /// Builds a listing from records, a header, and a function that turns
    /// one record into its cells.
    pub fn new<T: Serialize>(
        columns: Vec<&'static str>,
        records: &[T],
        cells: impl Fn(&T) -> Vec<String>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            columns,
            rows: records.iter().map(cells).collect(),
            json: serde_json::to_value(records)?,
        })
    }

    /// Builds a listing of records an API returned: the rows from their
    /// typed form, and the JSON exactly as the server sent it.
    pub fn from_api<T: serde::de::DeserializeOwned>(
        columns: Vec<&'static str>,
        json: serde_json::Value,
        cells: impl Fn(&T) -> Vec<String>,
    ) -> anyhow::Result<Self> {
        let records: Vec<T> = serde_json::from_value(json.clone())?;
        Ok(Self {
            columns,
            rows: records.iter().map(cells).collect(),
            json,
        })
    }

    /// Builds a two-column field/value listing for one record.
    pub fn record<T: Serialize>(
        fields: Vec<(&'static str, String)>,
        record: &T,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            columns: vec!["field", "value"],
            rows: fields
                .into_iter()
                .map(|(name, value)| vec![name.to_owned(), value])
                .collect(),
            json: serde_json::to_value(record)?,
        })
    }
}

/// Prints `listing` to stdout in `format`.
pub fn print(listing: &Listing, format: OutputFormat) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        OutputFormat::Table => {
            writeln!(out, "{}", table(listing))?;
        }
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &listing.json)?;
            writeln!(out)?;
        }
        OutputFormat::Csv => {
            let mut writer = csv::Writer::from_writer(&mut out);
            writer.write_record(&listing.columns)?;
            for row in &listing.rows {
                writer.write_record(row.iter().map(|cell| spreadsheet_safe(cell).into_owned()))?;
            }
            writer.flush()?;
        }
    }
    Ok(())
}

/// Whether `-q` asked for errors only; set once by `app::run`.
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Stops [`note`] from printing, for `-q`.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
}

/// Prints a message line to stdout unless the output is for scripts or `-q` was given.
pub fn note(format: OutputFormat, message: &str) -> anyhow::Result<()> {
    if format == OutputFormat::Table && !QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        writeln!(std::io::stdout().lock(), "{message}")?;
    }
    Ok(())
}

/// Prints a note for people on stderr, unless `-q` is given, so that stdout
/// keeps only the command's result for pipes.
pub fn stderr_note(message: &str) {
    if !QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        let _ = writeln!(std::io::stderr(), "note: {message}");
    }
}

/// Prints a command's primary output line, such as a new key, whatever `-q` says.
pub fn line(text: &str) -> anyhow::Result<()> {
    writeln!(std::io::stdout().lock(), "{text}")?;
    Ok(())
}

/// Renders a listing as a table, or a short note when it is empty.
pub fn table(listing: &Listing) -> String {
    if listing.rows.is_empty() {
        return "(none)".to_owned();
    }
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(&listing.columns);
    for row in &listing.rows {
        table.add_row(row);
    }
    table.to_string()
}

/// Reports a failed input row on stderr; the batch goes on. A closed
/// stderr is ignored, so a reader that stops early cannot stop the batch.
pub fn row_error(message: &str) {
    let _ = writeln!(std::io::stderr(), "error: {message}");
}
