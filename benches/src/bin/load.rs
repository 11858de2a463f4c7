//! Load test of `sam-server`: synchronous evaluations over HTTP against a
//! mock LLM provider that answers at once, with PostgreSQL persistence.
//!
//! The program creates a PostgreSQL database and provisions a partner, a
//! client, an assignment and an API key in it. It then writes a
//! configuration file, starts the release `sam-server` binary as a child
//! process, and drives it from a load generator in this process. It reports, per scenario,
//! throughput and latency percentiles, the latency of calling the mock
//! directly, and the server's resident memory read from `/proc`. Each
//! scenario then checks that every successful evaluation has its row and its
//! usage event in the database.

#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use axum::routing::post;
use clap::{Parser, ValueEnum};
use sam_core::auth::{create_api_key, NewApiKey, Permission};
use sam_core::eval::AssignmentInput;
use sam_core::store::{Store, StoreLocation, StoreOptions};
use sam_core::tenancy::{
    GradeScale, InstitutionType, LlmStrategy, NewClient, NewPartner, PartnerSlug, Tier,
};
use secrecy::ExposeSecret;
use sqlx::{Connection, Executor, PgConnection};

/// The grading cache of the server under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CacheArg {
    /// In the server's memory
    Memory,
    /// In Redis, shared by server replicas
    Redis,
}

/// Drives a release sam-server with synchronous evaluations and reports
/// throughput, latency and memory.
#[derive(Debug, Parser)]
struct Args {
    /// Seconds each measurement runs
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds of warm-up before each measurement
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Connections of the throughput runs
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Measurements per scenario; the median is reported
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// PostgreSQL server URL; a database is created for the run and dropped after it
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
    /// Redis URL of the server's shared rate limits and daily quota
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// Backend of the server's grading cache
    #[arg(long, value_enum, default_value_t = CacheArg::Memory)]
    cache: CacheArg,
    /// The sam-server binary [default: `sam-server` beside this program]
    #[arg(long, value_name = "FILE")]
    server_bin: Option<PathBuf>,
    /// Connections in the server's database pool
    #[arg(long, default_value_t = 16)]
    pool: u32,
}

const PARTNER: &str = "loadbench";
const CLIENT: &str = "c1";
const ASSIGNMENT: &str = "a1";

fn reply_body() -> serde_json::Value {
    let content = serde_json::json!({
        "criteria": [{"name": "correctness", "score": 4, "feedback": "Names memory and value."}],
        "overall_feedback": "Good."
    })
    .to_string();
    serde_json::json!({
        "id": "chatcmpl-load",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 800, "completion_tokens": 60, "total_tokens": 860}
    })
}

/// Starts the mock provider, which replies at once, and returns its address.
async fn start_mock() -> anyhow::Result<SocketAddr> {
    let body = Arc::new(reply_body());
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let body = Arc::clone(&body);
            async move { axum::Json((*body).clone()) }
        }),
    );
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(address)
}

/// Creates the database and provisions the tenant; returns the API key.
async fn provision(url: &str, pool: u32) -> anyhow::Result<String> {
    let store = Store::init(
        &StoreLocation::Postgres(url.to_owned()),
        StoreOptions {
            max_connections: pool,
            ..StoreOptions::default()
        },
    )
    .await?;

    let slug = PartnerSlug::parse(PARTNER)?;
    store
        .create_partner(NewPartner {
            slug: slug.clone(),
            name: "Load benchmark".to_owned(),
            tier: Tier::Enterprise,
            strategy: LlmStrategy::Performance,
            daily_quota: Some(1_000_000_000),
            monthly_fee: None,
            time_zone: None,
        })
        .await?;

    let db = store.partner_db(&slug).await?;
    db.create_client(NewClient {
        client_id: CLIENT.to_owned(),
        name: "Client".to_owned(),
        institution_type: InstitutionType::University,
        students_count: 0,
        teachers_count: 0,
        grade_scale: GradeScale::default(),
    })
    .await?;

    let assignment = AssignmentInput {
        id: ASSIGNMENT.to_owned(),
        title: None,
        prompt: "What is a variable?".to_owned(),
        reference_answer: Some("A named location in memory that stores a value.".to_owned()),
        max_points: 5.0,
        language: Some("en".to_owned()),
        rubric: None,
    }
    .into_assignment(CLIENT)?;
    db.create_assignment(&assignment, None).await?;

    let key = create_api_key(
        &store,
        &NewApiKey {
            partner: slug,
            client_id: Some(CLIENT.to_owned()),
            name: "load benchmark".to_owned(),
            scopes: vec![Permission::CreateEvaluation],
            expires_at: None,
        },
        chrono::Utc::now(),
    )
    .await?;

    store.close().await;
    Ok(key.key.expose_secret().to_owned())
}

