//! Measures how long provisioning partners takes on PostgreSQL and on the
//! embedded SQLite store: each partner gets its control row and its own
//! migrated schema or database file.

#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use sam_core::store::{Store, StoreLocation, StoreOptions};
use sam_core::tenancy::{LlmStrategy, NewPartner, PartnerSlug, Tier};
use sqlx::{Connection, Executor, PgConnection};

/// Provision N partners into a fresh store and report the time taken.
#[derive(Debug, Parser)]
struct Args {
    /// Partners to provision per run
    #[arg(long, default_value_t = 1000)]
    partners: usize,
    /// Runs per backend; the median is reported
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// PostgreSQL server URL; a database is created and dropped per run
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
    /// Skip PostgreSQL
    #[arg(long)]
    sqlite_only: bool,
}

async fn provision_all(location: &StoreLocation, partners: usize) -> anyhow::Result<Duration> {
    let store = Store::init(location, StoreOptions::default()).await?;
    let started = Instant::now();
    for i in 0..partners {
        store
            .create_partner(NewPartner {
                slug: PartnerSlug::parse(&format!("bench_{i:05}"))?,
                name: format!("Bench partner {i}"),
                tier: Tier::Standard,
                strategy: LlmStrategy::CostOptimized,
                daily_quota: None,
                monthly_fee: None,
                time_zone: None,
            })
            .await?;
    }
    let elapsed = started.elapsed();
    store.close().await;
    Ok(elapsed)
}

fn database_url(server: &str, database: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(server).context("invalid --postgres-url")?;
    url.set_path(database);
    Ok(url.to_string())
}

async fn postgres_run(server: &str, partners: usize, run: usize) -> anyhow::Result<Duration> {
    let name = format!("sam_bench_provision_{run}_{}", std::process::id());
    let mut admin = PgConnection::connect(server).await?;
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await?;
    let result = provision_all(
        &StoreLocation::Postgres(database_url(server, &name)?),
        partners,
    )
    .await;
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await?;
    result
}

async fn sqlite_run(partners: usize) -> anyhow::Result<Duration> {
    let dir = tempfile::tempdir()?;
    provision_all(&StoreLocation::Sqlite(dir.path().join("sam")), partners).await
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn report(backend: &str, partners: usize, samples: Vec<Duration>) {
    let runs: Vec<String> = samples
        .iter()
        .map(|d| format!("{:.2}", d.as_secs_f64()))
        .collect();
    let median = median(samples);
    let per_partner_ms = median.as_secs_f64() * 1000.0 / partners as f64;
    println!(
        "{backend:<10} {partners} partners: median {:.2} s ({per_partner_ms:.2} ms per partner); runs: {} s",
        median.as_secs_f64(),
        runs.join(", ")
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runs = args.runs.max(1);
    let mut sqlite = Vec::new();
    for _ in 0..runs {
        sqlite.push(sqlite_run(args.partners).await?);
    }
    report("sqlite", args.partners, sqlite);
    if !args.sqlite_only {
        let mut postgres = Vec::new();
        for run in 0..runs {
            postgres.push(postgres_run(&args.postgres_url, args.partners, run).await?);
        }
        report("postgres", args.partners, postgres);
    }
    Ok(())
}
