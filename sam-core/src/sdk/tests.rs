//! Tests of the embedding API against embedded stores in temporary folders.

use std::sync::Arc;

use async_trait::async_trait;

use super::*;
use crate::config::SamConfig;
use crate::eval::{
    AssignmentInput, CriterionScore, EvaluationStatus, Evaluator, EvaluatorError, Grading,
    GradingRequest, SubmissionInput, TokenUsage,
};
use crate::store::EvaluationFilter;
use crate::tenancy::{
    GradeScale, InstitutionType, LlmStrategy, NewClient, NewPartner, NewUser, PartnerSlug, Role,
    Tier,
};
use crate::Error;

fn new_partner(slug: &str) -> NewPartner {
    NewPartner {
        slug: PartnerSlug::parse(slug).unwrap(),
        name: format!("Partner {slug}"),
        tier: Tier::Basic,
        strategy: LlmStrategy::CostOptimized,
        daily_quota: None,
        monthly_fee: None,
        time_zone: None,
    }
}

fn new_client(client_id: &str) -> NewClient {
    NewClient {
        client_id: client_id.to_owned(),
        name: format!("Client {client_id}"),
        institution_type: InstitutionType::K12,
        students_count: 100,
        teachers_count: 5,
        grade_scale: GradeScale::default(),
    }
}

fn assignment(id: &str, prompt: &str) -> AssignmentInput {
    AssignmentInput {
        id: id.to_owned(),
        title: None,
        prompt: prompt.to_owned(),
        reference_answer: Some("Plants turn light, water and CO2 into glucose and oxygen.".into()),
        max_points: 10.0,
        language: Some("en".to_owned()),
        rubric: None,
    }
}

fn submission(id: &str, text: &str) -> SubmissionInput {
    SubmissionInput {
        submission_id: id.to_owned(),
        assignment_id: "a1".to_owned(),
        student_id: "student1".to_owned(),
        text: text.to_owned(),
    }
}

/// Opens a handle on a fresh embedded store with partner `p1`, client `c1`,
/// teacher `t1` and assignment `a1`.
async fn provisioned(home: &std::path::Path) -> Sam {
    let sam = Sam::builder()
        .embedded(home)
        .init(true)
        .build()
        .await
        .unwrap();
    sam.create_partner(new_partner("p1")).await.unwrap();
    sam.ensure_client("p1", new_client("c1")).await.unwrap();
    sam.ensure_user(
        "p1",
        NewUser {
            user_id: "t1".to_owned(),
            client_id: "c1".to_owned(),
            role: Role::Teacher,
            email: None,
        },
    )
    .await
    .unwrap();
    sam.register_assignment("p1", "c1", assignment("a1", "Explain photosynthesis."))
        .await
        .unwrap();
    sam
}

/// Gives every submission 6 of 10 points and counts its calls.
#[derive(Debug, Default)]
struct FixedEvaluator {
    calls: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl Evaluator for FixedEvaluator {
    async fn grade(&self, request: GradingRequest<'_>) -> Result<Grading, EvaluatorError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Grading {
            criteria: vec![CriterionScore {
                name: request.assignment.rubric.criteria[0].name.clone(),
                points: 6.0,
                max_points: request.assignment.max_points,
                feedback: "fixed".to_owned(),
            }],
            overall_feedback: "fixed".to_owned(),
            flags: Vec::new(),
            model: "fixed".to_owned(),
            provider: "test".to_owned(),
            usage: TokenUsage::default(),
            cost_nanos: 0,
            attempts: 1,
            cached: false,
        })
    }
}

#[test]
fn sam_is_clone_send_sync() {
    fn check<T: Clone + Send + Sync + 'static>() {}
    check::<Sam>();
}

#[tokio::test]
async fn builder_without_location_is_invalid_input() {
    let err = Sam::builder().build().await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "store"),
        "{err:?}"
    );
}