/// Writes the server's configuration file.
fn write_config(
    dir: &Path,
    args: &Args,
    database_url: &str,
    mock: SocketAddr,
    prefix: &str,
) -> anyhow::Result<PathBuf> {
    let cache = match args.cache {
        CacheArg::Memory => "backend = \"memory\"".to_owned(),
        CacheArg::Redis => format!(
            "backend = \"redis\"\nredis_url = \"{}\"\nkey_prefix = \"{prefix}:cache\"",
            args.redis_url
        ),
    };
    let text = format!(
        r#"database_url = "{database_url}"
log_level = "warn"

[server]
redis_url = "{redis}"

[limits]
key_prefix = "{prefix}:limits:"

[limits.partners.{PARTNER}]
requests_per_minute = 30000000
burst = 1000000

[[llm.providers]]
name = "llama_self_hosted"
kind = "open_ai_compatible"
base_url = "http://{mock}/v1"
model = "llama-bench"
[llm.providers.prices]
input_per_million = "0.27"
cached_input_per_million = "0.07"
output_per_million = "1.10"

[llm.default_policy]
strategy = "performance"
timeout = 10
max_concurrent = 1024

[cache]
{cache}
"#,
        redis = args.redis_url,
    );
    let file = dir.join("sam.toml");
    std::fs::write(&file, text)?;
    Ok(file)
}

/// A started server process, killed when dropped.
struct ServerProcess {
    child: tokio::process::Child,
    base: String,
}

