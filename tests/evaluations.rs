//! Evaluation engine on both stores: grading, group commit, duplicates,
//! listing with filters and pages, and teacher review.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use futures::StreamExt;
use sam_core::engine::{Engine, Outcome};
use sam_core::eval::{
    AssignmentInput, EvalError, EvaluationStatus, OfflineScorer, SubmissionInput,
};
use sam_core::store::{EvaluationFilter, PartnerDb, ReviewAction, Store, StoreOptions};
use sam_core::tenancy::{
    Client, GradeScale, InstitutionType, LlmStrategy, NewClient, NewPartner, PartnerSlug, Tier,
};
use sam_tests::{on_both_stores, TestLocation};

async fn setup(store: &Store) -> (PartnerDb, Client, sam_core::eval::Assignment) {
    store
        .create_partner(NewPartner {
            slug: PartnerSlug::parse("evals").unwrap(),
            name: "Evals".to_owned(),
            tier: Tier::Basic,
            strategy: LlmStrategy::CostOptimized,
            daily_quota: None,
            monthly_fee: None,
            time_zone: None,
        })
        .await
        .unwrap();
    let db = store
        .partner_db(&PartnerSlug::parse("evals").unwrap())
        .await
        .unwrap();
    let client = db
        .create_client(NewClient {
            client_id: "c1".to_owned(),
            name: "School".to_owned(),
            institution_type: InstitutionType::K12,
            students_count: 0,
            teachers_count: 0,
            grade_scale: GradeScale::default(),
        })
        .await
        .unwrap();
    let assignment = AssignmentInput {
        id: "a1".to_owned(),
        title: None,
        prompt: "What is a variable?".to_owned(),
        reference_answer: Some("A named location in memory that stores a value.".to_owned()),
        max_points: 5.0,
        language: Some("en".to_owned()),
        rubric: None,
    }
    .into_assignment("c1")
    .unwrap();
    db.create_assignment(&assignment, None).await.unwrap();
    (db, client, assignment)
}

fn submission(i: usize, text: &str) -> SubmissionInput {
    SubmissionInput {
        submission_id: format!("s{i}"),
        assignment_id: "a1".to_owned(),
        student_id: format!("st{}", i % 7),
        text: text.to_owned(),
    }
}

async fn concurrent_evaluations_are_stored_once(location: &TestLocation) {
    let store = location.init().await;
    let (db, client, assignment) = setup(&store).await;
    let engine = Engine::new(Arc::new(OfflineScorer::new()));
    // 200 submissions, each sent twice at once, through the group-commit writer.
    let inputs: Vec<SubmissionInput> = (0..400)
        .map(|i| {
            submission(
                i % 200,
                &format!("a named location in memory number {}", i % 200),
            )
        })
        .collect();
    let outcomes: Vec<Result<Outcome, EvalError>> = futures::stream::iter(
        inputs
            .iter()
            .map(|input| engine.evaluate(&db, &client, &assignment, None, input)),
    )
    .buffer_unordered(64)
    .collect()
    .await;
    let new = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Outcome::Evaluated(_))))
        .count();
    let existing = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Outcome::AlreadyEvaluated(_))))
        .count();
    assert!(
        outcomes.iter().all(Result::is_ok),
        "{:?}",
        outcomes.iter().find(|o| o.is_err())
    );
    assert_eq!(new, 200);
    assert_eq!(existing, 200);
    let all = db.evaluations(&EvaluationFilter::default()).await.unwrap();
    assert_eq!(all.len(), 200);
    for evaluation in &all {
        assert!((0.0..=5.0).contains(&evaluation.score));
        assert!((1.0..=7.0).contains(&evaluation.grade));
        assert!(!evaluation.overall_feedback.is_empty());
    }
}
on_both_stores!(concurrent_evaluations_are_stored_once);

async fn listing_filters_and_pages(location: &TestLocation) {
    let store = location.init().await;
    let (db, client, assignment) = setup(&store).await;
    let engine = Engine::new(Arc::new(OfflineScorer::new()));
    for i in 0..25 {
        engine
            .evaluate(
                &db,
                &client,
                &assignment,
                None,
                &submission(i, "memory value"),
            )
            .await
            .unwrap();
    }
    let student = EvaluationFilter {
        student_id: Some("st3".to_owned()),
        ..EvaluationFilter::default()
    };
    let of_student = db.evaluations(&student).await.unwrap();
    assert!(!of_student.is_empty());
    assert!(of_student.iter().all(|e| e.student_id == "st3"));

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = db
            .evaluations(&EvaluationFilter {
                after,
                limit: Some(10),
                ..EvaluationFilter::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|e| e.id);
        seen.extend(page.into_iter().map(|e| e.submission_id));
    }
    assert_eq!(seen.len(), 25, "pages cover every row once");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 25);

    let other_client = db
        .evaluation(
            db.evaluations(&EvaluationFilter::default()).await.unwrap()[0].id,
            Some("c2"),
        )
        .await;
    assert!(other_client.unwrap_err().is_not_found());
}
on_both_stores!(listing_filters_and_pages);

