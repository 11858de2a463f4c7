//! Cache tests against the in-process backend and the real Redis at
//! 127.0.0.1:6379. Each Redis test uses its own random key prefix and
//! deletes its keys at the end.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;

use super::*;
use crate::eval::{
    Assignment, CriterionScore, Evaluator, EvaluatorError, Grading, GradingRequest, Language,
    Rubric, TenantRef, TokenUsage, FLAG_OFFLINE_FALLBACK,
};

const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// An evaluator that counts its calls and can pretend to be the fallback.
#[derive(Debug, Default)]
struct CountingEvaluator {
    calls: AtomicU32,
    offline: bool,
}

#[async_trait]
impl Evaluator for CountingEvaluator {
    async fn grade(&self, request: GradingRequest<'_>) -> Result<Grading, EvaluatorError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Grading {
            criteria: vec![CriterionScore {
                name: "correctness".to_owned(),
                points: 7.0,
                max_points: request.assignment.max_points,
                feedback: format!("graded for {} in call {call}", request.tenant.partner),
            }],
            overall_feedback: "ok".to_owned(),
            flags: if self.offline {
                vec![FLAG_OFFLINE_FALLBACK.to_owned()]
            } else {
                Vec::new()
            },
            model: "deepseek-chat".to_owned(),
            provider: "deepseek".to_owned(),
            usage: TokenUsage {
                input_tokens: 100,
                cached_input_tokens: 0,
                output_tokens: 10,
            },
            cost_nanos: 38_000,
            attempts: 1,
            cached: false,
        })
    }
}

impl RouteKey for CountingEvaluator {
    fn route_key(&self, _tenant: &TenantRef) -> String {
        "performance:deepseek/deepseek-chat".to_owned()
    }
}

