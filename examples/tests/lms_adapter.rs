//! Runs the `lms_adapter` example binary against a mock LMS on loopback:
//! webhook in, evaluation stored, draft score out, approval, final score out.

// Test helpers fail loudly on setup errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Stdio;
use std::time::Duration;

use sam_core::eval::EvaluationStatus;
use sam_core::Sam;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const LINEITEM_PATH: &str = "/api/lti/courses/bio101/line_items/7";
const BROKEN_LINEITEM_PATH: &str = "/api/lti/courses/bio101/line_items/broken";

/// Starts the adapter and returns it with its base URL.
async fn start_adapter(home: &std::path::Path, lms: &MockServer) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lms_adapter"))
        .arg("--home")
        .arg(home)
        .args([
            "--partner",
            "aptus",
            "--client",
            "colegio1",
            "--teacher",
            "prof_1",
            "--provision",
            "--listen",
            "127.0.0.1:0",
            "--lms-origin",
            &lms.uri(),
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the adapter printed no address within 60 s")
        .unwrap()
        .expect("the adapter exited before printing its address");
    let address: std::net::SocketAddr = first.trim().parse().unwrap();
    assert!(address.ip().is_loopback(), "{address}");
    (child, format!("http://{address}"))
}

fn webhook(lms: &MockServer, lineitem_path: &str, submission_id: &str) -> Value {
    json!({
        "event": "submission_created",
        "course": { "id": "bio101" },
        "assignment": {
            "id": "tarea1",
            "title": "Fotosíntesis",
            "description": "Explica qué es la fotosíntesis y qué produce.",
            "points_possible": 7,
            "reference_answer": "Las plantas usan luz, agua y dióxido de carbono para producir glucosa y oxígeno."
        },
        "user": { "id": "student42" },
        "submission": {
            "id": submission_id,
            "text": "La planta usa la luz, el agua y el dióxido de carbono para producir glucosa y oxígeno."
        },
        "lineitem_url": format!("{}{lineitem_path}", lms.uri())
    })
}

async fn score_posts(lms: &MockServer) -> Vec<Request> {
    lms.received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|request| request.url.path() == format!("{LINEITEM_PATH}/scores"))
        .collect()
}

fn check_score_format(request: &Request) -> Value {
    assert_eq!(request.method.as_str(), "POST");
    let content_type = request.headers.get("content-type").unwrap();
    assert_eq!(content_type, "application/vnd.ims.lis.v1.score+json");
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["userId"], "student42");
    assert_eq!(body["scoreMaximum"], 7.0);
    assert!(body["scoreGiven"].is_number(), "{body}");
    assert!(body["comment"].is_string(), "{body}");
    assert_eq!(body["activityProgress"], "Completed");
    let timestamp = body["timestamp"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(timestamp).is_ok(),
        "{timestamp}"
    );
    body
}