impl ServerProcess {
    async fn start(bin: &Path, config: &Path) -> anyhow::Result<Self> {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
            probe.local_addr()?.port()
        };
        let listen = format!("127.0.0.1:{port}");
        let child = tokio::process::Command::new(bin)
            .arg("--config")
            .arg(config)
            .arg("--listen")
            .arg(&listen)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let mut server = Self {
            child,
            base: format!("http://{listen}"),
        };
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if let Some(status) = server.child.try_wait()? {
                bail!("sam-server exited with {status} before /healthz returned 200; see its log above");
            }
            if let Ok(response) = http.get(format!("{}/healthz", server.base)).send().await {
                if response.status().is_success() {
                    return Ok(server);
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("sam-server did not return 200 from /healthz on {listen} within 10 s; see its log above")
    }

    /// Returns the resident and peak resident memory, in MiB.
    fn memory_mib(&self) -> anyhow::Result<(f64, f64)> {
        let pid = self.child.id().context("the server has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| -> anyhow::Result<f64> {
            let line = status
                .lines()
                .find(|line| line.starts_with(name))
                .with_context(|| format!("no {name} in /proc/{pid}/status"))?;
            let kib: f64 = line
                .split_whitespace()
                .nth(1)
                .context("malformed /proc status line")?
                .parse()?;
            Ok(kib / 1024.0)
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }
}

/// The kind of request a run sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    /// The mock provider itself, called directly.
    Direct,
    /// A new submission text each time, so the provider is called.
    Miss,
    /// The same submission text each time, so the grading cache returns the grading.
    Hit,
}

/// The results of one measurement.
#[derive(Debug, Default)]
struct Sample {
    requests: u64,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Numbers every request of the run, so each submission id is new.
static NEXT: AtomicU64 = AtomicU64::new(0);
/// Evaluations the server returned with a success status, warm-up included.
static SUCCEEDED: AtomicU64 = AtomicU64::new(0);

fn evaluate_body(workload: Workload) -> serde_json::Value {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let text = match workload {
        Workload::Hit => "A variable is a named location in memory that holds a value.".to_owned(),
        _ => format!("A variable names memory location number {n} that stores a value."),
    };
    serde_json::json!({
        "assignment_id": ASSIGNMENT,
        "submission_id": format!("s{n}"),
        "student_id": format!("st{}", n % 5_000),
        "text": text,
    })
}

/// Runs `connections` request loops for `warmup + seconds` and measures
/// the last `seconds`.
async fn measure(
    target: &Target,
    workload: Workload,
    connections: usize,
    warmup: Duration,
    seconds: Duration,
) -> anyhow::Result<Sample> {
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));

    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(30))
            .build()?;
        let target = target.clone();
        let stop = Arc::clone(&stop);
        let measuring = Arc::clone(&measuring);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(65_536);
            while !stop.load(Ordering::Relaxed) {
                let request = match workload {
                    Workload::Direct => http.post(&target.mock_url).json(&serde_json::json!({
                        "model": "llama-bench",
                        "messages": [{"role": "user", "content": "What is a variable?"}]
                    })),
                    _ => http
                        .post(&target.evaluate_url)
                        .header("x-api-key", target.api_key.as_str())
                        .json(&evaluate_body(workload)),
                };
                let started = Instant::now();
                let response = request.send().await?;
                let status = response.status();
                let body = response.bytes().await?;
                let elapsed = started.elapsed();
                if !status.is_success() {
                    bail!(
                        "{status} from the server: {}",
                        String::from_utf8_lossy(&body)
                    );
                }
                if workload != Workload::Direct {
                    SUCCEEDED.fetch_add(1, Ordering::Relaxed);
                }
                if measuring.load(Ordering::Relaxed) {
                    latencies.push(elapsed);
                }
            }
            Ok(latencies)
        }));
    }

    tokio::time::sleep(warmup).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(seconds).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);

    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }

    latencies.sort_unstable();
    // The latency below which `permille` thousandths of the requests fall.
    let percentile = |permille: usize| -> f64 {
        let index = latencies.len().saturating_sub(1) * permille / 1_000;
        latencies
            .get(index)
            .map_or(f64::NAN, |latency| latency.as_secs_f64() * 1_000.0)
    };
    Ok(Sample {
        requests: latencies.len() as u64,
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile(500),
        p99_ms: percentile(990),
    })
}

#[derive(Debug, Clone)]
struct Target {
    mock_url: String,
    evaluate_url: String,
    api_key: Arc<String>,
}

/// Runs a scenario `runs` times and returns the run with the median throughput.
async fn scenario(
    target: &Target,
    args: &Args,
    workload: Workload,
    connections: usize,
) -> anyhow::Result<Sample> {
    let mut samples = Vec::new();
    for _ in 0..args.runs.max(1) {
        samples.push(
            measure(
                target,
                workload,
                connections,
                Duration::from_secs(args.warmup),
                Duration::from_secs(args.seconds),
            )
            .await?,
        );
    }
    samples.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
    let runs: Vec<String> = samples
        .iter()
        .map(|s| format!("{:.0}", s.per_second))
        .collect();
    let median = samples.swap_remove(samples.len() / 2);
    println!(
        "{:<28} {connections:>3} conn: {:>8.0} req/s, p50 {:>6.3} ms, p99 {:>6.3} ms ({} requests; runs: {} req/s)",
        match workload {
            Workload::Direct => "mock provider, direct",
            Workload::Miss => "evaluate, cache miss",
            Workload::Hit => "evaluate, cache hit",
        },
        median.per_second,
        median.p50_ms,
        median.p99_ms,
        median.requests,
        runs.join(", "),
    );
    Ok(median)
}