impl CountingEvaluator {
    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

fn assignment() -> Assignment {
    Assignment {
        assignment_id: "a1".to_owned(),
        client_id: "colegio".to_owned(),
        title: "Recursion".to_owned(),
        prompt: "Explain recursion".to_owned(),
        reference_answer: None,
        max_points: 10.0,
        language: Language::Es,
        rubric: Rubric::single_correctness(10.0, Language::Es),
    }
}

fn tenant(partner: &str) -> TenantRef {
    TenantRef {
        partner: partner.to_owned(),
        client: "colegio".to_owned(),
    }
}

async fn grade<E: RouteKey>(evaluator: &CachedEvaluator<E>, partner: &str, text: &str) -> Grading {
    let tenant = tenant(partner);
    let assignment = assignment();
    evaluator
        .grade(GradingRequest {
            tenant: &tenant,
            assignment: &assignment,
            submission: text,
            deadline: None,
        })
        .await
        .unwrap()
}

fn cached(
    inner: &Arc<CountingEvaluator>,
    backend: Arc<dyn CacheBackend>,
    global_partners: &[&str],
) -> CachedEvaluator<CountingEvaluator> {
    CachedEvaluator::new(
        Arc::clone(inner),
        backend,
        CacheConfig {
            // Short lifetimes, so keys left by a failed Redis test expire soon.
            tenant_ttl: Duration::from_secs(300),
            global_ttl: Duration::from_secs(300),
            global_partners: global_partners.iter().map(|p| (*p).to_owned()).collect(),
        },
    )
}

/// Checks the cache rules against any backend: a repeat is a hit marked
/// cached, another partner never reads the first partner's tenant entry.
async fn check_tenant_isolation(backend: Arc<dyn CacheBackend>) {
    let inner = Arc::new(CountingEvaluator::default());
    let evaluator = cached(&inner, backend, &[]);

    let first = grade(&evaluator, "acme", "Una función que se llama a sí misma.").await;
    assert!(!first.cached);
    let repeat = grade(
        &evaluator,
        "acme",
        "  Una función que se llama\n a sí misma. ",
    )
    .await;
    assert!(repeat.cached, "identical submission must hit the cache");
    assert_eq!(repeat.criteria, first.criteria);
    assert_eq!(repeat.cost_nanos, first.cost_nanos);
    assert_eq!(inner.calls(), 1);

    let other = grade(&evaluator, "globex", "Una función que se llama a sí misma.").await;
    assert!(!other.cached, "partner B must not read partner A's entry");
    assert!(other.criteria[0].feedback.contains("globex"));
    assert_eq!(inner.calls(), 2);
}

#[tokio::test]
async fn memory_tenant_isolation_and_hits() {
    check_tenant_isolation(Arc::new(MemoryBackend::new(1_000))).await;
}

#[tokio::test]
async fn global_level_only_for_opted_in_partners() {
    let inner = Arc::new(CountingEvaluator::default());
    let backend: Arc<dyn CacheBackend> = Arc::new(MemoryBackend::new(1_000));
    let evaluator = cached(&inner, Arc::clone(&backend), &["acme", "globex"]);

    grade(&evaluator, "acme", "text").await;
    let shared = grade(&evaluator, "globex", "text").await;
    assert!(shared.cached, "opted-in partner reads the global entry");
    assert_eq!(inner.calls(), 1);

    let private = grade(&evaluator, "initech", "text").await;
    assert!(
        !private.cached,
        "a partner that did not opt in never reads it"
    );
    assert_eq!(inner.calls(), 2);
}

#[tokio::test]
async fn private_partner_does_not_write_global() {
    let inner = Arc::new(CountingEvaluator::default());
    let backend: Arc<dyn CacheBackend> = Arc::new(MemoryBackend::new(1_000));
    let evaluator = cached(&inner, Arc::clone(&backend), &["globex"]);

    grade(&evaluator, "initech", "text").await;
    let other = grade(&evaluator, "globex", "text").await;
    assert!(!other.cached);
    assert_eq!(inner.calls(), 2);
}

#[tokio::test]
async fn offline_fallback_is_not_cached() {
    let inner = Arc::new(CountingEvaluator {
        offline: true,
        ..CountingEvaluator::default()
    });
    let evaluator = cached(&inner, Arc::new(MemoryBackend::new(1_000)), &[]);
    grade(&evaluator, "acme", "text").await;
    let again = grade(&evaluator, "acme", "text").await;
    assert!(!again.cached);
    assert_eq!(inner.calls(), 2);
}

#[tokio::test]
async fn memory_entries_expire() {
    let backend = MemoryBackend::new(10);
    backend
        .set("k", "v", Duration::from_millis(50))
        .await
        .unwrap();
    assert_eq!(backend.get("k").await.unwrap().as_deref(), Some("v"));
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(backend.get("k").await.unwrap(), None);
}

/// Returns a random key prefix, so parallel tests never share keys.
fn random_prefix() -> String {
    format!("sam-test-{:016x}:", rand::thread_rng().gen::<u64>())
}

/// Deletes every key under `prefix` on the shared Redis.
async fn delete_prefix(prefix: &str) {
    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    if !keys.is_empty() {
        redis::cmd("DEL")
            .arg(&keys)
            .query_async::<()>(&mut connection)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn redis_tenant_isolation_and_hits() {
    let prefix = random_prefix();
    let backend = RedisBackend::new(REDIS_URL, &prefix).unwrap();
    check_tenant_isolation(Arc::new(backend)).await;

    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys
        .iter()
        .any(|k| k.starts_with(&format!("{prefix}acme:colegio:llm:"))));
    assert!(keys
        .iter()
        .any(|k| k.starts_with(&format!("{prefix}globex:colegio:llm:"))));
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&keys[0])
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(ttl > 0, "entries must expire, PTTL was {ttl}");
    delete_prefix(&prefix).await;
}

#[tokio::test]
async fn redis_unreachable_degrades_to_miss() {
    // A port that was just bound and released has no server behind it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let backend = RedisBackend::new(&format!("redis://127.0.0.1:{port}"), "x:").unwrap();
    let inner = Arc::new(CountingEvaluator::default());
    let evaluator = cached(&inner, Arc::new(backend), &["acme"]);

    let first = grade(&evaluator, "acme", "text").await;
    let second = grade(&evaluator, "acme", "text").await;
    assert!(!first.cached);
    assert!(!second.cached);
    assert_eq!(inner.calls(), 2);
}

#[tokio::test]
async fn redis_connection_killed_mid_run() {
    let prefix = random_prefix();
    let backend = Arc::new(RedisBackend::new(REDIS_URL, &prefix).unwrap());
    let inner = Arc::new(CountingEvaluator::default());
    let evaluator = cached(&inner, Arc::clone(&backend) as Arc<dyn CacheBackend>, &[]);

    assert!(!grade(&evaluator, "acme", "text").await.cached);
    let id = backend.client_id().await.unwrap();
    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id)
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(killed, 1);

