//! Measures the LLM router: overhead per call on a cache hit and on a cache
//! miss against a mock provider that answers at once, and batch throughput
//! against a mock that takes 200 ms per call.
//!
//! The mock is an OpenAI-compatible server on 127.0.0.1 inside this process.

#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use clap::Parser;
use futures::StreamExt;
use rust_decimal::Decimal;
use sam_core::cache::{CacheConfig, CachedEvaluator, MemoryBackend};
use sam_core::eval::{
    Assignment, AssignmentInput, Evaluator, GradingRequest, OfflineScorer, TenantRef,
};
use sam_core::llm::{
    PartnerPolicy, Prices, ProviderConfig, ProviderKind, Router, RouterConfig, LLAMA_SELF_HOSTED,
};
use sam_core::tenancy::LlmStrategy;

/// Router overhead and throughput against an in-process mock provider.
#[derive(Debug, Parser)]
struct Args {
    /// Calls measured for the cache-hit and cache-miss overheads
    #[arg(long, default_value_t = 5_000)]
    calls: usize,
    /// Requests in the throughput run
    #[arg(long, default_value_t = 1_280)]
    batch: usize,
    /// Requests in flight in the throughput run
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Latency of the slow mock, in milliseconds
    #[arg(long, default_value_t = 200)]
    latency_ms: u64,
}

fn reply_body() -> serde_json::Value {
    let content = serde_json::json!({
        "criteria": [{"name": "correctness", "score": 4, "feedback": "Names memory and value."}],
        "overall_feedback": "Good."
    })
    .to_string();
    serde_json::json!({
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 800, "completion_tokens": 60, "total_tokens": 860}
    })
}

/// Starts the mock provider and returns its base URL.
async fn start_mock(delay: Duration) -> anyhow::Result<String> {
    let body = Arc::new(reply_body());
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let body = Arc::clone(&body);
            async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                axum::Json((*body).clone())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{address}/v1"))
}

fn router(base_url: &str) -> anyhow::Result<Router> {
    let config = RouterConfig {
        providers: vec![ProviderConfig {
            name: LLAMA_SELF_HOSTED.to_owned(),
            kind: ProviderKind::OpenAiCompatible,
            base_url: base_url.to_owned(),
            model: "llama-bench".to_owned(),
            api_key: None,
            prices: Prices {
                input_per_million: Decimal::ZERO,
                cached_input_per_million: Decimal::ZERO,
                output_per_million: Decimal::ZERO,
            },
            max_output_tokens: 256,
        }],
        default_policy: PartnerPolicy {
            strategy: LlmStrategy::CostOptimized,
            max_concurrent: 1_024,
            ..PartnerPolicy::default()
        },
        ..RouterConfig::default()
    };
    Ok(Router::new(config, Arc::new(OfflineScorer::new()))?)
}

fn assignment() -> anyhow::Result<Assignment> {
    Ok(AssignmentInput {
        id: "a1".to_owned(),
        title: None,
        prompt: "What is a variable?".to_owned(),
        reference_answer: Some("A named location in memory that stores a value.".to_owned()),
        max_points: 5.0,
        language: Some("en".to_owned()),
        rubric: None,
    }
    .into_assignment("c1")?)
}

async fn grade(
    evaluator: &dyn Evaluator,
    assignment: &Assignment,
    tenant: &TenantRef,
    text: &str,
) -> anyhow::Result<()> {
    evaluator
        .grade(GradingRequest {
            tenant,
            assignment,
            submission: text,
            deadline: None,
        })
        .await?;
    Ok(())
}

/// Returns the median of per-call times measured in chunks of 100 calls, in microseconds.
fn median_micros(mut chunk_means: Vec<f64>) -> f64 {
    chunk_means.sort_by(f64::total_cmp);
    chunk_means
        .get(chunk_means.len() / 2)
        .copied()
        .unwrap_or(f64::NAN)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tenant = TenantRef {
        partner: "bench".to_owned(),
        client: "c1".to_owned(),
    };
    let assignment = assignment()?;
    let fast_url = start_mock(Duration::ZERO).await?;
    let fast = Arc::new(router(&fast_url)?);

    // Cache hit: one warmed entry, read back `calls` times.
    let cached = CachedEvaluator::new(
        Arc::clone(&fast),
        Arc::new(MemoryBackend::new(10_000)),
        CacheConfig::default(),
    );
    grade(&cached, &assignment, &tenant, "a named location in memory").await?;
    let mut hits = Vec::new();
    for _ in 0..args.calls / 100 {
        let started = Instant::now();
        for _ in 0..100 {
            grade(&cached, &assignment, &tenant, "a named location in memory").await?;
        }
        hits.push(started.elapsed().as_secs_f64() * 1e6 / 100.0);
    }

    // Cache miss: the router alone against the 0 ms mock, and the same HTTP
    // request sent directly, so the difference is the router's own cost.
    let client = reqwest::Client::new();
    let direct_body =
        serde_json::json!({"model": "llama-bench", "messages": [{"role": "user", "content": "x"}]});
    let mut direct = Vec::new();
    let mut routed = Vec::new();
    for chunk in 0..args.calls / 100 {
        let started = Instant::now();
        for _ in 0..100 {
            client
                .post(format!("{fast_url}/chat/completions"))
                .json(&direct_body)
                .send()
                .await?
                .bytes()
                .await?;
        }
        direct.push(started.elapsed().as_secs_f64() * 1e6 / 100.0);
        let started = Instant::now();
        for i in 0..100 {
            grade(
                fast.as_ref(),
                &assignment,
                &tenant,
                &format!("answer {chunk} {i}"),
            )
            .await?;
        }
        routed.push(started.elapsed().as_secs_f64() * 1e6 / 100.0);
    }

    // Throughput against the slow mock.
    let slow = router(&start_mock(Duration::from_millis(args.latency_ms)).await?)?;
    let texts: Vec<String> = (0..args.batch)
        .map(|i| format!("throughput answer {i}"))
        .collect();
    let started = Instant::now();
    let mut results = futures::stream::iter(
        texts
            .iter()
            .map(|text| grade(&slow, &assignment, &tenant, text)),
    )
    .buffer_unordered(args.concurrency);
    while let Some(result) = results.next().await {
        result?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let throughput = args.batch as f64 / elapsed;
    let ceiling = args.concurrency as f64 * 1000.0 / args.latency_ms as f64;

    let hit = median_micros(hits);
    let direct = median_micros(direct);
    let routed = median_micros(routed);
    println!("cache hit:                 {hit:.1} µs per call (median of 100-call chunks)");
    println!("cache miss, 0 ms mock:     {routed:.1} µs per call; the same HTTP call sent directly: {direct:.1} µs");
    println!(
        "router overhead on a miss: {:.1} µs per call",
        routed - direct
    );
    println!(
        "throughput, {} ms mock:    {throughput:.1} gradings/s at concurrency {} ({:.1}% of the {ceiling:.0}/s that latency allows)",
        args.latency_ms,
        args.concurrency,
        100.0 * throughput / ceiling
    );
    Ok(())
}
