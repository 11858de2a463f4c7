//! `samctl assignment ...` in remote mode, through the server's API.

use std::process::ExitCode;

use sam_core::eval::Assignment;
use sam_core::tenancy::TenancyError;

use crate::app::Context;
use crate::cli::AssignmentCommand;
use crate::commands::assignment::{
    cells, import_rows, read_assignment_file, record, ImportArgs, COLUMNS,
};
use crate::output::{self, Listing};
use crate::remote::{Remote, RemoteError};

/// Returns the API request body that creates `assignment`: the input
/// fields, with the resolved rubric, which the server resolves to itself.
fn request_body(assignment: &Assignment) -> serde_json::Value {
    serde_json::json!({
        "id": assignment.assignment_id,
        "title": assignment.title,
        "prompt": assignment.prompt,
        "reference_answer": assignment.reference_answer,
        "max_points": assignment.max_points,
        "language": assignment.language.as_str(),
        "rubric": assignment.rubric,
    })
}

/// Creates an assignment through the API, treating an identical existing
/// one as done. Returns whether it was created now.
async fn create_remote(
    remote: &Remote,
    partner: &str,
    assignment: &Assignment,
) -> anyhow::Result<bool> {
    let client = assignment.client_id.as_str();
    let created = remote
        .post::<_, serde_json::Value>(
            partner,
            &["clients", client, "assignments"],
            &request_body(assignment),
            None,
        )
        .await;
    let Err(err) = created else {
        return Ok(true);
    };
    let conflict = err
        .downcast_ref::<RemoteError>()
        .and_then(RemoteError::status)
        .is_some_and(|status| status.as_u16() == 409);
    if !conflict {
        return Err(err);
    }
    let id = assignment.assignment_id.as_str();
    let existing: Assignment = remote
        .get(partner, &["clients", client, "assignments", id], &[])
        .await?;
    if &existing == assignment {
        Ok(false)
    } else {
        Err(TenancyError::AlreadyExists {
            kind: "assignment (with different content)",
            id: id.to_owned(),
        }
        .into())
    }
}

/// Runs an assignment command through the server's API.
pub async fn run(
    context: &Context,
    remote: &Remote,
    command: AssignmentCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        AssignmentCommand::Create { tenant, file } => {
            let assignment = read_assignment_file(&file, &tenant.client)?;
            let client = tenant.client.as_str();
            let created: Assignment = remote
                .post(
                    &tenant.partner,
                    &["clients", client, "assignments"],
                    &request_body(&assignment),
                    None,
                )
                .await?
                .body;
            output::print(
                &Listing::new(COLUMNS.to_vec(), &[created], cells)?,
                context.output,
            )?;
        }
        AssignmentCommand::Import(args) => return import_remote(context, remote, &args).await,
        AssignmentCommand::List { tenant } => {
            let client = tenant.client.as_str();
            let assignments: Vec<Assignment> = remote
                .get(&tenant.partner, &["clients", client, "assignments"], &[])
                .await?;
            output::print(
                &Listing::new(COLUMNS.to_vec(), &assignments, cells)?,
                context.output,
            )?;
        }
        AssignmentCommand::Show {
            tenant,
            assignment_id,
        } => {
            let client = tenant.client.as_str();
            let assignment: Assignment = remote
                .get(
                    &tenant.partner,
                    &["clients", client, "assignments", &assignment_id],
                    &[],
                )
                .await?;
            output::print(&record(&assignment)?, context.output)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Imports assignments through the API, one request per row.
async fn import_remote(
    context: &Context,
    remote: &Remote,
    args: &ImportArgs,
) -> anyhow::Result<ExitCode> {
    let partner = args.tenant.partner.as_str();
    // A missing client or partner fails the whole import at once, as it
    // does on the database.
    let _: Vec<serde_json::Value> = remote
        .get(
            partner,
            &["clients", &args.tenant.client, "assignments"],
            &[],
        )
        .await?;
    import_rows(context, args, |assignment| async move {
        create_remote(remote, partner, &assignment)
            .await
            .map_err(|err| format!("{err:#}"))
    })
    .await
}
