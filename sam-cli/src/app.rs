//! Shared context of every command: configuration, logging, the store,
//! and the mapping from errors to exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use sam_core::billing::BillingError;
use sam_core::config::{LogFormat, SamConfig};
use sam_core::eval::EvalError;
use sam_core::store::{PartnerDb, Store, StoreLocation, StoreOptions};
use sam_core::tenancy::{PartnerSlug, TenancyError};

use crate::cli::{Cli, Command, GlobalArgs, LogFormatArg, OutputFormat};
use crate::commands;

/// Exit code for invalid usage or input.
pub const EXIT_INVALID: u8 = 2;
/// Exit code for a missing partner, client, user, assignment or evaluation.
pub const EXIT_NOT_FOUND: u8 = 3;
/// Exit code for a conflict with existing data or state.
pub const EXIT_CONFLICT: u8 = 4;
/// Exit code for a batch in which some rows failed.
pub const EXIT_PARTIAL: u8 = 5;

/// A command line that is well-formed but cannot be acted on as given.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// What every command gets: the resolved configuration and output settings.
#[derive(Debug)]
pub struct Context {
    pub config: SamConfig,
    pub location: StoreLocation,
    pub output: OutputFormat,
    pub quiet: bool,
    /// The `--server` URL or `SAMCTL_SERVER`, when given.
    pub server: Option<String>,
}

impl Context {
    /// Opens the initialised store.
    pub async fn store(&self) -> anyhow::Result<Store> {
        Store::open(&self.location, StoreOptions::default())
            .await
            .with_context(|| format!("cannot open the store at {}", self.location.redacted()))
    }

    /// Returns the credential files in the SAM home folder.
    ///
    /// # Errors
    /// [`UsageError`] when no home folder is known because the store is a
    /// PostgreSQL URL and `--home` was not given.
    pub fn credentials(&self) -> anyhow::Result<crate::credentials::Credentials> {
        let home = self
            .config
            .home
            .clone()
            .or_else(|| match &self.location {
                StoreLocation::Sqlite(home) => Some(home.clone()),
                StoreLocation::Postgres(_) => None,
            })
            .ok_or_else(|| {
                UsageError("pass --home DIR to say where login keeps its profile".to_owned())
            })?;
        Ok(crate::credentials::Credentials::in_home(&home))
    }

    /// Returns the server that commands go through: `--server`, or the
    /// login profile's when no database URL is configured. `None` means
    /// commands work on the database.
    fn remote_server(&self) -> anyhow::Result<Option<String>> {
        if let Some(server) = &self.server {
            return Ok(Some(server.trim_end_matches('/').to_owned()));
        }
        if self.config.database_url.is_some() {
            return Ok(None);
        }
        Ok(self
            .credentials()
            .ok()
            .map(|store| store.profile())
            .transpose()?
            .flatten()
            .map(|profile| profile.server))
    }

    /// Connects to the remote server with its stored credential, or
    /// returns `None` when commands work on the database.
    pub fn remote(&self) -> anyhow::Result<Option<crate::remote::Remote>> {
        let Some(server) = self.remote_server()? else {
            return Ok(None);
        };
        crate::remote::parse_server(&server)?;
        let credential = self.credentials()?.load_for(&server)?;
        Ok(Some(crate::remote::Remote::new(&server, credential)?))
    }

    /// Opens the store and a handle on one active partner's data.
    pub async fn partner_db(&self, slug: &str) -> anyhow::Result<(Store, PartnerDb)> {
        let slug = PartnerSlug::parse(slug)?;
        let store = self.store().await?;
        let db = store.partner_db(&slug).await?;
        Ok((store, db))
    }
}

/// Returns the default SAM home folder: the platform's data folder.
fn default_home() -> anyhow::Result<PathBuf> {
    directories::ProjectDirs::from("", "", "sam")
        .map(|dirs| dirs.data_dir().to_path_buf())
        .context("cannot find a home folder for SAM data; pass --home DIR or set SAM_HOME")
}

/// Resolves configuration from defaults, file, environment and flags.
fn resolve(global: &GlobalArgs) -> anyhow::Result<(SamConfig, StoreLocation)> {
    let home_guess = match &global.home {
        Some(home) => home.clone(),
        None => default_home()?,
    };
    let mut config = SamConfig::load(
        global.config.as_deref(),
        Some(&home_guess.join("config.toml")),
    )?;
    if let Some(home) = &global.home {
        config.home = Some(home.clone());
    }
    if let Some(url) = &global.database_url {
        config.database_url = Some(url.clone());
    }
    if let Some(format) = global.log_format {
        config.log_format = match format {
            LogFormatArg::Human => LogFormat::Human,
            LogFormatArg::Json => LogFormat::Json,
        };
    }
    let location = match &config.database_url {
        Some(url) => StoreLocation::parse(url)?,
        None => StoreLocation::Sqlite(match &config.home {
            Some(home) => home.clone(),
            None => home_guess,
        }),
    };
    Ok((config, location))
}

