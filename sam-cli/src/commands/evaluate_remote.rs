//! `samctl evaluate` in remote mode: each row goes to
//! `POST /api/{partner}/v1/clients/{client}/evaluations` with an
//! `Idempotency-Key` derived from the row, so a re-run is billed once.

use std::process::ExitCode;

use reqwest::StatusCode;
use sam_core::engine::Outcome;
use sam_core::eval::{Evaluation, SubmissionInput};
use sha2::{Digest, Sha256};

use crate::app::{Context, UsageError};
use crate::commands::evaluate::{grade_rows, EvaluateArgs};
use crate::input::read_rows;
use crate::output;
use crate::remote::Remote;

/// Returns the `Idempotency-Key` of one submission: a hash of the client,
/// the submission's fields and the credential, so a re-run with the same
/// credential replays the first response. The server binds a key to the
/// caller that used it first, so another credential must use other keys;
/// the server then finds the stored evaluation by submission id.
fn idempotency_key(remote: &Remote, client: &str, input: &SubmissionInput) -> String {
    let mut hasher = Sha256::new();
    for part in [
        remote.credential().secret.as_str(),
        client,
        &input.assignment_id,
        &input.submission_id,
        &input.student_id,
        &input.text,
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    format!("samctl-evaluate-{:x}", hasher.finalize())
}

/// Sends one submission and returns its outcome: evaluated now on a first
/// 201, evaluated before on a 200 or a replayed response.
async fn evaluate_one(
    remote: &Remote,
    partner: &str,
    client: &str,
    input: &SubmissionInput,
) -> anyhow::Result<Outcome> {
    let key = idempotency_key(remote, client, input);
    let body = serde_json::json!({
        "assignment_id": input.assignment_id,
        "submission_id": input.submission_id,
        "student_id": input.student_id,
        "text": input.text,
    });
    let reply = remote
        .post::<_, Evaluation>(
            partner,
            &["clients", client, "evaluations"],
            &body,
            Some(&key),
        )
        .await?;
    Ok(if reply.status == StatusCode::CREATED && !reply.replayed {
        Outcome::Evaluated(reply.body)
    } else {
        Outcome::AlreadyEvaluated(reply.body)
    })
}

/// Rejects the options that only the database mode uses, because the server
/// picks the grader and records the caller as the teacher.
fn check_remote_options(args: &EvaluateArgs) -> Result<(), UsageError> {
    if args.teacher.is_some() {
        return Err(UsageError(
            "--teacher is not used in remote mode: the server records the logged-in user as the teacher; drop the option".to_owned(),
        ));
    }
    if !args.providers.is_empty() {
        return Err(UsageError(
            "--provider is not used in remote mode: the server's configuration picks the grader; drop the option".to_owned(),
        ));
    }
    Ok(())
}

/// Evaluates every row of the file through the API.
pub async fn run(
    context: &Context,
    remote: &Remote,
    args: EvaluateArgs,
) -> anyhow::Result<ExitCode> {
    check_remote_options(&args)?;
    let partner = args.tenant.partner.as_str();
    let client = args.tenant.client.as_str();
    // A missing client, partner or --assignment fails the run before any
    // row is sent, as it does on the database.
    match &args.assignment {
        Some(id) => {
            let _: serde_json::Value = remote
                .get(partner, &["clients", client, "assignments", id], &[])
                .await?;
        }
        None => {
            let _: serde_json::Value = remote
                .get(partner, &["clients", client, "assignments"], &[])
                .await?;
        }
    }
    let rows = read_rows(&args.file)?;
    let summary = grade_rows(context, &args, rows, |line, input| async move {
        evaluate_one(remote, partner, client, &input)
            .await
            .map_err(|err| format!("line {line}: submission {:?}: {err:#}", input.submission_id))
    })
    .await?;
    output::print(&summary.listing()?, context.output)?;
    Ok(summary.exit_code())
}
