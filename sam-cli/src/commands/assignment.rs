//! `samctl assignment ...`: assignments and their rubrics.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use sam_core::eval::{Assignment, AssignmentInput, EvalError};
use sam_core::store::PartnerDb;
use sam_core::tenancy::TenancyError;

use crate::app::{Context, UsageError, EXIT_PARTIAL};
use crate::cli::{AssignmentCommand, TenantArgs};
use crate::input::{read_rows, Row};
use crate::output::{self, Listing};

/// Options of `samctl assignment import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,
    /// JSONL or CSV file with one assignment per row
    #[arg(long, short = 'f')]
    pub file: PathBuf,
    /// Field holding the assignment id
    #[arg(long, default_value = "id")]
    pub id_field: String,
    /// Field holding the question or task
    #[arg(long, default_value = "prompt")]
    pub prompt_field: String,
    /// Field holding the reference answer (optional in each row)
    #[arg(long, default_value = "reference_answer")]
    pub reference_field: String,
    /// Field holding the maximum points
    #[arg(long, default_value = "max_points")]
    pub max_points_field: String,
    /// Field holding the title (optional; the id when missing)
    #[arg(long, default_value = "title")]
    pub title_field: String,
    /// Language of every imported assignment: es or en
    #[arg(long, default_value = "es", value_parser = ["es", "en"])]
    pub language: String,
}

pub const COLUMNS: [&str; 6] = [
    "assignment",
    "title",
    "max points",
    "language",
    "criteria",
    "reference",
];

pub fn cells(a: &Assignment) -> Vec<String> {
    vec![
        a.assignment_id.clone(),
        a.title.clone(),
        a.max_points.to_string(),
        a.language.as_str().to_owned(),
        a.rubric
            .criteria
            .iter()
            .map(|c| format!("{} ({})", c.name, c.points))
            .collect::<Vec<_>>()
            .join(", "),
        if a.reference_answer.is_some() {
            "yes"
        } else {
            "no"
        }
        .to_owned(),
    ]
}

/// Reads one assignment from a TOML or JSON file.
pub fn read_assignment_file(path: &Path, client_id: &str) -> anyhow::Result<Assignment> {
    let invalid = |reason: String| {
        UsageError(format!(
            "invalid assignment in {}: {reason}",
            path.display()
        ))
    };
    let text = std::fs::read_to_string(path)
        .map_err(|err| UsageError(format!("cannot read {}: {err}", path.display())))?;
    let input: AssignmentInput = match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => toml::from_str(&text).map_err(|err| invalid(err.to_string()))?,
        Some("json") => serde_json::from_str(&text).map_err(|err| invalid(err.to_string()))?,
        _ => {
            return Err(UsageError(format!(
                "cannot tell the format of {}: name it .toml or .json",
                path.display()
            ))
            .into())
        }
    };
    input
        .into_assignment(client_id)
        .with_context(|| format!("invalid assignment in {}", path.display()))
}

/// Builds an assignment from an import row using the field mapping.
fn assignment_from_row(row: &Row, args: &ImportArgs) -> Result<Assignment, String> {
    let id = row.required(&args.id_field)?;
    let prompt = row.required(&args.prompt_field)?;
    let max_points = row.required(&args.max_points_field)?;
    let max_points: f64 = max_points.parse().map_err(|_| {
        format!(
            "line {}: invalid {} {max_points:?}: expected a number",
            row.line, args.max_points_field
        )
    })?;
    let input = AssignmentInput {
        id: id.to_owned(),
        title: row.fields.get(&args.title_field).cloned(),
        prompt: prompt.to_owned(),
        reference_answer: row.fields.get(&args.reference_field).cloned(),
        max_points,
        language: Some(args.language.clone()),
        rubric: None,
    };
    input
        .into_assignment(&args.tenant.client)
        .map_err(|err| format!("line {}: {err}", row.line))
}

/// Stores an assignment, treating an identical existing one as done.
/// Returns whether it was created now.
async fn store_assignment(db: &PartnerDb, assignment: &Assignment) -> Result<bool, EvalError> {
    match db.create_assignment(assignment, None).await {
        Ok(()) => Ok(true),
        Err(EvalError::Tenancy(TenancyError::AlreadyExists { .. })) => {
            let existing = db
                .assignment(&assignment.client_id, &assignment.assignment_id)
                .await?;
            if &existing == assignment {
                Ok(false)
            } else {
                Err(EvalError::Tenancy(TenancyError::AlreadyExists {
                    kind: "assignment (with different content)",
                    id: assignment.assignment_id.clone(),
                }))
            }
        }
        Err(err) => Err(err),
    }
}

