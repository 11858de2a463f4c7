//! `sam-server`: parses the arguments and runs the HTTP API.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let args = sam_server::run::Args::parse();
    match sam_server::run::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Logging may not be set up yet, so the error goes to stderr directly.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {err:#}");
            }
            ExitCode::FAILURE
        }
    }
}
