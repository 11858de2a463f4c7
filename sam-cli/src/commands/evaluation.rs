//! `samctl evaluation ...`: list, show, review and export evaluations.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use sam_core::eval::{Evaluation, EvaluationStatus};
use sam_core::export::spreadsheet_safe;
use sam_core::store::{EvaluationFilter, ReviewAction};
use uuid::Uuid;

use crate::app::Context;
use crate::cli::{EvaluationCommand, PartnerArg};
use crate::output::{self, Listing};

/// Filters shared by `evaluation list` and `evaluation export`.
#[derive(Debug, Args, Clone)]
pub struct FilterArgs {
    #[command(flatten)]
    pub partner: PartnerArg,
    /// Only this client's evaluations
    #[arg(long, short = 'c')]
    pub client: Option<String>,
    /// Only this assignment's
    #[arg(long, short = 'a')]
    pub assignment: Option<String>,
    /// Only this student's
    #[arg(long)]
    pub student: Option<String>,
    /// Only in this review status
    #[arg(long, value_parser = ["draft", "approved", "overridden"])]
    pub status: Option<String>,
}

/// Options of `samctl evaluation list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Maximum rows
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Show rows after this evaluation id (the last id of the previous page)
    #[arg(long)]
    pub after: Option<String>,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One row per evaluation, spreadsheet-safe.
    Csv,
    /// One JSON object per line with every field.
    Jsonl,
}

/// Options of `samctl evaluation export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// File format
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Write to this file instead of stdout
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn parse_id(id: &str) -> anyhow::Result<Uuid> {
    id.parse().map_err(|_| {
        crate::app::UsageError(format!(
            "invalid evaluation id {id:?}: expected a UUID as shown by `samctl evaluation list`"
        ))
        .into()
    })
}

impl FilterArgs {
    fn to_filter(&self) -> anyhow::Result<EvaluationFilter> {
        Ok(EvaluationFilter {
            client_id: self.client.clone(),
            assignment_id: self.assignment.clone(),
            student_id: self.student.clone(),
            teacher_id: None,
            status: self
                .status
                .as_deref()
                .map(EvaluationStatus::parse)
                .transpose()?,
            after: None,
            limit: None,
        })
    }
}

const COLUMNS: [&str; 10] = [
    "id",
    "client",
    "assignment",
    "submission",
    "student",
    "score",
    "grade",
    "status",
    "provider",
    "flags",
];

fn cells(e: &Evaluation) -> Vec<String> {
    vec![
        e.id.to_string(),
        e.client_id.clone(),
        e.assignment_id.clone(),
        e.submission_id.clone(),
        e.student_id.clone(),
        format!("{:.2}/{}", e.final_score(), e.max_points),
        format!("{:.1}", e.grade),
        e.status.as_str().to_owned(),
        e.provider.clone(),
        e.flags.join(" "),
    ]
}

fn detail(e: &Evaluation) -> anyhow::Result<Listing> {
    let mut fields = vec![
        ("id", e.id.to_string()),
        ("client", e.client_id.clone()),
        ("assignment", e.assignment_id.clone()),
        ("submission", e.submission_id.clone()),
        ("student", e.student_id.clone()),
        ("AI score", format!("{:.2} of {}", e.score, e.max_points)),
        ("grade", format!("{:.1}", e.grade)),
        ("status", e.status.as_str().to_owned()),
    ];
    if let Some(review) = &e.review {
        fields.push((
            "reviewed by",
            format!(
                "{} at {}",
                review.reviewed_by,
                review.reviewed_at.format("%Y-%m-%d %H:%M")
            ),
        ));
        if let Some(score) = review.teacher_score {
            fields.push(("teacher score", format!("{score:.2}")));
        }
        if let Some(comment) = &review.teacher_comment {
            fields.push(("teacher comment", comment.clone()));
        }
    }
    for criterion in &e.criteria {
        fields.push((
            "criterion",
            format!(
                "{} {:.2}/{}: {}",
                criterion.name, criterion.points, criterion.max_points, criterion.feedback
            ),
        ));
    }
    fields.push(("feedback", e.overall_feedback.clone()));
    fields.push(("flags", e.flags.join(" ")));
    fields.push((
        "model",
        format!(
            "{} ({}), {} attempts, cached: {}",
            e.model, e.provider, e.attempts, e.cached
        ),
    ));
    fields.push((
        "tokens in/cached/out",
        format!(
            "{}/{}/{}",
            e.input_tokens, e.cached_input_tokens, e.output_tokens
        ),
    ));
    Listing::record(fields, e)
}

