//! Remote mode's command table: which commands go through the server's
//! HTTP API, and the clear error for those that work only on the database.

use std::process::ExitCode;

use crate::app::{Context, UsageError};
use crate::cli::{Command, EvaluationCommand, PartnerCommand};
use crate::commands::login::token_partner;
use crate::commands::{
    assignment_remote, billing, billing_remote, client, evaluate_remote, keys, usage, user,
};
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
        Command::Usage(args) => usage::run_remote(context, remote, args).await,
        Command::Billing(command) => match command {
            billing::BillingCommand::Preview {
                partner,
                month,
                platform,
            } => {
                billing_remote::preview(context, remote, partner.as_deref(), &month, platform).await
            }
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

/// Returns the partner a remote report is about: `partner_flag` (the
/// `-p` option), else the partner in the logged-in token's claims.
///
/// # Errors
/// [`UsageError`] when neither names a partner, as with an API key, which
/// does not carry its partner's slug.
pub fn remote_partner(remote: &Remote, partner_flag: Option<&str>) -> anyhow::Result<String> {
    if let Some(partner) = partner_flag {
        return Ok(partner.to_owned());
    }
    token_partner(remote.credential()).ok_or_else(|| {
        UsageError(
            "missing --partner SLUG: the logged-in credential does not name a partner, \
             as with an API key, so pass the partner to report on"
                .to_owned(),
        )
        .into()
    })
}
