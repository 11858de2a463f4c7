//! Command-line arguments, configuration and the server's lifecycle: build
//! the state, listen, and shut down gracefully on SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use sam_core::auth::{Authenticator, TokenAlgorithm, TokenSettings, TokenVerifier};
use sam_core::billing::Billing;
use sam_core::config::{LogFormat, SamConfig, CONFIG_ENV};
use sam_core::engine::Engine;
use sam_core::eval::Evaluator;
use sam_core::llm::{PartnerPolicy, Router};
use sam_core::store::{Store, StoreLocation, StoreOptions};

use crate::metrics::Metrics;
use crate::state::{AppState, Limits};

/// Serves the SAM HTTP API.
#[derive(Debug, Parser)]
#[command(name = "sam-server", version)]
pub struct Args {
    /// Configuration file (TOML); `SAM_*` variables and these flags override it.
    #[arg(long, env = CONFIG_ENV, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:8000].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// `postgres://USER@HOST/DB` or `sqlite://DIR`; the embedded store in `--home` when unset.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// SAM home folder of the embedded SQLite store.
    #[arg(long, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Log lines as human-readable text or JSON objects.
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormatArg>,
}

/// The `--log-format` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Loads the configuration and applies the flags over it. Without
/// `--config`, the `config.toml` that `samctl init` writes in `--home` is
/// read when it exists.
///
/// # Errors
/// An invalid configuration file, environment variable or flag value.
pub fn resolve_config(args: &Args) -> anyhow::Result<SamConfig> {
    let home_file = args.home.as_ref().map(|home| home.join("config.toml"));
    let mut config = SamConfig::load(args.config.as_deref(), home_file.as_deref())?;
    if let Some(listen) = args.listen {
        config.server.listen = listen.to_string();
    }
    if let Some(url) = &args.database_url {
        config.database_url = Some(url.clone());
    }
    if let Some(home) = &args.home {
        config.home = Some(home.clone());
    }
    if let Some(format) = args.log_format {
        config.log_format = match format {
            LogFormatArg::Human => LogFormat::Human,
            LogFormatArg::Json => LogFormat::Json,
        };
    }
    Ok(config)
}