pub async fn run(context: &Context, command: EvaluationCommand) -> anyhow::Result<ExitCode> {
    match command {
        EvaluationCommand::List(args) => {
            let (store, db) = context.partner_db(&args.filter.partner.partner).await?;
            let mut filter = args.filter.to_filter()?;
            filter.limit = Some(args.limit);
            filter.after = args.after.as_deref().map(parse_id).transpose()?;
            let evaluations = db.evaluations(&filter).await?;
            output::print(
                &Listing::new(COLUMNS.to_vec(), &evaluations, cells)?,
                context.output,
            )?;
            store.close().await;
        }
        EvaluationCommand::Show { partner, id } => {
            let (store, db) = context.partner_db(&partner.partner).await?;
            let evaluation = db.evaluation(parse_id(&id)?, None).await?;
            output::print(&detail(&evaluation)?, context.output)?;
            store.close().await;
        }
        EvaluationCommand::Approve {
            partner,
            id,
            teacher,
            comment,
        } => {
            review(
                context,
                &partner.partner,
                &id,
                &teacher,
                ReviewAction::Approve { comment },
            )
            .await?
        }
        EvaluationCommand::Override {
            partner,
            id,
            teacher,
            score,
            comment,
        } => {
            review(
                context,
                &partner.partner,
                &id,
                &teacher,
                ReviewAction::Override { score, comment },
            )
            .await?
        }
        EvaluationCommand::Export(args) => {
            let (store, db) = context.partner_db(&args.filter.partner.partner).await?;
            let evaluations = db.evaluations(&args.filter.to_filter()?).await?;
            let mut out: Box<dyn Write> = match &args.out {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("cannot create {}", path.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            export(&mut out, &evaluations, args.format)?;
            out.flush()?;
            store.close().await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Records a teacher's review after checking the teacher belongs to the evaluation's client.
async fn review(
    context: &Context,
    partner: &str,
    id: &str,
    teacher: &str,
    action: ReviewAction,
) -> anyhow::Result<()> {
    let (store, db) = context.partner_db(partner).await?;
    let id = parse_id(id)?;
    let current = db.evaluation(id, None).await?;
    sam_core::engine::check_teacher(&db, &current.client_id, teacher).await?;
    let evaluation = db.review_evaluation(id, None, teacher, action).await?;
    output::print(&detail(&evaluation)?, context.output)?;
    store.close().await;
    Ok(())
}

fn export(
    out: &mut dyn Write,
    evaluations: &[Evaluation],
    format: ExportFormat,
) -> anyhow::Result<()> {
    match format {
        ExportFormat::Jsonl => {
            for evaluation in evaluations {
                serde_json::to_writer(&mut *out, evaluation)?;
                out.write_all(b"\n")?;
            }
        }
        ExportFormat::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            writer.write_record([
                "id",
                "client_id",
                "assignment_id",
                "submission_id",
                "student_id",
                "teacher_id",
                "ai_score",
                "teacher_score",
                "max_points",
                "grade",
                "status",
                "reviewed_by",
                "teacher_comment",
                "overall_feedback",
                "flags",
                "model",
                "provider",
                "cached",
                "input_tokens",
                "cached_input_tokens",
                "output_tokens",
                "cost_nanos",
                "created_at",
            ])?;
            for e in evaluations {
                let review = e.review.as_ref();
                let row = [
                    e.id.to_string(),
                    e.client_id.clone(),
                    e.assignment_id.clone(),
                    e.submission_id.clone(),
                    e.student_id.clone(),
                    e.teacher_id.clone().unwrap_or_default(),
                    format!("{:.4}", e.score),
                    review
                        .and_then(|r| r.teacher_score)
                        .map(|s| format!("{s:.4}"))
                        .unwrap_or_default(),
                    e.max_points.to_string(),
                    format!("{:.1}", e.grade),
                    e.status.as_str().to_owned(),
                    review.map(|r| r.reviewed_by.clone()).unwrap_or_default(),
                    review
                        .and_then(|r| r.teacher_comment.clone())
                        .unwrap_or_default(),
                    e.overall_feedback.clone(),
                    e.flags.join(" "),
                    e.model.clone(),
                    e.provider.clone(),
                    e.cached.to_string(),
                    e.input_tokens.to_string(),
                    e.cached_input_tokens.to_string(),
                    e.output_tokens.to_string(),
                    e.cost_nanos.to_string(),
                    e.created_at.to_rfc3339(),
                ];
                writer.write_record(row.iter().map(|cell| spreadsheet_safe(cell).into_owned()))?;
            }
            writer.flush()?;
        }
    }
    Ok(())
}
