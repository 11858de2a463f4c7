//! Backfills SAM from an LMS gradebook export: registers the assignments
//! of a JSONL file, evaluates every row of a CSV file for one partner and
//! client, and prints a summary per assignment.
//!
//! ```text
//! batch_import --home ./sam-data --partner aptus --client colegio1 --provision \
//!     --assignments examples/quickstart/assignments.jsonl --csv examples/data/gradebook.csv
//! ```
//!
//! The CSV file has a header row with the columns `student_id`,
//! `assignment_id`, `submission_id` and `text`, in any order. A row that
//! fails is reported on stderr with its line number and the rest continue.
//! Running the import again returns the stored evaluations, so an
//! interrupted backfill resumes without grading a row twice.
//!
//! Exit codes: 0 when every row was evaluated, 5 when some rows failed,
//! 1 when the import could not run.

use std::collections::BTreeMap;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use sam_core::eval::{AssignmentInput, SubmissionInput};
use sam_core::Sam;
use sam_examples::{ensure_partner, ensure_school, StoreArgs};
use serde::Deserialize;

/// Evaluate every row of a CSV gradebook export with SAM.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    store: StoreArgs,
    /// The partner (tenant) to evaluate for.
    #[arg(long)]
    partner: String,
    /// The client (school) the rows belong to.
    #[arg(long)]
    client: String,
    /// The gradebook export: CSV with `student_id`, `assignment_id`,
    /// `submission_id` and `text` columns.
    #[arg(long)]
    csv: PathBuf,
    /// Assignments to register first, one JSON object per line (`id`,
    /// `prompt`, `max_points`, optional `title`, `reference_answer`,
    /// `language`, `rubric`).
    #[arg(long)]
    assignments: Option<PathBuf>,
    /// Create the store, the partner and the client when they are missing.
    #[arg(long)]
    provision: bool,
}

/// Exit code when the import finished with some rows failed.
const EXIT_PARTIAL: u8 = 5;

/// One row of the export.
#[derive(Debug, Deserialize)]
struct Row {
    student_id: String,
    assignment_id: String,
    submission_id: String,
    text: String,
}

/// Evaluated rows and score totals of one assignment.
#[derive(Debug, Default)]
struct AssignmentSummary {
    evaluated: usize,
    points: f64,
    max_points: f64,
    grades: f64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(code) => code,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let sam = args.store.open(args.provision).await?;
    if args.provision {
        ensure_partner(&sam, &args.partner).await?;
        ensure_school(&sam, &args.partner, &args.client).await?;
    }
    if let Some(path) = &args.assignments {
        let count = register_assignments(&sam, &args.partner, &args.client, path).await?;
        writeln!(std::io::stdout(), "assignments registered: {count}")?;
    }

    let mut reader = csv::Reader::from_path(&args.csv)
        .with_context(|| format!("cannot read {}", args.csv.display()))?;
    let mut summaries: BTreeMap<String, AssignmentSummary> = BTreeMap::new();
    let mut rows = 0;
    let mut failed = 0;
    for record in reader.deserialize::<Row>() {
        rows += 1;
        // Line 1 is the header, so the n-th row is on line n + 1.
        let line = rows + 1;
        let result = match record {
            Ok(row) => evaluate_row(&sam, &args, row, &mut summaries).await,
            Err(err) => Err(anyhow::anyhow!("invalid row: {err}")),
        };
        if let Err(err) = result {
            failed += 1;
            writeln!(std::io::stderr(), "{}:{line}: {err:#}", args.csv.display())?;
        }
    }

    let mut out = std::io::stdout().lock();
    for (assignment, summary) in &summaries {
        let count = summary.evaluated as f64;
        writeln!(
            out,
            "{assignment}: {} evaluated, mean {:.2}/{} points, mean grade {:.1}",
            summary.evaluated,
            summary.points / count,
            summary.max_points,
            summary.grades / count,
        )?;
    }
    writeln!(
        out,
        "rows: {rows}, evaluated: {}, failed: {failed}",
        rows - failed
    )?;
    sam.close().await;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PARTIAL)
    })
}

async fn evaluate_row(
    sam: &Sam,
    args: &Args,
    row: Row,
    summaries: &mut BTreeMap<String, AssignmentSummary>,
) -> anyhow::Result<()> {
    let input = SubmissionInput {
        submission_id: row.submission_id,
        assignment_id: row.assignment_id,
        student_id: row.student_id,
        text: row.text,
    };
    let evaluation = sam
        .evaluate(&args.partner, &args.client, None, input)
        .await?;
    let summary = summaries
        .entry(evaluation.assignment_id.clone())
        .or_default();
    summary.evaluated += 1;
    summary.points += evaluation.final_score();
    summary.max_points = evaluation.max_points;
    summary.grades += evaluation.grade;
    Ok(())
}

/// Registers every assignment of a JSONL file and returns how many there were.
async fn register_assignments(
    sam: &Sam,
    partner: &str,
    client: &str,
    path: &Path,
) -> anyhow::Result<usize> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut count = 0;
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let input: AssignmentInput = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: invalid assignment", path.display(), index + 1))?;
        sam.register_assignment(partner, client, input)
            .await
            .with_context(|| format!("{}:{}", path.display(), index + 1))?;
        count += 1;
    }
    Ok(count)
}