#[tokio::test]
async fn adapter_round_trip_with_mock_lms() {
    let lms = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{LINEITEM_PATH}/scores")))
        .respond_with(ResponseTemplate::new(200))
        .mount(&lms)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{BROKEN_LINEITEM_PATH}/scores")))
        .respond_with(ResponseTemplate::new(500).set_body_string("gradebook is down"))
        .mount(&lms)
        .await;
    let home = tempfile::tempdir().unwrap();
    let (_adapter, base) = start_adapter(home.path(), &lms).await;
    let http = reqwest::Client::new();

    // Webhook in: the submission is evaluated and a draft score goes out.
    let response = http
        .post(format!("{base}/webhooks/submission-created"))
        .json(&webhook(&lms, LINEITEM_PATH, "sub-9"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["status"], "draft");
    assert_eq!(reply["grading_progress"], "PendingManual");
    let id: Uuid = reply["evaluation_id"].as_str().unwrap().parse().unwrap();

    let posts = score_posts(&lms).await;
    assert_eq!(posts.len(), 1);
    let draft = check_score_format(&posts[0]);
    assert_eq!(draft["gradingProgress"], "PendingManual");
    assert_eq!(draft["scoreGiven"], reply["score"]);

    // The evaluation is stored in the partner's data.
    let sam = Sam::builder().embedded(home.path()).build().await.unwrap();
    let stored = sam.evaluation("aptus", id).await.unwrap();
    assert_eq!(stored.status, EvaluationStatus::Draft);
    assert_eq!(stored.client_id, "colegio1");
    assert_eq!(stored.assignment_id, "bio101:tarea1");
    assert_eq!(stored.submission_id, "sub-9");
    assert_eq!(stored.student_id, "student42");
    assert_eq!(stored.max_points, 7.0);

    // A user who is not a configured teacher cannot approve.
    let response = http
        .post(format!("{base}/evaluations/{id}/approve"))
        .json(&json!({ "teacher_id": "intruder" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(score_posts(&lms).await.len(), 1);

    // The teacher approves: the final score goes out.
    let response = http
        .post(format!("{base}/evaluations/{id}/approve"))
        .json(&json!({ "teacher_id": "prof_1", "comment": "Bien explicado." }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["status"], "approved");
    assert_eq!(reply["grading_progress"], "FullyGraded");

    let posts = score_posts(&lms).await;
    assert_eq!(posts.len(), 2);
    let last = check_score_format(&posts[1]);
    assert_eq!(last["gradingProgress"], "FullyGraded");
    assert_eq!(last["comment"], "Bien explicado.");
    assert_eq!(last["scoreGiven"], draft["scoreGiven"]);

    let stored = sam.evaluation("aptus", id).await.unwrap();
    assert_eq!(stored.status, EvaluationStatus::Approved);
    assert_eq!(stored.review.unwrap().reviewed_by, "prof_1");

    // Approving twice is a conflict and posts nothing.
    let response = http
        .post(format!("{base}/evaluations/{id}/approve"))
        .json(&json!({ "teacher_id": "prof_1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    assert_eq!(score_posts(&lms).await.len(), 2);

    // A retried webhook returns the same evaluation and re-posts the final score.
    let response = http
        .post(format!("{base}/webhooks/submission-created"))
        .json(&webhook(&lms, LINEITEM_PATH, "sub-9"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["evaluation_id"], id.to_string());
    let posts = score_posts(&lms).await;
    assert_eq!(posts.len(), 3);
    assert_eq!(
        check_score_format(&posts[2])["gradingProgress"],
        "FullyGraded"
    );
    sam.close().await;
}

#[tokio::test]
async fn adapter_rejects_foreign_lineitem_and_reports_failed_passback() {
    let lms = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{BROKEN_LINEITEM_PATH}/scores")))
        .respond_with(ResponseTemplate::new(500).set_body_string("gradebook is down"))
        .mount(&lms)
        .await;
    let home = tempfile::tempdir().unwrap();
    let (_adapter, base) = start_adapter(home.path(), &lms).await;
    let http = reqwest::Client::new();

    // A line item outside --lms-origin is rejected before anything is graded.
    let mut foreign = webhook(&lms, LINEITEM_PATH, "sub-1");
    foreign["lineitem_url"] = json!("http://127.0.0.1:9/api/lti/line_items/1");
    let response = http
        .post(format!("{base}/webhooks/submission-created"))
        .json(&foreign)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);

    // The LMS failing the score post is a 502, and the evaluation stays stored.
    let response = http
        .post(format!("{base}/webhooks/submission-created"))
        .json(&webhook(&lms, BROKEN_LINEITEM_PATH, "sub-2"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    let message = body["error"].as_str().unwrap();
    assert!(message.contains("HTTP 500"), "{message}");

    let sam = Sam::builder().embedded(home.path()).build().await.unwrap();
    let all = sam
        .evaluations("aptus", &sam_core::store::EvaluationFilter::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].submission_id, "sub-2");
    sam.close().await;
}
