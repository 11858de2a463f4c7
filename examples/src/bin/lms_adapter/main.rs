//! An LMS adapter built on SAM: it receives "submission created" webhooks,
//! evaluates each submission for one partner and client, and passes the
//! draft score back to the LMS with LTI 1.3 Assignment and Grade Services.
//! A teacher's approval, `POST /evaluations/{id}/approve`, passes back the
//! final score.
//!
//! ```text
//! lms_adapter --home ./sam-data --partner aptus --client colegio1 \
//!     --teacher prof_1 --provision --listen 127.0.0.1:8080
//! ```
//!
//! The first line on stdout is the bound address, so `--listen
//! 127.0.0.1:0` lets the operating system pick a free port.

mod ags;
mod links;
mod routes;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use sam_core::tenancy::{NewUser, Role};
use sam_examples::{ensure_partner, ensure_school, init_logging, StoreArgs};

use crate::ags::GradePassback;
use crate::links::Links;
use crate::routes::{app, AppState};

/// Evaluate LMS submissions with SAM and pass the grades back.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    store: StoreArgs,
    /// The partner (tenant) every submission is evaluated for.
    #[arg(long)]
    partner: String,
    /// The client (school) every submission belongs to.
    #[arg(long)]
    client: String,
    /// A teacher who may approve evaluations; repeat for several. Each one
    /// is created as a teacher of the client when missing.
    #[arg(long = "teacher")]
    teachers: Vec<String>,
    /// Create the store, the partner and the client when they are missing.
    #[arg(long)]
    provision: bool,
    /// SQLite file of the evaluation-to-line-item links; by default
    /// `lms_adapter.db` in the `--home` folder.
    #[arg(long)]
    links_db: Option<PathBuf>,
    /// Scheme, host and port of the LMS, such as `https://canvas.example`.
    /// When set, scores are posted only to line items on it.
    #[arg(long)]
    lms_origin: Option<url::Url>,
    /// Bearer token for the LMS score service.
    #[arg(long, env = "LMS_ACCESS_TOKEN", hide_env_values = true)]
    lms_token: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    let args = Args::parse();
    let sam = args.store.open(args.provision).await?;
    if args.provision {
        ensure_partner(&sam, &args.partner).await?;
        ensure_school(&sam, &args.partner, &args.client).await?;
    } else {
        sam.client(&args.partner, &args.client).await?;
    }
    for teacher in &args.teachers {
        let new = NewUser {
            user_id: teacher.clone(),
            client_id: args.client.clone(),
            role: Role::Teacher,
            email: None,
        };
        sam.ensure_user(&args.partner, new)
            .await
            .with_context(|| format!("cannot set up teacher {teacher:?}"))?;
    }

    let links_path = match (&args.links_db, &args.store.home) {
        (Some(path), _) => path.clone(),
        (None, Some(home)) => home.join("lms_adapter.db"),
        (None, None) => anyhow::bail!("give --links-db FILE when the store is not in --home"),
    };
    let state = AppState {
        sam,
        partner: args.partner,
        client: args.client,
        links: Links::open(&links_path)
            .await
            .with_context(|| format!("cannot open {}", links_path.display()))?,
        passback: GradePassback::new(args.lms_token)?,
        lms_origin: args.lms_origin.map(|url| url.origin()),
    };

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{address}")?;
        stdout.flush()?;
    }
    tracing::info!(%address, partner = %state.partner, client = %state.client, "LMS adapter started");
    axum::serve(listener, app(state))
        .with_graceful_shutdown(async {
            // Without a Ctrl-C handler the process still stops on SIGTERM or SIGKILL.
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    tracing::info!("LMS adapter stopped");
    Ok(())
}