/// Sets up `tracing` on stderr at the configured level.
///
/// # Errors
/// A `log_level` that is not a level or filter.
fn init_logging(config: &SamConfig) -> anyhow::Result<()> {
    let level = config
        .log_level
        .clone()
        .unwrap_or_else(|| "info".to_owned());
    let filter = tracing_subscriber::EnvFilter::try_new(&level).with_context(|| {
        format!("invalid log_level {level:?}: use a level such as info or a filter such as sam_core=debug,info")
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal, not for a log file or journald.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // Initialising twice only happens in tests; keeping the first is right.
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Human => builder.try_init(),
    };
    Ok(())
}

/// Builds the token verifier from the `[auth]` section. Without one, a
/// verifier with no keys rejects every bearer token, so only API keys work.
fn build_verifier(config: &SamConfig) -> anyhow::Result<TokenVerifier> {
    match &config.auth {
        Some(auth) => auth
            .build_verifier()
            .context("invalid [auth] configuration"),
        None => {
            tracing::warn!("no [auth] section: every bearer token is rejected");
            let settings = TokenSettings::new("sam-api", TokenAlgorithm::Hs256);
            Ok(TokenVerifier::new(settings)?)
        }
    }
}

/// Builds the evaluator: the LLM router when a router file is configured,
/// behind the Redis cache when Redis is configured, else the offline scorer.
async fn build_evaluator(
    config: &SamConfig,
    store: &Store,
) -> anyhow::Result<(Arc<dyn Evaluator>, Option<Arc<Router>>)> {
    let (evaluator, router) = Engine::evaluator_from_config(config)?;
    tracing::info!(grader = %Engine::describe_config(config), "grading with");
    if let Some(router) = &router {
        // Partners without their own entry under llm.partners route by the
        // strategy stored with the partner.
        for partner in store.partners().await? {
            let slug = partner.slug.to_string();
            if !config.llm.partners.contains_key(&slug) {
                let policy = PartnerPolicy {
                    strategy: partner.strategy,
                    ..config.llm.default_policy.clone()
                };
                router.set_partner_policy(&slug, policy)?;
            }
        }
    }
    Ok((evaluator, router))
}

/// Builds the server state from a resolved configuration.
///
/// # Errors
/// A store that cannot be opened, or invalid auth, router or cache settings.
pub async fn build_state(config: &SamConfig) -> anyhow::Result<AppState> {
    let location = match (&config.database_url, &config.home) {
        (Some(url), _) => StoreLocation::parse(url)?,
        (None, Some(home)) => StoreLocation::Sqlite(home.clone()),
        (None, None) => anyhow::bail!("no store: pass --database-url URL or --home DIR"),
    };
    let options = StoreOptions {
        lookup_ttl: Duration::from_millis(config.server.lookup_cache_ms),
        ..StoreOptions::default()
    };
    let store = Store::open(&location, options).await?;
    let (evaluator, router) = build_evaluator(config, &store).await?;
    let engine =
        Engine::new(evaluator).with_max_submission_bytes(config.evaluation.max_submission_bytes);
    let shared = Arc::new(store.clone());
    let authenticator = Authenticator::new(build_verifier(config)?, shared.clone(), shared);
    let limits = Limits {
        max_body_bytes: config.server.max_body_bytes,
        max_json_depth: config.server.max_json_depth,
        request_timeout: Duration::from_secs(config.server.request_timeout_secs),
        batch_concurrency: config.evaluation.concurrency,
    };
    let billing = Billing::new(store.clone(), config.billing.clone())
        .context("invalid [billing] configuration")?;
    let mut state =
        AppState::new(store, engine, authenticator, Metrics::new()?, limits).with_billing(billing);
    if let Some(router) = router {
        state = state.with_router(router);
    }
    if let Some(url) = &config.server.redis_url {
        state = state.with_redis(redis::Client::open(url.as_str())?);
    }
    let policy = config.limits.validate()?;
    let rate_limits = sam_core::limits::Limits::new(
        policy,
        config.server.redis_url.as_deref(),
        Arc::new(sam_core::limits::SystemClock),
    )?;
    state = state.with_rate_limits(rate_limits);
    Ok(state)
}

/// Runs the server until SIGINT or SIGTERM, then lets in-flight requests
/// finish within the configured grace period.
///
/// # Errors
/// A configuration, store or listener error.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = resolve_config(&args)?;
    init_logging(&config)?;
    let state = build_state(&config).await?;
    let store = state.store().clone();
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    tracing::info!(address = %listener.local_addr()?, store = %store.describe(), "sam-server listening");
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    serve(listener, state, shutdown_signal(), grace).await?;
    store.close().await;
    tracing::info!("sam-server stopped");
    Ok(())
}

/// Serves the API on `listener` until `shutdown` completes, then waits up
/// to `grace` for in-flight requests.
///
/// # Errors
/// An I/O error of the listener.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> anyhow::Result<()> {
    let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, crate::app(state)).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutdown requested; finishing in-flight requests");
        let _ = stopping_tx.send(true);
    });
    let mut stopping = stopping_rx;
    tokio::select! {
        result = server => result.context("server failed")?,
        () = async {
            let _ = stopping.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(grace).await;
        } => tracing::warn!(grace_secs = grace.as_secs(), "in-flight requests did not finish within the grace period"),
    }
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn flags_override_config() {
        let args = Args::try_parse_from([
            "sam-server",
            "--listen",
            "127.0.0.1:9100",
            "--database-url",
            "postgres://postgres@127.0.0.1/sam",
            "--log-format",
            "json",
        ])
        .unwrap();
        let config = resolve_config(&args).unwrap();
        assert_eq!(config.server.listen, "127.0.0.1:9100");
        assert_eq!(
            config.database_url.as_deref(),
            Some("postgres://postgres@127.0.0.1/sam")
        );
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[test]
    fn invalid_listen_address_is_rejected() {
        assert!(Args::try_parse_from(["sam-server", "--listen", "nowhere"]).is_err());
    }
}
