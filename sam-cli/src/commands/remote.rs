//! Remote mode's command table: which commands go through the server's
//! HTTP API, and the clear error for those that work only on the database.

use std::process::ExitCode;

use crate::app::{Context, UsageError};
use crate::cli::{Command, EvaluationCommand, PartnerCommand};
use crate::commands::{assignment_remote, billing, client, evaluate_remote, keys, usage, user};
use crate::remote::{not_remote, Remote};

/// Runs `command` through `remote`, or fails naming a command that needs
/// the database.
pub async fn run(context: &Context, remote: &Remote, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Client(command) => client::run_remote(context, remote, command).await,
        Command::User(command) => user::run_remote(context, remote, command).await,
        Command::Assignment(command) => assignment_remote::run(context, remote, command).await,
        Command::Key(command) => keys::key_remote(context, remote, command).await,
        Command::Evaluate(args) => evaluate_remote::run(context, remote, args).await,
        Command::Usage(args) => match args.command {
            Some(usage::UsageCommand::Rebuild { .. }) => Err(not_remote("usage rebuild")),
            None => Err(not_yet("usage")),
        },
        Command::Billing(command) => match command {
            billing::BillingCommand::Preview { .. } => Err(not_yet("billing preview")),
            billing::BillingCommand::Close { .. } => Err(not_remote("billing close")),
            billing::BillingCommand::Export(_) => Err(not_remote("billing export")),
        },
        Command::Init => Err(not_remote("init")),
        Command::Migrate { .. } => Err(not_remote("migrate")),
        Command::Partner(command) => Err(not_remote(match command {
            PartnerCommand::Create { .. } => "partner create",
            PartnerCommand::List => "partner list",
            PartnerCommand::Show { .. } => "partner show",
            PartnerCommand::Suspend { .. } => "partner suspend",
            PartnerCommand::Resume { .. } => "partner resume",
            PartnerCommand::Delete { .. } => "partner delete",
        })),
        Command::Evaluation(command) => Err(not_remote(match command {
            EvaluationCommand::List(_) => "evaluation list",
            EvaluationCommand::Show { .. } => "evaluation show",
            EvaluationCommand::Approve { .. } => "evaluation approve",
            EvaluationCommand::Override { .. } => "evaluation override",
            EvaluationCommand::Export(_) => "evaluation export",
        })),
        Command::Demo(_) => Err(not_remote("demo")),
        Command::Token(_) => Err(not_remote("token issue")),
        Command::Login(_) | Command::Logout | Command::Whoami => Err(UsageError(
            "login, logout and whoami never go through the server".to_owned(),
        )
        .into()),
    }
}

/// Returns the error for a report that samctl does not fetch remotely yet.
// NOTE: the server serves `GET /api/{partner}/v1/usage` and
// `GET /api/{partner}/v1/invoices/{month}`, but `usage` and `billing
// preview` do not call them yet.
fn not_yet(command: &str) -> anyhow::Error {
    UsageError(format!(
        "`samctl {command}` is not available in remote mode yet; \
         run it without --server against the database"
    ))
    .into()
}
