//! Measures offline batch throughput: submissions graded by the offline
//! rubric scorer and stored with their usage events, per second, on the
//! embedded SQLite store and on PostgreSQL.

#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use futures::StreamExt;
use sam_core::engine::Engine;
use sam_core::eval::{AssignmentInput, OfflineScorer, SubmissionInput};
use sam_core::store::{Store, StoreLocation, StoreOptions};
use sam_core::tenancy::{
    GradeScale, InstitutionType, LlmStrategy, NewClient, NewPartner, PartnerSlug, Tier,
};
use sqlx::{Connection, Executor, PgConnection};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
    Both,
}

/// Evaluate N generated submissions with the offline scorer and report evaluations per second.
#[derive(Debug, Parser)]
struct Args {
    /// Submissions per run
    #[arg(long, default_value_t = 20_000)]
    submissions: usize,
    /// Submissions evaluated at once
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Runs per backend; the median is reported
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// The store to measure
    #[arg(long, value_enum, default_value_t = Backend::Both)]
    backend: Backend,
    /// PostgreSQL server URL; a database is created and dropped per run
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
    /// Connections in the store's pool
    #[arg(long, default_value_t = 16)]
    pool: u32,
}

const WORDS: &[&str] = &[
    "variable",
    "memory",
    "location",
    "value",
    "stores",
    "named",
    "program",
    "function",
    "data",
    "type",
    "address",
    "holds",
    "changes",
    "during",
    "execution",
    "integer",
];

/// Builds a deterministic answer of 12 to 40 words for submission `i`.
fn answer(i: usize) -> String {
    let length = 12 + (i * 7) % 29;
    (0..length)
        .map(|j| WORDS[(i * 31 + j * 17) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

async fn run_once(location: &StoreLocation, args: &Args) -> anyhow::Result<Duration> {
    let store = Store::init(
        location,
        StoreOptions {
            max_connections: args.pool,
            ..StoreOptions::default()
        },
    )
    .await?;
    let slug = PartnerSlug::parse("bench")?;
    store
        .create_partner(NewPartner {
            slug: slug.clone(),
            name: "Bench".to_owned(),
            tier: Tier::Enterprise,
            strategy: LlmStrategy::CostOptimized,
            daily_quota: None,
            monthly_fee: None,
            time_zone: None,
        })
        .await?;
    let db = store.partner_db(&slug).await?;
    let client = db
        .create_client(NewClient {
            client_id: "c1".to_owned(),
            name: "Client".to_owned(),
            institution_type: InstitutionType::University,
            students_count: 0,
            teachers_count: 0,
            grade_scale: GradeScale::default(),
        })
        .await?;
    let assignment = AssignmentInput {
        id: "a1".to_owned(),
        title: None,
        prompt: "What is a variable?".to_owned(),
        reference_answer: Some("A named location in memory that stores a value.".to_owned()),
        max_points: 5.0,
        language: Some("en".to_owned()),
        rubric: None,
    }
    .into_assignment("c1")?;
    db.create_assignment(&assignment, None).await?;
    let engine = Engine::new(Arc::new(OfflineScorer::new()));
    let inputs: Vec<SubmissionInput> = (0..args.submissions)
        .map(|i| SubmissionInput {
            submission_id: format!("s{i}"),
            assignment_id: "a1".to_owned(),
            student_id: format!("st{i}"),
            text: answer(i),
        })
        .collect();

    let started = Instant::now();
    let mut results = futures::stream::iter(
        inputs
            .iter()
            .map(|input| engine.evaluate(&db, &client, &assignment, None, input)),
    )
    .buffer_unordered(args.concurrency);
    while let Some(result) = results.next().await {
        result?;
    }
    let elapsed = started.elapsed();
    store.close().await;
    Ok(elapsed)
}

async fn measure(backend: &str, args: &Args) -> anyhow::Result<()> {
    let mut samples = Vec::new();
    for run in 0..args.runs.max(1) {
        let elapsed = match backend {
            "sqlite" => {
                let dir = tempfile::tempdir()?;
                run_once(&StoreLocation::Sqlite(dir.path().join("sam")), args).await?
            }
            _ => {
                let name = format!("sam_bench_throughput_{run}_{}", std::process::id());
                let mut admin = PgConnection::connect(&args.postgres_url).await?;
                admin
                    .execute(format!("CREATE DATABASE {name}").as_str())
                    .await?;
                let mut url = url::Url::parse(&args.postgres_url)?;
                url.set_path(&name);
                let result = run_once(&StoreLocation::Postgres(url.to_string()), args).await;
                admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await?;
                result?
            }
        };
        samples.push(args.submissions as f64 / elapsed.as_secs_f64());
    }
    samples.sort_by(f64::total_cmp);
    let median = samples[samples.len() / 2];
    let runs: Vec<String> = samples.iter().map(|s| format!("{s:.0}")).collect();
    println!(
        "{backend:<10} {} submissions at concurrency {}: median {median:.0} evaluations/s (runs: {})",
        args.submissions,
        args.concurrency,
        runs.join(", ")
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if matches!(args.backend, Backend::Sqlite | Backend::Both) {
        measure("sqlite", &args).await?;
    }
    if matches!(args.backend, Backend::Postgres | Backend::Both) {
        measure("postgres", &args).await?;
    }
    Ok(())
}