async fn review_keeps_ai_result(location: &TestLocation) {
    let store = location.init().await;
    let (db, client, assignment) = setup(&store).await;
    let engine = Engine::new(Arc::new(OfflineScorer::new()));
    let first = engine
        .evaluate(
            &db,
            &client,
            &assignment,
            None,
            &submission(1, "a location in memory"),
        )
        .await
        .unwrap();
    let evaluation = first.evaluation().clone();
    let overridden = db
        .review_evaluation(
            evaluation.id,
            Some("c1"),
            "t1",
            ReviewAction::Override {
                score: 5.0,
                comment: "Complete".to_owned(),
            },
        )
        .await
        .unwrap();
    assert_eq!(overridden.status, EvaluationStatus::Overridden);
    assert_eq!(overridden.score, evaluation.score, "AI score is kept");
    assert_eq!(overridden.criteria, evaluation.criteria);
    assert_eq!(overridden.final_score(), 5.0);
    assert_eq!(overridden.grade, 7.0);
    let again = db
        .review_evaluation(
            evaluation.id,
            Some("c1"),
            "t1",
            ReviewAction::Approve { comment: None },
        )
        .await
        .unwrap_err();
    assert!(matches!(again, EvalError::InvalidState { .. }), "{again}");

    let second = engine
        .evaluate(&db, &client, &assignment, None, &submission(2, "memory"))
        .await
        .unwrap();
    let approved = db
        .review_evaluation(
            second.evaluation().id,
            None,
            "t1",
            ReviewAction::Approve { comment: None },
        )
        .await
        .unwrap();
    assert_eq!(approved.status, EvaluationStatus::Approved);
    assert!(approved.status.visible_to_student());
    assert_eq!(approved.grade, second.evaluation().grade);
}
on_both_stores!(review_keeps_ai_result);

async fn override_after_approval_on_one_connection(location: &TestLocation) {
    // One pooled connection, so the override runs the statement that the
    // approval prepared, with a NULL score, on the same connection.
    let options = StoreOptions {
        max_connections: 1,
        ..StoreOptions::default()
    };
    let store = Store::init(&location.location, options).await.unwrap();
    let (db, client, assignment) = setup(&store).await;
    let engine = Engine::new(Arc::new(OfflineScorer::new()));
    let mut ids = Vec::new();
    for i in 1..=2 {
        let outcome = engine
            .evaluate(&db, &client, &assignment, None, &submission(i, "memory"))
            .await
            .unwrap();
        ids.push(outcome.evaluation().id);
    }
    let approval = ReviewAction::Approve { comment: None };
    let approved = db
        .review_evaluation(ids[0], None, "t1", approval)
        .await
        .unwrap();
    assert_eq!(approved.final_score(), approved.score);
    let teacher_override = ReviewAction::Override {
        score: 4.5,
        comment: "Names the memory location.".to_owned(),
    };
    let overridden = db
        .review_evaluation(ids[1], None, "t1", teacher_override)
        .await
        .unwrap();
    assert_eq!(overridden.final_score(), 4.5);
}
on_both_stores!(override_after_approval_on_one_connection);

async fn same_id_other_text_is_rejected(location: &TestLocation) {
    let store = location.init().await;
    let (db, client, assignment) = setup(&store).await;
    let engine = Engine::new(Arc::new(OfflineScorer::new()));
    engine
        .evaluate(
            &db,
            &client,
            &assignment,
            None,
            &submission(1, "first text"),
        )
        .await
        .unwrap();
    let err = engine
        .evaluate(
            &db,
            &client,
            &assignment,
            None,
            &submission(1, "second text"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, EvalError::DuplicateSubmission { .. }),
        "{err}"
    );
    let huge = "word ".repeat(20_000);
    let err = engine
        .evaluate(&db, &client, &assignment, None, &submission(2, &huge))
        .await
        .unwrap_err();
    assert!(matches!(err, EvalError::SubmissionTooLarge { .. }), "{err}");
}
on_both_stores!(same_id_other_text_is_rejected);
