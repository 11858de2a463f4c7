//! `samctl evaluate`: grade every submission in a file, resumably.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::{Decimal, RoundingStrategy};
use sam_core::engine::{check_teacher, Engine, Outcome};
use sam_core::eval::{Assignment, SubmissionInput};
use sam_core::store::PartnerDb;
use sam_core::tenancy::Client;
use serde::Serialize;

use crate::app::{Context, EXIT_PARTIAL};
use crate::cli::{OutputFormat, TenantArgs};
use crate::input::{read_rows, Row, RowError};
use crate::output::{self, Listing};

/// Options of `samctl evaluate`.
#[derive(Debug, Args, Clone)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,
    /// JSONL or CSV file with one submission per row
    #[arg(long, short = 'f')]
    pub file: PathBuf,
    /// Evaluate every row against this assignment
    #[arg(long, short = 'a', conflicts_with = "assignment_field")]
    pub assignment: Option<String>,
    /// Field holding each row's assignment id (when --assignment is not given)
    #[arg(long, default_value = "assignment_id")]
    pub assignment_field: String,
    /// Field holding the submission id, unique per assignment
    #[arg(long, default_value = "id")]
    pub id_field: String,
    /// Field holding the student id
    #[arg(long, default_value = "student_id")]
    pub student_field: String,
    /// Field holding the student's text
    #[arg(long, default_value = "text")]
    pub text_field: String,
    /// Teacher (user id) responsible for these evaluations
    #[arg(long)]
    pub teacher: Option<String>,
    /// Submissions graded at once [default: evaluation.concurrency from the configuration, 8]
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: Option<u16>,
    /// Write one JSON line per row to this file (replaced when the run ends)
    #[arg(long, value_name = "OUT.jsonl")]
    pub results: Option<PathBuf>,
    /// Grade with this LLM provider preset: deepseek, claude or llama_self_hosted,
    /// optionally with its base URL (llama_self_hosted=http://127.0.0.1:8000/v1).
    /// Repeat for several; the partner's strategy orders them, the offline scorer
    /// is the last resort. Adds to the providers in the configuration file.
    #[arg(long = "provider", value_name = "NAME[=URL]")]
    pub providers: Vec<String>,
}

/// One line of the results file.
#[derive(Debug, Serialize)]
struct ResultLine {
    line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    evaluation: Option<sam_core::eval::Evaluation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl ResultLine {
    /// Builds the line of a graded row, new or evaluated before.
    fn graded(line: u64, outcome: &Outcome) -> Self {
        let status = match outcome {
            Outcome::Evaluated(_) => "evaluated",
            Outcome::AlreadyEvaluated(_) => "already_evaluated",
        };
        Self {
            line,
            status: Some(status),
            evaluation: Some(outcome.evaluation().clone()),
            error: None,
        }
    }

    /// Builds the line of a failed row.
    fn failed(line: u64, message: String) -> Self {
        Self {
            line,
            status: None,
            evaluation: None,
            error: Some(message),
        }
    }
}

/// Totals printed at the end of a run.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub rows: usize,
    pub evaluated: usize,
    pub already_evaluated: usize,
    pub failed: usize,
    pub mean_score_fraction: Option<f64>,
    pub mean_grade: Option<f64>,
    pub grade_distribution: BTreeMap<String, usize>,
    pub cache_hits: usize,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: String,
    pub interrupted: bool,
}

impl Summary {
    /// Counts one graded row, adding its score and grade to the sums.
    fn add(&mut self, outcome: &Outcome, score_sum: &mut f64, grade_sum: &mut Decimal) {
        let evaluation = outcome.evaluation();
        match outcome {
            Outcome::Evaluated(_) => self.evaluated += 1,
            Outcome::AlreadyEvaluated(_) => self.already_evaluated += 1,
        }
        *score_sum += evaluation.score_fraction;
        // Grades have one decimal, so a decimal sum is exact and the mean
        // does not depend on the order in which rows finish.
        *grade_sum += Decimal::from_f64(evaluation.grade)
            .unwrap_or_default()
            .round_dp(1);
        let bucket = grade_bucket(evaluation.grade);
        *self.grade_distribution.entry(bucket).or_default() += 1;
        if evaluation.cached {
            self.cache_hits += 1;
        }
        self.input_tokens += evaluation.input_tokens;
        self.output_tokens += evaluation.output_tokens;
    }