/// Counts the stored evaluations and usage events of the partner.
async fn stored_counts(url: &str) -> anyhow::Result<(i64, i64)> {
    let mut connection = PgConnection::connect(url).await?;
    let schema = format!("partner_{PARTNER}");
    let evaluations: i64 =
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM \"{schema}\".evaluations"))
            .fetch_one(&mut connection)
            .await?;
    let events: i64 =
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM \"{schema}\".usage_events"))
            .fetch_one(&mut connection)
            .await?;
    connection.close().await?;
    Ok((evaluations, events))
}

fn server_binary(args: &Args) -> anyhow::Result<PathBuf> {
    let bin = match &args.server_bin {
        Some(bin) => bin.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("this program has no folder")?
            .join("sam-server"),
    };
    if !bin.is_file() {
        bail!(
            "no sam-server binary at {}: build it with `cargo build --release -p sam-server`, or pass --server-bin FILE",
            bin.display()
        );
    }
    Ok(bin)
}

async fn run(args: &Args, database_url: &str) -> anyhow::Result<()> {
    let bin = server_binary(args)?;
    let api_key = provision(database_url, args.pool).await?;
    let mock = start_mock().await?;
    let dir = tempfile::tempdir()?;
    let prefix = format!("samloadbench{}", std::process::id());
    let config = write_config(dir.path(), args, database_url, mock, &prefix)?;
    let server = ServerProcess::start(&bin, &config).await?;
    let target = Target {
        mock_url: format!("http://{mock}/v1/chat/completions"),
        evaluate_url: format!(
            "{}/api/{PARTNER}/v1/clients/{CLIENT}/evaluations",
            server.base
        ),
        api_key: Arc::new(api_key),
    };
    println!(
        "sam-server {} with PostgreSQL persistence, Redis limits, {:?} cache; {} s per run, median of {}",
        bin.display(),
        args.cache,
        args.seconds,
        args.runs
    );

    let direct_one = scenario(&target, args, Workload::Direct, 1).await?;
    let direct_many = scenario(&target, args, Workload::Direct, args.connections).await?;
    let miss_one = scenario(&target, args, Workload::Miss, 1).await?;
    let miss_many = scenario(&target, args, Workload::Miss, args.connections).await?;
    let hit_many = scenario(&target, args, Workload::Hit, args.connections).await?;
    let (rss, peak) = server.memory_mib()?;

    println!(
        "added latency over the direct call: p50 {:.3} ms at 1 connection, p99 {:.3} ms at {} connections",
        miss_one.p50_ms - direct_one.p50_ms,
        miss_many.p99_ms - direct_many.p99_ms,
        args.connections
    );
    println!(
        "cache-hit throughput: {:.0} evaluations/s; cache-miss throughput: {:.0} evaluations/s",
        hit_many.per_second, miss_many.per_second
    );
    println!("server memory: {rss:.1} MiB resident at the end, {peak:.1} MiB peak");

    let succeeded = SUCCEEDED.load(Ordering::Relaxed);
    let (evaluations, events) = stored_counts(database_url).await?;
    println!("stored: {evaluations} evaluations and {events} usage events for {succeeded} successful responses");
    if evaluations != events || u64::try_from(evaluations)? != succeeded {
        bail!("stored rows do not match: {evaluations} evaluations, {events} usage events");
    }
    drop(server);
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let name = format!("sam_bench_load_{}", std::process::id());
    let mut admin = PgConnection::connect(&args.postgres_url)
        .await
        .with_context(|| format!("cannot connect to PostgreSQL at {}", args.postgres_url))?;
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await?;
    let mut url = url::Url::parse(&args.postgres_url)?;
    url.set_path(&name);
    let result = run(&args, url.as_str()).await;
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await?;
    result
}