/// Builds the field/value listing of one assignment with its rubric.
pub fn record(assignment: &Assignment) -> anyhow::Result<Listing> {
    let mut fields = vec![
        ("assignment", assignment.assignment_id.clone()),
        ("title", assignment.title.clone()),
        ("prompt", assignment.prompt.clone()),
        (
            "reference answer",
            assignment.reference_answer.clone().unwrap_or_default(),
        ),
        ("max points", assignment.max_points.to_string()),
        ("language", assignment.language.as_str().to_owned()),
    ];
    for criterion in &assignment.rubric.criteria {
        fields.push((
            "criterion",
            format!(
                "{} ({} points): {}",
                criterion.name, criterion.points, criterion.description
            ),
        ));
    }
    Listing::record(fields, assignment)
}

pub async fn run(context: &Context, command: AssignmentCommand) -> anyhow::Result<ExitCode> {
    match command {
        AssignmentCommand::Create { tenant, file } => {
            let (store, db) = context.partner_db(&tenant.partner).await?;
            db.client(&tenant.client).await?;
            let assignment = read_assignment_file(&file, &tenant.client)?;
            db.create_assignment(&assignment, None).await?;
            output::print(
                &Listing::new(COLUMNS.to_vec(), &[assignment], cells)?,
                context.output,
            )?;
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        AssignmentCommand::Import(args) => import(context, &args).await,
        AssignmentCommand::List { tenant } => {
            let (store, db) = context.partner_db(&tenant.partner).await?;
            db.client(&tenant.client).await?;
            let assignments = db.assignments(&tenant.client).await?;
            output::print(
                &Listing::new(COLUMNS.to_vec(), &assignments, cells)?,
                context.output,
            )?;
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        AssignmentCommand::Show {
            tenant,
            assignment_id,
        } => {
            let (store, db) = context.partner_db(&tenant.partner).await?;
            let assignment = db.assignment(&tenant.client, &assignment_id).await?;
            output::print(&record(&assignment)?, context.output)?;
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn import(context: &Context, args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let (store, db) = context.partner_db(&args.tenant.partner).await?;
    db.client(&args.tenant.client).await?;
    let db = &db;
    let code = import_rows(context, args, |assignment| async move {
        store_assignment(db, &assignment)
            .await
            .map_err(|err| err.to_string())
    })
    .await?;
    store.close().await;
    Ok(code)
}

/// Creates the assignment of every row of the import file with `create`,
/// which returns whether the assignment is new, reports each failed row,
/// prints the totals and returns the exit code.
pub async fn import_rows<C, F>(
    context: &Context,
    args: &ImportArgs,
    create: C,
) -> anyhow::Result<ExitCode>
where
    C: Fn(Assignment) -> F,
    F: std::future::Future<Output = Result<bool, String>>,
{
    let rows = read_rows(&args.file)?;
    let (mut created, mut unchanged, mut failed) = (0usize, 0usize, 0usize);
    for row in rows {
        let result = match row {
            Ok(row) => match assignment_from_row(&row, args) {
                Ok(assignment) => create(assignment)
                    .await
                    .map_err(|err| format!("line {}: {err}", row.line)),
                Err(message) => Err(message),
            },
            Err(err) => Err(err.message),
        };
        match result {
            Ok(true) => created += 1,
            Ok(false) => unchanged += 1,
            Err(message) => {
                failed += 1;
                crate::output::row_error(&message);
            }
        }
    }
    print_import_summary(context, created, unchanged, failed)?;
    Ok(if failed > 0 {
        ExitCode::from(EXIT_PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_import_summary(
    context: &Context,
    created: usize,
    unchanged: usize,
    failed: usize,
) -> anyhow::Result<()> {
    let summary =
        serde_json::json!({ "created": created, "unchanged": unchanged, "failed": failed });
    output::print(
        &Listing {
            columns: vec!["created", "unchanged", "failed"],
            rows: vec![vec![
                created.to_string(),
                unchanged.to_string(),
                failed.to_string(),
            ]],
            json: summary,
        },
        context.output,
    )
}
