//! `samctl init` and `samctl migrate`.

use std::process::ExitCode;

use anyhow::Context as _;
use sam_core::config::SamConfig;
use sam_core::store::{Store, StoreLocation, StoreOptions};

use crate::app::Context;
use crate::output::{self, Listing};

/// Creates or upgrades the store and writes a default config file if none exists.
pub async fn init(context: &Context) -> anyhow::Result<ExitCode> {
    let store = Store::init(&context.location, StoreOptions::default())
        .await
        .with_context(|| {
            format!(
                "cannot initialise the store at {}",
                context.location.redacted()
            )
        })?;
    let mut lines = vec![format!("Store ready at {}", store.describe())];
    if let StoreLocation::Sqlite(home) = &context.location {
        let path = home.join("config.toml");
        if !path.exists() {
            std::fs::write(&path, SamConfig::commented_default())
                .with_context(|| format!("cannot write {}", path.display()))?;
            lines.push(format!("Wrote default configuration to {}", path.display()));
        }
    }
    store.close().await;
    output::note(context.output, &lines.join("\n"))?;
    if context.output == crate::cli::OutputFormat::Json {
        output::print(
            &Listing {
                columns: vec![],
                rows: vec![],
                json: serde_json::json!({ "store": store.describe(), "initialised": true }),
            },
            context.output,
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Applies pending migrations, or lists them all with `--status`.
pub async fn migrate(context: &Context, status_only: bool) -> anyhow::Result<ExitCode> {
    let store = context.store().await?;
    if status_only {
        let statuses = store.migration_status().await?;
        let listing = Listing::new(
            vec!["scope", "version", "description", "state"],
            &statuses,
            |m| {
                vec![
                    m.scope.clone(),
                    m.version.to_string(),
                    m.description.clone(),
                    format!("{:?}", m.state).to_lowercase(),
                ]
            },
        )?;
        output::print(&listing, context.output)?;
    } else {
        let applied = store.migrate().await?;
        output::note(
            context.output,
            &format!("Applied {applied} pending migrations"),
        )?;
        if context.output != crate::cli::OutputFormat::Table {
            output::print(
                &Listing {
                    columns: vec!["applied"],
                    rows: vec![vec![applied.to_string()]],
                    json: serde_json::json!({ "applied": applied }),
                },
                context.output,
            )?;
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
