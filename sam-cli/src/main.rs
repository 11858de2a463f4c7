//! `samctl`: the administration tool for SAM operators and partner admins.

// Items are `pub` for readability across modules; nothing is exported from a binary.
#![allow(unreachable_pub)]

mod app;
mod cli;
mod commands;
mod credentials;
mod evaluator;
mod input;
mod output;
mod remote;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            report(&anyhow::Error::new(err).context("cannot start the async runtime"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(app::run(cli)) {
        Ok(code) => code,
        Err(err) => {
            report(&err);
            ExitCode::from(app::exit_code(&err))
        }
    }
}

/// Prints the error chain on one line to stderr. A closed stderr is
/// ignored: the exit code still reports the failure.
fn report(err: &anyhow::Error) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "error: {err:#}");
}