#[tokio::test]
async fn builder_rejects_unknown_url_scheme() {
    let err = Sam::builder()
        .database_url("mysql://sam:secret@127.0.0.1/sam")
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "database_url"),
        "{err:?}"
    );
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[tokio::test]
async fn open_without_init_is_unavailable() {
    let home = tempfile::tempdir().unwrap();
    let err = Sam::builder()
        .embedded(home.path())
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn config_home_is_used_without_location() {
    let home = tempfile::tempdir().unwrap();
    let config = SamConfig {
        home: Some(home.path().to_path_buf()),
        ..SamConfig::default()
    };
    let sam = Sam::builder()
        .config(config)
        .init(true)
        .build()
        .await
        .unwrap();
    assert!(sam.store().is_embedded());
    assert!(home.path().join("control.db").is_file());
}

#[tokio::test]
async fn config_with_unset_api_key_is_invalid_input() {
    let home = tempfile::tempdir().unwrap();
    let mut config = SamConfig::default();
    let mut provider = crate::llm::provider_preset("deepseek", None).unwrap();
    provider.api_key = Some(crate::llm::SecretSource::Env(
        "SAM_SDK_TEST_UNSET_KEY".to_owned(),
    ));
    config.llm.providers.push(provider);
    let err = Sam::builder()
        .embedded(home.path())
        .config(config)
        .init(true)
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field.starts_with("llm.")),
        "{err:?}"
    );
}

#[tokio::test]
async fn evaluate_returns_stored_evaluation_on_resubmit() {
    let home = tempfile::tempdir().unwrap();
    let sam = provisioned(home.path()).await;
    let text = "Plants use light, water and CO2 to make glucose and oxygen.";
    let first = sam
        .evaluate("p1", "c1", Some("t1"), submission("s1", text))
        .await
        .unwrap();
    assert_eq!(first.status, EvaluationStatus::Draft);
    assert_eq!(first.teacher_id.as_deref(), Some("t1"));
    let again = sam
        .evaluate("p1", "c1", Some("t1"), submission("s1", text))
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(again, first);
    let stored = sam.evaluation("p1", first.id).await.unwrap();
    assert_eq!(stored, first);
}