    /// Sets the means from the sums of the graded rows, and the provider
    /// cost of the rows graded now.
    fn finish(&mut self, score_sum: f64, grade_sum: Decimal, cost_nanos: i64) {
        let graded = self.evaluated + self.already_evaluated;
        if graded > 0 {
            self.mean_score_fraction = Some(score_sum / graded as f64);
            self.mean_grade = (grade_sum / Decimal::from(graded))
                .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
                .to_f64();
        }
        self.cost_usd = (Decimal::from(cost_nanos) / Decimal::from(1_000_000_000))
            .round_dp(6)
            .to_string();
    }

    /// Returns the exit code of a finished run, printing the resume hint
    /// after an interruption.
    pub fn exit_code(&self) -> ExitCode {
        if self.interrupted {
            output::row_error(
                "interrupted; re-run the same command to evaluate the remaining rows",
            );
            return ExitCode::from(130);
        }
        if self.failed > 0 {
            ExitCode::from(EXIT_PARTIAL)
        } else {
            ExitCode::SUCCESS
        }
    }

    /// Renders the summary as a field/value listing.
    pub fn listing(&self) -> anyhow::Result<Listing> {
        let mean = |v: Option<f64>, digits: usize| {
            v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
        };
        let distribution = self
            .grade_distribution
            .iter()
            .map(|(bucket, count)| format!("{bucket}: {count}"))
            .collect::<Vec<_>>()
            .join(", ");
        Listing::record(
            vec![
                ("rows", self.rows.to_string()),
                ("evaluated now", self.evaluated.to_string()),
                ("already evaluated", self.already_evaluated.to_string()),
                ("failed", self.failed.to_string()),
                (
                    "mean score",
                    mean(self.mean_score_fraction.map(|f| f * 100.0), 1) + "%",
                ),
                ("mean grade (1.0-7.0)", mean(self.mean_grade, 2)),
                ("grade distribution", distribution),
                ("cache hits", self.cache_hits.to_string()),
                (
                    "tokens in / out",
                    format!("{} / {}", self.input_tokens, self.output_tokens),
                ),
                ("provider cost (USD)", self.cost_usd.clone()),
            ],
            self,
        )
    }
}

/// Buckets a 1.0-7.0 grade by whole grade: `1.0-1.9`, ..., `6.0-7.0`.
fn grade_bucket(grade: f64) -> String {
    let floor = grade.floor().clamp(1.0, 6.0);
    if floor >= 6.0 {
        "6.0-7.0".to_owned()
    } else {
        format!("{floor:.1}-{:.1}", floor + 0.9)
    }
}

/// Parses one row into a submission, using the field mapping.
fn submission_from_row(row: &Row, args: &EvaluateArgs) -> Result<SubmissionInput, String> {
    let assignment_id = match &args.assignment {
        Some(id) => id.clone(),
        None => row.required(&args.assignment_field)?.to_owned(),
    };
    Ok(SubmissionInput {
        submission_id: row.required(&args.id_field)?.to_owned(),
        assignment_id,
        student_id: row.required(&args.student_field)?.to_owned(),
        text: row.fields.get(&args.text_field).cloned().ok_or_else(|| {
            format!(
                "line {}: missing field {:?}; pass --text-field to name the column with the student's text",
                row.line, args.text_field
            )
        })?,
    })
}

/// Loads every assignment of the client once, so rows look them up in memory.
async fn load_assignments(
    db: &PartnerDb,
    client: &str,
) -> anyhow::Result<HashMap<String, Arc<Assignment>>> {
    Ok(db
        .assignments(client)
        .await?
        .into_iter()
        .map(|a| (a.assignment_id.clone(), Arc::new(a)))
        .collect())
}

/// Writes result lines to `OUT.jsonl.partial`, renamed to `OUT.jsonl` once complete.
struct ResultsFile {
    final_path: PathBuf,
    partial_path: PathBuf,
    writer: std::io::BufWriter<std::fs::File>,
}

impl ResultsFile {
    fn create(path: &Path) -> anyhow::Result<Self> {
        let partial_path = PathBuf::from(format!("{}.partial", path.display()));
        let file = std::fs::File::create(&partial_path)
            .with_context(|| format!("cannot create {}", partial_path.display()))?;
        Ok(Self {
            final_path: path.to_path_buf(),
            partial_path,
            writer: std::io::BufWriter::new(file),
        })
    }

