//! Router attempt logs carry partner, client, provider and latency, and
//! never the API key.
//!
//! This test has its own binary: it installs the process-wide subscriber
//! before any other thread logs, because tracing-core 0.1 can disable a
//! log call for good when another thread reaches it first while only a
//! test-scoped subscriber exists.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_decimal::Decimal;
use sam_core::eval::{AssignmentInput, Evaluator, GradingRequest, OfflineScorer, TenantRef};
use sam_core::llm::{
    PartnerPolicy, Prices, ProviderConfig, ProviderKind, Router, RouterConfig, SecretSource,
    CLAUDE, DEEPSEEK,
};
use sam_core::tenancy::LlmStrategy;
use secrecy::SecretString;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-log-test-0123456789abcdef";

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn provider(name: &str, kind: ProviderKind, base_url: &str) -> ProviderConfig {
    ProviderConfig {
        name: name.to_owned(),
        kind,
        base_url: base_url.to_owned(),
        model: format!("{name}-model"),
        api_key: Some(SecretSource::Literal(SecretString::from(KEY))),
        prices: Prices {
            input_per_million: Decimal::ONE,
            cached_input_per_million: Decimal::ONE,
            output_per_million: Decimal::ONE,
        },
        max_output_tokens: 256,
    }
}

#[tokio::test]
async fn attempts_logged_with_fields_without_key() {
    let logs = LogBuffer::default();
    tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .init();

    let deepseek = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&deepseek)
        .await;
    let claude = MockServer::start().await;
    let reply = serde_json::json!({
        "criteria": [{"name": "correctness", "score": 4, "feedback": "ok"}],
        "overall_feedback": "fine"
    })
    .to_string();
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-model",
            "content": [{"type": "text", "text": reply}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 100, "output_tokens": 20}
        })))
        .mount(&claude)
        .await;

    let config = RouterConfig {
        providers: vec![
            provider(DEEPSEEK, ProviderKind::OpenAiCompatible, &deepseek.uri()),
            provider(CLAUDE, ProviderKind::Anthropic, &claude.uri()),
        ],
        default_policy: PartnerPolicy {
            strategy: LlmStrategy::Redundancy,
            timeout: Duration::from_secs(5),
            ..PartnerPolicy::default()
        },
        ..RouterConfig::default()
    };
    let router = Router::new(config, Arc::new(OfflineScorer::new())).unwrap();
    let assignment = AssignmentInput {
        id: "a1".to_owned(),
        title: None,
        prompt: "What is a variable?".to_owned(),
        reference_answer: Some("A named location in memory.".to_owned()),
        max_points: 5.0,
        language: Some("en".to_owned()),
        rubric: None,
    }
    .into_assignment("colegio")
    .unwrap();
    let tenant = TenantRef {
        partner: "acme".to_owned(),
        client: "colegio".to_owned(),
    };
    let grading = router
        .grade(GradingRequest {
            tenant: &tenant,
            assignment: &assignment,
            submission: "a location in memory",
            deadline: None,
        })
        .await
        .unwrap();
    assert_eq!(grading.provider, CLAUDE);

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("provider attempt failed"), "{text}");
    assert!(text.contains("provider attempt finished"), "{text}");
    assert!(text.contains("partner=acme"), "{text}");
    assert!(text.contains("client=colegio"), "{text}");
    assert!(text.contains("provider=deepseek"), "{text}");
    assert!(text.contains("provider=claude"), "{text}");
    assert!(text.contains("latency_ms="), "{text}");
    assert!(
        !text.contains(KEY),
        "the API key must never be logged: {text}"
    );
}