/// Sets up `tracing` on stderr: human lines on a terminal or JSON objects.
///
/// # Errors
/// [`UsageError`] for a `log_level` that is not a level or filter.
fn init_logging(config: &SamConfig, global: &GlobalArgs) -> Result<(), UsageError> {
    let level = match (global.quiet, global.verbose) {
        (true, _) => "error".to_owned(),
        (false, 0) => config
            .log_level
            .clone()
            .unwrap_or_else(|| "warn".to_owned()),
        (false, 1) => "info".to_owned(),
        (false, 2) => "debug".to_owned(),
        (false, _) => "trace".to_owned(),
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&level).map_err(|err| {
        UsageError(format!(
            "invalid log_level {level:?}: {err}; use a level such as warn or a filter such as sam_core=debug,warn"
        ))
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal, not for a log file or journald.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    // A second initialisation only happens in tests; keeping the first is right.
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Human => builder.try_init(),
    };
    Ok(())
}

/// Runs one command and returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let (config, location) = resolve(&cli.global)?;
    init_logging(&config, &cli.global)?;
    crate::output::set_quiet(cli.global.quiet);
    let context = Context {
        config,
        location,
        output: cli.global.output,
        quiet: cli.global.quiet,
        server: cli.global.server.clone(),
    };
    match cli.command {
        Command::Login(args) => commands::login::login(&context, args).await,
        Command::Logout => commands::login::logout(&context).await,
        Command::Whoami => commands::login::whoami(&context).await,
        command => match context.remote()? {
            Some(remote) => commands::remote::run(&context, &remote, command).await,
            None => run_local(&context, command).await,
        },
    }
}

/// Runs one command on the database.
async fn run_local(context: &Context, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Init => commands::store::init(context).await,
        Command::Migrate { status } => commands::store::migrate(context, status).await,
        Command::Partner(command) => commands::partner::run(context, command).await,
        Command::Client(command) => commands::client::run(context, command).await,
        Command::User(command) => commands::user::run(context, command).await,
        Command::Assignment(command) => commands::assignment::run(context, command).await,
        Command::Evaluate(args) => commands::evaluate::run(context, args).await,
        Command::Evaluation(command) => commands::evaluation::run(context, command).await,
        Command::Demo(args) => commands::demo::run(context, args).await,
        Command::Token(command) => commands::keys::token(context, command).await,
        Command::Key(command) => commands::keys::key(context, command).await,
        Command::Login(args) => commands::login::login(context, args).await,
        Command::Logout => commands::login::logout(context).await,
        Command::Whoami => commands::login::whoami(context).await,
        Command::Usage(args) => commands::usage::run(context, args).await,
        Command::Billing(command) => commands::billing::run(context, command).await,
    }
}

/// Maps an error to its documented exit code by the first typed cause in its chain.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(remote) = cause.downcast_ref::<crate::remote::RemoteError>() {
            return remote.exit_code();
        }
        if let Some(tenancy) = cause.downcast_ref::<TenancyError>() {
            return tenancy_code(tenancy);
        }
        if let Some(auth) = cause.downcast_ref::<sam_core::auth::AuthError>() {
            return match auth {
                sam_core::auth::AuthError::Store(tenancy) => tenancy_code(tenancy),
                sam_core::auth::AuthError::InvalidInput { .. }
                | sam_core::auth::AuthError::InvalidKey { .. }
                | sam_core::auth::AuthError::KeyFile { .. } => EXIT_INVALID,
                sam_core::auth::AuthError::NotFound => EXIT_NOT_FOUND,
                _ => 1,
            };
        }
        if let Some(billing) = cause.downcast_ref::<BillingError>() {
            return billing_code(billing);
        }
        if let Some(eval) = cause.downcast_ref::<EvalError>() {
            return match eval {
                EvalError::Tenancy(tenancy) => tenancy_code(tenancy),
                EvalError::InvalidField { .. } | EvalError::SubmissionTooLarge { .. } => {
                    EXIT_INVALID
                }
                EvalError::DuplicateSubmission { .. } | EvalError::InvalidState { .. } => {
                    EXIT_CONFLICT
                }
                _ => 1,
            };
        }
        if let Some(err) = cause.downcast_ref::<sam_core::Error>() {
            return sam_error_code(err);
        }
        if cause
            .downcast_ref::<sam_core::config::ConfigError>()
            .is_some()
            || cause.downcast_ref::<crate::input::InputError>().is_some()
            || cause.downcast_ref::<UsageError>().is_some()
        {
            return EXIT_INVALID;
        }
    }
    1
}

fn sam_error_code(err: &sam_core::Error) -> u8 {
    match err {
        sam_core::Error::InvalidInput { .. } => EXIT_INVALID,
        sam_core::Error::NotFound { .. } => EXIT_NOT_FOUND,
        sam_core::Error::Conflict(_) | sam_core::Error::Forbidden(_) => EXIT_CONFLICT,
        _ => 1,
    }
}

fn billing_code(err: &BillingError) -> u8 {
    match err {
        BillingError::Tenancy(tenancy) => tenancy_code(tenancy),
        BillingError::InvalidMonth { .. }
        | BillingError::InvalidRange { .. }
        | BillingError::InvalidTimeZone { .. }
        | BillingError::InvalidPlan { .. }
        | BillingError::MissingExchangeRate { .. } => EXIT_INVALID,
        BillingError::BeforePartnerCreated { .. } => EXIT_NOT_FOUND,
        BillingError::MonthNotEnded { .. }
        | BillingError::AlreadyClosed { .. }
        | BillingError::CurrencyChanged { .. } => EXIT_CONFLICT,
        _ => 1,
    }
}

fn tenancy_code(err: &TenancyError) -> u8 {
    match err {
        TenancyError::InvalidSlug { .. }
        | TenancyError::InvalidInput { .. }
        | TenancyError::InvalidLocation { .. } => EXIT_INVALID,
        TenancyError::NotFound { .. } => EXIT_NOT_FOUND,
        TenancyError::AlreadyExists { .. } | TenancyError::PartnerUnavailable { .. } => {
            EXIT_CONFLICT
        }
        _ => 1,
    }
}