    // The first call after the kill may miss; it must still grade.
    let during = grade(&evaluator, "acme", "text").await;
    assert_eq!(during.criteria[0].points, 7.0);

    // The manager reconnects, so the stored entry is served again.
    let mut recovered = false;
    for _ in 0..20 {
        if grade(&evaluator, "acme", "text").await.cached {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        recovered,
        "cache never recovered after the connection was killed"
    );
    delete_prefix(&prefix).await;
}

#[tokio::test]
async fn router_behind_cache_calls_provider_once() {
    use rust_decimal_macros::dec;
    use serde_json::json;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use crate::llm::{PartnerPolicy, Prices, ProviderConfig, ProviderKind, Router, RouterConfig};

    let server = MockServer::start().await;
    let text = json!({
        "criteria": [{"name": "correctness", "score": 8, "feedback": "bien"}],
        "overall_feedback": "bien",
    })
    .to_string();
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "choices": [{"message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 100},
        })))
        .mount(&server)
        .await;
    let config = RouterConfig {
        providers: vec![ProviderConfig {
            name: "llama_self_hosted".to_owned(),
            kind: ProviderKind::OpenAiCompatible,
            base_url: server.uri(),
            model: "llama-3.1-8b".to_owned(),
            api_key: None,
            prices: Prices {
                input_per_million: dec!(0.05),
                cached_input_per_million: dec!(0.05),
                output_per_million: dec!(0.1),
            },
            max_output_tokens: 512,
        }],
        default_policy: PartnerPolicy::default(),
        ..RouterConfig::default()
    };
    let fallback = Arc::new(CountingEvaluator::default());
    let router = Arc::new(Router::new(config, fallback).unwrap());
    let evaluator = CachedEvaluator::new(
        router,
        Arc::new(MemoryBackend::new(100)),
        CacheConfig::default(),
    );

    let first = grade(&evaluator, "acme", "Una función recursiva.").await;
    let second = grade(&evaluator, "acme", "Una función recursiva.").await;
    let other = grade(&evaluator, "globex", "Una función recursiva.").await;
    assert_eq!(first.provider, "llama_self_hosted");
    assert!(!first.cached);
    assert!(second.cached);
    assert_eq!(second.criteria, first.criteria);
    assert_eq!(second.cost_nanos, 60_000);
    assert!(!other.cached);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[test]
fn redis_backend_outside_runtime_is_an_error() {
    let err = RedisBackend::new(REDIS_URL, "x:").unwrap_err().to_string();
    assert!(err.contains("Tokio runtime"), "{err}");
}

#[test]
fn cache_config_parses_seconds() {
    let config: CacheConfig =
        toml::from_str("tenant_ttl = 3600\nglobal_partners = [\"acme\"]").unwrap();
    assert_eq!(config.tenant_ttl, Duration::from_secs(3600));
    assert_eq!(config.global_ttl, CacheConfig::default().global_ttl);
    assert!(config.global_partners.contains("acme"));
}