    fn write(&mut self, line: &ResultLine) -> anyhow::Result<()> {
        serde_json::to_writer(&mut self.writer, line)?;
        self.writer.write_all(b"\n")?;
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<()> {
        self.writer.flush()?;
        std::fs::rename(&self.partial_path, &self.final_path)
            .with_context(|| format!("cannot write {}", self.final_path.display()))
    }
}

fn progress_bar(rows: usize, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(rows as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} evaluating [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Runs a batch with an explicit engine; the demo uses this too.
pub async fn evaluate_file(
    context: &Context,
    db: &PartnerDb,
    client: &Client,
    engine: &Engine,
    args: &EvaluateArgs,
    rows: Vec<Result<Row, RowError>>,
) -> anyhow::Result<Summary> {
    if let Some(teacher) = &args.teacher {
        check_teacher(db, &client.client_id, teacher).await?;
    }
    let assignments = load_assignments(db, &client.client_id).await?;
    if let Some(id) = &args.assignment {
        if !assignments.contains_key(id) {
            return Err(
                sam_core::tenancy::TenancyError::not_found("assignment", id.clone()).into(),
            );
        }
    }
    let teacher = args.teacher.as_deref();
    let assignments = &assignments;
    grade_rows(context, args, rows, |line, input| async move {
        let Some(assignment) = assignments.get(&input.assignment_id) else {
            return Err(format!(
                "line {line}: assignment {:?} not found in client {}; create or import it first",
                input.assignment_id, client.client_id
            ));
        };
        engine
            .evaluate(db, client, assignment, teacher, &input)
            .await
            .map_err(|err| format!("line {line}: submission {:?}: {err}", input.submission_id))
    })
    .await
}

/// Grades every row with `grade`, at most `--concurrency` at once, behind
/// a progress bar. Bad rows and failed gradings are reported and counted
/// while the rest continues; Ctrl-C stops starting new rows. Writes the
/// results file when one was asked for, and returns the totals.
pub async fn grade_rows<G, F>(
    context: &Context,
    args: &EvaluateArgs,
    rows: Vec<Result<Row, RowError>>,
    grade: G,
) -> anyhow::Result<Summary>
where
    G: Fn(u64, SubmissionInput) -> F,
    F: std::future::Future<Output = Result<Outcome, String>>,
{
    let mut summary = Summary {
        rows: rows.len(),
        ..Summary::default()
    };
    let mut results = args
        .results
        .as_deref()
        .map(ResultsFile::create)
        .transpose()?;
    let concurrency = args
        .concurrency
        .map_or(context.config.evaluation.concurrency, usize::from)
        .max(1);
    let bar = progress_bar(
        rows.len(),
        context.quiet || context.output != OutputFormat::Table,
    );

    let stop = Arc::new(AtomicBool::new(false));
    let stop_on_signal = Arc::clone(&stop);
    let signal = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop_on_signal.store(true, Ordering::SeqCst);
        }
    });

    let grade = &grade;
    let jobs = rows.into_iter().map(|row| {
        let stop = Arc::clone(&stop);
        async move {
            if stop.load(Ordering::SeqCst) {
                return None;
            }
            let row = match row {
                Ok(row) => row,
                Err(err) => return Some((err.line, Err(err.message))),
            };
            let line = row.line;
            let input = match submission_from_row(&row, args) {
                Ok(input) => input,
                Err(message) => return Some((line, Err(message))),
            };
            Some((line, grade(line, input).await))
        }
    });
    let mut stream = futures::stream::iter(jobs).buffer_unordered(concurrency);
    let (mut score_sum, mut grade_sum, mut cost_nanos) = (0.0, Decimal::ZERO, 0i64);
    while let Some(done) = stream.next().await {
        bar.inc(1);
        let Some((line, outcome)) = done else {
            summary.interrupted = true;
            continue;
        };
        let result_line = match outcome {
            Ok(outcome) => {
                summary.add(&outcome, &mut score_sum, &mut grade_sum);
                if matches!(outcome, Outcome::Evaluated(_)) {
                    cost_nanos += outcome.evaluation().cost_nanos;
                }
                ResultLine::graded(line, &outcome)
            }
            Err(message) => {
                summary.failed += 1;
                bar.suspend(|| output::row_error(&message));
                ResultLine::failed(line, message)
            }
        };
        if let Some(results) = results.as_mut() {
            results.write(&result_line)?;
        }
    }
    bar.finish_and_clear();
    signal.abort();
    summary.finish(score_sum, grade_sum, cost_nanos);
    if let Some(results) = results {
        results.finish()?;
    }
    Ok(summary)
}

pub async fn run(context: &Context, args: EvaluateArgs) -> anyhow::Result<ExitCode> {
    let (store, db) = context.partner_db(&args.tenant.partner).await?;
    let client = db.client(&args.tenant.client).await?;
    let (engine, grader) =
        crate::evaluator::build_engine(context, db.partner(), &args.providers).await?;
    tracing::info!(grader = %grader, "grading with");
    let rows = read_rows(&args.file)?;
    let summary = evaluate_file(context, &db, &client, &engine, &args, rows).await?;
    output::print(&summary.listing()?, context.output)?;
    store.close().await;
    Ok(summary.exit_code())
}