#[tokio::test]
async fn evaluate_same_id_other_text_is_conflict() {
    let home = tempfile::tempdir().unwrap();
    let sam = provisioned(home.path()).await;
    sam.evaluate("p1", "c1", None, submission("s1", "first text"))
        .await
        .unwrap();
    let err = sam
        .evaluate("p1", "c1", None, submission("s1", "second text"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
}

#[tokio::test]
async fn evaluate_unknown_assignment_is_not_found() {
    let home = tempfile::tempdir().unwrap();
    let sam = provisioned(home.path()).await;
    let mut input = submission("s1", "text");
    input.assignment_id = "missing".to_owned();
    let err = sam.evaluate("p1", "c1", None, input).await.unwrap_err();
    assert!(
        matches!(err, Error::NotFound { ref kind, .. } if kind == "assignment"),
        "{err:?}"
    );
}

#[tokio::test]
async fn evaluate_invalid_submission_id_is_invalid_input() {
    let home = tempfile::tempdir().unwrap();
    let sam = provisioned(home.path()).await;
    let err = sam
        .evaluate("p1", "c1", None, submission("s 1", "text"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "submission_id"),
        "{err:?}"
    );
}

#[tokio::test]
async fn evaluate_by_non_teacher_is_forbidden() {
    let home = tempfile::tempdir().unwrap();
    let sam = provisioned(home.path()).await;
    let err = sam
        .evaluate("p1", "c1", Some("nobody"), submission("s1", "text"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
}

#[tokio::test]
async fn suspended_partner_is_forbidden() {
    let home = tempfile::tempdir().unwrap();
    let sam = provisioned(home.path()).await;
    sam.store()
        .set_partner_status(
            &PartnerSlug::parse("p1").unwrap(),
            crate::tenancy::SubscriptionStatus::Suspended,
        )
        .await
        .unwrap();
    let err = sam
        .evaluate("p1", "c1", None, submission("s1", "text"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
}

#[tokio::test]
async fn register_assignment_is_idempotent_for_same_content() {
    let home = tempfile::tempdir().unwrap();
    let sam = provisioned(home.path()).await;
    let again = sam
        .register_assignment("p1", "c1", assignment("a1", "Explain photosynthesis."))
        .await
        .unwrap();
    assert_eq!(again.assignment_id, "a1");
    let err = sam
        .register_assignment("p1", "c1", assignment("a1", "Explain respiration."))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
}

#[tokio::test]
async fn ensure_client_returns_existing_client() {
    let home = tempfile::tempdir().unwrap();
    let sam = provisioned(home.path()).await;
    let mut renamed = new_client("c1");
    renamed.name = "Another name".to_owned();
    let client = sam.ensure_client("p1", renamed).await.unwrap();
    assert_eq!(client.name, "Client c1");
    assert_eq!(sam.client("p1", "c1").await.unwrap(), client);
}

#[tokio::test]
async fn ensure_user_in_other_client_is_conflict() {
    let home = tempfile::tempdir().unwrap();
    let sam = provisioned(home.path()).await;
    sam.ensure_client("p1", new_client("c2")).await.unwrap();
    let err = sam
        .ensure_user(
            "p1",
            NewUser {
                user_id: "t1".to_owned(),
                client_id: "c2".to_owned(),
                role: Role::Teacher,
                email: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
}

#[tokio::test]
async fn approve_then_approve_again_is_conflict() {
    let home = tempfile::tempdir().unwrap();
    let sam = provisioned(home.path()).await;
    let draft = sam
        .evaluate("p1", "c1", None, submission("s1", "Plants make glucose."))
        .await
        .unwrap();
    let approved = sam
        .approve("p1", draft.id, "t1", Some("good"))
        .await
        .unwrap();
    assert_eq!(approved.status, EvaluationStatus::Approved);
    let review = approved.review.unwrap();
    assert_eq!(review.reviewed_by, "t1");
    assert_eq!(review.teacher_comment.as_deref(), Some("good"));
    let err = sam.approve("p1", draft.id, "t1", None).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
}

#[tokio::test]
async fn approve_by_unknown_teacher_is_forbidden() {
    let home = tempfile::tempdir().unwrap();
    let sam = provisioned(home.path()).await;
    let draft = sam
        .evaluate("p1", "c1", None, submission("s1", "Plants make glucose."))
        .await
        .unwrap();
    let err = sam
        .approve("p1", draft.id, "intruder", None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
    let unchanged = sam.evaluation("p1", draft.id).await.unwrap();
    assert_eq!(unchanged.status, EvaluationStatus::Draft);
}

#[tokio::test]
async fn override_score_sets_teacher_score() {
    let home = tempfile::tempdir().unwrap();
    let sam = provisioned(home.path()).await;
    let draft = sam
        .evaluate("p1", "c1", None, submission("s1", "Plants make glucose."))
        .await
        .unwrap();
    let err = sam
        .override_score("p1", draft.id, "t1", 11.0, "too high")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "score"),
        "{err:?}"
    );
    let overridden = sam
        .override_score("p1", draft.id, "t1", 9.0, "names both products")
        .await
        .unwrap();
    assert_eq!(overridden.status, EvaluationStatus::Overridden);
    assert_eq!(overridden.final_score(), 9.0);
    assert_eq!(overridden.score, draft.score);
}

#[tokio::test]
async fn evaluations_filter_by_status() {
    let home = tempfile::tempdir().unwrap();
    let sam = provisioned(home.path()).await;
    let first = sam
        .evaluate("p1", "c1", None, submission("s1", "one"))
        .await
        .unwrap();
    sam.evaluate("p1", "c1", None, submission("s2", "two"))
        .await
        .unwrap();
    sam.approve("p1", first.id, "t1", None).await.unwrap();
    let drafts = sam
        .evaluations(
            "p1",
            &EvaluationFilter {
                status: Some(EvaluationStatus::Draft),
                ..EvaluationFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(drafts.len(), 1);
    assert_eq!(drafts[0].submission_id, "s2");
}

#[tokio::test]
async fn injected_evaluator_grades_once_per_submission() {
    let home = tempfile::tempdir().unwrap();
    let evaluator = Arc::new(FixedEvaluator::default());
    let sam = Sam::builder()
        .embedded(home.path())
        .evaluator(evaluator.clone())
        .init(true)
        .build()
        .await
        .unwrap();
    sam.create_partner(new_partner("p1")).await.unwrap();
    sam.ensure_client("p1", new_client("c1")).await.unwrap();
    sam.register_assignment("p1", "c1", assignment("a1", "Explain photosynthesis."))
        .await
        .unwrap();
    let evaluation = sam
        .evaluate("p1", "c1", None, submission("s1", "anything"))
        .await
        .unwrap();
    assert_eq!(evaluation.score, 6.0);
    assert_eq!(evaluation.provider, "test");
    sam.evaluate("p1", "c1", None, submission("s1", "anything"))
        .await
        .unwrap();
    assert_eq!(evaluator.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn two_handles_never_see_each_others_data() {
    let home_a = tempfile::tempdir().unwrap();
    let home_b = tempfile::tempdir().unwrap();
    // Same partner, client, assignment and submission ids in both stores.
    let sam_a = provisioned(home_a.path()).await;
    let sam_b = provisioned(home_b.path()).await;
    let in_a = sam_a
        .evaluate(
            "p1",
            "c1",
            None,
            submission("s1", "text written for store A"),
        )
        .await
        .unwrap();
    let in_b = sam_b
        .evaluate(
            "p1",
            "c1",
            None,
            submission("s1", "text written for store B"),
        )
        .await
        .unwrap();
    assert_ne!(in_a.id, in_b.id);

    let err = sam_a.evaluation("p1", in_b.id).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let err = sam_b.evaluation("p1", in_a.id).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");

    let all_a = sam_a
        .evaluations("p1", &EvaluationFilter::default())
        .await
        .unwrap();
    let all_b = sam_b
        .evaluations("p1", &EvaluationFilter::default())
        .await
        .unwrap();
    assert_eq!(
        all_a.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![in_a.id]
    );
    assert_eq!(
        all_b.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![in_b.id]
    );

    // A partner created through one handle does not exist in the other.
    sam_a.create_partner(new_partner("only_a")).await.unwrap();
    let err = sam_b.partner("only_a").await.unwrap_err();
    assert!(
        matches!(err, Error::NotFound { ref kind, .. } if kind == "partner"),
        "{err:?}"
    );

    // Each handle still reads its own submission text back as the same submission.
    let resubmitted = sam_b
        .evaluate(
            "p1",
            "c1",
            None,
            submission("s1", "text written for store B"),
        )
        .await
        .unwrap();
    assert_eq!(resubmitted.id, in_b.id);
}

/// Returns a configuration whose only provider is a self-hosted model on a
/// loopback port that nothing listens on, tried once.
fn unreachable_provider_config() -> SamConfig {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1");
    let mut config = SamConfig::default();
    config
        .llm
        .providers
        .push(crate::llm::provider_preset(crate::llm::LLAMA_SELF_HOSTED, Some(&url)).unwrap());
    config.llm.retry.max_attempts_per_provider = 1;
    config
}

#[test]
fn describe_config_names_providers() {
    let description = crate::engine::Engine::describe_config(&unreachable_provider_config());
    assert!(
        description.contains("llama_self_hosted (llama3.1:8b)"),
        "{description}"
    );
    assert_eq!(
        crate::engine::Engine::describe_config(&SamConfig::default()),
        "offline rubric scorer"
    );
}

#[tokio::test]
async fn redis_cache_without_url_is_invalid_input() {
    let home = tempfile::tempdir().unwrap();
    let mut config = unreachable_provider_config();
    config.cache.backend = crate::config::CacheBackendKind::Redis;
    let err = Sam::builder()
        .embedded(home.path())
        .config(config)
        .init(true)
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "cache.redis_url"),
        "{err:?}"
    );
}

#[tokio::test]
async fn configured_router_falls_back_to_offline_scorer() {
    let home = tempfile::tempdir().unwrap();
    let sam = Sam::builder()
        .embedded(home.path())
        .config(unreachable_provider_config())
        .init(true)
        .build()
        .await
        .unwrap();
    sam.create_partner(new_partner("p1")).await.unwrap();
    sam.ensure_client("p1", new_client("c1")).await.unwrap();
    sam.register_assignment("p1", "c1", assignment("a1", "Explain photosynthesis."))
        .await
        .unwrap();
    let evaluation = sam
        .evaluate("p1", "c1", None, submission("s1", "Plants make glucose."))
        .await
        .unwrap();
    assert_eq!(evaluation.provider, "offline");
    assert!(
        evaluation
            .flags
            .iter()
            .any(|flag| flag == crate::eval::FLAG_OFFLINE_FALLBACK),
        "{:?}",
        evaluation.flags
    );
}
